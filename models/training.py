"""What the audio demo models (make_rave.py, make_wavae.py) share to train on the note
dataset (make_dataset.py): the note regions and labels, random excerpts, RAVE's multi-scale
spectral distance, the envelope term and one seeded Adam loop with a cosine schedule.

Build-time only (Debian's python3-torch); nothing here is exported into a .ts file.
"""
import io
import math
import time

import numpy as np
import torch

SCALES = (2048, 1024, 512, 256, 128)
LOG_EPS = 1e-7
ENV_EPS = 1e-3
GAIN_RANGE = (0.5, 4.0)   # random excerpt gain: the help patches feed louder signals
                          # than the soundfont renders
BEFORE = 0.1              # s kept before each note's onset
RELEASE = 0.3             # s after note-off during which the note's pitch still sounds


def note_regions(notes, sr, split, gap):
    """[(first, last) sample] of each note of a split: from BEFORE s ahead of the onset to
    the end of its release gap."""
    return [(max(0, int((n["start"] - BEFORE) * sr)), int((n["end"] + gap) * sr))
            for n in notes if n["split"] == split]


def pitch_track(notes, sr, n_samples, hop):
    """Per-hop f0 in Hz of the dataset's rendering (the MIDI pitch of the sounding note,
    from onset to RELEASE s after note-off), 0 where no note sounds: [n_samples // hop]."""
    f0 = np.zeros(n_samples // hop, dtype=np.float32)
    for n in notes:
        a = int(n["start"] * sr) // hop
        e = min(len(f0), int((n["end"] + RELEASE) * sr) // hop)
        f0[a:e] = 440.0 * 2.0 ** ((n["pitch"] - 69) / 12.0)
    return f0


def sample_excerpts(audio, regions, rng, batch, n, hop=1, gain_range=GAIN_RANGE):
    """batch random excerpts of n samples inside the regions, each with a random
    log-uniform gain, starting on a multiple of hop. Returns (excerpts [batch, n] float32
    tensor, start sample of each)."""
    out = np.zeros((batch, n), dtype=np.float32)
    starts = []
    for b in range(batch):
        a, e = regions[rng.integers(len(regions))]
        start = hop * (rng.integers(a, max(a + 1, e - n)) // hop)
        seg = audio[start:start + n]
        out[b, :len(seg)] = seg * np.exp(rng.uniform(*np.log(gain_range)))
        starts.append(start)
    return torch.from_numpy(out), starts


def stft_mag(x, n_fft):
    """|STFT| of [B, N] (hann, hop n_fft/4, no centring)."""
    win = torch.hann_window(n_fft, dtype=x.dtype)
    return torch.stft(x, n_fft, n_fft // 4, n_fft, win, center=False,
                      return_complex=True).abs()


def spectral_distance(x, y, scales=SCALES):
    """RAVE's multi-scale spectral distance (AudioDistanceV1): over n_fft 2048..128 (hop
    n_fft/4), ||X - Y|| / ||X|| (linear magnitudes) + mean |log(X + 1e-7) - log(Y + 1e-7)|.
    x is the target; both [B, N]. Returns (total, linear part, log part)."""
    lin = log = x.new_zeros(())
    for n in scales:
        X, Y = stft_mag(x, n), stft_mag(y, n)
        lin = lin + (X - Y).norm() / X.norm().clamp(min=1e-7)
        log = log + (torch.log(X + LOG_EPS) - torch.log(Y + LOG_EPS)).abs().mean()
    return lin + log, lin, log


def log_envelope(x, frame=256):
    """0.5 log(mean square + ENV_EPS^2) per frame of [B, N] (N a multiple of frame): smooth
    at exact silence. Its L1 distance keeps short trainings from settling on a near-silent
    output, which lowers the spectral distance without making the right partials."""
    ms = x.reshape(x.shape[0], -1, frame).pow(2).mean(-1)
    return 0.5 * torch.log(ms + ENV_EPS ** 2)


def envelope_distance(x, y):
    return (log_envelope(x) - log_envelope(y)).abs().mean()


def fit(params, steps, loss_fn, lr=2e-3, lr_end=1e-4, clip=10.0, log_every=100):
    """Adam with a cosine decay from lr to lr_end over steps; loss_fn(step) returns (loss,
    dict of floats to report). Returns a summary: steps, wall and CPU seconds, and the
    reported values averaged over the last log_every steps."""
    opt = torch.optim.Adam(params, lr=lr)
    hist, t0, cpu0 = [], time.perf_counter(), time.process_time()
    with torch.enable_grad():
        for step in range(steps):
            for g in opt.param_groups:
                g["lr"] = lr_end + (lr - lr_end) * 0.5 * (1 + math.cos(math.pi * step / steps))
            loss, report = loss_fn(step)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            hist.append(report)
            if step % log_every == 0 or step == steps - 1:
                avg = {k: np.mean([h[k] for h in hist[-log_every:]]) for k in report}
                print(f"  step {step:5d}  " + "  ".join(f"{k} {v:.3f}" for k, v in avg.items())
                      + f"  {time.perf_counter() - t0:6.0f} s", flush=True)
    last = {k: float(np.mean([h[k] for h in hist[-log_every:]])) for k in hist[-1]}
    return dict(steps=steps, wall=time.perf_counter() - t0, cpu=time.process_time() - cpu0,
                final=last)


def fresh(model):
    """A copy of a scripted model with the caches it was saved with (zeros)."""
    buf = io.BytesIO()
    torch.jit.save(model, buf)
    buf.seek(0)
    return torch.jit.load(buf)


def write_wav(path, x, sr):
    import scipy.io.wavfile
    scipy.io.wavfile.write(path, sr, x.reshape(-1).numpy().astype(np.float32))
