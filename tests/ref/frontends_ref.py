"""Reference values for the front-end unit tests (tests/unit/test_frontends.c), computed by
models/features.py itself: the mel and constant-Q filterbanks, log-mel and CQ frames, and
the CQ -> STFT magnitude map the timbre synthesis uses.

Usage: frontends_ref.py OUTDIR
Writes OUTDIR/cases.txt ("name length" per line), per case the signal (name.f32, float32,
22050 Hz) and, from that float32 signal: name.mel.f64 (mel_features, [frames][64]),
name.cq.f64 (cq_magnitude, [frames][410]), name.cqlog.f32 (log(max(cq, 1e-6)), the
synthesis input, float32) and name.cqback.f64 (cq_to_stft_magnitude of exp(cqlog), [frames]
[1025]). Dense filterbanks (float64): mel_fb.f64 [64][1025], cq_fb.f64 [410][1025], and with
other parameters (filterbanks.txt lists them): mel_fb_16k.f64, cq_fb_16k.f64.

The harmonic inverse (acids_cqt_to_magnitude_harmonic, not in features.py: written here once
more, the same algorithm): harmonic.txt lists "name sr n_fft n_bins fmin bpo f0 frames", per
line name.hlog.f32 (CQ log-magnitudes, [frames][n_bins], float32) and name.harm.f64 (the
harmonic inverse at f0, [frames][n_fft / 2 + 1])."""
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


# acids_cqt_to_magnitude_harmonic (src/spectral/cqt.c: HARM_*)
HARM_LOBE = 2.0  # half-width of the hann window's main lobe, FFT bins
HARM_CENTS = 5.0  # pitch tolerance: widens the upper harmonics' lobes
HARM_FLOOR = 0.05  # the comb between the harmonics, relative to a lone peak
HARM_ITERATIONS = 8  # consistency (Richardson-Lucy) updates


def hann_lobe(x):
    """|W(x)| / |W(0)| of the hann window's transform on its main lobe (x in FFT bins,
    0 from |x| = 2): |sinc(x) / (1 - x^2)|, 1/2 at |x| = 1."""
    x = abs(float(x))
    if x >= 2.0:
        return 0.0
    if x < 1e-9:
        return 1.0
    d = 1.0 - x * x
    if abs(d) < 1e-6:
        return 0.5
    return abs(np.sin(np.pi * x) / (np.pi * x * d))


def cq_to_stft_magnitude_harmonic(cqlog, f0, sr=F.SR, n_fft=F.CQ_N_FFT,
                                  fmin=F.CQ_FMIN, bpo=F.CQ_BINS_PER_OCTAVE):
    """The harmonic inverse of CQ log-magnitudes cqlog [frames, n_bins] (float32) at
    fundamental f0 (Hz): features.cq_to_stft_magnitude's envelope times a comb of hann main
    lobes at h f0 (half-width HARM_LOBE bins + HARM_CENTS of h f0; HARM_FLOOR between), the
    comb weighted by s = clip(hw / df - 1, 0, 1) (hw the CQ band half-width at the bin, df the
    bin spacing), then HARM_ITERATIONS Richardson-Lucy updates towards the CQ frame."""
    cqlog = np.asarray(cqlog, dtype=np.float32)
    floor = np.float32(np.log(F.CQ_FLOOR))
    target = np.exp(np.maximum(cqlog, floor).astype(np.float64))
    env = F.cq_to_stft_magnitude(target, sr, n_fft, fmin, bpo)
    if not f0 > 0:
        return env
    bins = n_fft // 2 + 1
    df = sr / n_fft
    fb = F.cq_filterbank(sr, n_fft, cqlog.shape[-1], fmin, bpo)
    f = np.arange(bins) * sr / n_fft
    sharpen = np.clip(np.maximum(f * (2.0 ** (1.0 / bpo) - 1.0), df) / df - 1.0, 0.0, 1.0)
    comb = np.zeros(bins)
    if f0 >= 2.0 * df:
        tol = 2.0 ** (HARM_CENTS / 1200.0) - 1.0
        h = 1
        while True:
            p = h * f0 / df
            width = HARM_LOBE + p * tol
            if p - width >= bins - 1:
                break
            for j in range(max(int(np.ceil(p - width)), 0),
                           min(int(np.floor(p + width)), bins - 1) + 1):
                comb[j] += hann_lobe((j - p) * (2.0 / width))
            h += 1
    else:
        comb[:] = 1.0
    est = env * ((1.0 - sharpen) + sharpen * (comb + HARM_FLOOR))
    colsum = fb.sum(axis=0)
    covered = colsum > 0
    for _ in range(HARM_ITERATIONS):
        pred = est @ fb.T
        ratio = np.where(pred > 1e-30, target / np.where(pred > 1e-30, pred, 1.0), 1.0)
        back = (ratio @ fb) / np.where(covered, colsum, 1.0)
        est = np.where(covered, est * back, est)
    return est


def harmonic_tone(sr, f0, seconds, partials=40):
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(t / 0.05, 1.0)
    return 0.3 * env * sum(np.sin(2 * np.pi * f0 * h * t + 0.7 * h) / h
                           for h in range(1, partials + 1) if f0 * h < sr / 2)


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

    # The harmonic inverse: the reference signals at a pitch of their own (the chirp at 0: the
    # plain inverse), a harmonic tone, and one at other CQ parameters.
    hlines = []
    sigs = dict(signals())
    harm_cases = [("noise", sigs["noise"], 220.0, F.SR, 2048, 410, 30.0, 48),
                  ("chirp", sigs["chirp"], 0.0, F.SR, 2048, 410, 30.0, 48),
                  ("decaying_tone", sigs["decaying_tone"], 196.0, F.SR, 2048, 410, 30.0, 48),
                  ("silence_burst", sigs["silence_burst"], 150.0, F.SR, 2048, 410, 30.0, 48),
                  ("tone_110", harmonic_tone(F.SR, 110.0, 0.5), 110.0, F.SR, 2048, 410, 30.0,
                   48),
                  ("tone_16k", harmonic_tone(16000, 233.0, 0.5), 233.0, 16000, 1024, 150, 50.0,
                   24)]
    for name, x, f0, sr, n_fft, n_bins, fmin, bpo in harm_cases:
        x64 = np.asarray(x, dtype=np.float32).astype(np.float64)
        cq = F.stft_magnitude(x64, n_fft, 256) @ F.cq_filterbank(sr, n_fft, n_bins, fmin,
                                                                 bpo).T
        cq = cq[::4]  # every 4th frame: enough, and quick
        cqlog = np.log(np.maximum(cq, F.CQ_FLOOR)).astype(np.float32)
        save(os.path.join(out, name + ".hlog.f32"), cqlog, np.float32)
        save(os.path.join(out, name + ".harm.f64"),
             cq_to_stft_magnitude_harmonic(cqlog, f0, sr, n_fft, fmin, bpo), np.float64)
        hlines.append(f"{name} {sr} {n_fft} {n_bins} {fmin} {bpo} {f0} {len(cqlog)}\n")
    with open(os.path.join(out, "harmonic.txt"), "w") as f:
        f.writelines(hlines)


if __name__ == "__main__":
    main()
