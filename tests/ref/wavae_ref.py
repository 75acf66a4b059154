#!/usr/bin/python3
"""Independent reference for the wavae~ tests: consecutive fixed-size calls.

usage: /usr/bin/python3 tests/ref/wavae_ref.py [--n N] [--threads N]
           MODEL.ts METHOD IN.f32 IN_CHANNELS OUT.f32

A WaVAE export takes a fixed buffer of N host samples (the `_NNNNb` suffix
of its file name, or --n) and keeps streaming state (analysis buffer,
cached convs) between calls, so the reference is the fresh model called
on consecutive pieces of the input, not one call on the whole of it.

IN.f32 is raw little-endian float32, channel-major ([in_ch][T]).
METHOD encode | forward | melencode: IN_CHANNELS 1, T a multiple of N;
  each call gets a 2-D [1, N] piece.
METHOD decode: IN_CHANNELS latent channels (17: loudness + 16), T frames,
  a multiple of N / 512; each call gets [1, IN_CHANNELS, N / 512].
The outputs ([1, C, t] each) are concatenated along time and written to
OUT.f32 channel-major float32. Silent on success; on failure prints the
reason to stderr and exits non-zero.
"""
import argparse
import os
import re
import sys

import numpy as np
import torch

FRAME = 512   # host samples per latent frame in WaVAE exports


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("method", choices=("encode", "decode", "forward",
                                      "melencode"))
    p.add_argument("input")
    p.add_argument("in_channels", type=int)
    p.add_argument("output")
    p.add_argument("--n", type=int, default=None,
                   help="buffer size N (default: from the _NNNNb suffix)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's own)")
    a = p.parse_args()

    n = a.n
    if n is None:
        m = re.search(r"_(\d+)b\.ts$", os.path.basename(a.model))
        if m is None:
            sys.exit(f"wavae_ref: no _NNNNb suffix in {a.model}; pass --n")
        n = int(m.group(1))
    if n <= 0 or n % FRAME:
        sys.exit(f"wavae_ref: buffer size {n} is not a multiple of {FRAME}")
    if a.threads is not None:
        torch.set_num_threads(a.threads)

    data = np.fromfile(a.input, dtype="<f4")
    if a.in_channels <= 0 or data.size % a.in_channels:
        sys.exit(f"wavae_ref: {data.size} samples do not split into "
                 f"{a.in_channels} channels")
    x = torch.from_numpy(data.reshape(a.in_channels, -1).copy())
    if a.method == "decode":
        step = n // FRAME
    else:
        if a.in_channels != 1:
            sys.exit(f"wavae_ref: {a.method} takes 1 channel, not "
                     f"{a.in_channels}")
        step = n
    if x.shape[1] == 0 or x.shape[1] % step:
        sys.exit(f"wavae_ref: {x.shape[1]} time steps is not a positive "
                 f"multiple of {step}")

    model = torch.jit.load(a.model, map_location="cpu")
    method = getattr(model, a.method, None)
    if method is None:
        sys.exit(f"wavae_ref: {a.model} has no method {a.method!r}")
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[1], step):
            piece = x[:, i:i + step]
            y = method(piece[None] if a.method == "decode" else piece)
            if not isinstance(y, torch.Tensor) or y.dim() != 3 \
                    or y.shape[0] != 1:
                sys.exit(f"wavae_ref: {a.method} returned "
                         f"{type(y).__name__} {getattr(y, 'shape', '')}, "
                         "expected a [1, C, t] tensor")
            outs.append(y[0])
    y = torch.cat(outs, -1)
    y.contiguous().numpy().astype("<f4").tofile(a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
