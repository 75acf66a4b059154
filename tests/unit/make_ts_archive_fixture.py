#!/usr/bin/python3
"""Writes the fixtures of test_ts_archive.c into the directory given as argv[1].

  ts_archive.ts       a scripted module saved by torch.jit.save (top folder "ts_archive/")
  ts_archive_buf.ts   the same module saved to a buffer (top folder "archive/")
  ts_archive_z64.ts   the same archive rewritten with ZIP64 records everywhere
  ts_archive_defl.ts  the same archive with data.pkl DEFLATE-compressed (must fail)
  ts_archive_cut.ts   the first half of ts_archive.ts (must fail)
  ts_archive.expected what torch itself reports for every member, recursively:
      members<TAB>name<TAB>name...            top-level member names, in order
      name<TAB>count<TAB>t:value<TAB>...      t is b, i, f or s; f is Python's repr
      name<TAB>-1                             torch has no flat value (submodule, dict,
                                              tensor of more than 4096 elements)

Needs Debian's torch: run with /usr/bin/python3.
"""
import io
import os
import struct
import sys
import zipfile
import zlib
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

PEEK_MAX = 4096  # ACIDS_TS_PEEK_MAX


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.depth = 2
        self.register_buffer("x", torch.tensor([7, -8], dtype=torch.int32))

    def forward(self, x):
        return x


class Sub(nn.Module):
    def __init__(self):
        super().__init__()
        self.block_size = 512
        self.register_buffer("w", torch.tensor([1.5, -2.25, 3.0]))
        self.inner = Inner()

    def forward(self, x):
        return self.inner(x) * self.w[0]


class Fixture(nn.Module):
    _methods: List[str]
    ints: List[int]
    floats: List[float]
    tup: Tuple[int, float, str, bool]
    nested: List[List[int]]
    table: Dict[str, int]
    maybe: Optional[int]

    def __init__(self):
        super().__init__()
        self.sr = 44100
        self.neg = -123456
        self.big_int = 2**40 + 3
        self.min_int = -(2**63)
        self.gain = 0.1
        self.tiny = -1.5e-300
        self.flag = True
        self.off = False
        self.name = "hello acids"
        self.long_name = "x" * 100  # truncated to 63 characters
        self._methods = ["encode", "decode", "forward"]
        self.ints = [1, -2, 300000]
        self.floats = [0.5, -0.25]
        self.tup = (3, 2.5, "three", True)
        self.nested = [[1, 2], [], [3]]
        self.table = {"a": 1}
        self.maybe = None
        self.register_buffer("encode_params", torch.tensor([1, 1, 16, 2048]))
        self.register_buffer("decode_params", torch.tensor([16, 2048, 2, 1]))
        self.register_buffer("fb", torch.tensor([[1.0, 2.0, 3.0], [4.0, float("inf"), -0.1]]))
        self.register_buffer("bb", torch.tensor([True, False, True]))
        self.register_buffer("i32", torch.tensor([-1, 2**31 - 1], dtype=torch.int32))
        self.register_buffer("i16", torch.tensor([-300, 300], dtype=torch.int16))
        self.register_buffer("i8", torch.tensor([-128, 127], dtype=torch.int8))
        self.register_buffer("u8", torch.tensor([0, 255], dtype=torch.uint8))
        self.register_buffer("f64", torch.tensor([0.1, -1e200], dtype=torch.float64))
        self.register_buffer("f16", torch.tensor([0.1, -65504.0, 6e-8, 1.0], dtype=torch.float16))
        self.register_buffer("bf16", torch.tensor([0.1, -3.0e38], dtype=torch.bfloat16))
        self.register_buffer("scalar", torch.tensor(42))
        self.register_buffer("empty", torch.zeros(0, 3))
        base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
        self.register_buffer("base", base)
        self.register_buffer("transposed", base.t())  # strided view of base's storage
        self.register_buffer("window", base[1:3, 2:5])  # storage offset and strides
        self.register_buffer("exactly_max", torch.arange(PEEK_MAX, dtype=torch.int64))
        self.register_buffer("too_big", torch.zeros(PEEK_MAX + 1))
        self.sub = Sub()
        self.lin = nn.Linear(100, 100)

    def forward(self, x):
        return self.lin(x) + self.sub(x)


