"""Build models/ddsp_demo.ts: a small DDSP harmonic-plus-noise synthesizer
with exactly the real-time export interface of acids-ircam/ddsp_pytorch
(export.py --realtime), TRAINED on violin and viola notes.

  top level   buffers mean_loudness, std_loudness (float32 scalars)
              forward(pitch[1,N,1], loudness[1,N,1]) -> audio [1,N,1]
  .ddsp       buffers sampling_rate (int64, 44100), block_size (int64, 512),
              cache_gru [1,1,H] (GRU state), phase [1] (oscillator phase)
              method realtime_forward(pitch, loudness) on block-rate inputs

N must be a multiple of block_size. As in export.py, loudness is normalised
with mean/std and both inputs are subsampled with [:, ::block_size] (the
first sample of each block). Per block: MLPs + GRU (hidden 64) -> a total
amplitude, N_HARMONIC harmonic amplitudes (Nyquist mask, sum-normalised)
and 33 noise-band magnitudes. Audio: additive synthesis with the phase
carried across calls, plus filtered noise (linear-phase FIR from the
magnitudes, applied per block by FFT convolution, as ddsp_pytorch does).

Training (train()): the fluidsynth notes of models/make_dataset.py
(44.1 kHz, cached in build/dataset), instruments TRAIN_INSTRUMENTS, the
notes with split 'train'. Each note gives a slot of SLOT_BLOCKS blocks
from 0.3 s before its onset (onset, 1.5 s sustain, release, silence); the
slots are concatenated into one stream, and every step takes BATCH random
block-aligned crops of CROP_BLOCKS blocks (2 s; they span onsets, releases
and slot joins, and the GRU starts from zero as in a fresh load).
Controls: f0 = 440 * 2 ** ((midi - 69) / 12) for the whole slot (the
renders are steady), loudness = the ddsp_pytorch training formula
(training_loudness below: what `ddsp~ -analyze` computes) of the slot,
block k <- frame k. mean/std_loudness are the statistics of the training
frames. Loss: ddsp_pytorch's multi-scale spectral loss (SCALES, hop n/4,
hann, normalized STFT; L1 of magnitudes + L1 of log(mag + 1e-7)). Adam,
warm-up then cosine decay, seeded, CPU, THREADS threads. The training form
is the export's own DDSP.synth() on a batch (zero GRU state and phase,
noise from the same hash at random stream positions), so a whole excerpt
equals the streamed export: check_training_form() asserts it.

Evaluation (evaluate(), also `make_ddsp.py --eval-only`): held-out notes
(split 'test') of the same instruments, each resynthesised by the saved
.ts from a fresh state with its own f0/loudness, multi-scale spectral
distance (the loss) to the note; the same for the untrained model (same
seed init, same mean/std); and a held-out violin phrase (the test notes
concatenated, streamed through the .ts in 2048-sample calls), written to
build/ddsp_phrase_resynth.wav (original: build/ddsp_phrase_orig.wav).

Differences from the published models, all deliberate:
  * 44100 Hz (published: 16000 or 48000), so it runs at Pd's default rate.
  * Noise is deterministic: sample i of the stream gets a 32-bit integer
    hash of (i XOR ddsp.noise_seed), i counted by the int64 buffer
    ddsp.noise_pos, instead of torch.rand. Tests can compare exactly.
  * The phase is advanced block by block (start of block b+1 = (start of
    block b + block increment) mod 2 pi, in float32), so one call on N
    samples is bitwise the same computation as calls on any split of N
    into block multiples. The published model reduces mod 2 pi only at the
    end of a call, which makes long calls drift from chunked ones.
  * The initialisation (the untrained baseline) has hand-set paths: total
    amplitude rising with the normalised loudness, harmonic amplitudes
    with a spectral tilt; training starts from there.
  * The MLPs see log2(f0 / 440) (f0 clamped to >= 20 Hz), not f0 in Hz:
    ddsp_pytorch feeds Hz to Linear + LayerNorm layers, whose output then
    hardly depends on pitch (LayerNorm(w f0 + b) ~ LayerNorm(w)) until
    training has shrunk those weights. Same seeds, 120 steps: held-out
    distance 7.0 (violin) / 7.0 (viola) with Hz, 5.6 / 5.4 with log2.
  * Small (hidden 64, 64 harmonics, 33 noise bands) and briefly trained
    (STEPS steps on about a minute of audio): a demo, not a studio model.

Run from anywhere: /usr/bin/python3 models/make_ddsp.py [--eval-only]
(ACIDS_DDSP_STEPS=N overrides STEPS, for quick experiments only.)
"""
import math
import os
import sys
import time
from typing import Tuple

