"""check_counter.py IN.wav OUT.wav LAT [A:B ...]: checks a render of a counter signal.

IN holds what entered the object (a sample counter, never 0 once started), OUT what came
out. Every non-zero output sample must equal the input LAT samples earlier: audio is never
repeated or shifted, only replaced by silence. Prints one line of key=value:
  n            samples compared
  nonfinite    NaN/Inf samples in OUT
  early        non-zero output samples before LAT (impossible with a latency of LAT)
  mismatch     non-zero output samples != input at the latency
  first        index of the first mismatch (-1: none)
  nonzero      fraction of output samples from LAT on that are non-zero
  runs         number of runs of non-zero output samples (each gap is silence)
  winK         the same fraction as nonzero between seconds A and B of the K-th A:B argument
"""
import sys

import numpy as np
import soundfile as sf

inp, sr = sf.read(sys.argv[1], dtype="float32")
out, _ = sf.read(sys.argv[2], dtype="float32")
lat = int(sys.argv[3])
n = min(len(inp), len(out))
inp, out = inp[:n], out[:n]
fin = np.isfinite(out)
res = {"n": n, "nonfinite": int((~fin).sum())}
out = np.where(fin, out, 0)
res["early"] = int(np.count_nonzero(out[:lat]))
o, i = out[lat:], inp[: n - lat]
bad = (o != 0) & (o != i)
res["mismatch"] = int(bad.sum())
res["first"] = int(np.argmax(bad)) + lat if bad.any() else -1
res["nonzero"] = round(float(np.count_nonzero(o)) / max(len(o), 1), 4)
nz = np.concatenate([[0], (out != 0).astype(np.int8), [0]])
res["runs"] = int((np.diff(nz) == 1).sum())
for k, w in enumerate(sys.argv[4:], 1):
    a, b = (int(float(v) * sr) for v in w.split(":"))
    seg = out[max(a, lat) : b]
    res[f"win{k}"] = round(float(np.count_nonzero(seg)) / max(len(seg), 1), 4)
print(" ".join(f"{k}={v}" for k, v in res.items()))
