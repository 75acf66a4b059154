"""Causal, cached building blocks for streaming audio models.

Every layer keeps the tail of its previous input in a buffer (updated in
place), so feeding a signal chunk by chunk to a fresh module gives exactly
the same output as feeding it whole: the zero-initialised cache plays the
role of the causal left padding. Chunk lengths must be multiples of the
cumulative stride seen by each layer (nn~ buffers are multiples of the
model ratio, which guarantees it).

Run standalone to self-test whole-vs-chunked equivalence.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CachedConv1d(nn.Module):
    """Causal Conv1d whose left context comes from the previous call."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, dilation: int = 1, bias: bool = True,
                 max_batch: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size,
                              stride=stride, dilation=dilation, bias=bias)
        self.stride = stride
        # (k-1)*d past samples are exactly what a causal output needs; with
        # chunks that are multiples of the stride, the strided output grid
        # stays aligned across calls, so no extra phase state is needed.
        self.pad = (kernel_size - 1) * dilation
        self.register_buffer("cache", torch.zeros(max_batch, in_channels,
                                                  self.pad))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        n = x.shape[-1]
        xc = torch.cat([self.cache[:b], x], -1)
        # xc is a fresh tensor, so overwriting the cache cannot alias it.
        # Slicing from n (not -pad) keeps pad == 0 correct.
        self.cache[:b].copy_(xc[..., n:])
        return self.conv(xc)


class CachedUpsample(nn.Module):
    """Nearest-neighbour upsampling followed by a cached causal conv.

    Repetition is memoryless, so all streaming state lives in the conv; a
    transposed conv would need its own overlap-add cache.
    """

    def __init__(self, in_channels: int, out_channels: int, ratio: int,
                 kernel_size: int, max_batch: int = 4) -> None:
        super().__init__()
        self.ratio = ratio
        self.conv = CachedConv1d(in_channels, out_channels, kernel_size,
                                 max_batch=max_batch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.repeat_interleave(self.ratio, dim=-1))


class PolyphaseSplit(nn.Module):
    """[B, 1, N] -> [B, bands, N/bands]: band k, frame m = x[bands*m + k].

    A lossless, perfectly invertible (and trivially causal) stand-in for
    RAVE's PQMF filter bank.
    """

    def __init__(self, bands: int) -> None:
        super().__init__()
        self.bands = bands

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        n = x.shape[-1]
        return x.reshape(b, n // self.bands, self.bands).transpose(1, 2)


class PolyphaseMerge(nn.Module):
    """Inverse of PolyphaseSplit: [B, bands, M] -> [B, 1, M*bands]."""

    def __init__(self, bands: int) -> None:
        super().__init__()
        self.bands = bands

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        m = x.shape[-1]
        return x.transpose(1, 2).reshape(b, 1, m * self.bands)


def reset_caches(module: nn.Module) -> None:
    """Zero every streaming cache (e.g. after a calibration pass in eager
    mode, so the saved model starts from silence)."""
    for sub in module.modules():
        if isinstance(sub, CachedConv1d):
            sub.cache.zero_()


def offline_forward(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Non-streaming equivalent of a fresh module on the whole signal, for
    training: each CachedConv1d becomes a plain conv on zero left padding
    (what its zero cache holds at the start), so it is differentiable,
    touches no cache and takes any batch size. Recurses into Sequentials;
    other layers are called as they are (stateless ones only)."""
    if isinstance(module, CachedConv1d):
        c = module.conv
        return F.conv1d(F.pad(x, (module.pad, 0)), c.weight, c.bias,
                        c.stride, 0, c.dilation)
    if isinstance(module, CachedUpsample):
        return offline_forward(module.conv,
                               x.repeat_interleave(module.ratio, dim=-1))
    if isinstance(module, nn.Sequential):
        for sub in module:
            x = offline_forward(sub, x)
        return x
    return module(x)


def run_chunked(fn, x: torch.Tensor, sizes, ratio_in: int = 1):
    """Call fn on consecutive chunks of x (sizes in samples at the model's
    audio rate, divided by ratio_in for latent-rate inputs) and concatenate."""
    out, pos, i = [], 0, 0
    while pos < x.shape[-1]:
        n = sizes[i % len(sizes)] // ratio_in
        out.append(fn(x[..., pos:pos + n]))
        pos += n
        i += 1
    return torch.cat(out, -1)


CHUNK_PATTERN = (2048, 4096, 2048, 2048, 4096)


def _self_test() -> None:
    torch.manual_seed(0)

    def build(script: bool = True):
        torch.manual_seed(1)
        seq = nn.Sequential(
            PolyphaseSplit(16),
            CachedConv1d(16, 8, 5),
            CachedConv1d(8, 8, 3, dilation=3),
            CachedConv1d(8, 8, 8, stride=4),
            CachedConv1d(8, 8, 16, stride=8),
            CachedUpsample(8, 8, 8, 16),
            CachedUpsample(8, 16, 4, 8),
            PolyphaseMerge(16),
        )
        return torch.jit.script(seq) if script else seq

    x = torch.randn(1, 1, 2048 * 20)
    with torch.no_grad():
        whole = build()(x)
        chunked = run_chunked(build(), x, CHUNK_PATTERN)
        eager = build(script=False)
        offline = offline_forward(eager, torch.cat([x, 2 * x]))
    diff = (whole - chunked).abs().max().item()
    diff_off = (offline[:1] - whole).abs().max().item()
    assert whole.shape == x.shape, whole.shape
    assert diff < 1e-5, diff
    assert diff_off < 1e-5, diff_off
    print(f"streaming self-test ok: max |whole - chunked| = {diff:.3g}, "
          f"|whole - offline_forward| = {diff_off:.3g}")


if __name__ == "__main__":
    _self_test()
