"""Build models/flowsynth_demo.ts: a FlowSynth-style parameter-inference model (after
acids-ircam/flow_synthesizer) for help-patches/acids-synth.pd, trained on renders of that
abstraction by headless Pd.

Pipeline:
  1. Dataset. Seeded random parameter sets (uniform in [0, 1]^N) are written as a [qlist]
     score into build/flowsynth_data/, with a generated Pd patch that plays them through
     [acids-synth], records into an array with [tabwrite~] and writes it every CHUNK
     examples with [soundfiler] ([writesf~]'s disk thread cannot keep up with batch mode:
     it loses audio); `pd -nogui -noaudio -batch -r 22050` renders as fast as it can (two
     Pd processes in parallel, one per half of the score). Each
     example is one slot of SLOT samples: parameters set at the slot start, a note (MIDI
     pitch drawn from PITCHES, velocity 100) starts 50-96 ms later (the jitter moves the
     onset within the 1024-sample hop), is held 1.5-3 s, and its release (<= 2 s) ends
     before the next slot. The log-mel frames (features.py) of every slot are cached,
     keyed by a hash of the patch and the score; the audio is deleted.
  2. Training. Windows of 80 frames at random offsets (from 50 frames before the onset,
     zero-padded with silence, to 40 frames after it) and random gains (+-6 dB), so the
     real-time sliding window's position does not matter. Model: conv encoder over the
     [64, 80] normalised log-mel -> diagonal Gaussian q(z0 | x) -> K planar flows -> z_K
     (the latent, L dims) -> MLP -> sigmoid -> N parameters. Loss: MSE on the parameters
     + beta * KL (log q(z0) - sum log|det J| - log N(z_K; 0, I)), beta warmed up.
  3. Held-out evaluation on renders never used in training: parameter MAE (trained vs the
     training mean), and the log-mel L1 distance between each held-out render and a
     re-render (headless Pd) of the synth with the inferred parameters, vs the mean ones.
  4. Export (nn~ contract, models/nn_module.py) and self-checks after reloading.

TorchScript interface (mel frames: features.mel_features, NOT normalised):
  encode  [1, 64, 80k] -> [1, L, k]  deterministic: posterior mean pushed through the flow;
                                     each 80-frame block is one window
  decode  [1, L, F]    -> [1, N, F]  parameters in [0, 1], frame-wise
  forward [1, 64, 80k] -> [1, N, k]  decode(encode(x))
  buffers mel_mean, mel_std (float scalars); encode/decode/forward_params; attributes
  (read-only, setters return 1) param_names, sr, n_fft, hop, n_mels, fmin, fmax,
  n_frames, latent_size, latent_range.

Run from anywhere: /usr/bin/python3 models/make_flowsynth.py
  --eval-only: no training; re-run the checks and the held-out evaluation of the existing
  models/flowsynth_demo.ts (renders come from the cache when present).
"""
import hashlib
import math
import os
import re
import subprocess
import sys
import time
from typing import List, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import features as feat  # noqa: E402

SYNTH = os.path.join(ROOT, "help-patches", "acids-synth.pd")
DATA = os.path.join(ROOT, "build", "flowsynth_data")
OUT = os.path.join(HERE, "flowsynth_demo.ts")

SEED = 1722
SR = feat.SR
HOP = feat.MEL_HOP
N_FRAMES = feat.MEL_FRAMES
N_MELS = feat.MEL_N_MELS
SLOT = 64 * 1792              # 114688 samples = 5.20 s per example (a block multiple)
PITCHES = list(range(36, 68))  # MIDI C2 .. G4, uniform: inference works across pitches
VELOCITY = 100
PARAM_SETTLE_MS = 50.0        # parameter ramps are 20 ms
ONSET_JITTER_MS = 1000.0 * HOP / SR
HOLD_S = (1.5, 3.0)
N_TRAIN = 4800
N_TEST = 200
N_JOBS = 2


