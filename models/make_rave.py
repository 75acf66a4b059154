"""Build the two shipped demo models with RAVE's export layouts.

  models/rave_demo.ts     RAVE v2 layout (nn~ contract), 44100 Hz
  models/rave_v1_demo.ts  RAVE 1.x layout (no get_methods), 48000 Hz

Both are untrained, seeded networks of the RAVE family: a polyphase split
into 16 bands (standing in for the PQMF), cached strided convs down to one
latent frame per 2048 samples, and a mirrored decoder (nearest upsampling +
cached convs, tanh out). Weights are scaled so a 440 Hz sine at 0.5 gives
a clearly audible output. Everything is deterministic: encode returns the
posterior mean and decode adds no noise.

Run from anywhere: /usr/bin/python3 models/make_rave.py
"""
import math
import os
import sys
import time
from typing import Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from nn_module import NNModule, pin_hash_seed  # noqa: E402
from streaming import (CHUNK_PATTERN, CachedConv1d, CachedUpsample,  # noqa
                       PolyphaseMerge, PolyphaseSplit, reset_caches,
                       run_chunked)

LATENT = 8
BANDS = 16
STRIDES = (4, 4, 8)          # 16 * 4 * 4 * 8 = 2048
RATIO = BANDS * math.prod(STRIDES)
MAX_BATCH = 4
TARGET_RMS = 0.25            # pre-tanh RMS of the decoded calibration sine


def build_encoder() -> nn.Sequential:
    """Outputs 2*LATENT channels (mean, scale) like RAVE's variational
    encoder; only the mean is used by the deterministic exports."""
    act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
    return nn.Sequential(
        PolyphaseSplit(BANDS),
        CachedConv1d(BANDS, 32, 5, max_batch=MAX_BATCH), act(),
        CachedConv1d(32, 48, 2 * STRIDES[0], stride=STRIDES[0],
                     max_batch=MAX_BATCH), act(),
        CachedConv1d(48, 64, 2 * STRIDES[1], stride=STRIDES[1],
                     max_batch=MAX_BATCH), act(),
        CachedConv1d(64, 96, 2 * STRIDES[2], stride=STRIDES[2],
                     max_batch=MAX_BATCH), act(),
        CachedConv1d(96, 2 * LATENT, 3, max_batch=MAX_BATCH),
    )


def build_decoder() -> nn.Sequential:
    act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
    return nn.Sequential(
        CachedConv1d(LATENT, 96, 3, max_batch=MAX_BATCH), act(),
        CachedUpsample(96, 64, STRIDES[2], 2 * STRIDES[2],
                       max_batch=MAX_BATCH), act(),
        CachedUpsample(64, 48, STRIDES[1], 2 * STRIDES[1],
                       max_batch=MAX_BATCH), act(),
        CachedUpsample(48, 32, STRIDES[0], 2 * STRIDES[0],
                       max_batch=MAX_BATCH), act(),
        CachedConv1d(32, BANDS, 5, max_batch=MAX_BATCH),
        nn.Tanh(),
        PolyphaseMerge(BANDS),
    )


def init_weights(module: nn.Module, seed: int) -> None:
    """He-style init (gain for leaky ReLU) so activations neither vanish
    nor explode through the stack; zero biases keep silence in -> near
    silence out."""
    g = torch.Generator().manual_seed(seed)
    gain = math.sqrt(2.0 / (1 + 0.2 ** 2))
    for m in module.modules():
        if isinstance(m, nn.Conv1d):
            fan_in = m.in_channels * m.kernel_size[0]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g)
                               * gain / math.sqrt(fan_in))
                m.bias.zero_()


