"""Build models/vschaos_demo.ts: a small vschaos2-style spectral VAE, trained
briefly on instrument notes, exported with the nn~ contract (as
acids-ircam/vschaos2's ScriptableSpectralAutoEncoder does) so vschaos~ loads
it like a real vschaos2 export.

Interface (batch 1; T = samples per call, a positive multiple of 512; hosts
should use T >= min_buffer_size = 2048, smaller multiples of 512 work too):

  encode   [1, 1, T]          -> [1, 8, T/512]   posterior mean (no noise)
  decode   [1, 8 + 2, T/512]  -> [1, 1, T]       latents + 2 label channels
  forward  [1, 1 + 2, T]      -> [1, 1, T]       audio + 2 label signals
  *_params  encode [1, 1, 8, 512], decode [10, 512, 1, 1],
            forward [3, 1, 1, 1]                  (int64)
  get_methods()    -> ["encode", "decode", "forward"]
  get_attributes() -> ["temperature", "dimred", "inversion_mode",
                       "min_buffer_size", "latency"]
  attribute        type   default      set_ refuses (returns 1)
  temperature      float  0.0          < 0, NaN or inf
  dimred           int    8            outside 0..8
  inversion_mode   str    "keep_input" anything but random, pghi,
                                       keep_input, sinebank
  min_buffer_size  int    2048         always (read-only)
  latency          int    1536         always (read-only)
  *_params type codes: temperature [2.], dimred [1.], inversion_mode [3.],
  min_buffer_size [1.], latency [1.] (float32).
  Plain members: sr 44100, latent_size 8, n_labels 2, n_fft 2048,
  hop_length 512, label_names ["pitch_class", "octave"], label_sizes
  [12, 8], window_std 341.333 (float); buffers mag_mean, mag_std [1025],
  latent_pca [8, 8], window, dual_window [2048].

Labels: channel L (decode) / 1 (forward) = pitch class 0..11, next =
octave 0..7 (MIDI pitch p -> p % 12, p // 12 - 1). Values are rounded to
the nearest integer and clamped to the range, then one-hot encoded inside.
forward decimates its label signals by taking the last sample of each hop
of 512 (the value current when the frame ends).

Transform: frame k of a stream covers its samples [512 (k + 1) - 2048,
512 (k + 1)) (the first call sees 1536 zeros of history). Each frame is
multiplied by a Gaussian window of length 2048, std 2048 / 6 = 341.33
samples (value 0.011 at the ends), rotated so the window centre is sample
0 (phases are referenced to the frame centre) and rfft'd (1025 bins). The
magnitude is normalised as (log(|X| + 1e-3) - mag_mean) / mag_std, per bin
(the training set's statistics). Synthesis: irfft, un-rotate, multiply by
the canonical dual window g / sum_k g(n - 512 k)^2 and overlap-add (exact
reconstruction of an unmodified spectrum). An output sample is complete
once the last frame covering it is added, so every audio output lags by
latency = n_fft - hop = 1536 samples: forward(x)[n] reconstructs x[n -
1536]; decode's frame k is centred on output sample 512 k + 512 - 1024 +
1536 = 512 k + 1024 of the stream.

Model: a per-frame conditional VAE. encoder 1025 -> 256 -> 256 -> (mean,
log-variance) of 8 dims (ELU); decoder [z(8), one-hot pitch class(12),
one-hot octave(8)] -> 256 -> 256 -> 1025 normalised log magnitudes. After
training the latent space is rotated (orthogonally, no centring, no
scaling) onto the principal axes of the training posterior means, so
latent 0 carries the most variance: encode returns the posterior mean in
that basis, and dimred k keeps latents 0..k-1 in forward and zeroes the
others (0 = the prior mean). temperature t: forward decodes mean + t *
posterior std * noise (t = 1: a posterior sample; 0: deterministic). The
noise is a deterministic integer hash of (forward frame count, latent
index), so it also streams exactly.

Phase (inversion_mode):
  keep_input  forward: the decoded magnitude with the input frame's phase
              (default: the most faithful, deterministic). decode has no
              input, so it uses pghi in this mode.
  pghi        a causal, peak-locked phase-gradient heuristic for the
              Gaussian window (lambda = 2 pi std^2): the time derivative
              of the phase is 2 pi 512 m / 2048 + (512 * 2048 / lambda) *
              d(log|X|)/dm (centred difference), the frequency derivative
              -(lambda / (2048 * 512)) * d(log|X|)/dt (backward
              difference, no lookahead). Spectral peaks (local maxima
              within 8 nepers of the frame's maximum) integrate the time
              derivative (trapezoid) from their previous phase; every
              other bin integrates the frequency derivative from its
              nearest peak.
  random      phase = 2 pi * hash(frame count, bin): deterministic noise;
              magnitudes x 2.0 (random phases add in power: level kept).
  sinebank    additive resynthesis: the 64 largest peaks become stationary
              sinusoids at the pghi frequency estimate (exact for a
              Gaussian window) and amplitude, phase integrated as in
              pghi; built in the frequency domain (the Gaussian lobe of
              each sinusoid, +-5 bins) and overlap-added like the others.
              The noise between the peaks is dropped.
Each method has its own state (analysis history, phases, previous log
magnitudes, frame counter, overlap-add tail: buffers enc_*, fwd_*,
dec_*), so consecutive calls on a stream equal one call on all of it, for
any split into multiples of 512 (up to float rounding of the batched
matrix products).

Training (this script): the notes of models/make_dataset.py rendered at
44100 Hz into build/dataset (split == "train" only), frames from each
note's onset to the next note's, labelled with the note's pitch class and
octave. Loss: L1 on log magnitude (summed over bins) + beta KL (beta 0.5,
linear warm-up). Seeded, CPU, 1 thread (see THREADS), fixed number of
epochs. Then the
script evaluates, on the held-out notes (split == "test"), a multi-scale
log-magnitude distance of forward (streamed in 2048-sample blocks, output
aligned by the latency) against the input, for the trained model and for
the same architecture untrained (same seed, same normalisation), and
checks the trained one is clearly lower; then re-loads the .ts and checks
methods, params, attributes, streaming, audibility and timing.

Run from anywhere: /usr/bin/python3 models/make_vschaos.py
  [--epochs N] (default EPOCHS = 30)
"""
import io
import math
import os
import sys
import time
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from dsp import hash_uniform  # noqa: E402
from nn_module import NNModule, pin_hash_seed  # noqa: E402
import make_dataset  # noqa: E402