def synth_param_names() -> List[str]:
    """The names in the order of the synth's `params` list: read from its [route]."""
    with open(SYNTH) as f:
        text = f.read()
    m = re.search(r"#X obj \d+ \d+ route note params ([^;]*);", text)
    if not m:
        sys.exit(f"make_flowsynth: no [route note params ...] in {SYNTH}")
    return m.group(1).split()


# ------------------------------------------------------------------ rendering --

CHUNK = 25                    # slots per recorded array (one .wav each)


def score(params: np.ndarray, pitches: np.ndarray, holds: np.ndarray,
          onsets_ms: np.ndarray, name: str) -> str:
    """A [qlist] score: each line 'delay_ms receiver message;'. Slot k starts at
    k * SLOT samples after the first recording starts; every CHUNK slots the array is
    written to name_<chunk>.wav by [soundfiler] (synchronous: batch mode cannot outrun
    it, as it can outrun [writesf~]'s disk thread)."""
    slot_ms = 1000.0 * SLOT / SR
    lines = []
    t = 0.0  # time of the previous line (ms)

    def at(when, msg):
        nonlocal t
        lines.append(f"{when - t:.6f} {msg};")
        t = when

    for k in range(len(params)):
        t0 = k * slot_ms
        if k % CHUNK == 0:
            if k:
                at(t0, f"sf write -bytes 4 {name}_{k // CHUNK - 1:03d}.wav buf")
            at(t0, "rec bang")
        at(t0, "synth params " + " ".join(f"{v:.6f}" for v in params[k]))
        on = t0 + onsets_ms[k]
        at(on, f"synth note {int(pitches[k])} {VELOCITY}")
        at(on + 1000.0 * holds[k], f"synth note {int(pitches[k])} 0")
    n_chunks = (len(params) + CHUNK - 1) // CHUNK
    at(len(params) * slot_ms, f"sf write -bytes 4 {name}_{n_chunks - 1:03d}.wav buf")
    lines.append("0 pd quit;")
    return "\n".join(lines) + "\n"


RENDER_PATCH = """#N canvas 0 50 450 300 12;
#X obj 10 10 r synth;
#X obj 10 40 acids-synth;
#X obj 10 70 tabwrite~ buf;
#X obj 10 100 r rec;
#X obj 200 10 loadbang;
#X msg 200 40 \\; pd dsp 1 \\; {ql} read {score} \\, bang;
#X obj 200 100 qlist;
#X obj 200 130 r {ql};
#X obj 10 130 array define buf {size};
#X obj 10 160 r sf;
#X obj 10 190 soundfiler;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 3 0 2 0;
#X connect 4 0 5 0;
#X connect 7 0 6 0;
#X connect 9 0 10 0;
""".replace("{size}", str(CHUNK * SLOT))


def mel_power(x: np.ndarray) -> np.ndarray:
    """Mel power frames [n_frames, 64] (features.mel_features before the log)."""
    power = feat.stft_magnitude(x, feat.MEL_N_FFT, feat.MEL_HOP) ** 2
    return power @ MEL_FB.T


MEL_FB = feat.mel_filterbank(SR)


