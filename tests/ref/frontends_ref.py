"""Reference values for the front-end unit tests (tests/unit/test_frontends.c), computed by
models/features.py itself: the mel and constant-Q filterbanks, log-mel and CQ frames, and
the CQ -> STFT magnitude map the timbre synthesis uses.

Usage: frontends_ref.py OUTDIR
Writes OUTDIR/cases.txt ("name length" per line), per case the signal (name.f32, float32,
22050 Hz) and, from that float32 signal: name.mel.f64 (mel_features, [frames][64]),
name.cq.f64 (cq_magnitude, [frames][410]), name.cqlog.f32 (log(max(cq, 1e-6)), the
synthesis input, float32) and name.cqback.f64 (cq_to_stft_magnitude of exp(cqlog), [frames]
[1025]). Dense filterbanks (float64): mel_fb.f64 [64][1025], cq_fb.f64 [410][1025], and with
other parameters (filterbanks.txt lists them): mel_fb_16k.f64, cq_fb_16k.f64."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "models"))
import features as F  # noqa: E402


def signals():
    sr = F.SR
    rng = np.random.default_rng(4321)
    t = np.arange(int(1.5 * sr)) / sr
    yield "noise", 0.1 * rng.standard_normal(len(t))
    # logarithmic chirp 60 Hz -> 9 kHz
    f0, f1, dur = 60.0, 9000.0, t[-1]
    k = np.log(f1 / f0) / dur
    yield "chirp", 0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    env = np.minimum(t / 0.02, 1.0) * np.exp(-2.0 * t)
    tone = sum(np.sin(2 * np.pi * 196.0 * h * t + h) / h for h in range(1, 30)
               if 196.0 * h < sr / 2)
    yield "decaying_tone", 0.4 * env * tone
    # silence, then a burst: exact zeros in the first frames
    burst = np.zeros(len(t))
    burst[sr // 2:sr // 2 + 2000] = 0.3 * rng.standard_normal(2000)
    yield "silence_burst", burst


def save(path, array, dtype):
    np.ascontiguousarray(array, dtype=dtype).tofile(path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    save(os.path.join(out, "mel_fb.f64"), F.mel_filterbank(), np.float64)
    save(os.path.join(out, "cq_fb.f64"), F.cq_filterbank(), np.float64)
    # other parameters: sr n_fft n_mels fmin fmax / sr n_fft n_bins fmin bpo
    save(os.path.join(out, "mel_fb_16k.f64"),
         F.mel_filterbank(sr=16000, n_fft=512, n_mels=40, fmin=0.0, fmax=8000.0), np.float64)
    save(os.path.join(out, "cq_fb_16k.f64"),
         F.cq_filterbank(sr=16000, n_fft=1024, n_bins=150, fmin=50.0, bpo=24), np.float64)
    with open(os.path.join(out, "filterbanks.txt"), "w") as f:
        f.write("mel_fb_16k 16000 512 40 0 8000\ncq_fb_16k 16000 1024 150 50 24\n")
    lines = []
    for name, x in signals():
        x32 = np.asarray(x, dtype=np.float32)
        x64 = x32.astype(np.float64)
        save(os.path.join(out, name + ".f32"), x32, np.float32)
        save(os.path.join(out, name + ".mel.f64"), F.mel_features(x64), np.float64)
        cq = F.cq_magnitude(x64)
        save(os.path.join(out, name + ".cq.f64"), cq, np.float64)
        cqlog = np.log(np.maximum(cq, F.CQ_FLOOR)).astype(np.float32)
        save(os.path.join(out, name + ".cqlog.f32"), cqlog, np.float32)
        back = F.cq_to_stft_magnitude(np.exp(cqlog.astype(np.float64)))
        save(os.path.join(out, name + ".cqback.f64"), back, np.float64)
        lines.append(f"{name} {len(x32)}\n")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