def calibration_signal(sr: int) -> torch.Tensor:
    """The sine the brief asks to sound right, plus a chirp and a little
    noise so the latent statistics (mean/PCA) are not degenerate."""
    n = RATIO * (sr // RATIO + 1) * 2
    t = np.arange(n) / sr
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    chirp = 0.3 * np.sin(2 * np.pi * (100 * t + 400 * t ** 2))
    noise = 0.05 * np.random.default_rng(7).standard_normal(n)
    x = np.concatenate([sine, chirp + noise])
    return torch.from_numpy(x).float()[None, None]


def test_sine(sr: int, seconds: float = 1.0) -> torch.Tensor:
    n = RATIO * int(seconds * sr / RATIO)
    t = torch.arange(n, dtype=torch.float64) / sr
    return (0.5 * torch.sin(2 * math.pi * 440 * t)).float()[None, None]


def calibrate(encoder: nn.Module, decoder: nn.Module, sr: int):
    """Fit latent mean/PCA on the calibration signal (as RAVE does on its
    dataset), then scale the decoder's last conv to reach TARGET_RMS.
    Returns (latent_mean, latent_pca, fidelity)."""
    with torch.no_grad():
        z = encoder(calibration_signal(sr))[:, :LATENT]      # means only
        reset_caches(encoder)
        z2 = z[0].T.double()                                 # [frames, L]
        mean = z2.mean(0)
        cov = torch.cov((z2 - mean).T)
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)
        evals, pca = evals[order].clamp(min=0), evecs[:, order].T
        # Deterministic sign: make the largest entry of each row positive.
        sign = torch.sign(pca.gather(1, pca.abs().argmax(1, keepdim=True)))
        pca = pca * sign
        fidelity = torch.cumsum(evals, 0) / evals.sum()

        # The PCA round trip is orthonormal, so decode(encode(x)) sees the
        # raw latent: calibrate the output gain on the raw path.
        last = [m for m in decoder.modules() if isinstance(m, nn.Conv1d)][-1]
        pre_tanh = nn.Sequential(*list(decoder.children())[:-2])
        y = pre_tanh(encoder(test_sine(sr))[:, :LATENT])
        reset_caches(encoder)
        reset_caches(decoder)
        rms = y.pow(2).mean().sqrt().item()
        last.weight.mul_(TARGET_RMS / rms)
    return mean.float(), pca.float(), fidelity.float()


class RaveV2Demo(NNModule):
    """Mirrors the members of RAVE v2's ScriptedRAVE (variational flavour)."""

    def __init__(self, encoder, decoder, latent_mean, latent_pca, fidelity,
                 sr: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.sr = sr
        self.full_latent_size = LATENT
        self.latent_size = LATENT
        self.n_channels = 1
        self.input_mode = "pqmf"
        self.stereo = False
        self.register_buffer("latent_pca", latent_pca)
        self.register_buffer("latent_mean", latent_mean)
        self.register_buffer("fidelity", fidelity)

        self.register_method("encode", 1, 1, LATENT, RATIO)
        self.register_method("decode", LATENT, RATIO, 1, 1)
        self.register_method("forward", 1, 1, 1, 1)
        # RAVE's latent-adaptation switches. Here they are plain flags: the
        # demo has no adaptation statistics to learn.
        for name in ("learn_target", "reset_target", "learn_source",
                     "reset_source"):
            self.register_attribute(name, False)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x)[:, :self.full_latent_size]  # mean, no sampling
        z = z - self.latent_mean.unsqueeze(-1)
        z = F.conv1d(z, self.latent_pca.unsqueeze(-1))
        return z[:, :self.latent_size]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        # RAVE pads dimensions beyond latent_size with noise; here
        # latent_size == full_latent_size, so nothing is padded.
        z = F.conv1d(z, self.latent_pca.T.unsqueeze(-1))
        z = z + self.latent_mean.unsqueeze(-1)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.jit.export
    def get_learn_target(self) -> Tuple[bool]:
        return self.learn_target

    @torch.jit.export
    def set_learn_target(self, value: bool) -> int:
        self.learn_target = (value,)
        return 0

    @torch.jit.export
    def get_reset_target(self) -> Tuple[bool]:
        return self.reset_target

    @torch.jit.export
    def set_reset_target(self, value: bool) -> int:
        self.reset_target = (value,)
        return 0

    @torch.jit.export
    def get_learn_source(self) -> Tuple[bool]:
        return self.learn_source

    @torch.jit.export
    def set_learn_source(self, value: bool) -> int:
        self.learn_source = (value,)
        return 0

    @torch.jit.export
    def get_reset_source(self) -> Tuple[bool]:
        return self.reset_source

    @torch.jit.export
    def set_reset_source(self, value: bool) -> int:
        self.reset_source = (value,)
        return 0


