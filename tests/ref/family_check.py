#!/usr/bin/python3
"""Checks for the Pd renders of timbre~ and flowsynth~ (tests/pd/run_pd_family.sh), each
against an independent computation: the model called by torch on features computed by numpy
(models/features.py), never by our C.

usage: family_check.py timbre-synth MODEL OUT.wav NOTE Z1 .. ZL
         The steady part of timbre~'s audio, analysed with the numpy constant-Q front-end,
         against torch decode(z, note): prints the spectral convergence (dB) of the mean CQ
         magnitudes; exits 1 above the bar.
       family_check.py timbre-smooth OUT.wav
         While the position sweeps (after the first 0.3 s): the largest jump of the short-term
         level (dB between consecutive 256-sample blocks, where the level is above -60 dBFS);
         exits 1 above 3 dB. (The decoded frames' own energy moves < 0.1 dB per 3 ms there.)
       family_check.py timbre-analysis MODEL IN.wav OUT.wav L TOL TOL_MEDIAN
         Each distinct position timbre~ reported (outlets 1..L of OUT.wav) must be the torch
         encoding of a numpy CQ frame of the input: the nearest within TOL, the median
         distance within TOL_MEDIAN. (At another rate than 22050 Hz, the C resampler and
         scipy's differ in their transition band, which log-magnitude features magnify.)
       family_check.py flowsynth-match MODEL IN.wav LOG TOL
         Each parameter list flowsynth~ printed ("params: v1 .. vN" lines of LOG) must be the
         torch forward of one window of 80 numpy log-mel frames of the input (TOL, max abs).
       family_check.py flowsynth-macro MODEL LOG Z1 .. ZL
         The list printed after `z Z1 .. ZL` equals torch decode([Z]) (1e-5)."""
import os
import sys

import numpy as np
import scipy.io.wavfile
import scipy.signal
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
import features as F  # noqa: E402

torch.set_num_threads(1)
torch.set_grad_enabled(False)


def read(path):
    sr, x = scipy.io.wavfile.read(path)
    x = x.astype(np.float64)
    return sr, (x if x.ndim == 2 else x[:, None])


