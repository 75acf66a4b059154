"""Write the small TorchScript fixtures the C tests load (tests/fixtures/).

Each fixture isolates one behaviour of the loader/runner: exact
pass-through, attributes, down/up-sampling ratios, several channels,
carried state, missing contract, exceptions, malformed outputs,
non-finite samples, slowness, and unreadable files.

truncated.ts is cut from models/rave_demo.ts, so run make_rave.py first.
Run from anywhere: /usr/bin/python3 models/make_test_models.py
"""
import os
import sys
import time
from typing import Tuple

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "fixtures")
sys.path.insert(0, HERE)

from nn_module import NNModule, pin_hash_seed  # noqa: E402

SR = 44100


class Identity(NNModule):
    """forward returns x bit-exactly; `scaled` multiplies by attribute gain."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)
        self.register_method("scaled", 1, 1, 1, 1)
        self.register_attribute("gain", 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain[0]

    @torch.jit.export
    def get_gain(self) -> Tuple[float]:
        return self.gain

    @torch.jit.export
    def set_gain(self, value: float) -> int:
        # Non-zero return is the nn~ way to refuse a value; the old value
        # is kept.
        if value < 0.0 or value > 10.0:
            return 1
        self.gain = (value,)
        return 0


class Latent(NNModule):
    """Stateless 4x encoder/decoder with hand-checkable outputs.

    encode: [1,1,T] -> [1,2,T/4]; ch0 = last sample of each group of 4,
            ch1 = mean of the group.
    decode: [1,2,T/4] -> [1,1,T]; each frame z0 + 2*z1 repeated 4 times.
    """

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("encode", 1, 1, 2, 4)
        self.register_method("decode", 2, 4, 1, 1)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        groups = x.reshape(x.shape[0], x.shape[-1] // 4, 4)
        return torch.stack([groups[..., 3], groups.mean(-1)], 1)

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = z[:, 0:1] + 2.0 * z[:, 1:2]
        return y.repeat_interleave(4, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class Multi(NNModule):
    """forward [2,1,3,1]: (in0, in1, in0*in1), to check channel order."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 2, 1, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x[:, 0:1] * x[:, 1:2]], 1)


