"""Build models/ddsp_demo.ts: a small DDSP harmonic-plus-noise synthesizer
with exactly the real-time export interface of acids-ircam/ddsp_pytorch
(export.py --realtime):

  top level   buffers mean_loudness, std_loudness (float32 scalars)
              forward(pitch[1,N,1], loudness[1,N,1]) -> audio [1,N,1]
  .ddsp       buffers sampling_rate (int64, 44100), block_size (int64, 512),
              cache_gru [1,1,H] (GRU state), phase [1] (oscillator phase)
              method realtime_forward(pitch, loudness) on block-rate inputs

N must be a multiple of block_size. As in export.py, loudness is normalised
with mean/std and both inputs are subsampled with [:, ::block_size] (the
first sample of each block). Per block: MLPs + GRU (hidden 64) -> a total
amplitude, 32 harmonic amplitudes (Nyquist mask, sum-normalised) and 33
noise-band magnitudes. Audio: additive synthesis with the phase carried
across calls, plus filtered noise (linear-phase FIR from the magnitudes,
applied per block by FFT convolution, as ddsp_pytorch does).

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
  * Untrained, seeded; the total amplitude has a hand-set path from the
    normalised loudness (louder in -> louder out) and the harmonic
    amplitudes a spectral tilt (clear fundamental).
  * mean/std_loudness (-12, 4) are set by hand so that the range of the
    ddsp_pytorch training formula (mean over frequency of
    log(|STFT|+1e-7) + A-weighting, n_fft 2048, hop = block size, hann,
    centred), about -20 for silence to -5 for loud, bright sounds, maps to
    about -2..+1.75 after normalisation; the script checks both ends with a
    numpy implementation of that formula.

Run from anywhere: /usr/bin/python3 models/make_ddsp.py
"""
import math
import os
import sys
import time

import numpy as np
import scipy.signal
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from nn_module import pin_hash_seed  # noqa: E402

SR = 44100
BLOCK = 512
HIDDEN = 64
N_HARMONIC = 32
N_BANDS = 33                  # noise filter: irfft -> 64-tap FIR
SEED = 4410
NOISE_SEED = 0x5EED
# Hand-set amplitude law (see calibrate()): logit = LOUD_GAIN * z + bias.
LOUD_GAIN = 0.45
TILT = 1.2                    # harmonic k logit -= TILT * log2(k)
NOISE_OFFSET = -4.0           # noise-band logits (ddsp_pytorch uses -5)
AMP_SCALE = 0.5               # total amplitude <= 1 (ddsp_pytorch: <= 2)
NOISE_SCALE = 0.05            # noise-band magnitudes <= 0.1
# Loudness normalisation: the training formula gives about -20 for
# silence, -13 for a 0.5-amplitude sawtooth-like tone and up to about -5
# with broadband content (see check_loudness_range); these map that range
# to about -2..+1.75 standard deviations. (Statistics
# measured on steady synthetic tones are far narrower than a real data
# set's, so they are set by hand rather than measured.)
MEAN_LOUDNESS = -12.0
STD_LOUDNESS = 4.0


def mlp(in_size: int, hidden: int, n_layers: int) -> nn.Sequential:
    sizes = [in_size] + n_layers * [hidden]
    layers = []
    for i in range(n_layers):
        layers += [nn.Linear(sizes[i], sizes[i + 1]),
                   nn.LayerNorm(sizes[i + 1]), nn.LeakyReLU()]
    return nn.Sequential(*layers)


