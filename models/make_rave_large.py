"""A RAVE-v2-sized model for the benchmark (not shipped, not committed).

  /usr/bin/python3 models/make_rave_large.py [OUT.ts]   (default build/bench/rave_v2_large.ts)

The layout and sizes of a RAVE v2 export (acids-ircam/RAVE, configs/v2.gin; REFERENCE.md
§1.2): a 16-band polyphase split standing in for the PQMF, an encoder of capacity 96 with
ratios (4, 4, 4, 2) (16 x 4 x 4 x 4 x 2 = 2048), each level a causal residual stack with
dilations 1, 3, 9 (kernel 3) and a strided down-sampling conv doubling the channels, a
variational head (2 x 128 latent channels, 16 kept), and the mirrored decoder (nearest
up-sampling + cached convs, residual stacks, tanh). About 31.5 M parameters, 44.1 kHz, the nn~
contract with RAVE v2's members (get_methods, get_attributes, sr, latent_pca, ...).

The weights are random (seeded): this is a stand-in for the cost of a real export (its sizes,
its shapes, its file), not a model that sounds like anything. Streaming is exact (cached
convolutions), so it plays through rave~ like a real export. Deterministic: encode returns the
posterior mean, decode pads the unused latent dimensions with zeros instead of noise.
"""
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from make_rave import RaveV2Demo  # noqa: E402
from nn_module import NNModule, pin_hash_seed  # noqa: E402
from streaming import (CachedConv1d, CachedUpsample, PolyphaseMerge,  # noqa: E402
                       PolyphaseSplit, reset_caches)

SR = 44100
BANDS = 16
CAPACITY = int(os.environ.get("RAVE_LARGE_CAPACITY", "89"))
RATIOS = (4, 4, 4, 2)
RATIO = BANDS * math.prod(RATIOS)  # 2048
FULL_LATENT = 128
LATENT = 16
DILATIONS = (1, 3, 9)
MAX_BATCH = 1


def act() -> nn.Module:
    return nn.LeakyReLU(0.2)


class Residual(nn.Module):
    """x + 1x1(act(dilated k3(act(x)))), causal and cached."""

    def __init__(self, ch: int, dilation: int) -> None:
        super().__init__()
        self.a1 = act()
        self.conv = CachedConv1d(ch, ch, 3, dilation=dilation, max_batch=MAX_BATCH)
        self.a2 = act()
        self.proj = CachedConv1d(ch, ch, 1, max_batch=MAX_BATCH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj(self.a2(self.conv(self.a1(x))))


def stack(ch: int) -> nn.Sequential:
    return nn.Sequential(*[Residual(ch, d) for d in DILATIONS])


def build_encoder() -> nn.Sequential:
    layers = [PolyphaseSplit(BANDS), CachedConv1d(BANDS, CAPACITY, 7, max_batch=MAX_BATCH)]
    ch = CAPACITY
    for r in RATIOS:
        layers += [stack(ch), act(),
                   CachedConv1d(ch, 2 * ch, 2 * r, stride=r, max_batch=MAX_BATCH)]
        ch *= 2
    layers += [act(), CachedConv1d(ch, 2 * FULL_LATENT, 3, max_batch=MAX_BATCH)]
    return nn.Sequential(*layers)


def build_decoder() -> nn.Sequential:
    ch = CAPACITY * 2 ** len(RATIOS)
    layers = [CachedConv1d(FULL_LATENT, ch, 3, max_batch=MAX_BATCH)]
    for r in reversed(RATIOS):
        layers += [act(), CachedUpsample(ch, ch // 2, r, 2 * r, max_batch=MAX_BATCH),
                   stack(ch // 2)]
        ch //= 2
    layers += [act(), CachedConv1d(ch, BANDS, 7, max_batch=MAX_BATCH), nn.Tanh(),
               PolyphaseMerge(BANDS)]
    return nn.Sequential(*layers)


def init_weights(module: nn.Module, seed: int) -> None:
    """Variance-preserving init; residual branches scaled down so the stacks stay bounded."""
    g = torch.Generator().manual_seed(seed)
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv1d):
            fan_in = m.in_channels * m.kernel_size[0]
            scale = 0.2 if name.endswith("proj.conv") else 1.0
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * scale
                               * math.sqrt(2.0 / fan_in))
                m.bias.zero_()


class RaveV2Large(RaveV2Demo):
    """RAVE v2's ScriptedRAVE members at v2 sizes: encode, forward and the attribute
    accessors are make_rave.py's; decode pads the latents kept to the full size."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        NNModule.__init__(self)  # RaveV2Demo's __init__ fixes the demo's sizes
        self.encoder = encoder
        self.decoder = decoder
        self.sr = SR
        self.full_latent_size = FULL_LATENT
        self.latent_size = LATENT
        self.n_channels = 1
        self.input_mode = "pqmf"
        self.stereo = False
        self.register_buffer("latent_pca", torch.eye(FULL_LATENT))
        self.register_buffer("latent_mean", torch.zeros(FULL_LATENT))
        self.register_buffer("fidelity", torch.linspace(0.5, 1.0, FULL_LATENT))
        self.register_method("encode", 1, 1, LATENT, RATIO)
        self.register_method("decode", LATENT, RATIO, 1, 1)
        self.register_method("forward", 1, 1, 1, 1)
        for name in ("learn_target", "reset_target", "learn_source", "reset_source"):
            self.register_attribute(name, False)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        pad = torch.zeros(z.shape[0], self.full_latent_size - z.shape[1], z.shape[2])
        z = torch.cat([z, pad], 1)
        z = F.conv1d(z, self.latent_pca.T.unsqueeze(-1))
        z = z + self.latent_mean.unsqueeze(-1)
        return self.decoder(z)


def per_call_ms(fn, x, n=20) -> float:
    for _ in range(3):
        fn(x)
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(x)
        t.append(time.perf_counter() - t0)
    return 1e3 * sorted(t)[n // 2]


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "build", "bench", "rave_v2_large.ts")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.set_grad_enabled(False)
    torch.set_num_threads(1)
    encoder, decoder = build_encoder(), build_decoder()
    init_weights(encoder, 2)
    init_weights(decoder, 3)
    model = RaveV2Large(encoder, decoder).eval()
    model.requires_grad_(False)
    params = sum(p.numel() for p in model.parameters())
    x = 0.5 * torch.sin(2 * math.pi * 440 * torch.arange(4 * RATIO) / SR)[None, None]
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    reset_caches(model)
    scripted = torch.jit.script(model)
    tmp = out + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, out)
    m = torch.jit.load(out)
    assert m.get_methods() == ["encode", "decode", "forward"]
    z = torch.zeros(1, LATENT, 1)
    blk = torch.zeros(1, 1, RATIO)
    print(f"{out}: {params / 1e6:.2f} M parameters, {os.path.getsize(out) / 1e6:.1f} MB, "
          f"capacity {CAPACITY}; one thread: decode(2048) {per_call_ms(m.decode, z):.1f} ms, "
          f"forward(2048) {per_call_ms(m.forward, blk):.1f} ms "
          f"(real time {1e3 * RATIO / SR:.1f} ms)")


if __name__ == "__main__":
    pin_hash_seed()
    main()