class Stateful(NNModule):
    """Running sum carried across calls, so a reset (reload) is observable.

    The state is shared by every batch entry: fine for batch 1, which is
    all the tests use. Chunked results match one whole call up to float32
    rounding of the cumulative sum (not bit-exactly).
    """

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)
        self.register_buffer("total", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cumsum(x, -1) + self.total
        self.total.copy_(y[0, 0, -1:])
        return y


class NoContract(nn.Module):
    """A perfectly valid scripted module that is not an nn~ model."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Throws(NNModule):

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A data-dependent (always true) guard: TorchScript needs a
        # reachable return to type the method.
        if x.numel() >= 0:
            raise ValueError("fixture: forward always fails")
        return x


class ThrowsEvery3(NNModule):
    """Calls 3, 6, 9... (1-based, counted since load) raise; others return
    x. The counter is incremented before raising."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)
        self.register_buffer("calls", torch.zeros(1, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.add_(1)
        if int(self.calls.item()) % 3 == 0:
            raise ValueError("fixture: every third call fails")
        return x


class WrongShape(NNModule):
    """Declares [1,1,1,1] but returns [1,1,T-1]."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1]


class WrongDtype(NNModule):
    """Returns float64 instead of float32."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.double()


class TupleOut(NNModule):
    """Returns a tuple instead of a tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return x, x


class NonFinite(NNModule):
    """Returns x with, by index i within each call's buffer:
    i%7==0 NaN, i%7==1 +Inf, i%7==2 -Inf, i%7==3 1e-40 (float32 denormal),
    other samples = x unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.clone()
        y[..., 0::7] = float("nan")
        y[..., 1::7] = float("inf")
        y[..., 2::7] = float("-inf")
        y[..., 3::7] = 1e-40
        return y


class Slow(NNModule):
    """Returns x after a scalar busy loop of `work` * 1000 interpreter
    iterations, so the cost does not depend on the buffer length.

    Measured on the build machine (2 cores, Debian torch 1.13): one call
    of 2048 samples takes ~0.1 ms per unit of work (~6 us at work=0);
    work=464 took 49 ms, just over the 46.4 ms real-time budget of 2048
    samples at 44.1 kHz, and work=1000 took 105 ms. The script prints a
    fresh measurement each run."""

    def __init__(self) -> None:
        super().__init__()
        self.sr = SR
        self.register_method("forward", 1, 1, 1, 1)
        self.register_attribute("work", 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        acc = 0.0
        for i in range(self.work[0] * 1000):
            acc = acc + float(i % 3)
        # The never-taken branch keeps the loop observable to the compiler.
        if acc < 0.0:
            return -x
        return x

    @torch.jit.export
    def get_work(self) -> Tuple[int]:
        return self.work

    @torch.jit.export
    def set_work(self, value: int) -> int:
        if value < 0:
            return 1
        self.work = (value,)
        return 0


def path(name: str) -> str:
    return os.path.join(OUT, name)


def save(module: nn.Module, name: str) -> torch.jit.ScriptModule:
    scripted = torch.jit.script(module.eval())
    scripted.save(path(name))
    return torch.jit.load(path(name))  # every check runs on the saved file


def expect_raises(fn, text: str) -> None:
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - torch wraps as RuntimeError
        assert text in str(e), str(e)
        return
    raise AssertionError(f"expected failure containing {text!r}")


def check_contract(m, methods, attributes=()) -> None:
    assert m.get_methods() == list(methods), m.get_methods()
    assert m.get_attributes() == list(attributes), m.get_attributes()
    assert m.sr == SR


def main() -> None:
    torch.set_grad_enabled(False)
    os.makedirs(OUT, exist_ok=True)
    x = torch.randn(1, 1, 2048, generator=torch.Generator().manual_seed(3))

    m = save(Identity(), "identity.ts")
    check_contract(m, ["forward", "scaled"], ["gain"])
    assert m.forward_params.tolist() == [1, 1, 1, 1]
    assert m.gain_params.tolist() == [2.0]
    assert torch.equal(m(x), x)
    assert m.get_gain() == (1.0,)
    assert m.set_gain(2.5) == 0 and m.get_gain() == (2.5,)
    assert torch.equal(m.scaled(x), x * 2.5)
    assert m.set_gain(10.5) == 1 and m.set_gain(-0.1) == 1
    assert m.get_gain() == (2.5,)

    m = save(Latent(), "latent.ts")
    check_contract(m, ["encode", "decode"])
    assert m.encode_params.tolist() == [1, 1, 2, 4]
    assert m.decode_params.tolist() == [2, 4, 1, 1]
    z = m.encode(x)
    assert z.shape == (1, 2, 512)
    assert torch.equal(z[0, 0], x[0, 0, 3::4])
    assert torch.allclose(z[0, 1], x[0, 0].reshape(-1, 4).mean(-1))
    y = m.decode(z)
    assert y.shape == (1, 1, 2048)
    assert torch.equal(y[0, 0], (z[0, 0] + 2 * z[0, 1]).repeat_interleave(4))

    m = save(Multi(), "multi.ts")
    check_contract(m, ["forward"])
    assert m.forward_params.tolist() == [2, 1, 3, 1]
    x2 = torch.randn(1, 2, 256)
    y = m(x2)
    assert torch.equal(y[:, :2], x2) and torch.equal(y[0, 2], x2[0, 0] * x2[0, 1])

    m = save(Stateful(), "stateful.ts")
    check_contract(m, ["forward"])
    ones = torch.ones(1, 1, 4)
    assert m(ones).tolist() == [[[1.0, 2.0, 3.0, 4.0]]]
    assert m(ones).tolist() == [[[5.0, 6.0, 7.0, 8.0]]]
    assert torch.jit.load(path("stateful.ts"))(ones)[0, 0, 0] == 1.0

    m = save(NoContract(), "nocontract.ts")
    assert torch.equal(m(x), x)
    assert not any(n.endswith("_params") for n, _ in m.named_buffers())
    assert not hasattr(m, "get_methods")

    m = save(Throws(), "throws.ts")
    check_contract(m, ["forward"])
    expect_raises(lambda: m(x), "fixture: forward always fails")

    m = save(ThrowsEvery3(), "throws_every3.ts")
    check_contract(m, ["forward"])
    for call in range(1, 8):
        if call % 3 == 0:
            expect_raises(lambda: m(x), "every third call fails")
        else:
            assert torch.equal(m(x), x)

    m = save(WrongShape(), "wrong_shape.ts")
    assert m(x).shape == (1, 1, 2047)
    m = save(WrongDtype(), "wrong_dtype.ts")
    assert m(x).dtype == torch.float64
    m = save(TupleOut(), "tuple.ts")
    assert isinstance(m(x), tuple) and len(m(x)) == 2

    m = save(NonFinite(), "nan.ts")
    y = m(x)[0, 0]
    assert y.dtype == torch.float32
    assert torch.isnan(y[0::7]).all() and (y[1::7] == float("inf")).all()
    assert (y[2::7] == float("-inf")).all()
    # 1e-40 must survive as a denormal, not be flushed to zero.
    assert (y[3::7] > 0).all() and (y[3::7] < 1.2e-38).all()
    keep = torch.ones(2048, dtype=torch.bool)
    for k in range(4):
        keep[k::7] = False
    assert torch.equal(y[keep], x[0, 0][keep])

    m = save(Slow(), "slow.ts")
    check_contract(m, ["forward"], ["work"])
    assert m.work_params.tolist() == [1.0] and m.get_work() == (0,)
    assert m.set_work(-1) == 1
    timings = {}
    for work in (0, 10, 100):
        assert m.set_work(work) == 0
        m(x)  # warm-up (first call profiles/optimises the graph)
        t = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert torch.equal(m(x), x)
            t.append(time.perf_counter() - t0)
        timings[work] = 1e3 * float(np.median(t))
    assert m.set_work(0) == 0
    per_unit = (timings[100] - timings[0]) / 100
    print(f"slow.ts: forward(2048) {timings[0]:.3f} ms at work=0, "
          f"{timings[10]:.2f} ms at 10, {timings[100]:.2f} ms at 100 "
          f"=> {per_unit:.3f} ms per unit of work")

    # Unloadable files.
    open(path("empty.ts"), "wb").close()
    rng = np.random.default_rng(20240501)
    with open(path("garbage.ts"), "wb") as f:
        f.write(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    rave = os.path.join(HERE, "rave_demo.ts")
    if not os.path.exists(rave):
        sys.exit("models/rave_demo.ts missing: run models/make_rave.py first")
    with open(rave, "rb") as f:
        data = f.read()
    with open(path("truncated.ts"), "wb") as f:
        f.write(data[:len(data) // 2])
    for name in ("empty.ts", "garbage.ts", "truncated.ts"):
        expect_raises(lambda: torch.jit.load(path(name)), "")

    for name in sorted(os.listdir(OUT)):
        print(f"  tests/fixtures/{name}: {os.path.getsize(path(name))} bytes")


if __name__ == "__main__":
    pin_hash_seed()
    main()