def scale_function(x: torch.Tensor) -> torch.Tensor:
    """ddsp_pytorch's exponentiated sigmoid: (1e-7, 2]."""
    return 2 * torch.sigmoid(x) ** math.log(10) + 1e-7


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

    def noise(self, n: int) -> torch.Tensor:
        """n uniform samples in [-1, 1) continuing the stream: an integer
        hash (two xorshift-multiply rounds) of the absolute sample index."""
        idx = self.noise_pos + torch.arange(n)
        self.noise_pos.add_(n)
        mask = 0xFFFFFFFF
        mul = 0x45D9F3B       # < 2**27: products stay inside int64
        h = (idx & mask) ^ self.noise_seed
        h = h ^ (h >> 16)
        h = (h * mul) & mask
        h = h ^ (h >> 16)
        h = (h * mul) & mask
        h = h ^ (h >> 16)
        return (h >> 8).float() * (2.0 / 16777216.0) - 1.0

    def realtime_forward(self, pitch: torch.Tensor,
                         loudness: torch.Tensor) -> torch.Tensor:
        """pitch [1, F, 1] Hz and normalised loudness [1, F, 1], one value
        per block -> audio [1, F * block_size, 1]."""
        bs = int(self.block_size)
        sr = float(self.sampling_rate)
        n_frames = pitch.shape[1]
        hidden = torch.cat([self.in_mlps[0](pitch),
                            self.in_mlps[1](loudness)], -1)
        gru_out, cache = self.gru(hidden, self.cache_gru)
        self.cache_gru.copy_(cache)
        hidden = self.out_mlp(torch.cat([gru_out, pitch, loudness], -1))
        hidden = torch.cat([hidden, loudness], -1)

        # Harmonic part.
        param = scale_function(self.proj_harmonic(hidden))
        total_amp = param[..., :1] * self.amp_scale
        amps = param[..., 1:]
        aa = (pitch * self.harmonics < sr / 2).float() + 1e-4
        amps = amps * aa
        amps = amps / amps.sum(-1, keepdim=True) * total_amp  # [1, F, K]

        # Phase at each sample, advanced block by block in float32.
        inc = 2 * math.pi * pitch[0, :, 0] / sr                # [F]
        ramp = torch.arange(1, bs + 1, dtype=pitch.dtype)
        starts = []
        ph = self.phase.clone()  # the buffer is overwritten below
        for b in range(n_frames):
            starts.append(ph)
            ph = torch.remainder(ph + inc[b] * bs, 2 * math.pi)
        self.phase.copy_(ph)
        start = torch.stack(starts, 0)                         # [F, 1]
        omega = start + inc.unsqueeze(-1) * ramp               # [F, bs]
        omegas = omega.unsqueeze(-1) * self.harmonics          # [F, bs, K]
        harmonic = (torch.sin(omegas) * amps[0].unsqueeze(1)).sum(-1)

        # Noise part: per-block FFT convolution with a linear-phase FIR.
        mags = scale_function(self.proj_noise(hidden) + self.noise_offset) \
            * self.noise_scale
        fir = torch.fft.irfft(mags[0].to(torch.complex64))     # [F, 64]
        fir = torch.roll(fir, fir.shape[-1] // 2, -1) * self.fir_window
        noise = self.noise(n_frames * bs).reshape(n_frames, bs)
        spec = torch.fft.rfft(noise, 2 * bs) * torch.fft.rfft(fir, 2 * bs)
        noise = torch.fft.irfft(spec, 2 * bs)[:, :bs]

        return (harmonic + noise).reshape(1, -1, 1)


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


# ------------------------------------------------------------ calibration --

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
    xp = np.pad(x, n_fft // 2, mode="reflect")
    win = scipy.signal.get_window("hann", n_fft, fftbins=True)
    n = 1 + (len(xp) - n_fft) // hop
    frames = np.stack([xp[i * hop:i * hop + n_fft] for i in range(n)])
    S = np.abs(np.fft.rfft(frames * win, axis=-1))
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return (np.log(S + 1e-7) + a_weighting(f)).mean(-1)[:-1]


def check_loudness_range() -> tuple:
    """Training-formula loudness of silence and of a loud sawtooth-like
    tone; both must sit within 2.5 std of mean_loudness."""
    t = np.arange(SR) / SR
    tone = 0.5 * sum(np.sin(2 * np.pi * k * 220 * t) / k for k in range(1, 40))
    lo_silence = float(np.median(training_loudness(np.zeros(SR))))
    lo_tone = float(np.median(training_loudness(tone)))
    for lo in (lo_silence, lo_tone):
        z = (lo - MEAN_LOUDNESS) / STD_LOUDNESS
        assert abs(z) < 2.5, (lo, z)
    return lo_silence, lo_tone


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


def build() -> torch.jit.ScriptModule:
    ddsp = DDSP()
    init_weights(ddsp)
    model = ScriptDDSP(ddsp, MEAN_LOUDNESS, STD_LOUDNESS).eval()
    model.requires_grad_(False)
    return torch.jit.script(model)


# ---------------------------------------------------------------- checks --

def controls(n: int, f0: float, db: float):
    return (torch.full((1, n, 1), f0), torch.full((1, n, 1), db))


def rms(x: torch.Tensor) -> float:
    return x.pow(2).mean().sqrt().item()


def check(path: str) -> dict:
    size = os.path.getsize(path)
    assert size < 2 ** 20, f"{path}: {size} bytes"
    m = torch.jit.load(path)
    # Members exactly as ddsp_pytorch's real-time export.
    assert m.mean_loudness.dtype == m.std_loudness.dtype == torch.float32
    assert m.mean_loudness.dim() == m.std_loudness.dim() == 0
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

    # Audible, finite, harmonic with a clear fundamental, louder with
    # loudness (1 s, skipping the first 0.1 s while the GRU settles).
    n = BLOCK * (SR // BLOCK)
    levels = {}
    for db in (-30.0, -20.0, -10.0, -5.0):
        y = torch.jit.load(path)(*controls(n, 220.0, db))[0, :, 0]
        assert torch.isfinite(y).all(), db
        levels[db] = rms(y[SR // 10:])
    assert 0.01 <= levels[-20.0] <= 0.5, levels
    dbs = sorted(levels)
    assert all(levels[a] < levels[b] for a, b in zip(dbs, dbs[1:])), levels
    y = torch.jit.load(path)(*controls(n, 220.0, -20.0))[0, SR // 10:, 0]
    spec = np.abs(np.fft.rfft(y.numpy() * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1.0 / SR)
    peak = freqs[np.argmax(spec)]
    assert abs(peak - 220.0) < 2.0, peak
    for k in (2, 3):  # harmonics present, below the fundamental
        band = spec[np.abs(freqs - 220.0 * k) < 3.0].max()
        assert spec.max() / 1e3 < band < spec.max(), (k, band)
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
    loud = (-15 + 8 * torch.sin(2 * math.pi * 0.3 * t)).float()
    pitch, loud = pitch.reshape(1, -1, 1), loud.reshape(1, -1, 1)
    whole = torch.jit.load(path)(pitch, loud)
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

    # Per-block cost: one 2048-sample call on a warm model.
    m = torch.jit.load(path)
    blk = controls(2048, 220.0, -20.0)
    for _ in range(10):
        m(*blk)
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        m(*blk)
        times.append(time.perf_counter() - t0)
    return dict(size=size, levels=levels, silence=silence, peak=peak,
                diff=diff, ms=1e3 * float(np.median(times)),
                mean=float(m.mean_loudness), std=float(m.std_loudness))


def main() -> None:
    torch.set_grad_enabled(False)
    path = os.path.join(HERE, "ddsp_demo.ts")
    build().save(path)
    lo_silence, lo_tone = check_loudness_range()
    r = check(path)
    lv = ", ".join(f"{db:g} dB {v:.3f}" for db, v in sorted(r["levels"].items()))
    print(f"models/ddsp_demo.ts: {r['size']} bytes, {SR} Hz, block {BLOCK}, "
          f"mean/std loudness {r['mean']:.2f}/{r['std']:.2f}; RMS at 220 Hz: "
          f"{lv} (-60 dB {r['silence']:.2g}); FFT peak {r['peak']:.1f} Hz; "
          f"streaming diff {r['diff']:.2g}; forward(2048) {r['ms']:.2f} ms "
          f"(real time {1e3 * 2048 / SR:.1f} ms); training-formula loudness: "
          f"silence {lo_silence:.1f}, 0.5 tone {lo_tone:.1f}")


if __name__ == "__main__":
    pin_hash_seed()
    main()