def flatten(v, out):
    """As acids_torch_read's Flattener; raises TypeError where it fails."""
    if v is None:
        return
    if isinstance(v, bool):
        out.append("b:%d" % int(v))
    elif isinstance(v, int):
        out.append("i:%d" % v)
    elif isinstance(v, float):
        out.append("f:%r" % v)
    elif isinstance(v, str):
        out.append("s:" + v.encode()[:63].decode(errors="ignore"))
    elif isinstance(v, torch.Tensor):
        if v.numel() > PEEK_MAX:
            raise TypeError("too large")
        if v.dtype == torch.bool:
            out.extend("b:%d" % int(x) for x in v.reshape(-1).tolist())
        elif v.is_floating_point():
            out.extend("f:%r" % float(x) for x in v.double().reshape(-1).tolist())
        else:
            out.extend("i:%d" % x for x in v.reshape(-1).tolist())
    elif isinstance(v, (list, tuple)):
        for x in v:
            flatten(x, out)
    else:
        raise TypeError(type(v).__name__)


def write_expected(path, ts_path):
    m = torch.jit.load(ts_path)
    it = torch._C._jit_debug_module_iterators(m._c)
    top = [n for n, _ in it["named_attributes"]]
    with open(path, "w") as f:
        f.write("\t".join(["members"] + top) + "\n")
        for name, _ in it["named_attributes_r"]:
            obj = m._c
            for part in name.split("."):
                obj = obj.getattr(part)
            out = []
            try:
                flatten(obj, out)
                f.write("\t".join([name, str(len(out))] + out) + "\n")
            except TypeError:
                f.write(name + "\t-1\n")


def rewrite_zip(src, dst, zip64=False, deflate=None):
    """Rewrites a zip archive by hand: ZIP64 records everywhere, or some entries deflated."""
    with zipfile.ZipFile(src) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    out = io.BytesIO()
    central = []
    for name, data in entries:
        bname = name.encode()
        method, payload = 0, data
        if deflate and name.endswith(deflate):
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            method, payload = 8, c.compress(data) + c.flush()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        off = out.tell()
        if zip64:
            extra = struct.pack("<HHQQ", 1, 16, len(data), len(payload))
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, method, 0, 0, crc,
                                  0xFFFFFFFF, 0xFFFFFFFF, len(bname), len(extra)))
        else:
            extra = b""
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc,
                                  len(payload), len(data), len(bname), 0))
        out.write(bname + extra + payload)
        central.append((bname, method, crc, len(payload), len(data), off))
    cd_off = out.tell()
    for bname, method, crc, csize, usize, off in central:
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, usize, csize, off)
            out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0,
                                  crc, 0xFFFFFFFF, 0xFFFFFFFF, len(bname), len(extra), 0, 0, 0,
                                  0, 0xFFFFFFFF))
        else:
            extra = b""
            out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                                  crc, csize, usize, len(bname), 0, 0, 0, 0, 0, off))
        out.write(bname + extra)
    cd_size = out.tell() - cd_off
    n = len(central)
    if zip64:
        z64 = out.tell()
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size,
                              cd_off))
        out.write(struct.pack("<IIQI", 0x07064B50, 0, z64, 1))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                              0xFFFFFFFF, 0))
    else:
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_off, 0))
    with open(dst, "wb") as f:
        f.write(out.getvalue())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_ts_archive_fixture.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    m = torch.jit.script(Fixture())
    ts = os.path.join(outdir, "ts_archive.ts")
    m.save(ts)
    buf = io.BytesIO()
    torch.jit.save(m, buf)
    with open(os.path.join(outdir, "ts_archive_buf.ts"), "wb") as f:
        f.write(buf.getvalue())
    rewrite_zip(ts, os.path.join(outdir, "ts_archive_z64.ts"), zip64=True)
    rewrite_zip(ts, os.path.join(outdir, "ts_archive_defl.ts"), deflate="/data.pkl")
    data = open(ts, "rb").read()
    with open(os.path.join(outdir, "ts_archive_cut.ts"), "wb") as f:
        f.write(data[: len(data) // 2])
    write_expected(os.path.join(outdir, "ts_archive.expected"), ts)


if __name__ == "__main__":
    main()