SR = 44100
N_FFT = 2048
HOP = 512
N_BINS = N_FFT // 2 + 1
WINDOW_STD = N_FFT / 6.0
LAMBDA = 2 * math.pi * WINDOW_STD ** 2     # g(t) = exp(-pi t^2 / lambda)
LATENCY = N_FFT - HOP
LATENT = 8
LABEL_SIZES = [12, 8]
LABEL_NAMES = ["pitch_class", "octave"]
N_LABELS = len(LABEL_SIZES)
HIDDEN = 256
LOG_EPS = 1e-3
LOG_MAX = math.log(4096.0)        # clamp of decoded log magnitudes
PEAK_TOL = 8.0                    # nepers below the frame maximum
N_SINES = 64
MODES = ["random", "pghi", "keep_input", "sinebank"]
DEFAULT_MODE = "keep_input"
SEED_PHASE = 0x51A0
SEED_NOISE1 = 0x7E41
SEED_NOISE2 = 0x2B9D

SEED = 2022
EPOCHS = 30
BATCH = 256
LR = 1e-3
BETA = 0.5
WARMUP = 5                        # epochs of linear KL warm-up
# One thread: the same arithmetic on every run (byte-identical .ts), and on
# a busy 2-core machine two OpenMP threads stall at every small op (a
# training step measured 0.8 s with 2 threads vs 0.05 s with 1).
THREADS = 1
DATASET = os.path.join(ROOT, "build", "dataset")
OUT = os.path.join(HERE, "vschaos_demo.ts")


def gaussian_window() -> torch.Tensor:
    n = torch.arange(N_FFT, dtype=torch.float64) - N_FFT // 2
    return torch.exp(-0.5 * (n / WINDOW_STD) ** 2)