def render(tag: str, params: np.ndarray, pitches: np.ndarray, holds: np.ndarray,
           onsets_ms: np.ndarray, keep_audio: bool = False
           ) -> Tuple[np.ndarray, np.ndarray, float]:
    """Render the examples with headless Pd; returns (mel power [n, frames, 64] float32,
    the audio [n, SLOT] if keep_audio (else empty), seconds spent in Pd (0 if cached))."""
    os.makedirs(DATA, exist_ok=True)
    with open(SYNTH, "rb") as f:
        synth_text = f.read()
    jobs = np.array_split(np.arange(len(params)), N_JOBS)
    procs, outs, spent = [], [], 0.0
    t_start = time.time()
    for j, idx in enumerate(jobs):
        # Files are named by a hash of what they render (so concurrent runs and
        # changed scores never share one); the features are cached under that name.
        sc = score(params[idx], pitches[idx], holds[idx], onsets_ms[idx], "@")
        key = hashlib.sha256(synth_text + RENDER_PATCH.encode() + sc.encode()
                             + str(keep_audio).encode()).hexdigest()[:12]
        name = f"{tag}_{j}_{key}"
        sc = score(params[idx], pitches[idx], holds[idx], onsets_ms[idx], name)
        patch = RENDER_PATCH.format(ql=f"ql_{name}", score=name + ".txt")
        cache = os.path.join(DATA, name + ".npz")
        outs.append((idx, cache, os.path.join(DATA, name)))
        if os.path.exists(cache):
            continue
        with open(os.path.join(DATA, name + ".txt"), "w") as f:
            f.write(sc)
        with open(os.path.join(DATA, name + ".pd"), "w") as f:
            f.write(patch)
        cmd = ["pd", "-nogui", "-noaudio", "-nomidi", "-batch", "-r", str(SR),
               "-path", os.path.dirname(SYNTH), "-open", name + ".pd"]
        procs.append((subprocess.Popen(cmd, cwd=DATA, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT), cmd))
    for p, cmd in procs:
        log = p.communicate()[0].decode(errors="replace")
        if p.returncode != 0:
            sys.exit(f"make_flowsynth: {' '.join(cmd)} failed:\n{log}")
    if procs:
        spent = time.time() - t_start
    n_fr = 1 + (SLOT - feat.MEL_N_FFT) // HOP
    mels = np.zeros((len(params), n_fr, N_MELS), np.float32)
    audio = np.zeros((len(params) if keep_audio else 0, SLOT), np.float32)
    for j, (idx, cache, name) in enumerate(outs):
        if not os.path.exists(cache):
            import scipy.io.wavfile
            m = np.zeros((len(idx), n_fr, N_MELS), np.float32)
            peaks = np.zeros(len(idx), np.float32)
            kept = np.zeros((len(idx) if keep_audio else 0, SLOT), np.float32)
            for c in range(0, len(idx), CHUNK):
                wav = f"{name}_{c // CHUNK:03d}.wav"
                sr, x = scipy.io.wavfile.read(wav)
                n = min(CHUNK, len(idx) - c)
                if sr != SR or x.dtype != np.float32 or len(x) < n * SLOT:
                    sys.exit(f"make_flowsynth: {wav}: {sr} Hz {x.dtype} {len(x)} "
                             f"samples, expected {SR} Hz float32 {n * SLOT}")
                for k in range(n):
                    y = x[k * SLOT:(k + 1) * SLOT]
                    m[c + k] = mel_power(y)
                    peaks[c + k] = np.abs(y).max()
                    if keep_audio:
                        kept[c + k] = y
                os.remove(wav)
            np.savez(cache + ".tmp.npz", mel=m, peaks=peaks, audio=kept)
            os.replace(cache + ".tmp.npz", cache)  # atomic: a concurrent run sees all or none
        z = np.load(cache)
        mels[idx] = z["mel"]
        if keep_audio:
            audio[idx] = z["audio"]
        RENDER_PEAKS[tag + f"_{j}"] = z["peaks"]
    return mels, audio, spent


RENDER_PEAKS = {}


def draw_examples(rng: np.random.Generator, n: int, n_params: int):
    params = rng.uniform(0.0, 1.0, (n, n_params))
    pitches = rng.choice(PITCHES, n)
    holds = rng.uniform(*HOLD_S, n)
    onsets = PARAM_SETTLE_MS + rng.uniform(0.0, ONSET_JITTER_MS, n)
    return params, pitches, holds, onsets



# ---------------------------------------------------------------------- model --

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from nn_module import NNModule, pin_hash_seed  # noqa: E402

LATENT = 8
N_FLOWS = 4
CHANNELS = 96
HIDDEN = 256
LATENT_RANGE = 3.0     # |z| a macro knob sweeps (checked against the training latents)
RATIO = N_FRAMES * HOP  # 81920 samples per window / latent frame


