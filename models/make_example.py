"""Render models/example.wav: the example phrase the demo (tests/pd/render_demo.sh, make demo)
and the help patches play through the externals. Real instrument notes: a violin (GM program
40) from the fluid-soundfont-gm samples (/usr/share/sounds/sf2/FluidR3_GM.sf2), rendered by
fluidsynth with reverb and chorus off (Debian packages; nothing is downloaded).

The phrase: nine legato notes in G major around G4, in the middle of the violin range the
models were trained on (make_dataset.py: violin 55..93): G4 B4 D5 B4 A4 F#4 E4 F#4 G4. Its
middle note (the median pitch) is G4 = MIDI 67: pitch class 7, octave 4 (the labels of
vschaos~ and timbre~). Each note is released 40 ms after the next one starts (legato);
the last one rings to the end. help-patches/acids-demo-family.pd ([pd flowsynth]) plays the
same notes on [acids-synth] (MIDI, velocity, ms from the start of the file): change both.

Deterministic: fluidsynth writes float samples (no dither), mixed down to mono, the first
onset moved to START, normalised to PEAK_DBFS, faded out over the last FADE seconds and
rounded to 16 bits. Mono, 44100 Hz, 16-bit PCM, SECONDS long (about 530 kB).

Run from anywhere: /usr/bin/python3 models/make_example.py"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

from make_dataset import write_smf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "example.wav")
SF2 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SR = 44100
SECONDS = 6.0
START = 0.05
PEAK_DBFS = -6.0
FADE = 0.3
PROGRAM = 40  # GM violin
TICKS_PER_SECOND = 960  # 480 ticks per quarter at the default 120 bpm
OVERLAP = 0.04

# (MIDI pitch, onset s, velocity); the last note is held until END.
PHRASE = [(67, 0.0, 92), (71, 0.5, 96), (74, 1.0, 104), (71, 2.0, 96), (69, 2.5, 92),
          (66, 3.0, 88), (64, 3.5, 92), (66, 4.0, 96), (67, 4.5, 100)]
END = 5.6


def write_midi(path, lead):
    """One track: program change, then the phrase shifted by `lead` seconds."""
    events = [(0, 0, bytes([0xC0, PROGRAM]))]
    for i, (pitch, onset, velocity) in enumerate(PHRASE):
        off = PHRASE[i + 1][1] + OVERLAP if i + 1 < len(PHRASE) else END
        events.append((round((lead + onset) * TICKS_PER_SECOND), 2, bytes([0x90, pitch, velocity])))
        events.append((round((lead + off) * TICKS_PER_SECOND), 1, bytes([0x80, pitch, 0])))
    events.append((round((lead + SECONDS) * TICKS_PER_SECOND), 0, bytes([0xB0, 123, 0])))
    write_smf(path, events)


def render():
    lead = 0.5  # fluidsynth starts at once: leave it time for the program change
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = os.path.join(tmp, "example.mid"), os.path.join(tmp, "example.wav")
        write_midi(mid, lead)
        subprocess.run(["fluidsynth", "-ni", "-R", "0", "-C", "0", "-g", "0.5",
                        "-o", "audio.file.format=float", "-F", wav, "-r", str(SR), SF2, mid],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        x, sr = sf.read(wav, dtype="float64", always_2d=True)
    assert sr == SR, f"fluidsynth wrote {sr} Hz"
    x = x.mean(axis=1)
    # the first onset at START; SECONDS in all
    first = int(round((lead - START) * SR))
    x = x[first:first + int(SECONDS * SR)]
    x = np.pad(x, (0, int(SECONDS * SR) - len(x)))
    peak = np.abs(x).max()
    if peak <= 0:
        sys.exit("make_example.py: fluidsynth rendered silence")
    x *= 10 ** (PEAK_DBFS / 20) / peak
    n = int(FADE * SR)
    x[-n:] *= np.linspace(1, 0, n) ** 2
    return np.round(x * 32767).astype(np.int16)


if __name__ == "__main__":
    y = render()
    sf.write(OUT, y, SR, subtype="PCM_16")
    peak = np.abs(y.astype(np.float64)).max() / 32768
    notes = " ".join(str(p) for p, _, _ in PHRASE)
    print(f"make_example.py: wrote {OUT}: {len(y) / SR:.1f} s, {SR} Hz mono 16-bit, "
          f"{os.path.getsize(OUT)} bytes, peak {20 * np.log10(peak):.1f} dBFS; violin "
          f"(GM {PROGRAM}) MIDI {notes}, middle note 67 (G4)")
