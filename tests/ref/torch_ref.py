#!/usr/bin/python3
"""Independent reference for the C tests: run one TorchScript method once.

usage: /usr/bin/python3 tests/ref/torch_ref.py [--seed N] [--threads N]
           MODEL.ts METHOD IN.f32 IN_CHANNELS OUT.f32

IN.f32 is raw little-endian float32, channel-major ([in_ch][T]: all of
channel 0, then channel 1, ...). The model is loaded fresh (so streaming
caches start from zero), METHOD is called once on the whole input shaped
[1, IN_CHANNELS, T], and the output [1, out_ch, T_out] is written to
OUT.f32 in the same channel-major float32 layout. Silent on success;
on failure prints the reason to stderr and exits non-zero.
"""
import argparse
import sys

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("method")
    p.add_argument("input")
    p.add_argument("in_channels", type=int)
    p.add_argument("output")
    p.add_argument("--seed", type=int, default=None,
                   help="torch.manual_seed(N) right before the call")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's own)")
    a = p.parse_args()

    if a.threads is not None:
        torch.set_num_threads(a.threads)
    data = np.fromfile(a.input, dtype="<f4")
    if a.in_channels <= 0 or data.size % a.in_channels:
        sys.exit(f"torch_ref: {data.size} samples do not split into "
                 f"{a.in_channels} channels")
    x = torch.from_numpy(data.reshape(a.in_channels, -1).copy())[None]

    model = torch.jit.load(a.model, map_location="cpu")
    method = getattr(model, a.method, None)
    if method is None:
        sys.exit(f"torch_ref: {a.model} has no method {a.method!r}")
    if a.seed is not None:
        torch.manual_seed(a.seed)
    with torch.no_grad():
        y = method(x)

    if not isinstance(y, torch.Tensor) or y.dim() != 3 or y.shape[0] != 1:
        sys.exit(f"torch_ref: {a.method} returned "
                 f"{type(y).__name__} {getattr(y, 'shape', '')}, "
                 "expected a [1, C, T] tensor")
    # Cast (e.g. a float64 output) so the file is always float32 LE.
    y[0].contiguous().numpy().astype("<f4").tofile(a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