class PlanarFlow(nn.Module):
    """z + u_hat tanh(w.z + b), u_hat constrained so that the map is invertible
    (Rezende & Mohamed 2015)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.u = nn.Parameter(torch.randn(dim) * 0.01)
        self.w = nn.Parameter(torch.randn(dim) * 0.01)
        self.b = nn.Parameter(torch.zeros(1))

    def u_hat(self) -> torch.Tensor:
        wu = torch.dot(self.w, self.u)
        return self.u + (F.softplus(wu) - 1.0 - wu) * self.w / (self.w.pow(2).sum() + 1e-8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.u_hat() * torch.tanh(z @ self.w + self.b).unsqueeze(-1)

    def with_logdet(self, z):
        """Training only (not scripted): (z', log |det dz'/dz|)."""
        u = self.u_hat()
        h = torch.tanh(z @ self.w + self.b)
        logdet = torch.log(torch.abs(1.0 + (1.0 - h * h) * torch.dot(self.w, u)) + 1e-8)
        return z + u * h.unsqueeze(-1), logdet


def conv_encoder(latent: int) -> nn.Sequential:
    c = CHANNELS
    act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
    return nn.Sequential(
        nn.Conv1d(N_MELS, c, 3, 1, 1), act(),       # 80
        nn.Conv1d(c, c, 4, 2, 1), act(),            # 40
        nn.Conv1d(c, c, 4, 2, 1), act(),            # 20
        nn.Conv1d(c, c, 4, 2, 1), act(),            # 10
        nn.Flatten(),
        nn.Linear(c * N_FRAMES // 8, HIDDEN), act(),
        nn.Linear(HIDDEN, 2 * latent))


class FlowSynth(NNModule):
    """See the module docstring for the interface."""

    def __init__(self, param_names: List[str], mel_mean: float, mel_std: float) -> None:
        super().__init__()
        n = len(param_names)
        self.latent = LATENT
        self.n_params = n
        self.n_win = N_FRAMES
        self.n_bands = N_MELS
        self.encoder = conv_encoder(LATENT)
        self.flows = nn.ModuleList([PlanarFlow(LATENT) for _ in range(N_FLOWS)])
        self.regressor = nn.Sequential(
            nn.Linear(LATENT, HIDDEN), nn.LeakyReLU(0.2),
            nn.Linear(HIDDEN, HIDDEN), nn.LeakyReLU(0.2),
            nn.Linear(HIDDEN, n))
        self.register_buffer("mel_mean", torch.tensor(float(mel_mean)))
        self.register_buffer("mel_std", torch.tensor(float(mel_std)))

        self.register_method("encode", N_MELS, HOP, LATENT, RATIO)
        self.register_method("decode", LATENT, RATIO, n, RATIO)
        self.register_method("forward", N_MELS, HOP, n, RATIO)
        self.register_attribute("param_names", list(param_names))
        self.param_names = list(param_names)  # a List[str] for TorchScript
        self.register_attribute("sr", SR)
        self.register_attribute("n_fft", feat.MEL_N_FFT)
        self.register_attribute("hop", HOP)
        self.register_attribute("n_mels", N_MELS)
        self.register_attribute("fmin", float(feat.MEL_FMIN))
        self.register_attribute("fmax", float(feat.MEL_FMAX))
        self.register_attribute("n_frames", N_FRAMES)
        self.register_attribute("latent_size", LATENT)
        self.register_attribute("latent_range", (-LATENT_RANGE, LATENT_RANGE))

    # -- pieces shared by training and the exported methods
    def posterior(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """[B, 64, 80] log-mel -> mean, log-variance [B, L]."""
        h = self.encoder((x - self.mel_mean) / self.mel_std)
        return h[:, :self.latent], h[:, self.latent:].clamp(-12.0, 6.0)

    def flow(self, z: torch.Tensor) -> torch.Tensor:
        for f in self.flows:
            z = f(z)
        return z

    def regress(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.regressor(z))

    # -- the nn~ methods
    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.n_bands or x.shape[2] == 0 \
                or x.shape[2] % self.n_win != 0:
            raise ValueError("flowsynth encode: expected [B, 64, 80k] log-mel frames")
        b, k = x.shape[0], x.shape[2] // self.n_win
        x = x.reshape(b, self.n_bands, k, self.n_win).permute(0, 2, 1, 3)
        mean, _ = self.posterior(x.reshape(b * k, self.n_bands, self.n_win))
        return self.flow(mean).reshape(b, k, self.latent).permute(0, 2, 1)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 3 or z.shape[1] != self.latent:
            raise ValueError("flowsynth decode: expected [B, latent_size, F]")
        b, f = z.shape[0], z.shape[2]
        p = self.regress(z.permute(0, 2, 1).reshape(b * f, self.latent))
        return p.reshape(b, f, self.n_params).permute(0, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    # -- read-only attributes
    @torch.jit.export
    def get_param_names(self) -> List[str]:
        return self.param_names

    @torch.jit.export
    def set_param_names(self, value: List[str]) -> int:
        return 1

    @torch.jit.export
    def get_sr(self) -> Tuple[int]:
        return self.sr

    @torch.jit.export
    def set_sr(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_n_fft(self) -> Tuple[int]:
        return self.n_fft

    @torch.jit.export
    def set_n_fft(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_hop(self) -> Tuple[int]:
        return self.hop

    @torch.jit.export
    def set_hop(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_n_mels(self) -> Tuple[int]:
        return self.n_mels

    @torch.jit.export
    def set_n_mels(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_fmin(self) -> Tuple[float]:
        return self.fmin

    @torch.jit.export
    def set_fmin(self, value: float) -> int:
        return 1

    @torch.jit.export
    def get_fmax(self) -> Tuple[float]:
        return self.fmax

    @torch.jit.export
    def set_fmax(self, value: float) -> int:
        return 1

    @torch.jit.export
    def get_n_frames(self) -> Tuple[int]:
        return self.n_frames

    @torch.jit.export
    def set_n_frames(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_latent_size(self) -> Tuple[int]:
        return self.latent_size

    @torch.jit.export
    def set_latent_size(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_latent_range(self) -> Tuple[float, float]:
        return self.latent_range

    @torch.jit.export
    def set_latent_range(self, low: float, high: float) -> int:
        return 1


# ------------------------------------------------------------------- training --

BATCH = 64
STEPS = 8000
LR = 1e-3
BETA = 0.001
BETA_WARMUP = 0.3     # fraction of the steps
SHIFT = (-50, 40)     # window start, in frames relative to the slot start
GAIN_DB = 6.0
LOG_FLOOR = math.log(feat.MEL_OFFSET)
# One thread: the result is the same run to run only for a fixed thread count, and on this
# shared 2-core machine two OpenMP threads made a training step 8x slower than one
# (spin-waiting against other processes).
THREADS = 1


class Windows:
    """80-frame log-mel windows of the rendered slots at any offset: frames before the
    slot start (and after its end) are silence, log(0 + 1e-3)."""

    def __init__(self, mel_power: np.ndarray) -> None:
        self.pre = -SHIFT[0]
        n, t, m = mel_power.shape
        post = max(0, SHIFT[1] + N_FRAMES - t)
        self.p = np.zeros((n, self.pre + t + post, m), np.float32)
        self.p[:, self.pre:self.pre + t] = mel_power

    def get(self, idx: np.ndarray, start: np.ndarray, gain_db=None) -> np.ndarray:
        """[B, 64, 80] log-mel (float32)."""
        frames = self.p[idx[:, None], (start + self.pre)[:, None] + np.arange(N_FRAMES)]
        if gain_db is not None:
            frames = frames * (10.0 ** (gain_db / 10.0)).astype(np.float32)[:, None, None]
        return np.log(frames + np.float32(feat.MEL_OFFSET)).transpose(0, 2, 1).copy()


def train(model: FlowSynth, windows: Windows, targets: np.ndarray) -> List[str]:
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED + 1)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1.0 + math.cos(math.pi * min(i, STEPS) / STEPS)) * 0.98 + 0.02)
    y_all = torch.from_numpy(targets.astype(np.float32))
    log, run = [], np.zeros(3)
    t0 = time.time()
    model.train()
    for step in range(STEPS):
        idx = rng.integers(0, len(targets), BATCH)
        start = rng.integers(SHIFT[0], SHIFT[1] + 1, BATCH)
        gain = rng.uniform(-GAIN_DB, GAIN_DB, BATCH)
        x = torch.from_numpy(windows.get(idx, start, gain))
        y = y_all[idx]
        mean, logvar = model.posterior(x)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        z = mean + std * eps
        log_q = (-0.5 * (eps ** 2 + logvar + math.log(2 * math.pi))).sum(-1)
        for f in model.flows:
            z, ld = f.with_logdet(z)
            log_q = log_q - ld
        log_p = (-0.5 * (z ** 2 + math.log(2 * math.pi))).sum(-1)
        kl = (log_q - log_p).mean()
        mse = F.mse_loss(model.regress(z), y, reduction="none").sum(-1).mean()
        beta = BETA * min(1.0, step / (BETA_WARMUP * STEPS))
        loss = mse + beta * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run += [mse.item() / targets.shape[1], kl.item(), 1]
        if (step + 1) % 500 == 0:
            line = (f"step {step + 1:5d}  param MSE {run[0] / run[2]:.4f}  "
                    f"KL {run[1] / run[2]:6.2f}  {time.time() - t0:5.0f} s")
            print("  " + line, flush=True)
            log.append(line)
            run[:] = 0
    model.eval()
    return log


# ----------------------------------------------------------------- evaluation --

def predict(model, windows: Windows, idx: np.ndarray, start: int) -> np.ndarray:
    out = []
    with torch.no_grad():
        for c in range(0, len(idx), 256):
            i = idx[c:c + 256]
            x = torch.from_numpy(windows.get(i, np.full(len(i), start)))
            out.append(model.forward(x)[:, :, 0].numpy())
    return np.concatenate(out)


def mel_l1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean |log-mel difference| per example (nats), over all frames of the slot."""
    la = np.log(a.astype(np.float64) + feat.MEL_OFFSET)
    lb = np.log(b.astype(np.float64) + feat.MEL_OFFSET)
    return np.abs(la - lb).mean(axis=(1, 2))