import numpy as np
import scipy.io.wavfile
import scipy.signal
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from dsp import hash_noise, scale_function  # noqa: E402
from nn_module import pin_hash_seed  # noqa: E402

SR = 44100
BLOCK = 512
HIDDEN = 64
N_HARMONIC = 64
N_BANDS = 33                  # noise filter: irfft -> 64-tap FIR
SEED = 4410
NOISE_SEED = 0x5EED
# Hand-set initial amplitude law: logit = LOUD_GAIN * z + bias.
LOUD_GAIN = 0.45
TILT = 1.2                    # harmonic k logit -= TILT * log2(k)
NOISE_OFFSET = -4.0           # noise-band logits (ddsp_pytorch uses -5)
AMP_SCALE = 0.5               # total amplitude <= 1 (ddsp_pytorch: <= 2)
NOISE_SCALE = 0.05            # noise-band magnitudes <= 0.1

# Training.
DATASET = os.path.join(ROOT, "build", "dataset")
TRAIN_INSTRUMENTS = ("violin", "viola")
PHRASE_INSTRUMENT = "violin"
THREADS = 1                   # 2 OpenMP threads were 8-18x slower on the shared 2 cores
STEPS = int(os.environ.get("ACIDS_DDSP_STEPS", "650"))
BATCH = 4
CROP_BLOCKS = 172             # 2.0 s
SLOT_BEFORE = 0.3             # s of each note slot before the onset
SLOT_BLOCKS = 198             # 2.3 s: onset, 1.5 s note, release, silence
LR = 2e-3
LR_FINAL = 1e-4
WARMUP = 30
SCALES = (2048, 1024, 512, 256, 128, 64)
PHRASE_CALL = 2048            # samples per .ts call for the phrase


def mlp(in_size: int, hidden: int, n_layers: int) -> nn.Sequential:
    sizes = [in_size] + n_layers * [hidden]
    layers = []
    for i in range(n_layers):
        layers += [nn.Linear(sizes[i], sizes[i + 1]),
                   nn.LayerNorm(sizes[i + 1]), nn.LeakyReLU()]
    return nn.Sequential(*layers)