def to_model_rate(x, sr):
    if sr == F.SR:
        return x
    g = np.gcd(int(sr), F.SR)
    return scipy.signal.resample_poly(x, F.SR // g, int(sr) // g)


def timbre_cond(model, note):
    omin, noct = model.get_octave_min()[0], model.get_n_octaves()[0]
    n = int(np.floor(note + 0.5))
    c = np.zeros(12 + noct, np.float32)
    c[n % 12] = 1
    c[12 + min(max(n // 12 - 1, omin), omin + noct - 1) - omin] = 1
    return c


def timbre_synth(model_path, wav, note, z):
    m = torch.jit.load(model_path)
    sr, x = read(wav)
    y = to_model_rate(x[:, 0], sr)
    y = y[len(y) // 2:]  # steady state: past the start and the model's latency
    got = F.cq_magnitude(y).mean(axis=0)
    inp = np.concatenate([np.array(z, np.float32), timbre_cond(m, note)])[None, :, None]
    want = np.exp(m.decode(torch.from_numpy(inp)).numpy()[0, :, 0].astype(np.float64))
    sc = 20 * np.log10(np.linalg.norm(got - want) / np.linalg.norm(want))
    print(f"constant-Q spectral convergence {sc:.1f} dB, level {20 * np.log10(np.sqrt((y ** 2).mean())):.1f} dBFS")
    return sc <= -10.0


def timbre_smooth(wav):
    sr, x = read(wav)
    a = x[int(0.3 * sr):, 0]  # past the latency and the first frames' overlap-add fade-in
    n = len(a) // 256
    level = 10 * np.log10((a[:n * 256].reshape(n, 256) ** 2).mean(axis=1) + 1e-20)
    loud = (level[1:] > -60) & (level[:-1] > -60)
    jump = np.abs(np.diff(level))[loud].max()
    print(f"largest level change between 256-sample blocks {jump:.2f} dB over {loud.sum()} blocks")
    return jump <= 3.0 and loud.sum() > n // 2


def timbre_analysis(model_path, in_wav, out_wav, L, tol, tol_median):
    m = torch.jit.load(model_path)
    sr, x = read(in_wav)
    _, y = read(out_wav)
    # Every frame position to within 2 samples: resampling in C shifts the frames' phase.
    y0 = np.concatenate([np.zeros(F.CQ_N_FFT), to_model_rate(x[:, 0], sr)])
    hop = F.CQ_HOP if sr == F.SR else 2
    feats = np.log(np.maximum(F.stft_magnitude(y0, F.CQ_N_FFT, hop) @ F.cq_filterbank().T, F.CQ_FLOOR))
    ref = m.encode(torch.from_numpy(feats.T[None].astype(np.float32))).numpy()[0].T
    got = np.unique(y[:, 1:1 + L].astype(np.float32), axis=0)
    got = got[np.abs(got).sum(axis=1) > 0]  # before the first frame: zeros
    d = np.array([np.abs(ref - g).max(axis=1).min() for g in got])
    print(f"{len(got)} positions, nearest torch encoding within {d.max():.2e} (median {np.median(d):.2e}), "
          f"latent spread {ref.std(axis=0).mean():.2f}")
    return len(got) > 10 and d.max() <= tol and np.median(d) <= tol_median


def flowsynth_windows(m, x):
    n_frames = m.get_n_frames()[0]
    # The external starts from silence: frames of zeros, then the stream, one frame per hop.
    pad = np.concatenate([np.zeros(F.MEL_N_FFT - F.MEL_HOP), x])
    feats = F.mel_features(pad)
    silent = np.full((n_frames - 1, feats.shape[1]), np.log(F.MEL_OFFSET))
    feats = np.concatenate([silent, feats])
    wins = np.stack([feats[i:i + n_frames].T for i in range(len(feats) - n_frames + 1)])
    return m.forward(torch.from_numpy(wins.astype(np.float32))).numpy()[:, :, 0]


def printed(log, tag):
    rows = []
    for line in open(log):
        if line.startswith(tag + ": "):
            rows.append([float(v) for v in line.split()[1:]])
    return np.array(rows)


def flowsynth_match(model_path, in_wav, log, tol):
    m = torch.jit.load(model_path)
    sr, x = read(in_wav)
    # the patch plays the file, then silence until it quits (1 s)
    ref = flowsynth_windows(m, np.concatenate([to_model_rate(x[:, 0], sr), np.zeros(F.SR)]))
    got = printed(log, "params")
    d = np.array([np.abs(ref - g).max(axis=1).min() for g in got]) if len(got) else np.array([1e9])
    print(f"{len(got)} parameter lists, nearest torch forward within {d.max():.2e} "
          f"(median {np.median(d):.2e}); {len(ref)} windows")
    return len(got) > 10 and d.max() <= tol


def flowsynth_macro(model_path, log, z):
    m = torch.jit.load(model_path)
    z = z + [0.0] * (m.get_latent_size()[0] - len(z))  # flowsynth~ sets missing dims to 0
    want = m.decode(torch.tensor(z, dtype=torch.float32)[None, :, None]).numpy()[0, :, 0]
    got = printed(log, "params")
    if not len(got):
        print("no params line")
        return False
    d = np.abs(got[-1] - np.clip(want, 0, 1)).max()
    print(f"decode of the macro position: max difference {d:.2e}")
    return d <= 1e-5


def main(a):
    cmd = a[0]
    if cmd == "timbre-synth":
        ok = timbre_synth(a[1], a[2], float(a[3]), [float(v) for v in a[4:]])
    elif cmd == "timbre-smooth":
        ok = timbre_smooth(a[1])
    elif cmd == "timbre-analysis":
        ok = timbre_analysis(a[1], a[2], a[3], int(a[4]), float(a[5]), float(a[6]))
    elif cmd == "flowsynth-match":
        ok = flowsynth_match(a[1], a[2], a[3], float(a[4]))
    elif cmd == "flowsynth-macro":
        ok = flowsynth_macro(a[1], a[2], [float(v) for v in a[3:]])
    else:
        sys.exit(__doc__)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv[1:])