def evaluate(model, names, test, test_mel, train_mean) -> str:
    params, pitches, holds, onsets = test
    win = Windows(test_mel)
    idx = np.arange(len(params))
    pred = predict(model, win, idx, 0)
    base = np.broadcast_to(train_mean, params.shape)
    mae = np.abs(pred - params).mean(0)
    mae_b = np.abs(base - params).mean(0)
    rows = [f"  {'parameter':<12} {'model':>7} {'mean':>7}   (MAE in [0, 1] units, "
            f"{len(params)} held-out renders, window at the onset)"]
    for k, n in enumerate(names):
        rows.append(f"  {n:<12} {mae[k]:7.3f} {mae_b[k]:7.3f}")
    rows.append(f"  {'overall':<12} {mae.mean():7.3f} {mae_b.mean():7.3f}")
    shifted = []
    for s in (-40, -20, 10, 20, 30):
        shifted.append(np.abs(predict(model, win, idx, s) - params).mean())
    rows.append(f"  {'shifted':<12} {np.mean(shifted):7.3f} {mae_b.mean():7.3f}   (window "
                "start -40/-20/+10/+20/+30 frames from the onset: "
                + " ".join(f"{v:.3f}" for v in shifted) + ")")
    t = time.time()
    mel_pred, _, _ = render("eval_model", pred, pitches, holds, onsets)
    mel_base, _, _ = render("eval_mean", np.array(base), pitches, holds, onsets)
    d_model, d_base = mel_l1(test_mel, mel_pred), mel_l1(test_mel, mel_base)
    rows.append(f"  {'log-mel L1':<12} {d_model.mean():7.3f} {d_base.mean():7.3f}   "
                f"(nats, re-rendered with headless Pd; model closer on "
                f"{(d_model < d_base).mean() * 100:.0f}% of renders; {time.time() - t:.0f} s)")
    return "\n".join(rows)


