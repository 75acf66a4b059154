"""Reference values for the spectral unit tests, written from the formulas with numpy/scipy.

DDSP's training loudness (acids-ircam/ddsp_pytorch, ddsp/core.py extract_loudness):
    S = |STFT(x)|, n_fft 2048, hop = block size, periodic hann window, centred frames
    loudness = mean over bins of ln(S + 1e-7) + A-weighting(bin frequency) [dB, >= -80 dB]
with the last frame dropped. Computed here in float64 from the definitions: explicit padding,
explicit framing, numpy's rfft, and the IEC 61672 A curve written as its magnitude ratio.

Usage: spectral_ref.py OUTDIR
Writes OUTDIR/cases.txt ("name sample_rate hop length" per line) and, per case, the signal
(name.f32, float32) and the reference loudness with both paddings (name.reflect.f64 and
name.zero.f64, float64, length // hop values each)."""
import os
import sys

import numpy as np
import scipy.signal


def a_weighting_db(freqs, min_db=-80.0):
    """IEC 61672-1 A-weighting in dB: 20 log10 R_A(f) + 2.00, floored at min_db."""
    f2 = np.asarray(freqs, dtype=np.float64) ** 2
    num = (12194.217**2) * f2**2
    den = ((f2 + 20.598997**2) * np.sqrt((f2 + 107.65265**2) * (f2 + 737.86223**2))
           * (f2 + 12194.217**2))
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(num / den) + 2.0
    return np.maximum(db, min_db)


def ddsp_loudness(x, sample_rate, hop, n_fft=2048, pad="reflect"):
    x = np.asarray(x, dtype=np.float64)
    padded = np.pad(x, n_fft // 2, mode="reflect" if pad == "reflect" else "constant")
    n_frames = 1 + len(x) // hop
    window = scipy.signal.get_window("hann", n_fft, fftbins=True)
    frames = np.stack([padded[k * hop:k * hop + n_fft] for k in range(n_frames)])
    magnitude = np.abs(np.fft.rfft(frames * window, axis=1))
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    per_bin = np.log(magnitude + 1e-7) + a_weighting_db(freqs)[None, :]
    return per_bin.mean(axis=1)[:-1]


def cases():
    rng = np.random.default_rng(1234)

    def t(sr, seconds):
        return np.arange(int(sr * seconds)) / sr

    sr = 16000
    yield "sine440_16k_hop160", sr, 160, 0.5 * np.sin(2 * np.pi * 440 * t(sr, 1.0))

    sr = 44100
    tt = t(sr, 1.5)
    env = np.minimum(tt / 0.05, 1.0) * np.exp(-tt * 1.5)
    tone = sum(np.sin(2 * np.pi * 220 * k * tt + k) / k for k in range(1, 11))
    yield "harmonic220_44k_hop512", sr, 512, 0.3 * env * tone

    sr = 48000
    yield "noise_48k_hop2048", sr, 2048, 0.1 * rng.standard_normal(sr)

    sr = 22050
    tt = t(sr, 0.5)
    chirp = 0.7 * scipy.signal.chirp(tt, 200, tt[-1], 4000, method="logarithmic")
    burst = np.concatenate([np.zeros(int(0.3 * sr)), chirp, np.zeros(int(0.2 * sr))])
    yield "silence_chirp_silence_22k_hop256", sr, 256, burst

    sr = 16000
    quiet = 1e-3 * np.sin(2 * np.pi * 1000.3 * t(sr, 0.5)) + 1e-4 * rng.standard_normal(8000)
    yield "quiet_16k_hop64", sr, 64, quiet

    sr = 16000
    yield "short_800_samples_16k_hop160", sr, 160, 0.2 * rng.standard_normal(800)

    sr = 48000
    tt = t(sr, 1.0)
    vib = 0.25 * np.sin(2 * np.pi * (330 * tt + 330 * 0.02 / 5 * np.sin(2 * np.pi * 5 * tt)))
    yield "vibrato_48k_hop480", sr, 480, vib


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    lines = []
    for name, sr, hop, x in cases():
        x = np.asarray(x, dtype=np.float32)
        x.tofile(os.path.join(out, name + ".f32"))
        for pad in ("reflect", "zero"):
            ref = ddsp_loudness(x, sr, hop, pad=pad)
            assert len(ref) == len(x) // hop
            ref.astype(np.float64).tofile(os.path.join(out, f"{name}.{pad}.f64"))
        lines.append(f"{name} {sr} {hop} {len(x)}\n")
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
