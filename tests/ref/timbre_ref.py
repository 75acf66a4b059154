#!/usr/bin/python3
"""Independent reference for the timbre~ tests: one call of a timbre-space model, and the
pitch conditioning the model expects.

usage: /usr/bin/python3 tests/ref/timbre_ref.py [--threads N] [--note NOTE]
           MODEL.ts encode|decode IN.f32 IN_CHANNELS OUT.f32
       /usr/bin/python3 tests/ref/timbre_ref.py MODEL.ts cond NOTE [OUT.f32]

encode / decode: IN.f32 is raw little-endian float32, channel-major ([IN_CHANNELS][F]: all
of channel 0, then channel 1, ...). The model is loaded fresh and the method is called once
on the whole input shaped [1, IN_CHANNELS, F]; the output [1, C, F] is written to OUT.f32 in
the same channel-major float32 layout.
  encode: IN_CHANNELS = 410 CQ log-magnitudes (natural log of max(cq, 1e-6), as
          models/features.py cq_features gives them), output latent_size channels (the
          posterior mean).
  decode: IN_CHANNELS = latent_size + 12 + n_octaves (latent, pitch-class one-hot, octave
          one-hot), output 410 CQ log-magnitudes. With --note NOTE, IN.f32 may hold only
          the latent_size latent channels: the conditioning of NOTE (below) is appended to
          every frame before the call.

cond: prints the 12 + n_octaves conditioning values of MIDI note NOTE (a float) on one line
and, with OUT.f32, also writes them as float32. The rule (cond() below):
  n = floor(NOTE + 0.5)                      (round half up: 60.5 -> 61, 60.49 -> 60)
  pitch class = n mod 12                     (0 = C; always in 0..11)
  octave = floor(n / 12) - 1                 (MIDI 60 = C4 -> 4, 59 -> 3, 0 -> -1)
  octave clamped to [octave_min, octave_min + n_octaves - 1] (the model's attributes)
  one-hot: value[pitch class] = 1, value[12 + octave - octave_min] = 1, all others 0.

Silent on success (except cond's line); on failure prints the reason to stderr and exits
non-zero.
"""
import argparse
import math
import sys

import numpy as np
import torch


def attr(model, name: str):
    """First value of a get_<name>() attribute."""
    return getattr(model, "get_" + name)()[0]


def cond(note: float, octave_min: int, n_octaves: int) -> np.ndarray:
    """The 12 + n_octaves one-hot conditioning of MIDI note `note` (float32)."""
    if not math.isfinite(note):
        raise ValueError(f"note {note} is not finite")
    n = math.floor(note + 0.5)
    octave = min(max(n // 12 - 1, octave_min), octave_min + n_octaves - 1)
    v = np.zeros(12 + n_octaves, dtype=np.float32)
    v[n % 12] = 1.0
    v[12 + octave - octave_min] = 1.0
    return v


def model_cond(model, note: float) -> np.ndarray:
    return cond(note, int(attr(model, "octave_min")), int(attr(model, "n_octaves")))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("method", choices=["encode", "decode", "cond"])
    p.add_argument("args", nargs="+")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's own)")
    p.add_argument("--note", type=float, default=None,
                   help="decode: append the conditioning of this MIDI note to the latents")
    a = p.parse_args()
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    model = torch.jit.load(a.model, map_location="cpu")
    for name in ("latent_size", "octave_min", "n_octaves"):
        if not hasattr(model, "get_" + name):
            sys.exit(f"timbre_ref: {a.model} has no get_{name}: not a timbre-space model")
    latent = int(attr(model, "latent_size"))
    n_cond = 12 + int(attr(model, "n_octaves"))

    if a.method == "cond":
        if len(a.args) not in (1, 2):
            sys.exit("timbre_ref: cond takes NOTE [OUT.f32]")
        v = model_cond(model, float(a.args[0]))
        print(" ".join(f"{x:g}" for x in v))
        if len(a.args) == 2:
            v.astype("<f4").tofile(a.args[1])
        return 0

    if len(a.args) != 3:
        sys.exit(f"timbre_ref: {a.method} takes IN.f32 IN_CHANNELS OUT.f32")
    inp, in_ch, out = a.args[0], int(a.args[1]), a.args[2]
    data = np.fromfile(inp, dtype="<f4")
    if in_ch <= 0 or data.size == 0 or data.size % in_ch:
        sys.exit(f"timbre_ref: {data.size} values do not split into {in_ch} channels")
    x = data.reshape(in_ch, -1).astype(np.float32)
    if a.method == "decode" and a.note is not None:
        if in_ch != latent:
            sys.exit(f"timbre_ref: with --note, IN_CHANNELS must be latent_size {latent}")
        c = model_cond(model, a.note)
        x = np.concatenate([x, np.repeat(c[:, None], x.shape[1], axis=1)], axis=0)
    expect_in = 410 if a.method == "encode" else latent + n_cond
    if x.shape[0] != expect_in:
        sys.exit(f"timbre_ref: {a.method} takes {expect_in} channels, got {x.shape[0]}")
    with torch.no_grad():
        y = getattr(model, a.method)(torch.from_numpy(x.copy())[None])
    expect_out = latent if a.method == "encode" else 410
    if not isinstance(y, torch.Tensor) or tuple(y.shape) != (1, expect_out, x.shape[1]):
        sys.exit(f"timbre_ref: {a.method} returned {type(y).__name__} "
                 f"{getattr(y, 'shape', '')}, expected [1, {expect_out}, {x.shape[1]}]")
    y[0].contiguous().numpy().astype("<f4").tofile(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