# --------------------------------------------------------------------- export --

def check(path: str, names: List[str], ref_model, x_check: torch.Tensor) -> List[str]:
    """Reload and check the interface; returns timing lines."""
    size = os.path.getsize(path)
    assert size <= 5 * 1024 * 1024, size
    m = torch.jit.load(path)
    n, lat = len(names), LATENT
    assert list(m.get_methods()) == ["encode", "decode", "forward"], m.get_methods()
    assert m.encode_params.tolist() == [N_MELS, HOP, lat, RATIO]
    assert m.decode_params.tolist() == [lat, RATIO, n, RATIO]
    assert m.forward_params.tolist() == [N_MELS, HOP, n, RATIO]
    for b in (m.encode_params, m.decode_params, m.forward_params):
        assert b.dtype == torch.int64
    assert m.mel_mean.dim() == 0 and m.mel_std.dim() == 0 and float(m.mel_std) > 0
    attrs = {"param_names": list(names), "sr": (SR,), "n_fft": (feat.MEL_N_FFT,),
             "hop": (HOP,), "n_mels": (N_MELS,), "fmin": (feat.MEL_FMIN,),
             "fmax": (feat.MEL_FMAX,), "n_frames": (N_FRAMES,), "latent_size": (lat,),
             "latent_range": (-LATENT_RANGE, LATENT_RANGE)}
    assert list(m.get_attributes()) == list(attrs), m.get_attributes()
    for a, v in attrs.items():
        got = getattr(m, "get_" + a)()
        assert (list(got) if a == "param_names" else tuple(got)) == v, (a, got)
    assert m.set_param_names(["x"]) != 0 and m.set_sr(44100) != 0
    assert m.set_latent_range(-1.0, 1.0) != 0 and m.get_latent_range() == \
        (-LATENT_RANGE, LATENT_RANGE)
    with torch.no_grad():
        z = m.encode(x_check[:1])
        assert z.shape == (1, lat, 1), z.shape
        p = m.forward(x_check[:1])
        assert p.shape == (1, n, 1), p.shape
        assert torch.equal(p, m.decode(z)), "forward != decode(encode)"
        zz = torch.randn(1, lat, 7) * LATENT_RANGE
        q = m.decode(zz)
        assert q.shape == (1, n, 7) and q.min() >= 0 and q.max() <= 1
        # two windows in one call = two calls; a batch = its items
        two = torch.cat([x_check[0:1], x_check[1:2]], 2)
        z2 = m.encode(two)
        assert z2.shape == (1, lat, 2)
        assert torch.allclose(z2[:, :, 1:], m.encode(x_check[1:2]), atol=1e-5)
        pb = m.forward(x_check)
        assert pb.shape == (len(x_check), n, 1) and pb.min() >= 0 and pb.max() <= 1
        assert torch.allclose(pb, ref_model.forward(x_check), atol=1e-5)
        # silence and a flat spectrum still give parameters in [0, 1]
        for x in (torch.full((1, N_MELS, N_FRAMES), LOG_FLOOR), torch.zeros(1, N_MELS, 80)):
            q = m.forward(x)
            assert torch.isfinite(q).all() and q.min() >= 0 and q.max() <= 1
        for bad in (torch.zeros(1, N_MELS, 79), torch.zeros(1, 63, 80)):
            try:
                m.encode(bad)
            except Exception:
                pass
            else:
                raise AssertionError("encode accepted " + str(tuple(bad.shape)))
    lines = []
    torch.set_num_threads(1)
    with torch.no_grad():
        calls = {"encode": (m.encode, x_check[:1]), "decode": (m.decode, z),
                 "forward": (m.forward, x_check[:1])}
        for name, (fn, arg) in calls.items():
            for _ in range(5):
                fn(arg)
            t = time.perf_counter()
            for _ in range(50):
                fn(arg)
            lines.append(f"{name} {1000 * (time.perf_counter() - t) / 50:.2f} ms")
    torch.set_num_threads(THREADS)
    return lines


