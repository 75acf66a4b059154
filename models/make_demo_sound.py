"""Synthesise models/demo.wav: the phrase the demo patch renders through
rave~. Deterministic (no randomness), 6 s, mono, 44100 Hz, 16-bit, peak
at -6 dBFS.

A short A-minor line played by a harmonic tone with delayed vibrato and
an ADSR envelope; notes overlap slightly (legato) and ring out at the end.

Run from anywhere: /usr/bin/python3 models/make_demo_sound.py
"""
import os

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
SR = 44100
SECONDS = 6.0
PEAK_DBFS = -6.0

# (MIDI note, start s, duration s): A3 C4 E4 A4 G4 E4 D4 E4.
PHRASE = [(57, 0.00, 0.55), (60, 0.50, 0.55), (64, 1.00, 0.55),
          (69, 1.50, 1.00), (67, 2.50, 0.50), (64, 3.00, 0.50),
          (62, 3.50, 0.50), (64, 4.00, 1.60)]


def adsr(n: int, attack=0.02, decay=0.12, sustain=0.7, release=0.25):
    """Envelope of n samples; the release is taken from the note's end so
    every note stays within its slot (plus the release tail)."""
    a, d, r = (int(v * SR) for v in (attack, decay, release))
    s = max(n - a - d - r, 0)
    return np.concatenate([
        np.linspace(0, 1, a, endpoint=False),
        np.linspace(1, sustain, d, endpoint=False),
        np.full(s, sustain),
        np.linspace(sustain, 0, r),
    ])


def note(midi: int, dur: float) -> np.ndarray:
    env = adsr(int(dur * SR))
    t = np.arange(env.size) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    # Vibrato fades in after 150 ms, like a player settling on the note;
    # integrating the instantaneous frequency keeps the phase continuous.
    depth = 0.006 * np.clip((t - 0.15) / 0.3, 0, 1)
    freq = f0 * (1 + depth * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(freq) / SR
    tone = np.zeros_like(t)
    for k in range(1, 9):
        if k * f0 > SR / 2 * 0.9:
            break
        # 1/k^1.3 roll-off, with upper partials fading faster (a plucked/
        # bowed "darkening" that makes the timbre move).
        tone += np.sin(k * phase) * k ** -1.3 * np.exp(-t * 0.8 * (k - 1))
    return tone * env


def main() -> None:
    out = np.zeros(int(SECONDS * SR))
    for midi, start, dur in PHRASE:
        y = note(midi, dur)
        i = int(start * SR)
        out[i:i + y.size] += y[:out.size - i]
    out *= 10 ** (PEAK_DBFS / 20) / np.abs(out).max()
    path = os.path.join(HERE, "demo.wav")
    sf.write(path, out, SR, subtype="PCM_16")
    back, sr = sf.read(path)
    assert sr == SR and back.shape == (int(SECONDS * SR),)
    print(f"models/demo.wav: {os.path.getsize(path)} bytes, "
          f"peak {20 * np.log10(np.abs(back).max()):.2f} dBFS, "
          f"RMS {20 * np.log10(np.sqrt(np.mean(back ** 2))):.1f} dBFS")


if __name__ == "__main__":
    main()