def dual_window(g: torch.Tensor) -> torch.Tensor:
    """Canonical dual of g for hop HOP (painless case: len(g) == N_FFT)."""
    s = (g ** 2).reshape(-1, HOP).sum(0)            # sum_k g(n - k HOP)^2
    return g / s.repeat(N_FFT // HOP)


def analyse(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Frames [..., F, N_FFT] -> spectra [..., F, N_BINS] (centre-referenced).
    Shared by the model and the training-set features."""
    return torch.fft.rfft(torch.roll(x * window, -(window.shape[0] // 2), -1),
                          dim=-1)


class Encoder(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(N_BINS, HIDDEN), nn.ELU(),
                                   nn.Linear(HIDDEN, HIDDEN), nn.ELU())
        self.mean = nn.Linear(HIDDEN, LATENT)
        self.logvar = nn.Linear(HIDDEN, LATENT)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(x)
        return self.mean(h), self.logvar(h).clamp(-12.0, 6.0)


class Decoder(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(LATENT + sum(LABEL_SIZES), HIDDEN)
        self.net = nn.Sequential(nn.ELU(), nn.Linear(HIDDEN, HIDDEN),
                                 nn.ELU(), nn.Linear(HIDDEN, N_BINS))

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.net(self.inp(torch.cat([z, onehot], -1)))


def one_hot(labels: torch.Tensor, sizes: List[int]) -> torch.Tensor:
    """labels [F, 2] (float, any value) -> [F, 12 + 8]: rounded, clamped."""
    out: List[torch.Tensor] = []
    for j, n in enumerate(sizes):
        k = labels[:, j].round().clamp(0, n - 1).long()
        out.append(F.one_hot(k, n))
    return torch.cat(out, -1).float()


class VSChaosDemo(NNModule):
    """See the module docstring for the interface."""

    def __init__(self, encoder: Encoder, decoder: Decoder,
                 mag_mean: torch.Tensor, mag_std: torch.Tensor,
                 latent_pca: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.sr = SR
        self.latent_size = LATENT
        self.n_labels = N_LABELS
        self.n_fft = N_FFT
        self.hop_length = HOP
        self.label_names = LABEL_NAMES
        self.label_sizes = LABEL_SIZES
        self.window_std = WINDOW_STD
        self.window_lambda = LAMBDA
        self.log_eps = LOG_EPS
        self.log_max = LOG_MAX
        self.peak_tol = PEAK_TOL
        self.n_sines = N_SINES
        self.modes = MODES
        self.seed_phase = SEED_PHASE
        self.seed_noise1 = SEED_NOISE1
        self.seed_noise2 = SEED_NOISE2
        self.tgrad_scale = HOP * N_FFT / LAMBDA
        self.fgrad_scale = -LAMBDA / (N_FFT * HOP)
        g = gaussian_window()
        self.register_buffer("window", g.float())
        self.register_buffer("dual_window", dual_window(g).float())
        # Random phases spread each frame's energy evenly over the frame
        # (instead of under g), and overlapping frames add in power, not in
        # amplitude: this gain restores the level of a stationary sound.
        self.random_gain = float(1.0 / torch.sqrt(
            g.pow(2).mean() * dual_window(g).pow(2).sum() / HOP))
        self.register_buffer("bin_advance", (2 * math.pi * HOP / N_FFT *
                                             torch.arange(N_BINS)).float())
        self.register_buffer("mag_mean", mag_mean.float())
        self.register_buffer("mag_std", mag_std.float())
        self.register_buffer("latent_pca", latent_pca.float())
        # Streaming state, one set per method.
        for p in ("enc", "fwd"):
            self.register_buffer(f"{p}_history", torch.zeros(N_FFT - HOP))
        for p in ("fwd", "dec"):
            self.register_buffer(f"{p}_phase", torch.zeros(N_BINS))
            self.register_buffer(f"{p}_tgrad", torch.zeros(N_BINS))
            self.register_buffer(f"{p}_slog", torch.full((N_BINS,),
                                                         math.log(LOG_EPS)))
            self.register_buffer(f"{p}_count", torch.zeros((), dtype=torch.long))
            self.register_buffer(f"{p}_tail", torch.zeros(N_FFT - HOP))

        self.register_method("encode", 1, 1, LATENT, HOP)
        self.register_method("decode", LATENT + N_LABELS, HOP, 1, 1)
        self.register_method("forward", 1 + N_LABELS, 1, 1, 1)
        self.register_attribute("temperature", 0.0)
        self.register_attribute("dimred", LATENT)
        self.register_attribute("inversion_mode", DEFAULT_MODE)
        self.register_attribute("min_buffer_size", N_FFT)
        self.register_attribute("latency", LATENCY)

    # ------------------------------------------------------------ helpers --
    def _check(self, x: torch.Tensor, channels: int, ratio: int) -> int:
        if x.dim() != 3 or x.shape[0] != 1 or x.shape[1] != channels:
            raise ValueError("vschaos_demo: expected a [1, C, T] input with "
                             "batch 1 and the method's channel count")
        n = x.shape[2] * ratio
        if n <= 0 or n % self.hop_length != 0:
            raise ValueError("vschaos_demo: T must be a positive multiple "
                             "of 512 samples")
        return x.shape[2]

    def _frames(self, audio: torch.Tensor, history: torch.Tensor
                ) -> torch.Tensor:
        """audio [T] -> complex spectra [T / 512, N_BINS]; updates history."""
        full = torch.cat([history, audio.float()])
        history.copy_(full[full.shape[0] - history.shape[0]:])
        frames = full.unfold(0, self.n_fft, self.hop_length)
        return analyse(frames, self.window)

    def _features(self, spec: torch.Tensor) -> torch.Tensor:
        return (torch.log(spec.abs() + self.log_eps) - self.mag_mean) \
            / self.mag_std

    def _decode_logmag(self, z: torch.Tensor, labels: torch.Tensor
                       ) -> torch.Tensor:
        """z [F, L] (rotated basis), labels [F, 2] -> log(|X| + eps) [F, B]."""
        zo = torch.matmul(z, self.latent_pca.t())     # back to the VAE basis
        y = self.decoder(zo, one_hot(labels, self.label_sizes))
        return (y * self.mag_std + self.mag_mean).clamp(
            math.log(self.log_eps), self.log_max)

    def _synthesize(self, slog: torch.Tensor, in_phase: Optional[torch.Tensor],
                    mode: str, phase_buf: torch.Tensor,
                    tgrad_buf: torch.Tensor, slog_buf: torch.Tensor,
                    count_buf: torch.Tensor, tail_buf: torch.Tensor
                    ) -> torch.Tensor:
        """slog = log(|X| + eps) [F, B] -> audio [F * 512] (overlap-added,
        latency n_fft - hop); the phase state advances frame by frame."""
        n_frames = slog.shape[0]
        mag = (torch.exp(slog) - self.log_eps).clamp_min(0.0)
        bins = torch.arange(slog.shape[1], device=slog.device)
        two_pi = 2.0 * math.pi
        frames: List[torch.Tensor] = []
        for i in range(n_frames):
            s = slog[i]
            # Phase derivatives of a Gaussian-window STFT (see docstring).
            padded = torch.cat([s[:1], s, s[-1:]])
            tgrad = self.bin_advance + self.tgrad_scale * 0.5 * (
                padded[2:] - padded[:-2])
            fgrad = self.fgrad_scale * (s - slog_buf)
            count = count_buf + i
            if mode == "random":
                phase = two_pi * hash_uniform(count * 4096 + bins,
                                               self.seed_phase)
            elif mode == "keep_input" and in_phase is not None:
                phase = in_phase[i]
            else:
                tphase = phase_buf + 0.5 * (tgrad_buf + tgrad)
                peaks = (s >= padded[:-2]) & (s > padded[2:]) & \
                    (s > s.max() - self.peak_tol)
                if not bool(peaks.any()):
                    peaks = torch.ones_like(peaks)
                left = torch.cummax(torch.where(peaks, bins, -1), 0)[0]
                big = slog.shape[1] * 4
                right = torch.cummin(torch.where(peaks, bins, big).flip(0),
                                     0)[0].flip(0)
                use_left = (left >= 0) & ((bins - left) <= (right - bins))
                nearest = torch.where(use_left, left, right)
                c = torch.cat([torch.zeros(1, dtype=s.dtype, device=s.device),
                               torch.cumsum(0.5 * (fgrad[1:] + fgrad[:-1]), 0)])
                phase = tphase[nearest] + c - c[nearest]
                if mode == "sinebank":
                    frames.append(self._sines(mag[i], tgrad, phase, peaks))
            phase = torch.remainder(phase, two_pi)
            phase_buf.copy_(phase)
            tgrad_buf.copy_(tgrad)
            slog_buf.copy_(s)
            if mode != "sinebank":
                a = mag[i] * self.random_gain if mode == "random" else mag[i]
                frames.append(torch.complex(a * torch.cos(phase),
                                            a * torch.sin(phase)))
        count_buf.add_(n_frames)
        t = torch.roll(torch.fft.irfft(torch.stack(frames), n=self.n_fft,
                                       dim=-1), self.n_fft // 2, -1) \
            * self.dual_window
        # Overlap-add: frame i lands at i * hop of [tail, new samples].
        n_out = n_frames * self.hop_length
        y = F.fold(t.t().unsqueeze(0), output_size=(1, n_out + tail_buf.shape[0]),
                   kernel_size=(1, self.n_fft), stride=(1, self.hop_length))
        y = y.reshape(-1)
        y = torch.cat([y[:tail_buf.shape[0]] + tail_buf,
                       y[tail_buf.shape[0]:]])
        tail_buf.copy_(y[n_out:])
        return y[:n_out]

    def _sines(self, mag: torch.Tensor, tgrad: torch.Tensor,
               phase: torch.Tensor, peaks: torch.Tensor) -> torch.Tensor:
        """One frame of additive resynthesis, built in the frequency domain:
        each of the n_sines largest peaks becomes the exact spectrum of a
        Gaussian-windowed stationary sinusoid (a Gaussian lobe at its
        fractional frequency, its phase constant across the lobe, +-5
        bins), so the usual irfft / dual window / overlap-add turns it into
        sinusoids continued across frames. Non-peak energy is dropped."""
        n_bins = mag.shape[0]
        k = min(self.n_sines, n_bins)
        score = torch.where(peaks & (mag > 0), mag, torch.full_like(mag, -1.0))
        top = torch.topk(score, k)[1]
        valid = score[top] > 0.0
        delta = ((tgrad[top] - self.bin_advance[top]) * self.n_fft
                 / (2.0 * math.pi * self.hop_length)).clamp(-1.0, 1.0)
        # log|X| of a Gaussian-windowed sinusoid is a parabola in the bin:
        # the peak is pi lambda (delta / n_fft)^2 above the bin's value.
        centre = top.to(mag.dtype) + delta
        peak_mag = mag[top] * torch.exp(
            math.pi * self.window_lambda * (delta / self.n_fft) ** 2)
        peak_mag = torch.where(valid, peak_mag, torch.zeros_like(peak_mag))
        offs = torch.arange(-5, 6, device=mag.device)
        where = (top.unsqueeze(1) + offs.unsqueeze(0)).clamp(0, n_bins - 1)
        dist = (where.to(mag.dtype) - centre.unsqueeze(1)) / self.n_fft
        lobe = peak_mag.unsqueeze(1) * torch.exp(
            -math.pi * self.window_lambda * dist * dist)
        ph = phase[top].unsqueeze(1)
        re = torch.zeros(n_bins, dtype=mag.dtype, device=mag.device)
        im = torch.zeros(n_bins, dtype=mag.dtype, device=mag.device)
        re = re.scatter_add(0, where.reshape(-1), (lobe * torch.cos(ph)).reshape(-1))
        im = im.scatter_add(0, where.reshape(-1), (lobe * torch.sin(ph)).reshape(-1))
        return torch.complex(re, im)

    # ------------------------------------------------------------ methods --
    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, 1, 1)
        spec = self._frames(x[0, 0], self.enc_history)
        mean, _ = self.encoder(self._features(spec))
        z = torch.matmul(mean, self.latent_pca)
        return z.t().unsqueeze(0)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._check(z, self.latent_size + self.n_labels, self.hop_length)
        zz = z[0].t().float()                             # [F, L + 2]
        slog = self._decode_logmag(zz[:, :self.latent_size],
                                   zz[:, self.latent_size:])
        mode = self.inversion_mode[0]
        if mode == "keep_input":
            mode = "pghi"
        y = self._synthesize(slog, None, mode, self.dec_phase, self.dec_tgrad,
                             self.dec_slog, self.dec_count, self.dec_tail)
        return y.reshape(1, 1, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x, 1 + self.n_labels, 1)
        hop = self.hop_length
        spec = self._frames(x[0, 0], self.fwd_history)
        labels = x[0, 1:, hop - 1::hop].t().float()      # [F, 2]
        mean, logvar = self.encoder(self._features(spec))
        z = torch.matmul(mean, self.latent_pca)
        temp = self.temperature[0]
        n_frames = z.shape[0]
        if temp > 0.0:
            idx = (self.fwd_count + torch.arange(n_frames)).unsqueeze(1) * 64 \
                + torch.arange(self.latent_size).unsqueeze(0)
            u1 = 1.0 - hash_uniform(idx, self.seed_noise1)        # (0, 1]
            u2 = hash_uniform(idx, self.seed_noise2)
            eps = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
            z = z + temp * torch.matmul(torch.exp(0.5 * logvar) * eps,
                                        self.latent_pca)
        k = self.dimred[0]
        if k < self.latent_size:
            keep = (torch.arange(self.latent_size) < k).float()
            z = z * keep
        slog = self._decode_logmag(z, labels)
        y = self._synthesize(slog, torch.angle(spec), self.inversion_mode[0],
                             self.fwd_phase, self.fwd_tgrad, self.fwd_slog,
                             self.fwd_count, self.fwd_tail)
        return y.reshape(1, 1, -1)

    # --------------------------------------------------------- attributes --
    @torch.jit.export
    def get_temperature(self) -> Tuple[float]:
        return self.temperature

    @torch.jit.export
    def set_temperature(self, value: float) -> int:
        if not (value >= 0.0 and value < float("inf")):
            return 1
        self.temperature = (value,)
        return 0

    @torch.jit.export
    def get_dimred(self) -> Tuple[int]:
        return self.dimred

    @torch.jit.export
    def set_dimred(self, value: int) -> int:
        if value < 0 or value > self.latent_size:
            return 1
        self.dimred = (value,)
        return 0

    @torch.jit.export
    def get_inversion_mode(self) -> Tuple[str]:
        return self.inversion_mode

    @torch.jit.export
    def set_inversion_mode(self, value: str) -> int:
        if value not in self.modes:
            return 1
        self.inversion_mode = (value,)
        return 0

    @torch.jit.export
    def get_min_buffer_size(self) -> Tuple[int]:
        return self.min_buffer_size

    @torch.jit.export
    def set_min_buffer_size(self, value: int) -> int:
        return 1            # read-only: n_fft

    @torch.jit.export
    def get_latency(self) -> Tuple[int]:
        return self.latency

    @torch.jit.export
    def set_latency(self, value: int) -> int:
        return 1            # read-only: n_fft - hop


# ---------------------------------------------------------------- data --

def note_labels(pitch: int) -> Tuple[int, int]:
    return pitch % 12, min(max(pitch // 12 - 1, 0), LABEL_SIZES[1] - 1)


def dataset_frames(audio: np.ndarray, notes: List[dict]
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log(|X| + eps) of every frame of the dataset that belongs to a note
    (frame centre in [onset - 0.1 s, next onset - 0.1 s)), framed exactly
    as the model frames a stream. Returns (logmag [N, B], labels [N, 2],
    note index [N])."""
    window = gaussian_window().float()
    full = torch.cat([torch.zeros(N_FFT - HOP), torch.from_numpy(audio)])
    n_frames = len(audio) // HOP
    centre = (np.arange(n_frames) + 1) * HOP - N_FFT // 2   # samples
    owner = np.full(n_frames, -1)
    for i, n in enumerate(notes):
        lo = n["start"] - 0.1
        hi = (notes[i + 1]["start"] - 0.1) if i + 1 < len(notes) \
            else n["end"] + make_dataset.GAP
        owner[(centre >= lo * SR) & (centre < hi * SR)] = i
    keep = np.nonzero(owner >= 0)[0]
    out = torch.empty(len(keep), N_BINS)
    for a in range(0, len(keep), 4096):
        idx = torch.from_numpy(keep[a:a + 4096])
        frames = full[idx.unsqueeze(1) * HOP + torch.arange(N_FFT)]
        out[a:a + len(idx)] = torch.log(analyse(frames, window).abs() + LOG_EPS)
    labels = torch.tensor([note_labels(notes[o]["pitch"]) for o in owner[keep]],
                          dtype=torch.float32)
    return out, labels, torch.from_numpy(owner[keep])


# ------------------------------------------------------------- training --

def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mean ** 2 + logvar.exp() - 1.0 - logvar)


def train(encoder: Encoder, decoder: Decoder, feats: torch.Tensor,
          labels: torch.Tensor, std: torch.Tensor, val: Tuple, epochs: int
          ) -> dict:
    """feats: normalised log magnitudes; loss in log-magnitude units."""
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    onehot = one_hot(labels, LABEL_SIZES)
    gen = torch.Generator().manual_seed(SEED + 1)
    n = feats.shape[0]
    t0 = time.perf_counter()
    for epoch in range(epochs):
        beta = BETA * min(1.0, (epoch + 1) / WARMUP)
        perm = torch.randperm(n, generator=gen)
        tot_rec, tot_kl = 0.0, 0.0
        for a in range(0, n - BATCH + 1, BATCH):
            idx = perm[a:a + BATCH]
            x = feats[idx]
            mean, logvar = encoder(x)
            eps = torch.randn(mean.shape, generator=gen)
            z = mean + torch.exp(0.5 * logvar) * eps
            y = decoder(z, onehot[idx])
            rec = ((y - x).abs() * std).sum(1).mean()
            kl = kl_divergence(mean, logvar).sum(1).mean()
            loss = rec + beta * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot_rec += rec.item() * BATCH
            tot_kl += kl.item() * BATCH
        sched.step()
        steps = (n // BATCH) * BATCH
        if epoch % 5 == 4 or epoch == epochs - 1:
            vrec, vkl = evaluate_frames(encoder, decoder, *val, std)
            print(f"  epoch {epoch + 1}/{epochs}: train L1/bin "
                  f"{tot_rec / steps / N_BINS:.3f} KL {tot_kl / steps:.1f}; "
                  f"held-out L1/bin {vrec:.3f} KL {vkl:.1f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return dict(seconds=time.perf_counter() - t0)


@torch.no_grad()
def evaluate_frames(encoder, decoder, feats, labels, std) -> Tuple[float, float]:
    mean, logvar = encoder(feats)
    y = decoder(mean, one_hot(labels, LABEL_SIZES))
    rec = ((y - feats).abs() * std).mean().item()
    return rec, kl_divergence(mean, logvar).sum(1).mean().item()


@torch.no_grad()
def latent_rotation(encoder: Encoder, feats: torch.Tensor) -> torch.Tensor:
    """Orthogonal U [L, L], columns = principal axes of the posterior means
    (second moment, no centring), by decreasing variance, signs fixed."""
    mean = encoder(feats)[0].double()
    evals, evecs = torch.linalg.eigh(mean.T @ mean / mean.shape[0])
    u = evecs.flip(1)
    sign = torch.sign(u[u.abs().argmax(0), torch.arange(LATENT)])
    return (u * sign).float()


def build(encoder, decoder, mag_mean, mag_std, rot) -> torch.jit.ScriptModule:
    model = VSChaosDemo(encoder, decoder, mag_mean, mag_std, rot).eval()
    model.requires_grad_(False)
    return torch.jit.script(model)


def to_bytes(sm: torch.jit.ScriptModule) -> bytes:
    buf = io.BytesIO()
    torch.jit.save(sm, buf)
    return buf.getvalue()


def fresh(data: bytes) -> torch.jit.ScriptModule:
    return torch.jit.load(io.BytesIO(data))


# ----------------------------------------------------------- evaluation --

def multiscale_distance(y: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean over n_fft 2048/1024/512/256 (hann, hop n/4) of the mean L1
    between log(|STFT| + 1e-5) of y and ref (1-D, same length)."""
    d = 0.0
    for n in (2048, 1024, 512, 256):
        w = torch.hann_window(n, dtype=y.dtype)
        a = torch.stft(y, n, n // 4, window=w, return_complex=True).abs()
        b = torch.stft(ref, n, n // 4, window=w, return_complex=True).abs()
        d += (torch.log(a + 1e-5) - torch.log(b + 1e-5)).abs().mean().item()
    return d / 4


def note_segments(audio: np.ndarray, notes: List[dict], split: str):
    """(segment [L], pitch) per note of the split: from 0.1 s before the
    onset, 2.3 s (onset to next onset) rounded up to 2048 samples."""
    length = int(math.ceil((make_dataset.DURATION + make_dataset.GAP) * SR
                           / 2048)) * 2048
    for n in notes:
        if n["split"] == split:
            a = int(round((n["start"] - 0.1) * SR))
            seg = audio[a:a + length]
            if len(seg) == length:
                yield torch.from_numpy(seg.copy()), n["pitch"]


def resynthesize(model, seg: torch.Tensor, pitch: int, block: int = 2048
                 ) -> torch.Tensor:
    """forward streamed in blocks; output aligned with seg (latency)."""
    pc, octv = note_labels(pitch)
    n = len(seg) + block * int(math.ceil(LATENCY / block))
    x = torch.zeros(1, 3, n)
    x[0, 0, :len(seg)] = seg
    x[0, 1] = pc
    x[0, 2] = octv
    y = torch.cat([model(x[:, :, i:i + block]) for i in range(0, n, block)], -1)
    return y[0, 0, LATENCY:LATENCY + len(seg)]


def heldout_distance(data: bytes, segs, mode: str) -> float:
    """Mean over the notes; each note starts from the initial state."""
    m = fresh(data)
    assert m.set_inversion_mode(mode) == 0
    initial = {k: v.clone() for k, v in m.named_buffers()}
    d = []
    for seg, pitch in segs:
        for k, v in m.named_buffers():
            v.copy_(initial[k])
        d.append(multiscale_distance(resynthesize(m, seg, pitch), seg))
    return float(np.mean(d))


# --------------------------------------------------------------- checks --

def rms(x: torch.Tensor) -> float:
    return x.pow(2).mean().sqrt().item()


def run_blocks(method, x: torch.Tensor, step: int) -> torch.Tensor:
    return torch.cat([method(x[:, :, i:i + step])
                      for i in range(0, x.shape[-1], step)], -1)


def check(path: str, note: torch.Tensor, pitch: int) -> dict:
    size = os.path.getsize(path)
    assert size <= 5 * 2 ** 20, f"{path}: {size} bytes"
    load = lambda: torch.jit.load(path)  # noqa: E731
    m = load()
    assert m.get_methods() == ["encode", "decode", "forward"], m.get_methods()
    attrs = ["temperature", "dimred", "inversion_mode", "min_buffer_size",
             "latency"]
    assert m.get_attributes() == attrs, m.get_attributes()
    assert m.encode_params.tolist() == [1, 1, LATENT, HOP]
    assert m.decode_params.tolist() == [LATENT + N_LABELS, HOP, 1, 1]
    assert m.forward_params.tolist() == [1 + N_LABELS, 1, 1, 1]
    for name in ("encode", "decode", "forward"):
        assert getattr(m, f"{name}_params").dtype == torch.long
    codes = dict(temperature=[2.0], dimred=[1.0], inversion_mode=[3.0],
                 min_buffer_size=[1.0], latency=[1.0])
    for a, c in codes.items():
        p = getattr(m, f"{a}_params")
        assert p.dtype == torch.float32 and p.tolist() == c, (a, p)
    assert m.sr == SR and m.latent_size == LATENT and m.n_labels == N_LABELS
    assert m.get_temperature() == (0.0,)
    assert m.get_dimred() == (LATENT,)
    assert m.get_inversion_mode() == (DEFAULT_MODE,)
    assert m.get_min_buffer_size() == (N_FFT,)
    assert m.get_latency() == (LATENCY,)
    assert m.set_temperature(0.5) == 0 and m.get_temperature() == (0.5,)
    for bad in (-0.1, float("nan"), float("inf")):
        assert m.set_temperature(bad) != 0 and m.get_temperature() == (0.5,)
    assert m.set_dimred(3) == 0 and m.get_dimred() == (3,)
    assert m.set_dimred(0) == 0 and m.set_dimred(LATENT) == 0
    for bad in (-1, LATENT + 1):
        assert m.set_dimred(bad) != 0 and m.get_dimred() == (LATENT,)
    for mode in MODES:
        assert m.set_inversion_mode(mode) == 0
        assert m.get_inversion_mode() == (mode,)
    assert m.set_inversion_mode("griffin_lim") != 0
    assert m.get_inversion_mode() == ("sinebank",)
    assert m.set_min_buffer_size(4096) != 0
    assert m.get_min_buffer_size() == (N_FFT,)
    assert m.set_latency(0) != 0 and m.get_latency() == (LATENCY,)

    # Shapes, refusals of malformed input.
    n = 4 * N_FFT
    assert tuple(load().encode(torch.zeros(1, 1, n)).shape) == (1, LATENT, n // HOP)
    assert tuple(load().decode(torch.zeros(1, LATENT + 2, n // HOP)).shape) \
        == (1, 1, n)
    assert tuple(load().forward(torch.zeros(1, 3, n)).shape) == (1, 1, n)
    for method, shape in (("forward", (1, 3, 1000)), ("forward", (1, 1, n)),
                          ("encode", (2, 1, n)), ("decode", (1, LATENT, 4))):
        try:
            getattr(load(), method)(torch.zeros(shape))
        except Exception:
            continue
        raise AssertionError(f"{method} accepted {shape}")

    # Streaming: blocks of 2048, 4096, and mixed vs one whole call, fresh
    # loads, with a pitch change half-way so labels matter.
    pc, octv = note_labels(pitch)
    sig = torch.cat([note, torch.zeros(N_FFT * 2)])
    x = torch.zeros(1, 3, len(sig))
    x[0, 0] = sig
    x[0, 1, :len(sig) // 2] = pc
    x[0, 1, len(sig) // 2:] = (pc + 5) % 12
    x[0, 2] = octv
    diffs = {}
    settings = [(mode, 0.0, LATENT) for mode in MODES] + \
        [("pghi", 1.0, LATENT), ("keep_input", 0.0, 3)]
    for mode, temp, k in settings:
        outs = []
        for step in (x.shape[-1], 2048, 4096):
            mm = load()
            assert mm.set_inversion_mode(mode) == 0
            assert mm.set_temperature(temp) == 0 and mm.set_dimred(k) == 0
            outs.append(run_blocks(mm.forward, x, step))
        diffs[f"forward/{mode}/t{temp:g}/k{k}"] = max(
            (o - outs[0]).abs().max().item() for o in outs[1:])
        assert torch.isfinite(outs[0]).all()
    z_whole = load().encode(x[:, :1])
    z_outs = [run_blocks(load().encode, x[:, :1], s) for s in (2048, 4096)]
    diffs["encode"] = max((o - z_whole).abs().max().item() for o in z_outs)
    zl = torch.cat([z_whole, x[:, 1:, HOP - 1::HOP]], 1)
    for mode in MODES:
        outs = []
        for step in (zl.shape[-1], 2048 // HOP, 4096 // HOP):
            mm = load()
            assert mm.set_inversion_mode(mode) == 0
            outs.append(run_blocks(mm.decode, zl, step))
        diffs[f"decode/{mode}"] = max((o - outs[0]).abs().max().item()
                                      for o in outs[1:])
        assert torch.isfinite(outs[0]).all()
    for k, v in diffs.items():
        assert v < 1e-4, f"streaming diff {k}: {v}"
    # Same input, fresh load: bitwise the same (deterministic).
    assert torch.equal(run_blocks(load().forward, x, 2048),
                       run_blocks(load().forward, x, 2048))

    # Audible and finite on the held-out note, every mode and decode.
    levels = {"input": rms(note)}
    for mode in MODES:
        mm = load()
        mm.set_inversion_mode(mode)
        y = resynthesize(mm, note, pitch)
        assert torch.isfinite(y).all() and y.abs().max() < 4.0
        levels[mode] = rms(y)
        assert levels[mode] > 0.2 * levels["input"], (mode, levels)
    zz = load().encode(torch.cat([note, torch.zeros(2048)]).reshape(1, 1, -1))
    lab = torch.tensor([pc, octv], dtype=torch.float32).reshape(1, 2, 1)
    y = load().decode(torch.cat([zz, lab.expand(1, 2, zz.shape[-1])], 1))
    levels["decode"] = rms(y)
    assert torch.isfinite(y).all() and levels["decode"] > 0.2 * levels["input"]
    silence = rms(load().forward(torch.zeros(1, 3, 8 * N_FFT)))

    # Per-block cost: one 2048-sample forward on a warm model, per mode.
    ms = {}
    blk = x[:, :, :2048].clone()
    for mode in MODES:
        mm = load()
        mm.set_inversion_mode(mode)
        for _ in range(10):
            mm.forward(blk)
        times = []
        for _ in range(100):
            t0 = time.perf_counter()
            mm.forward(blk)
            times.append(time.perf_counter() - t0)
        ms[mode] = 1e3 * float(np.median(times))
    return dict(size=size, diffs=diffs, levels=levels, silence=silence, ms=ms)


# ----------------------------------------------------------------- main --

def main() -> None:
    epochs = int(sys.argv[sys.argv.index("--epochs") + 1]) \
        if "--epochs" in sys.argv else EPOCHS
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)
    t_start = time.perf_counter()
    audio, notes = make_dataset.load(DATASET, SR)
    logmag, labels, owner = dataset_frames(audio, notes)
    is_train = torch.tensor([notes[o]["split"] == "train" for o in owner.tolist()])
    mag_mean = logmag[is_train].mean(0)
    mag_std = logmag[is_train].std(0).clamp_min(0.1)
    feats = (logmag - mag_mean) / mag_std
    print(f"dataset: {is_train.sum().item()} training frames, "
          f"{(~is_train).sum().item()} held-out frames "
          f"({time.perf_counter() - t_start:.0f} s)", flush=True)

    torch.manual_seed(SEED)
    encoder, decoder = Encoder(), Decoder()
    untrained = (Encoder(), Decoder())
    untrained[0].load_state_dict(encoder.state_dict())
    untrained[1].load_state_dict(decoder.state_dict())
    val = (feats[~is_train], labels[~is_train])
    r = train(encoder, decoder, feats[is_train], labels[is_train], mag_std,
              val, epochs)
    print(f"training: {epochs} epochs in {r['seconds']:.0f} s", flush=True)
    del logmag
    with torch.no_grad():
        rot = latent_rotation(encoder, feats[is_train])
        z = encoder(feats[is_train])[0] @ rot
        print("latent RMS by dimension (training posterior means): "
              + " ".join(f"{v:.2f}" for v in z.pow(2).mean(0).sqrt().tolist()))
        model = build(encoder, decoder, mag_mean, mag_std, rot)
        base = build(*untrained, mag_mean, mag_std,
                     latent_rotation(untrained[0], feats[is_train]))
        del feats
        model.save(OUT)
        data, base_data = to_bytes(model), to_bytes(base)

        segs = list(note_segments(audio, notes, "test"))
        dist = {}
        for mode in MODES:
            dist[mode] = (heldout_distance(data, segs, mode),
                          heldout_distance(base_data, segs, mode))
            print(f"held-out multi-scale log-magnitude L1 ({len(segs)} notes, "
                  f"forward in 2048 blocks, {mode}): trained "
                  f"{dist[mode][0]:.3f}, untrained {dist[mode][1]:.3f}",
                  flush=True)
            if mode in ("keep_input", "pghi"):
                assert dist[mode][0] < 0.8 * dist[mode][1], dist
        note, pitch = segs[len(segs) // 2]
        c = check(OUT, note, pitch)
    rel = os.path.relpath(OUT, ROOT)
    print("streaming max abs diff (blocks 2048 / 4096 vs one call): "
          + ", ".join(f"{k} {v:.1e}" for k, v in c["diffs"].items()))
    print(f"{rel}: {c['size']} bytes; held-out note RMS "
          + ", ".join(f"{k} {v:.3f}" for k, v in c["levels"].items())
          + f"; silence RMS {c['silence']:.2g}; forward(2048) ms "
          + ", ".join(f"{k} {v:.2f}" for k, v in c["ms"].items())
          + f" (real time {1e3 * 2048 / SR:.1f} ms); total "
          f"{time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    pin_hash_seed()
    main()
