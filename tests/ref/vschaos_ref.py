#!/usr/bin/python3
"""Independent reference for the vschaos~ tests: consecutive block calls.

usage: /usr/bin/python3 tests/ref/vschaos_ref.py [--threads N]
           MODEL.ts METHOD IN.f32 IN_CHANNELS OUT.f32 --block N
           [--set NAME VALUE]...

A vschaos2 export keeps streaming state (analysis history, phases,
overlap-add tail) between calls, so the reference is the freshly loaded
model called on consecutive pieces of the input. Each --set calls
set_NAME(VALUE) first, in order (VALUE converted to the attribute's type
from NAME_params: bool 0, int 1, float 2, str 3); a non-zero return is an
error.

IN.f32 is raw little-endian float32, channel-major ([in_ch][T]).
METHOD encode | forward (or any audio-rate method): T a multiple of N,
  each call gets [1, IN_CHANNELS, N].
METHOD decode (in_ratio > 1, read from decode_params): the input is at
  latent rate; T frames, a multiple of N / ratio, each call gets
  [1, IN_CHANNELS, N / ratio].
The outputs ([1, C, t] each) are concatenated along time and written to
OUT.f32 channel-major float32. Silent on success; on failure prints the
reason to stderr and exits non-zero.
"""
import argparse
import sys

import numpy as np
import torch


def convert(code: int, text: str):
    if code == 0:
        if text.lower() in ("1", "true", "on", "yes"):
            return True
        if text.lower() in ("0", "false", "off", "no"):
            return False
        raise ValueError(f"not a bool: {text!r}")
    if code == 1:
        return int(float(text)) if float(text).is_integer() else int(text)
    if code == 2:
        return float(text)
    if code == 3:
        return text
    raise ValueError(f"unsupported attribute type code {code}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("method")
    p.add_argument("input")
    p.add_argument("in_channels", type=int)
    p.add_argument("output")
    p.add_argument("--block", type=int, required=True,
                   help="samples per call (audio rate)")
    p.add_argument("--set", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"))
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's own)")
    a = p.parse_args()

    if a.threads is not None:
        torch.set_num_threads(a.threads)
    data = np.fromfile(a.input, dtype="<f4")
    if a.in_channels <= 0 or data.size % a.in_channels:
        sys.exit(f"vschaos_ref: {data.size} samples do not split into "
                 f"{a.in_channels} channels")
    x = torch.from_numpy(data.reshape(a.in_channels, -1).copy())[None]

    model = torch.jit.load(a.model, map_location="cpu")
    method = getattr(model, a.method, None)
    params = getattr(model, f"{a.method}_params", None)
    if method is None or params is None:
        sys.exit(f"vschaos_ref: {a.model} has no method {a.method!r} "
                 "with a _params buffer")
    in_ch, in_ratio = int(params[0]), int(params[1])
    if in_ch != a.in_channels:
        sys.exit(f"vschaos_ref: {a.method} takes {in_ch} channels, not "
                 f"{a.in_channels}")
    for name, value in a.set:
        codes = getattr(model, f"{name}_params", None)
        setter = getattr(model, f"set_{name}", None)
        if codes is None or setter is None:
            sys.exit(f"vschaos_ref: no attribute {name!r}")
        try:
            v = convert(int(codes[0]), value)
        except ValueError as e:
            sys.exit(f"vschaos_ref: {name}: {e}")
        rc = setter(v)
        if rc != 0:
            sys.exit(f"vschaos_ref: set_{name}({value!r}) returned {rc}")

    if a.block <= 0 or a.block % in_ratio:
        sys.exit(f"vschaos_ref: block {a.block} is not a multiple of the "
                 f"input ratio {in_ratio}")
    step = a.block // in_ratio
    if x.shape[-1] == 0 or x.shape[-1] % step:
        sys.exit(f"vschaos_ref: {x.shape[-1]} time steps is not a positive "
                 f"multiple of {step}")
    outs = []
    with torch.no_grad():
        for i in range(0, x.shape[-1], step):
            y = method(x[:, :, i:i + step])
            if not isinstance(y, torch.Tensor) or y.dim() != 3 \
                    or y.shape[0] != 1:
                sys.exit(f"vschaos_ref: {a.method} returned "
                         f"{type(y).__name__} {getattr(y, 'shape', '')}, "
                         "expected a [1, C, t] tensor")
            outs.append(y[0])
    y = torch.cat(outs, -1)
    y.contiguous().numpy().astype("<f4").tofile(a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
