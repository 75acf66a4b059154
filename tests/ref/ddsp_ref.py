#!/usr/bin/python3
"""Independent reference for the ddsp~ tests: one DDSP real-time call.

usage: /usr/bin/python3 tests/ref/ddsp_ref.py [--threads N]
           MODEL.ts PITCH.f32 LOUDNESS.f32 OUT.f32

PITCH.f32 (Hz) and LOUDNESS.f32 (dB, the model's training units) are raw
little-endian float32 of the same length T, a multiple of the model's
ddsp.block_size. The model (ddsp_pytorch export.py --realtime interface)
is loaded fresh, so its GRU state, phase and noise position start from
zero, and forward(pitch[1, T, 1], loudness[1, T, 1]) is called once on the
whole input. The output [1, T, 1] is written to OUT.f32 as T float32.
Silent on success; on failure prints the reason to stderr and exits
non-zero.
"""
import argparse
import sys

import numpy as np
import torch


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("pitch")
    p.add_argument("loudness")
    p.add_argument("output")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's own)")
    a = p.parse_args()

    if a.threads is not None:
        torch.set_num_threads(a.threads)
    pitch = np.fromfile(a.pitch, dtype="<f4")
    loud = np.fromfile(a.loudness, dtype="<f4")
    if pitch.size != loud.size:
        sys.exit(f"ddsp_ref: pitch has {pitch.size} samples, loudness "
                 f"{loud.size}")

    model = torch.jit.load(a.model, map_location="cpu")
    ddsp = getattr(model, "ddsp", None)
    if ddsp is None or not hasattr(ddsp, "block_size"):
        sys.exit(f"ddsp_ref: {a.model} has no ddsp.block_size: not a DDSP "
                 "real-time export")
    block = int(ddsp.block_size)
    if pitch.size == 0 or pitch.size % block:
        sys.exit(f"ddsp_ref: {pitch.size} samples is not a positive "
                 f"multiple of the block size {block}")
    x_pitch = torch.from_numpy(pitch.copy()).reshape(1, -1, 1)
    x_loud = torch.from_numpy(loud.copy()).reshape(1, -1, 1)
    with torch.no_grad():
        y = model(x_pitch, x_loud)

    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (1, pitch.size, 1):
        sys.exit(f"ddsp_ref: forward returned {type(y).__name__} "
                 f"{getattr(y, 'shape', '')}, expected [1, {pitch.size}, 1]")
    y.reshape(-1).contiguous().numpy().astype("<f4").tofile(a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