def main() -> int:
    t_all = time.time()
    torch.set_num_threads(THREADS)
    names = synth_param_names()
    n = len(names)
    rng = np.random.default_rng(SEED)
    train_set = draw_examples(rng, N_TRAIN, n)
    test_set = draw_examples(rng, N_TEST, n)

    print(f"rendering {N_TRAIN} + {N_TEST} examples of {SLOT / SR:.2f} s with headless Pd "
          f"(pitches {PITCHES}) ...", flush=True)
    t = time.time()
    train_mel, _, pd_train = render("train", *train_set)
    test_mel, _, pd_test = render("test", *test_set)
    t_render = time.time() - t
    print(f"  {t_render:.0f} s ({pd_train + pd_test:.0f} s in Pd; 0 = cached)")
    peaks = np.concatenate([RENDER_PEAKS[k] for k in sorted(RENDER_PEAKS)
                            if k.startswith("train")])
    print(f"  peaks: median {np.median(peaks):.2f}, 99th percentile "
          f"{np.percentile(peaks, 99):.2f}, max {peaks.max():.2f}")
    logmel = np.log(train_mel.astype(np.float64) + feat.MEL_OFFSET)
    mel_mean, mel_std = float(logmel.mean()), float(logmel.std())
    del logmel
    print(f"  log-mel mean {mel_mean:.4f} std {mel_std:.4f}")

    if "--eval-only" in sys.argv:
        t_train = 0.0
        model = torch.jit.load(OUT)
    else:
        torch.manual_seed(SEED)
        model = FlowSynth(names, mel_mean, mel_std)
        n_weights = sum(p.numel() for p in model.parameters())
        print(f"training: {n_weights} weights, L={LATENT}, N={n}, {STEPS} steps of {BATCH} "
              f"...", flush=True)
        t = time.time()
        train(model, Windows(train_mel), train_set[0])
        t_train = time.time() - t
        print(f"  {t_train:.0f} s")

    # The latent range a macro knob should sweep: check the training latents fit.
    with torch.no_grad():
        win = Windows(train_mel)
        r = np.random.default_rng(SEED + 2)
        i = r.integers(0, N_TRAIN, 2048)
        s = r.integers(SHIFT[0], SHIFT[1] + 1, 2048)
        zs = model.encode(torch.from_numpy(win.get(i, s)))[:, :, 0].numpy()
    lo, hi = np.percentile(zs, [0.5, 99.5])
    print(f"  latents: std per dim {' '.join(f'{v:.2f}' for v in zs.std(0))}, 0.5-99.5% "
          f"[{lo:.2f}, {hi:.2f}] (latent_range +-{LATENT_RANGE})")

    if "--eval-only" not in sys.argv:
        model.requires_grad_(False)
        torch.jit.script(model).save(OUT)
    x_check = torch.from_numpy(Windows(test_mel).get(np.arange(4), np.array([0, -20, 10, 30])))
    timing = check(OUT, names, model, x_check)
    with open(OUT, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    print(f"{OUT}: {os.path.getsize(OUT) / 1e6:.2f} MB, sha256 {digest}; "
          f"self-checks passed; per call (1 thread): {', '.join(timing)}")

    print("held-out evaluation:")
    print(evaluate(torch.jit.load(OUT), names, test_set, test_mel,
                   train_set[0].mean(0)))
    print(f"total {time.time() - t_all:.0f} s (render {t_render:.0f}, train {t_train:.0f}). "
          "Reproduce: /usr/bin/python3 models/make_flowsynth.py  (or make -C models)")
    return 0


if __name__ == "__main__":
    pin_hash_seed()
    sys.exit(main())
