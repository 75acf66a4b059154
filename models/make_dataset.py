"""Renders the instrument-note dataset the demo models train on, deterministically, from the
fluid-soundfont-gm samples with fluidsynth (Debian packages; nothing is downloaded, and the
audio is not committed: only this script).

Usage: make_dataset.py OUTDIR [--sr 22050]
Writes OUTDIR/notes_<sr>.wav (mono float32 after mixing down) and OUTDIR/notes_<sr>.tsv with
one note per line: start_s, end_s (note off), pitch, velocity, program, instrument, family,
split. Every note is followed by a gap so its release dies out before the next one starts.
Split: the pitches listed per instrument alternate train/train/test in order, so held-out
notes interleave the training pitches; velocities 64/96/120 cycle out of step with it, so
both splits have every velocity. Runs in about a minute; the rendering is cached and
re-made when its note list no longer matches this script's.

Families (for the timbre space's nearest-centroid score): strings, brass, reeds, flutes,
keys, plucked."""
import os
import struct
import subprocess
import sys

import numpy as np

SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TICKS_PER_SECOND = 960  # 480 ticks per quarter at the default 120 bpm
GAP = 0.8
DURATION = 1.5

# (GM program, instrument, family, MIDI pitches within its range)
INSTRUMENTS = [
    (40, "violin", "strings", list(range(55, 94, 2))),
    (41, "viola", "strings", list(range(48, 84, 2))),
    (42, "cello", "strings", list(range(36, 73, 2))),
    (56, "trumpet", "brass", list(range(54, 83, 2))),
    (57, "trombone", "brass", list(range(40, 72, 2))),
    (60, "french_horn", "brass", list(range(41, 77, 2))),
    (71, "clarinet", "reeds", list(range(50, 89, 2))),
    (68, "oboe", "reeds", list(range(58, 90, 2))),
    (65, "alto_sax", "reeds", list(range(49, 81, 2))),
    (73, "flute", "flutes", list(range(60, 97, 2))),
    (72, "piccolo", "flutes", list(range(74, 103, 2))),
    (75, "pan_flute", "flutes", list(range(60, 92, 2))),
    (0, "piano", "keys", list(range(33, 97, 3))),
    (19, "church_organ", "keys", list(range(36, 90, 3))),
    (24, "nylon_guitar", "plucked", list(range(40, 82, 2))),
    (46, "harp", "plucked", list(range(36, 92, 3))),
]
VELOCITIES = [64, 96, 120]


def var_len(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def note_list():
    notes = []
    t = 0.5
    for program, name, family, pitches in INSTRUMENTS:
        for i, pitch in enumerate(pitches):
            # Velocities cycle out of step with the split (i + i // 3), so held-out and
            # training notes both have every velocity.
            velocity = VELOCITIES[(i + i // 3) % len(VELOCITIES)]
            split = "test" if i % 3 == 2 else "train"
            notes.append((t, t + DURATION, pitch, velocity, program, name, family, split))
            t += DURATION + GAP
    return notes, t


def write_midi(path, notes, end):
    events = []
    for start, stop, pitch, velocity, program, *_ in notes:
        events.append((round((start - 0.3) * TICKS_PER_SECOND), 0, bytes([0xC0, program])))
        events.append((round(start * TICKS_PER_SECOND), 1, bytes([0x90, pitch, velocity])))
        events.append((round(stop * TICKS_PER_SECOND), 0, bytes([0x80, pitch, 0])))
    events.append((round(end * TICKS_PER_SECOND), 0, bytes([0xB0, 123, 0])))
    write_smf(path, events)


def write_smf(path, events):
    """A one-track standard MIDI file (480 ticks per quarter, 120 bpm: 960 ticks per second)
    of events (tick, order among events of the same tick, message bytes)."""
    events.sort(key=lambda e: (e[0], e[1]))
    track, now = b"", 0
    for tick, _, data in events:
        track += var_len(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480))
        f.write(b"MTrk" + struct.pack(">I", len(track)) + track)


def read_wav_mono(path):
    """fluidsynth's 16-bit stereo WAV -> float32 mono (the two channels averaged)."""
    import wave
    with wave.open(path, "rb") as w:
        ch, width, n = w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(n)
    assert width == 2, "fluidsynth writes 16-bit WAV"
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return x.reshape(-1, ch).mean(axis=1)


def load(outdir, sr=22050):
    """(audio float32, notes list of dicts) for OUTDIR, rendering it first when missing."""
    wav = os.path.join(outdir, f"notes_{sr}.f32")
    tsv = os.path.join(outdir, f"notes_{sr}.tsv")
    if not (os.path.exists(wav) and os.path.exists(tsv)) or not _current(tsv):
        render(outdir, sr)
    x = np.fromfile(wav, dtype=np.float32)
    keys = ["start", "end", "pitch", "velocity", "program", "instrument", "family", "split"]
    notes = []
    with open(tsv) as f:
        for line in f:
            v = line.split()
            d = dict(zip(keys, v))
            for k in ("start", "end"):
                d[k] = float(d[k])
            for k in ("pitch", "velocity", "program"):
                d[k] = int(d[k])
            notes.append(d)
    return x, notes


def _tsv_lines():
    return ["%.6f %.6f %d %d %d %s %s %s\n" % n for n in note_list()[0]]


def _current(tsv):
    """A cached rendering is reused only if it has this script's note list."""
    with open(tsv) as f:
        return f.readlines() == _tsv_lines()


def render(outdir, sr=22050):
    os.makedirs(outdir, exist_ok=True)
    notes, end = note_list()
    mid = os.path.join(outdir, "notes.mid")
    tmpwav = os.path.join(outdir, f"notes_{sr}.wav")
    write_midi(mid, notes, end)
    subprocess.run(["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "0.5", "-F", tmpwav,
                    "-r", str(sr), SF2, mid], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    x = read_wav_mono(tmpwav)
    os.remove(tmpwav)
    x.astype(np.float32).tofile(os.path.join(outdir, f"notes_{sr}.f32"))
    with open(os.path.join(outdir, f"notes_{sr}.tsv"), "w") as f:
        f.writelines(_tsv_lines())


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "dataset")
    sr = int(sys.argv[sys.argv.index("--sr") + 1]) if "--sr" in sys.argv else 22050
    render(out, sr)
    x, notes = load(out, sr)
    print(f"{len(notes)} notes, {len(x) / sr:.1f} s at {sr} Hz, peak {np.abs(x).max():.3f}, "
          f"{sum(n['split'] == 'test' for n in notes)} held out")
