#!/usr/bin/python3
"""Independent reference for the flowsynth~ tests: one call of a FlowSynth model, and the
log-mel front-end it expects.

usage: /usr/bin/python3 tests/ref/flowsynth_ref.py [--threads N]
           MODEL.ts encode|decode|forward IN.f32 IN_CHANNELS FRAMES OUT.f32
       /usr/bin/python3 tests/ref/flowsynth_ref.py mel [--frames-major] IN.f32 OUT.f32

encode / decode / forward: IN.f32 is raw little-endian float32, channel-major
([IN_CHANNELS][FRAMES]: all of channel 0, then channel 1, ...), exactly IN_CHANNELS * FRAMES
values. The model is loaded fresh and the method is called once on the input shaped
[1, IN_CHANNELS, FRAMES]; the output [1, C, T] is written to OUT.f32 in the same
channel-major float32 layout ([C][T]).
  encode:  IN_CHANNELS 64 log-mel bands (log(mel + 1e-3), not normalised: the model
           normalises with its mel_mean / mel_std buffers), FRAMES a multiple of 80 (each
           80-frame block is one window) -> [latent_size][FRAMES / 80] latents.
  decode:  IN_CHANNELS latent_size, any FRAMES -> [n_params][FRAMES], in [0, 1].
  forward: as encode -> [n_params][FRAMES / 80].

mel: IN.f32 is a mono float32 signal at 22050 Hz; OUT.f32 gets models/features.py's
mel_features of it, float32, channel-major [64][n_frames] (the layout encode takes), or
with --frames-major [n_frames][64]. Frames are not centred: frame i covers samples
[1024 i, 1024 i + 2048); n_frames = 1 + (len - 2048) // 1024 (0 if shorter than 2048).

Silent on success; on failure prints the reason to stderr and exits non-zero.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))


def run_mel(argv) -> int:
    p = argparse.ArgumentParser(prog="flowsynth_ref.py mel")
    p.add_argument("--frames-major", action="store_true",
                   help="write [n_frames][64] instead of [64][n_frames]")
    p.add_argument("input")
    p.add_argument("output")
    a = p.parse_args(argv)
    import features
    x = np.fromfile(a.input, dtype="<f4").astype(np.float64)
    m = features.mel_features(x)                      # [n_frames, 64]
    if m.size == 0:
        m = np.zeros((0, features.MEL_N_MELS))
    if not a.frames_major:
        m = m.T
    np.ascontiguousarray(m, dtype="<f4").tofile(a.output)
    return 0


def run_model(argv) -> int:
    p = argparse.ArgumentParser(prog="flowsynth_ref.py")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's own)")
    p.add_argument("model")
    p.add_argument("method", choices=["encode", "decode", "forward"])
    p.add_argument("input")
    p.add_argument("in_channels", type=int)
    p.add_argument("frames", type=int)
    p.add_argument("output")
    a = p.parse_args(argv)

    import torch
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    data = np.fromfile(a.input, dtype="<f4")
    if a.in_channels <= 0 or a.frames <= 0 or data.size != a.in_channels * a.frames:
        sys.exit(f"flowsynth_ref: {a.input} holds {data.size} values, expected "
                 f"{a.in_channels} x {a.frames}")
    x = torch.from_numpy(data.reshape(a.in_channels, a.frames).copy())[None]
    model = torch.jit.load(a.model, map_location="cpu")
    with torch.no_grad():
        y = getattr(model, a.method)(x)
    if not isinstance(y, torch.Tensor) or y.dim() != 3 or y.shape[0] != 1:
        sys.exit(f"flowsynth_ref: {a.method} returned {type(y).__name__} "
                 f"{getattr(y, 'shape', '')}, expected a [1, C, T] tensor")
    y[0].contiguous().numpy().astype("<f4").tofile(a.output)
    return 0


def main() -> int:
    argv = sys.argv[1:]
    if argv and argv[0] == "mel":
        return run_mel(argv[1:])
    return run_model(argv)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - report any failure on one line
        sys.exit(f"flowsynth_ref: {type(e).__name__}: {e}")
