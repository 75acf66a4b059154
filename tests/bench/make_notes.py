"""Writes the real-instrument note list for the pitch/loudness quality bench as one MIDI file.

Usage: make_notes.py OUT.mid OUT.txt
The notes follow each other on channel 0 with a program change before each, separated by
1.2 s for the release to die out (fluidsynth runs with reverb and chorus off). OUT.txt lists
one note per line: "start_s end_s midi_pitch velocity program name". Deterministic."""
import struct
import sys

TICKS_PER_SECOND = 960  # 480 ticks per quarter at the default 120 bpm

# (GM program, name, MIDI pitches within the instrument's range)
INSTRUMENTS = [
    (40, "violin", [55, 62, 69, 76, 88]),
    (42, "cello", [36, 43, 50, 57, 64]),
    (73, "flute", [60, 67, 74, 81, 91]),
    (56, "trumpet", [55, 60, 67, 72, 79]),
    (71, "clarinet", [50, 57, 64, 71, 82]),
    (53, "voice_oohs", [48, 55, 60, 67, 74]),
    (68, "oboe", [58, 65, 72, 79, 86]),
    (65, "alto_sax", [49, 56, 63, 70, 77]),
]
VELOCITIES = [60, 100, 127]
DURATIONS = [0.6, 1.0, 1.6]
GAP = 1.2


def var_len(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def main():
    mid_path, txt_path = sys.argv[1], sys.argv[2]
    events = []  # (tick, bytes)
    lines = []
    t = 0.5
    i = 0
    for program, name, pitches in INSTRUMENTS:
        for pitch in pitches:
            velocity = VELOCITIES[i % len(VELOCITIES)]
            duration = DURATIONS[(i // len(VELOCITIES)) % len(DURATIONS)]
            i += 1
            start = t
            end = t + duration
            events.append((round((start - 0.3) * TICKS_PER_SECOND), bytes([0xC0, program])))
            events.append((round(start * TICKS_PER_SECOND), bytes([0x90, pitch, velocity])))
            events.append((round(end * TICKS_PER_SECOND), bytes([0x80, pitch, 0])))
            lines.append(f"{start:.6f} {end:.6f} {pitch} {velocity} {program} {name}\n")
            t = end + GAP
    events.append((round(t * TICKS_PER_SECOND), bytes([0xB0, 123, 0])))  # all notes off
    events.sort(key=lambda e: e[0])
    track = b""
    now = 0
    for tick, data in events:
        track += var_len(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"  # end of track
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
    with open(mid_path, "wb") as f:
        f.write(header + b"MTrk" + struct.pack(">I", len(track)) + track)
    with open(txt_path, "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
