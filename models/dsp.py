"""Pieces of the synthesisers inside the exported demo models (make_ddsp.py, make_rave.py,
make_wavae.py, make_vschaos.py), compiled into each .ts by torch.jit.script."""
import math

import torch


def hash_uniform(idx: torch.Tensor, seed: int) -> torch.Tensor:
    """Uniform floats in [0, 1) for int64 stream positions idx: an integer hash (two
    xorshift-multiply rounds) of each position XOR seed. Unlike torch.rand it depends only on
    the position, so a stream cut into any calls gives the same noise and tests compare
    exactly."""
    mask = 0xFFFFFFFF
    mul = 0x45D9F3B       # < 2**27: products stay inside int64
    h = (idx & mask) ^ seed
    h = h ^ (h >> 16)
    h = (h * mul) & mask
    h = h ^ (h >> 16)
    h = (h * mul) & mask
    h = h ^ (h >> 16)
    return (h >> 8).float() * (1.0 / 16777216.0)


def hash_noise(idx: torch.Tensor, seed: int) -> torch.Tensor:
    """White noise in [-1, 1) from hash_uniform (exact: the scalings are powers of two)."""
    return hash_uniform(idx, seed) * 2.0 - 1.0


def scale_function(x: torch.Tensor) -> torch.Tensor:
    """ddsp_pytorch's exponentiated sigmoid: (1e-7, 2]."""
    return 2 * torch.sigmoid(x) ** math.log(10) + 1e-7