class RaveV1Demo(nn.Module):
    """Mirrors RAVE 1.x's exported TraceModel: tensor buffers for the
    metadata, *_params buffers, no get_methods/get_attributes."""

    def __init__(self, encoder, decoder, latent_mean, latent_pca, fidelity,
                 sr: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.register_buffer("latent_pca", latent_pca)
        self.register_buffer("latent_mean", latent_mean)
        self.register_buffer("fidelity", fidelity)
        self.register_buffer("sampling_rate", torch.tensor(sr))
        self.register_buffer("latent_size", torch.tensor(LATENT))
        self.register_buffer("max_batch_size", torch.tensor(MAX_BATCH))
        self.register_buffer("encode_params",
                             torch.tensor([1, 1, LATENT, RATIO]))
        self.register_buffer("decode_params",
                             torch.tensor([LATENT, RATIO, 1, 1]))
        self.register_buffer("forward_params", torch.tensor([1, 1, 1, 1]))

    @torch.jit.export
    def encode_amortized(self, x: torch.Tensor
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
        mean, scale = self.encoder(x).chunk(2, 1)
        std = F.softplus(scale) + 1e-4
        mean = mean - self.latent_mean.unsqueeze(-1)
        mean = F.conv1d(mean, self.latent_pca.unsqueeze(-1))
        # Rotating a diagonal Gaussian is not diagonal; |PCA| is the same
        # cheap approximation of the per-dimension spread RAVE 1.x used.
        std = F.conv1d(std, self.latent_pca.abs().unsqueeze(-1))
        return mean, std

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode_amortized(x)[0]

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = F.conv1d(z, self.latent_pca.T.unsqueeze(-1))
        z = z + self.latent_mean.unsqueeze(-1)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def build(cls, sr: int, seed: int) -> torch.jit.ScriptModule:
    encoder, decoder = build_encoder(), build_decoder()
    init_weights(encoder, seed)
    init_weights(decoder, seed + 1)
    stats = calibrate(encoder, decoder, sr)
    model = cls(encoder, decoder, *stats, sr=sr).eval()
    # Inference-only weights: a host that forgets NoGradGuard then still
    # builds no autograd graph. (Real RAVE exports keep requires_grad.)
    model.requires_grad_(False)
    return torch.jit.script(model)


# ---------------------------------------------------------------- checks --

def rms(x: torch.Tensor) -> float:
    return x.pow(2).mean().sqrt().item()


def check_streaming(path: str, sr: int) -> None:
    """Fresh load for each path so both start from zero caches."""
    x = test_sine(sr, 3.0) + 0.1 * torch.randn(1, 1, test_sine(sr, 3.0)
                                                .shape[-1])
    for method, ratio_in in (("forward", 1), ("encode", 1), ("decode", RATIO)):
        inp = x if ratio_in == 1 else torch.jit.load(path).encode(x)
        whole = getattr(torch.jit.load(path), method)(inp)
        chunked = run_chunked(getattr(torch.jit.load(path), method), inp,
                              CHUNK_PATTERN, ratio_in)
        diff = (whole - chunked).abs().max().item()
        assert whole.shape == chunked.shape, (whole.shape, chunked.shape)
        assert diff < 1e-5, f"{path} {method}: streaming diff {diff}"


def check_common(path: str, sr: int) -> dict:
    size = os.path.getsize(path)
    assert size <= 5 * 2 ** 20, f"{path}: {size} bytes"
    m = torch.jit.load(path)
    n = 8 * RATIO
    assert tuple(m.encode(torch.zeros(1, 1, n)).shape) == (1, LATENT, n // RATIO)
    assert tuple(m.decode(torch.zeros(1, LATENT, n // RATIO)).shape) == (1, 1, n)
    assert tuple(m.forward(torch.zeros(1, 1, n)).shape) == (1, 1, n)
    assert tuple(torch.jit.load(path).forward(torch.zeros(2, 1, n)).shape) \
        == (2, 1, n)
    assert m.encode_params.tolist() == [1, 1, LATENT, RATIO]
    assert m.decode_params.tolist() == [LATENT, RATIO, 1, 1]
    assert m.forward_params.tolist() == [1, 1, 1, 1]
    for name in ("latent_pca", "latent_mean", "fidelity"):
        assert hasattr(m, name), name

    y = torch.jit.load(path).forward(test_sine(sr))
    out_rms = rms(y)
    assert torch.isfinite(y).all() and 0.01 <= out_rms <= 1.0, out_rms
    silence = rms(torch.jit.load(path).forward(torch.zeros(1, 1, 16 * RATIO)))
    check_streaming(path, sr)

    # Per-block cost as nn~ sees it: one 2048-sample call on a warm model.
    m = torch.jit.load(path)
    blk = torch.zeros(1, 1, 2048)
    for _ in range(10):
        m.forward(blk)
    times = []
    for _ in range(100):
        t0 = time.perf_counter()
        m.forward(blk)
        times.append(time.perf_counter() - t0)
    return dict(size=size, rms=out_rms, silence_rms=silence,
                ms=1e3 * float(np.median(times)),
                realtime_ms=1e3 * 2048 / sr)


def check_v2(path: str) -> dict:
    m = torch.jit.load(path)
    assert m.get_methods() == ["encode", "decode", "forward"], m.get_methods()
    attrs = ["learn_target", "reset_target", "learn_source", "reset_source"]
    assert m.get_attributes() == attrs, m.get_attributes()
    for a in attrs:
        assert getattr(m, f"{a}_params").tolist() == [0.0]
        assert getattr(m, f"{a}_params").dtype == torch.float32
        assert getattr(m, f"get_{a}")() == (False,)
        assert getattr(m, f"set_{a}")(True) == 0
        assert getattr(m, f"get_{a}")() == (True,)
    assert m.sr == 44100 and m.latent_size == LATENT
    assert m.full_latent_size == LATENT and m.n_channels == 1
    assert m.input_mode == "pqmf"
    return check_common(path, 44100)


def check_v1(path: str) -> dict:
    m = torch.jit.load(path)
    assert not hasattr(m, "get_methods")
    assert int(m.sampling_rate) == 48000 and int(m.latent_size) == LATENT
    assert int(m.max_batch_size) == MAX_BATCH
    x = test_sine(48000)
    mean, std = m.encode_amortized(x)
    assert mean.shape == std.shape == (1, LATENT, x.shape[-1] // RATIO)
    assert bool((std > 0).all())
    assert torch.equal(mean, torch.jit.load(path).encode(x))
    return check_common(path, 48000)


def main() -> None:
    torch.set_grad_enabled(False)
    v2 = os.path.join(HERE, "rave_demo.ts")
    v1 = os.path.join(HERE, "rave_v1_demo.ts")
    build(RaveV2Demo, 44100, seed=2048).save(v2)
    build(RaveV1Demo, 48000, seed=1048).save(v1)
    for path, check in ((v2, check_v2), (v1, check_v1)):
        r = check(path)
        print(f"{os.path.relpath(path, os.path.dirname(HERE))}: "
              f"{r['size']} bytes, sine RMS {r['rms']:.3f}, "
              f"silence RMS {r['silence_rms']:.2g}, forward(2048) "
              f"{r['ms']:.2f} ms (real time {r['realtime_ms']:.1f} ms)")


if __name__ == "__main__":
    pin_hash_seed()
    main()
