"""Minimal base class implementing the nn~ scripted-model contract.

A model that nn~ (and acids) can drive exposes, after torch.jit.script:
  * for each usable method M: an int64 buffer ``M_params`` =
    [in_channels, in_ratio, out_channels, out_ratio];
  * ``get_methods() -> List[str]`` listing those methods;
  * ``get_attributes() -> List[str]`` listing runtime-settable attributes;
  * for each attribute A: ``get_A()`` returning a tuple of values,
    ``set_A(...) -> int`` (0 = accepted) and a float buffer ``A_params``
    holding one type code per value (bool 0, int 1, float 2, str 3, tensor 4).

Getters/setters are written by hand in subclasses: TorchScript needs
concrete signatures, and hand-written ones keep the fixtures readable
(nn_tilde generates them from templates instead).
"""
import os
import sys
from typing import List, Sequence

import torch

TYPE_CODES = {bool: 0, int: 1, float: 2, str: 3, torch.Tensor: 4}


def pin_hash_seed() -> None:
    """Re-exec the calling script with PYTHONHASHSEED=0.

    TorchScript serialises class constants in set-iteration order, which
    follows Python's randomised string hashing; pinning the seed makes the
    shipped .ts files byte-identical from run to run (stable git diffs)."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


class NNModule(torch.nn.Module):

    def __init__(self) -> None:
        super().__init__()
        # torch.jit.Attribute pins the element type, so a model with no
        # attributes still scripts (an empty plain list cannot be inferred).
        self._methods = torch.jit.Attribute([], List[str])
        self._attributes = torch.jit.Attribute([], List[str])

    def register_method(self, name: str, in_channels: int, in_ratio: int,
                        out_channels: int, out_ratio: int) -> None:
        if name in self._methods.value:
            raise ValueError(f"method {name!r} registered twice")
        self.register_buffer(
            f"{name}_params",
            torch.tensor([in_channels, in_ratio, out_channels, out_ratio],
                         dtype=torch.long))
        self._methods.value.append(name)

    def register_attribute(self, name: str, default) -> None:
        """Store ``default`` as a tuple member ``name`` (the shape getters
        return) and record its type codes. The subclass provides
        ``get_<name>`` and ``set_<name>``."""
        if name in self._attributes.value:
            raise ValueError(f"attribute {name!r} registered twice")
        values: Sequence = default if isinstance(default, (tuple, list)) \
            else (default,)
        # type(v) lookup, not isinstance: bool is a subclass of int.
        codes = [TYPE_CODES[type(v)] for v in values]
        setattr(self, name, tuple(values))
        self.register_buffer(f"{name}_params",
                             torch.tensor(codes, dtype=torch.float32))
        self._attributes.value.append(name)

    @torch.jit.export
    def get_methods(self) -> List[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> List[str]:
        return self._attributes
