"""The spectral front-ends of timbre~ and flowsynth~, written once in numpy from their
definitions. The C code in src/spectral/ (cqt.c, mel.c) computes the same thing in real time;
the training scripts compute their datasets with this file, and the unit tests compare the C
against it. Both domains are at 22050 Hz (the models' own rate): the externals resample.

Frames are not centred: frame i covers samples [i * hop, i * hop + n_fft) of the signal, as a
real-time analysis of the newest n_fft samples sees them. Window: periodic hann. FFT:
unnormalised (numpy.fft.rfft).

Constant-Q (timbre spaces, REFERENCE §1.7): 410 bins, centres f_k = 30 * 2**(k / 48) Hz
(30 Hz to about 11 kHz, 48 bins per octave), computed on an STFT (n_fft 2048, hop 256) as
triangular bands in linear frequency, centred on f_k with half-width
max(f_k * (2**(1/48) - 1), sr / n_fft), each row normalised to sum 1, applied to |X|.
The low bins are therefore interpolations of the FFT bins (a real-time CQ cannot have the
2-second windows a true 30 Hz / 48-bins-per-octave analysis needs). Model features:
log(max(cq, 1e-6)).

Mel (FlowSynth, REFERENCE §1.6): librosa's default (Slaney) mel filterbank, 64 mels,
30-11000 Hz, on the power spectrum |X|^2 of an STFT with n_fft 2048, hop 1024; features
log(mel + 1e-3)."""
import numpy as np

SR = 22050

CQ_N_FFT = 2048
CQ_HOP = 256
CQ_FMIN = 30.0
CQ_BINS_PER_OCTAVE = 48
CQ_N_BINS = 410
CQ_FLOOR = 1e-6

MEL_N_FFT = 2048
MEL_HOP = 1024
MEL_N_MELS = 64
MEL_FMIN = 30.0
MEL_FMAX = 11000.0
MEL_OFFSET = 1e-3
MEL_FRAMES = 80  # the window FlowSynth's encoder sees


def hann(n):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def frames(x, n_fft, hop):
    """[n_frames, n_fft], frame i = x[i * hop : i * hop + n_fft] (no padding)."""
    x = np.asarray(x, dtype=np.float64)
    n = 0 if len(x) < n_fft else 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return x[idx]


def stft_magnitude(x, n_fft, hop):
    """|rfft(hann * frame)| for every frame: [n_frames, n_fft // 2 + 1]."""
    return np.abs(np.fft.rfft(frames(x, n_fft, hop) * hann(n_fft), axis=1))


def cq_centres(n_bins=CQ_N_BINS, fmin=CQ_FMIN, bpo=CQ_BINS_PER_OCTAVE):
    return fmin * 2.0 ** (np.arange(n_bins) / bpo)


def cq_filterbank(sr=SR, n_fft=CQ_N_FFT, n_bins=CQ_N_BINS, fmin=CQ_FMIN,
                  bpo=CQ_BINS_PER_OCTAVE):
    """[n_bins, n_fft // 2 + 1] weights applied to |X|."""
    f = np.arange(n_fft // 2 + 1) * sr / n_fft
    fk = cq_centres(n_bins, fmin, bpo)
    hw = np.maximum(fk * (2.0 ** (1.0 / bpo) - 1.0), sr / n_fft)
    w = np.maximum(0.0, 1.0 - np.abs(f[None, :] - fk[:, None]) / hw[:, None])
    return w / w.sum(axis=1, keepdims=True)


def cq_magnitude(x, sr=SR):
    """Constant-Q magnitudes [n_frames, 410] of a 22050 Hz signal."""
    return stft_magnitude(x, CQ_N_FFT, CQ_HOP) @ cq_filterbank(sr).T


def cq_features(x, sr=SR):
    return np.log(np.maximum(cq_magnitude(x, sr), CQ_FLOOR))


def cq_to_stft_magnitude(cq, sr=SR, n_fft=CQ_N_FFT, fmin=CQ_FMIN, bpo=CQ_BINS_PER_OCTAVE):
    """The STFT magnitudes a CQ frame stands for (what the synthesis feeds its phase
    reconstruction): log-magnitude interpolated linearly in log-frequency between CQ
    centres; below fmin, the first bin's value scaled by f / fmin (0 at DC); 0 above the
    last centre. cq: [..., n_bins] magnitudes (not logs)."""
    cq = np.maximum(np.asarray(cq, dtype=np.float64), CQ_FLOOR)
    n_bins = cq.shape[-1]
    f = np.arange(n_fft // 2 + 1) * sr / n_fft
    out = np.zeros(cq.shape[:-1] + (len(f),))
    logcq = np.log(cq)
    for j, fj in enumerate(f):
        if fj <= 0.0:
            continue
        u = bpo * np.log2(fj / fmin)
        if u < 0.0:
            out[..., j] = cq[..., 0] * fj / fmin
        elif u <= n_bins - 1:
            k = min(int(np.floor(u)), n_bins - 2)
            t = u - k
            out[..., j] = np.exp((1.0 - t) * logcq[..., k] + t * logcq[..., k + 1])
    return out


def hz_to_mel(f):
    """Slaney's mel scale (librosa htk=False)."""
    f = np.asarray(f, dtype=np.float64)
    lin = 3.0 * f / 200.0
    log = 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    lin = 200.0 * m / 3.0
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log, lin)


def mel_filterbank(sr=SR, n_fft=MEL_N_FFT, n_mels=MEL_N_MELS, fmin=MEL_FMIN, fmax=MEL_FMAX):
    """[n_mels, n_fft // 2 + 1], librosa.filters.mel(norm='slaney', htk=False)."""
    f = np.arange(n_fft // 2 + 1) * sr / n_fft
    pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    w = np.zeros((n_mels, len(f)))
    for m in range(n_mels):
        lower = (f - pts[m]) / (pts[m + 1] - pts[m])
        upper = (pts[m + 2] - f) / (pts[m + 2] - pts[m + 1])
        w[m] = np.maximum(0.0, np.minimum(lower, upper)) * 2.0 / (pts[m + 2] - pts[m])
    return w


def mel_features(x, sr=SR):
    """log(mel + 1e-3) frames [n_frames, 64] of a 22050 Hz signal."""
    power = stft_magnitude(x, MEL_N_FFT, MEL_HOP) ** 2
    return np.log(power @ mel_filterbank(sr).T + MEL_OFFSET)