class DDSP(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("sampling_rate", torch.tensor(SR))
        self.register_buffer("block_size", torch.tensor(BLOCK))
        self.in_mlps = nn.ModuleList([mlp(1, HIDDEN, 3), mlp(1, HIDDEN, 3)])
        self.gru = nn.GRU(2 * HIDDEN, HIDDEN, batch_first=True)
        self.out_mlp = mlp(HIDDEN + 2, HIDDEN, 3)
        # [total amplitude, N_HARMONIC harmonics]; the total-amplitude row
        # also sees the normalised loudness directly (last input).
        self.proj_harmonic = nn.Linear(HIDDEN + 1, N_HARMONIC + 1)
        self.proj_noise = nn.Linear(HIDDEN + 1, N_BANDS)
        self.register_buffer("harmonics",
                             torch.arange(1, N_HARMONIC + 1).float())
        self.register_buffer("fir_window",
                             torch.hann_window(2 * (N_BANDS - 1)))
        self.register_buffer("cache_gru", torch.zeros(1, 1, HIDDEN))
        self.register_buffer("phase", torch.zeros(1))
        self.register_buffer("noise_seed", torch.tensor(NOISE_SEED))
        self.register_buffer("noise_pos", torch.tensor(0))
        self.noise_offset = NOISE_OFFSET
        self.amp_scale = AMP_SCALE
        self.noise_scale = NOISE_SCALE

    def hash_noise(self, idx: torch.Tensor) -> torch.Tensor:
        """Uniform samples in [-1, 1) for int64 stream positions idx."""
        return hash_noise(idx, int(self.noise_seed))

    def noise(self, n: int) -> torch.Tensor:
        """n noise samples continuing the stream (ddsp.noise_pos)."""
        idx = self.noise_pos + torch.arange(n)
        self.noise_pos.add_(n)
        return self.hash_noise(idx)

    def synth(self, pitch: torch.Tensor, loudness: torch.Tensor,
              h0: torch.Tensor, phase0: torch.Tensor,
              noise: torch.Tensor
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The whole model on a batch: pitch [B, F, 1] Hz and normalised
        loudness [B, F, 1] (one value per block), GRU state h0 [1, B, H],
        phase0 [B], white noise [B, F, block] -> (audio [B, F * block],
        GRU state, phase after the last block). realtime_forward is this
        with B = 1 and the state buffers; training calls it directly."""
        bs = noise.shape[-1]
        sr = float(self.sampling_rate)
        n_frames = pitch.shape[1]
        # The MLPs see octaves from A4 (f0 clamped to >= 20 Hz).
        pf = torch.log2(torch.clamp(pitch, min=20.0) / 440.0)
        hidden = torch.cat([self.in_mlps[0](pf),
                            self.in_mlps[1](loudness)], -1)
        gru_out, cache = self.gru(hidden, h0)
        hidden = self.out_mlp(torch.cat([gru_out, pf, loudness], -1))
        hidden = torch.cat([hidden, loudness], -1)

        # Harmonic part.
        param = scale_function(self.proj_harmonic(hidden))
        total_amp = param[..., :1] * self.amp_scale
        amps = param[..., 1:]
        aa = (pitch * self.harmonics < sr / 2).float() + 1e-4
        amps = amps * aa
        amps = amps / amps.sum(-1, keepdim=True) * total_amp  # [B, F, K]

        # Phase at each sample, advanced block by block in float32.
        inc = 2 * math.pi * pitch[..., 0] / sr                 # [B, F]
        ramp = torch.arange(1, bs + 1, dtype=pitch.dtype)
        starts = []
        ph = phase0
        for b in range(n_frames):
            starts.append(ph)
            ph = torch.remainder(ph + inc[:, b] * bs, 2 * math.pi)
        start = torch.stack(starts, 1)                         # [B, F]
        omega = start.unsqueeze(-1) + inc.unsqueeze(-1) * ramp  # [B, F, bs]
        omegas = omega.unsqueeze(-1) * self.harmonics          # [B, F, bs, K]
        harmonic = torch.matmul(torch.sin(omegas),
                                amps.unsqueeze(-1))[..., 0]    # [B, F, bs]

        # Noise part: per-block FFT convolution with a linear-phase FIR.
        mags = scale_function(self.proj_noise(hidden) + self.noise_offset) \
            * self.noise_scale
        fir = torch.fft.irfft(mags.to(torch.complex64))        # [B, F, 64]
        fir = torch.roll(fir, fir.shape[-1] // 2, -1) * self.fir_window
        spec = torch.fft.rfft(noise, 2 * bs) * torch.fft.rfft(fir, 2 * bs)
        filtered = torch.fft.irfft(spec, 2 * bs)[..., :bs]

        audio = (harmonic + filtered).reshape(pitch.shape[0], -1)
        return audio, cache, ph

    def realtime_forward(self, pitch: torch.Tensor,
                         loudness: torch.Tensor) -> torch.Tensor:
        """pitch [1, F, 1] Hz and normalised loudness [1, F, 1], one value
        per block -> audio [1, F * block_size, 1]."""
        bs = int(self.block_size)
        n_frames = pitch.shape[1]
        noise = self.noise(n_frames * bs).reshape(1, n_frames, bs)
        audio, cache, ph = self.synth(pitch, loudness, self.cache_gru,
                                      self.phase, noise)
        self.cache_gru.copy_(cache)
        self.phase.copy_(ph)
        return audio.reshape(1, -1, 1)


class ScriptDDSP(nn.Module):
    """Same members as ddsp_pytorch's export.py wrapper (realtime flavour)."""

    def __init__(self, ddsp: DDSP, mean_loudness: float,
                 std_loudness: float) -> None:
        super().__init__()
        self.ddsp = ddsp
        self.ddsp.gru.flatten_parameters()
        self.register_buffer("mean_loudness", torch.tensor(mean_loudness))
        self.register_buffer("std_loudness", torch.tensor(std_loudness))
        self.realtime = True

    def forward(self, pitch: torch.Tensor,
                loudness: torch.Tensor) -> torch.Tensor:
        loudness = (loudness - self.mean_loudness) / self.std_loudness
        bs = int(self.ddsp.block_size)
        pitch = pitch[:, ::bs]
        loudness = loudness[:, ::bs]
        return self.ddsp.realtime_forward(pitch, loudness)


# --------------------------------------------------------------- loudness --

def a_weighting(f: np.ndarray, min_db: float = -80.0) -> np.ndarray:
    """IEC 61672 A-weighting in dB (librosa.A_weighting's formula)."""
    f2 = np.asarray(f, dtype=np.float64) ** 2
    ra = (12194.0 ** 2 * f2 ** 2) / (
        (f2 + 20.6 ** 2) * np.sqrt((f2 + 107.7 ** 2) * (f2 + 737.9 ** 2))
        * (f2 + 12194.0 ** 2))
    with np.errstate(divide="ignore"):
        return np.maximum(2.0 + 20.0 * np.log10(ra), min_db)


def training_loudness(x: np.ndarray, sr: int = SR, hop: int = BLOCK,
                      n_fft: int = 2048) -> np.ndarray:
    """ddsp_pytorch's extract_loudness: librosa.stft (centred, reflect pad,
    periodic hann, unnormalised), log(|S| + 1e-7) + A-weighting, mean over
    frequency, last frame dropped."""
    xp = np.pad(np.asarray(x, dtype=np.float64), n_fft // 2, mode="reflect")
    win = scipy.signal.get_window("hann", n_fft, fftbins=True)
    n = 1 + (len(xp) - n_fft) // hop
    frames = np.stack([xp[i * hop:i * hop + n_fft] for i in range(n)])
    S = np.abs(np.fft.rfft(frames * win, axis=-1))
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return (np.log(S + 1e-7) + a_weighting(f)).mean(-1)[:-1]


def check_loudness_range(mean: float, std: float) -> tuple:
    """Training-formula loudness of silence and of a loud sawtooth-like
    tone; both must sit within 3 std of mean_loudness (the data are mostly
    sustained notes: digital silence is about -2.6 std)."""
    t = np.arange(SR) / SR
    tone = 0.5 * sum(np.sin(2 * np.pi * k * 220 * t) / k for k in range(1, 40))
    lo_silence = float(np.median(training_loudness(np.zeros(SR))))
    lo_tone = float(np.median(training_loudness(tone)))
    for lo in (lo_silence, lo_tone):
        z = (lo - mean) / std
        assert abs(z) < 3.0, (lo, z)
    return lo_silence, lo_tone


# ------------------------------------------------------------------- data --

def midi_hz(midi: int) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def note_slots(instruments, split: str) -> list:
    """One dict per note of these instruments and split, in dataset order:
    audio (SLOT_BLOCKS blocks from SLOT_BEFORE s before the onset), f0 and
    loudness per block."""
    import make_dataset
    x, notes = make_dataset.load(DATASET, SR)
    n = SLOT_BLOCKS * BLOCK
    out = []
    for note in notes:
        if note["instrument"] not in instruments or note["split"] != split:
            continue
        s = int(round((note["start"] - SLOT_BEFORE) * SR))
        audio = x[s:s + n].astype(np.float32)
        assert len(audio) == n
        out.append(dict(instrument=note["instrument"], pitch=note["pitch"],
                        velocity=note["velocity"], audio=audio,
                        f0=np.full(SLOT_BLOCKS, midi_hz(note["pitch"]),
                                   np.float32),
                        loud=training_loudness(audio).astype(np.float32)))
    return out


def phrase(slots: list) -> tuple:
    """The held-out phrase: each note from 50 ms before its onset to
    250 ms after its note-off (155 blocks), 5 ms fades at the joins, the
    notes back to back. Returns (audio, f0 per block, loudness per block)."""
    first = int(round((SLOT_BEFORE - 0.05) * SR))
    nb = 155
    fade = np.sin(0.5 * np.pi * np.arange(1, 221) / 221) ** 2
    audio, f0 = [], []
    for s in slots:
        a = s["audio"][first:first + nb * BLOCK].copy()
        a[:len(fade)] *= fade
        a[-len(fade):] *= fade[::-1]
        audio.append(a)
        f0.append(np.full(nb, midi_hz(s["pitch"]), np.float32))
    audio = np.concatenate(audio)
    return audio, np.concatenate(f0), training_loudness(audio).astype(np.float32)


def per_sample(blocks: np.ndarray) -> torch.Tensor:
    """Block values -> [1, N, 1] held over each block (what ddsp~ sends)."""
    return torch.from_numpy(np.repeat(blocks, BLOCK)).reshape(1, -1, 1)


# ------------------------------------------------------------------- loss --

def mss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ddsp_pytorch's multi-scale spectral loss between [B, T] signals:
    sum over SCALES of mean |S_x - S_y| + mean |log(S_x + 1e-7) -
    log(S_y + 1e-7)|, S = |torch.stft| (hop n/4, hann, normalized)."""
    loss = x.new_zeros(())
    for n in SCALES:
        win = torch.hann_window(n)
        sx, sy = [torch.stft(s, n, n // 4, n, win, center=True,
                             normalized=True, return_complex=True).abs()
                  for s in (x, y)]
        loss = loss + (sx - sy).abs().mean() \
            + (torch.log(sx + 1e-7) - torch.log(sy + 1e-7)).abs().mean()
    return loss


# --------------------------------------------------------------- training --

def init_weights(ddsp: DDSP) -> None:
    """Seeded default init, then the hand-set paths: total-amplitude logit
    = LOUD_GAIN * normalised loudness + 0.1 * (random hidden projection),
    harmonic logits tilted down with the harmonic number."""
    torch.manual_seed(SEED)
    for m in ddsp.modules():
        if isinstance(m, (nn.Linear, nn.GRU)):
            m.reset_parameters()
    with torch.no_grad():
        w, b = ddsp.proj_harmonic.weight, ddsp.proj_harmonic.bias
        w[0, :HIDDEN].mul_(0.1)
        w[0, HIDDEN] = LOUD_GAIN
        b[0] = 0.0
        w[1:, HIDDEN] = 0.0
        b[1:] = -TILT * torch.log2(torch.arange(1, N_HARMONIC + 1).float())
        ddsp.proj_noise.weight[:, HIDDEN] = LOUD_GAIN
        ddsp.proj_noise.bias.zero_()


def train_synth(ddsp: DDSP, pitch: torch.Tensor, loud_z: torch.Tensor,
                noise_start: torch.Tensor) -> torch.Tensor:
    """The training form: DDSP.synth on a batch of whole excerpts from a
    fresh state (zero GRU state and phase), noise from stream positions
    noise_start [B] on. pitch, loud_z [B, F, 1] -> audio [B, F * BLOCK]."""
    b, f = pitch.shape[:2]
    idx = noise_start.reshape(-1, 1) + torch.arange(f * BLOCK)
    noise = ddsp.hash_noise(idx).reshape(b, f, BLOCK)
    return ddsp.synth(pitch, loud_z, torch.zeros(1, b, HIDDEN),
                      torch.zeros(b), noise)[0]


def stats(slots: list) -> Tuple[float, float]:
    loud = np.concatenate([s["loud"] for s in slots]).astype(np.float64)
    return float(np.float32(loud.mean())), float(np.float32(loud.std()))


def train(slots: list, mean: float, std: float) -> Tuple[DDSP, list]:
    ddsp = DDSP()
    init_weights(ddsp)
    audio = torch.from_numpy(np.concatenate([s["audio"] for s in slots]))
    f0 = torch.from_numpy(np.concatenate([s["f0"] for s in slots]))
    loud = torch.from_numpy(np.concatenate([s["loud"] for s in slots]))
    loud_z = (loud - torch.tensor(mean)) / torch.tensor(std)
    n_blocks = len(f0)
    gen = torch.Generator().manual_seed(SEED + 1)
    opt = torch.optim.Adam(ddsp.parameters(), lr=LR)
    decay = math.log(LR_FINAL / LR)

    def lr_at(i: int) -> float:
        if i < WARMUP:
            return (i + 1) / WARMUP
        u = (i - WARMUP) / max(1, STEPS - WARMUP)
        return math.exp(decay * 0.5 * (1 - math.cos(math.pi * u)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    blocks = torch.arange(CROP_BLOCKS)
    samples = torch.arange(CROP_BLOCKS * BLOCK)
    log, t0, recent = [], time.perf_counter(), []
    for step in range(STEPS):
        first = torch.randint(0, n_blocks - CROP_BLOCKS + 1, (BATCH,),
                              generator=gen)
        noise_start = torch.randint(0, 2 ** 30, (BATCH,), generator=gen)
        bi = first.reshape(-1, 1) + blocks
        target = audio[(first * BLOCK).reshape(-1, 1) + samples]
        y = train_synth(ddsp, f0[bi].unsqueeze(-1), loud_z[bi].unsqueeze(-1),
                        noise_start)
        loss = mss(y, target)
        opt.zero_grad()
        loss.backward()
        assert math.isfinite(loss.item()), step
        torch.nn.utils.clip_grad_norm_(ddsp.parameters(), 2.0)
        opt.step()
        sched.step()
        recent.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == STEPS:
            log.append((step + 1, float(np.mean(recent)),
                        time.perf_counter() - t0))
            recent = []
            print(f"  step {log[-1][0]}: loss {log[-1][1]:.3f} "
                  f"({log[-1][2]:.0f} s, load {os.getloadavg()[0]:.1f})",
                  flush=True)
    return ddsp, log


def export(ddsp: DDSP, mean: float, std: float) -> torch.jit.ScriptModule:
    model = ScriptDDSP(ddsp, mean, std).eval()
    model.requires_grad_(False)
    return torch.jit.script(model)


def untrained(mean: float, std: float) -> torch.jit.ScriptModule:
    ddsp = DDSP()
    init_weights(ddsp)
    return export(ddsp, mean, std)


# ---------------------------------------------------------------- checks --

def controls(n: int, f0: float, db: float):
    return (torch.full((1, n, 1), f0), torch.full((1, n, 1), db))


def rms(x: torch.Tensor) -> float:
    return x.pow(2).mean().sqrt().item()


def check_training_form(path: str, slots: list) -> float:
    """The training form on a batch of whole excerpts (2.3 s held-out
    notes) equals the saved export called once on each from a fresh load;
    returns the max difference."""
    m = torch.jit.load(path)
    ddsp = DDSP()
    ddsp.load_state_dict({k: v for k, v in m.ddsp.state_dict().items()})
    mean, std = m.mean_loudness, m.std_loudness
    pitch = torch.stack([torch.from_numpy(s["f0"]) for s in slots[:3]])
    loud = torch.stack([torch.from_numpy(s["loud"]) for s in slots[:3]])
    with torch.no_grad():
        batch = train_synth(ddsp, pitch.unsqueeze(-1),
                            ((loud - mean) / std).unsqueeze(-1),
                            torch.zeros(3, dtype=torch.int64))
    worst = 0.0
    for i, s in enumerate(slots[:3]):
        y = torch.jit.load(path)(per_sample(s["f0"]), per_sample(s["loud"]))
        worst = max(worst, (y[0, :, 0] - batch[i]).abs().max().item())
    assert worst < 1e-5, f"training form differs from the export by {worst}"
    return worst


def check(path: str, mean: float, std: float) -> dict:
    size = os.path.getsize(path)
    assert size < 2 ** 20, f"{path}: {size} bytes"
    m = torch.jit.load(path)
    # Members exactly as ddsp_pytorch's real-time export.
    assert m.mean_loudness.dtype == m.std_loudness.dtype == torch.float32
    assert m.mean_loudness.dim() == m.std_loudness.dim() == 0
    assert float(m.mean_loudness) == mean and float(m.std_loudness) == std
    for name, value in (("sampling_rate", SR), ("block_size", BLOCK)):
        buf = getattr(m.ddsp, name)
        assert buf.dtype == torch.int64 and buf.dim() == 0, name
        assert int(buf) == value, name
    assert tuple(m.ddsp.cache_gru.shape) == (1, 1, HIDDEN)
    assert tuple(m.ddsp.phase.shape) == (1,)
    assert not any(n.endswith("_params") for n, _ in m.named_buffers())
    assert not hasattr(m, "get_methods")

    # Shape and dtype.
    y = m(*controls(2048, 220.0, -20.0))
    assert y.shape == (1, 2048, 1) and y.dtype == torch.float32

    # Levels at 220 Hz (1 s, skipping the first 0.1 s while the GRU
    # settles) over the data's loudness range: near silent for the
    # loudness of digital silence (-20.2), rising with loudness through
    # the notes' range (about -14 in releases to -7.5 for the loudest
    # sustains), note-like at a typical sustain (-9: the training notes
    # have RMS 0.01-0.05 there).
    n = BLOCK * (SR // BLOCK)
    levels = {}
    for db in (-20.2, -14.0, -11.0, -9.0, -7.5):
        y = torch.jit.load(path)(*controls(n, 220.0, db))[0, :, 0]
        assert torch.isfinite(y).all(), db
        levels[db] = rms(y[SR // 10:])
    assert levels[-20.2] < 1e-3, levels
    assert 0.005 <= levels[-9.0] <= 0.2, levels
    dbs = sorted(levels)
    assert all(levels[a] < levels[b] for a, b in zip(dbs, dbs[1:])), levels
    # Harmonic: the strongest peak is a harmonic of 220 Hz, the first
    # three harmonics are all present.
    y = torch.jit.load(path)(*controls(n, 220.0, -9.0))[0, SR // 10:, 0]
    spec = np.abs(np.fft.rfft(y.numpy() * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1.0 / SR)
    peak = freqs[np.argmax(spec)]
    k = max(1, round(peak / 220.0))
    assert abs(peak - 220.0 * k) < 2.0 * k, peak
    for k in (1, 2, 3):
        band = spec[np.abs(freqs - 220.0 * k) < 3.0].max()
        assert spec.max() / 1e3 < band, (k, band)
    silence = rms(torch.jit.load(path)(*controls(n, 220.0, -60.0)))
    # Bounded for out-of-range controls (sigmund~-style dB, 0 Hz, Nyquist).
    for f0, db in ((220.0, 100.0), (0.0, -10.0), (SR / 2, -10.0),
                   (30000.0, 0.0)):
        y = torch.jit.load(path)(*controls(4 * BLOCK, f0, db))
        assert torch.isfinite(y).all() and y.abs().max() < 1.5, (f0, db)

    # Streaming: one call == consecutive calls (fresh loads), with pitch
    # and loudness varying so the GRU, phase and noise state all matter.
    t = torch.arange(BLOCK * 200, dtype=torch.float64) / SR
    pitch = (220 * 2 ** torch.sin(2 * math.pi * 0.5 * t)).float()
    loud = (-12 + 5 * torch.sin(2 * math.pi * 0.3 * t)).float()
    pitch, loud = pitch.reshape(1, -1, 1), loud.reshape(1, -1, 1)
    whole = torch.jit.load(path)(pitch, loud)
    assert rms(whole) > 1e-3, rms(whole)
    for sizes in ((BLOCK,), (2048,), (2048, 4096, BLOCK, 3 * BLOCK)):
        mc = torch.jit.load(path)
        out, pos, i = [], 0, 0
        while pos < pitch.shape[1]:
            k = sizes[i % len(sizes)]
            out.append(mc(pitch[:, pos:pos + k], loud[:, pos:pos + k]))
            pos, i = pos + k, i + 1
        chunked = torch.cat(out, 1)
        assert chunked.shape == whole.shape
        diff = (whole - chunked).abs().max().item()
        assert diff < 1e-5, f"streaming diff {diff} for {sizes}"
    # Same sequence on a fresh load gives bitwise the same output.
    assert torch.equal(whole, torch.jit.load(path)(pitch, loud))

    # Per-block cost: one 2048-sample call on a warm model, one thread
    # (with two on a loaded machine, OpenMP hand-offs take 100+ ms).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    m = torch.jit.load(path)
    blk = controls(2048, 220.0, -9.0)
    for _ in range(10):
        m(*blk)
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        m(*blk)
        times.append(time.perf_counter() - t0)
    torch.set_num_threads(threads)
    return dict(size=size, levels=levels, silence=silence, peak=peak,
                diff=diff, ms=1e3 * float(np.median(times)),
                mean=float(m.mean_loudness), std=float(m.std_loudness))


# ------------------------------------------------------------- evaluation --

def reset(m: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """The state of a fresh load: GRU state, phase, noise position zero."""
    for b in (m.ddsp.cache_gru, m.ddsp.phase, m.ddsp.noise_pos):
        b.zero_()
    return m


def note_distance(m, s: dict) -> float:
    y = reset(m)(per_sample(s["f0"]), per_sample(s["loud"]))[0, :, 0]
    return mss(y[None], torch.from_numpy(s["audio"])[None]).item()


def phrase_resynth(m, f0: np.ndarray, loud: np.ndarray) -> torch.Tensor:
    """Streamed as ddsp~ calls it: consecutive PHRASE_CALL-sample calls."""
    reset(m)
    p, lo = per_sample(f0), per_sample(loud)
    return torch.cat([m(p[:, i:i + PHRASE_CALL], lo[:, i:i + PHRASE_CALL])
                      for i in range(0, p.shape[1], PHRASE_CALL)], 1)[0, :, 0]


def evaluate(path: str, test: list) -> dict:
    """Multi-scale spectral distances on held-out material, the saved
    model vs the untrained one (same seed init, same mean/std)."""
    trained = torch.jit.load(path)
    base = untrained(float(trained.mean_loudness), float(trained.std_loudness))
    rows = {}
    for name, m in (("untrained", base), ("trained", trained)):
        r = {}
        for inst in TRAIN_INSTRUMENTS:
            d = [note_distance(m, s) for s in test if s["instrument"] == inst]
            r[inst] = (float(np.mean(d)), len(d))
        rows[name] = r
    audio, f0, loud = phrase([s for s in test
                              if s["instrument"] == PHRASE_INSTRUMENT])
    target = torch.from_numpy(audio)[None]
    out = {}
    for name, m in (("untrained", base), ("trained", trained)):
        y = phrase_resynth(m, f0, loud)
        rows[name]["phrase"] = (mss(y[None], target).item(), 1)
        out[name] = y.numpy()
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    for name, x in (("orig", audio), ("resynth", out["trained"]),
                    ("untrained", out["untrained"])):
        scipy.io.wavfile.write(
            os.path.join(ROOT, "build", f"ddsp_phrase_{name}.wav"), SR,
            x.astype(np.float32))
    rows["phrase_seconds"] = len(audio) / SR
    rows["phrase_notes"] = len(f0) // 155
    return rows


def quality_table(q: dict) -> str:
    insts = list(TRAIN_INSTRUMENTS)
    head = "| model | " + " | ".join(
        f"{i} test notes (n={q['trained'][i][1]})" for i in insts) + \
        f" | {PHRASE_INSTRUMENT} phrase ({q['phrase_notes']} notes, " \
        f"{q['phrase_seconds']:.1f} s) |"
    lines = [head, "|---" * (len(insts) + 2) + "|"]
    for name in ("untrained", "trained"):
        lines.append(f"| {name} | " + " | ".join(
            f"{q[name][k][0]:.2f}" for k in insts + ["phrase"]) + " |")
    return "\n".join(lines)


def main() -> None:
    t_start, cpu_start = time.perf_counter(), time.process_time()
    load0 = os.getloadavg()
    torch.set_num_threads(THREADS)
    path = os.path.join(HERE, "ddsp_demo.ts")
    test = note_slots(TRAIN_INSTRUMENTS, "test")
    if "--eval-only" not in sys.argv:
        slots = note_slots(TRAIN_INSTRUMENTS, "train")
        mean, std = stats(slots)
        print(f"training on {len(slots)} {'+'.join(TRAIN_INSTRUMENTS)} notes "
              f"({len(slots) * SLOT_BLOCKS * BLOCK / SR:.0f} s), loudness "
              f"mean/std {mean:.3f}/{std:.3f}; {STEPS} steps of {BATCH} x "
              f"{CROP_BLOCKS * BLOCK / SR:.1f} s, {THREADS} threads; "
              f"load {load0[0]:.1f}", flush=True)
        torch.manual_seed(SEED)
        ddsp, log = train(slots, mean, std)
        t_train = time.perf_counter() - t_start
        torch.set_grad_enabled(False)
        export(ddsp, mean, std).save(path)
    torch.set_grad_enabled(False)
    m = torch.jit.load(path)
    mean, std = float(m.mean_loudness), float(m.std_loudness)
    lo_silence, lo_tone = check_loudness_range(mean, std)
    r = check(path, mean, std)
    form = check_training_form(path, test)
    q = evaluate(path, test)
    for inst in list(TRAIN_INSTRUMENTS) + ["phrase"]:
        assert q["trained"][inst][0] < 0.8 * q["untrained"][inst][0], (inst, q)
    lv = ", ".join(f"{db:g} {v:.3f}" for db, v in sorted(r["levels"].items()))
    print(f"models/ddsp_demo.ts: {r['size']} bytes, {SR} Hz, block {BLOCK}, "
          f"mean/std loudness {r['mean']:.3f}/{r['std']:.3f}; RMS at 220 Hz "
          f"by loudness: {lv} (-60: {r['silence']:.2g}); FFT peak "
          f"{r['peak']:.1f} Hz; streaming diff {r['diff']:.2g}; training "
          f"form vs export {form:.2g}; forward(2048) {r['ms']:.2f} ms, 1 thread (real "
          f"time {1e3 * 2048 / SR:.1f} ms); training-formula loudness: "
          f"silence {lo_silence:.1f}, 0.5 tone {lo_tone:.1f}")
    print("multi-scale spectral distance on held-out notes (lower is "
          "better; build/ddsp_phrase_resynth.wav):")
    print(quality_table(q))
    t_total = time.perf_counter() - t_start
    if "--eval-only" not in sys.argv:
        print(f"time: training {t_train:.0f} s, total {t_total:.0f} s wall, "
              f"{time.process_time() - cpu_start:.0f} s CPU; "
              f"load average {load0[0]:.1f} at start, "
              f"{os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    pin_hash_seed()
    main()
