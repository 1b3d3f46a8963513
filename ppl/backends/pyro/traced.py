"""An algorithm's whole step as one recorded graph of tensor operations (``compile=True``).

A training step of a flow or a diffusion on torch runs thousands of small tensor operations (a
CMCD step on the funnel: 32 Langevin moves, each with the potential's gradient, a network, and
the backward pass through all of it), and eagerly each costs a Python call, a dispatch and an
autograd node. ``trace_step`` records the step once with ``make_fx`` (forward, backward and the
optimizer's update, as ATen operations) and runs the recording with ``torch.jit.trace`` (C++,
no Python per operation, no autograd tape), like the SG-MCMC gradient of ``compiled.py``; its
first ``WARMUP_CALLS`` runs (TorchScript profiles, then optimises) are part of the compile.
``compile="inductor"`` runs the same recording compiled by inductor instead (``ENGINES``):
TorchScript still runs one kernel per operation, inductor fuses the elementwise ones (the
optimizer's update, the finite checks, the activations) into a few C++ loops, at the price of
a compile of tens of seconds (``benchmarks/pyro_vs_numpyro_steps.py``).

Random keys stay explicit inside the graph: while a step is traced, ``TorchArrays``' ``split``,
``normal``, ``uniform`` and ``permutation`` call the custom operators ``ppl::split`` ...,
which run the same eager code (SplitMix64, a ``torch.Generator`` seeded from the key) when the
graph runs, so a recorded step draws what the eager step draws for the same key. ``cond`` on a
traced predicate computes both branches and selects (``torch.where``); anything else that reads
a traced value into Python (``int(t)``, ``if t:``) stops the trace, and the step runs eagerly,
with one warning that names the cause.

The recording is checked against the eager step at its first call (same inputs, every output
within ``rtol=CHECK_RTOL``; not bitwise: Pyro's recorded potentials differentiate through
TorchScript's own gradient formulas eagerly, through ATen's in the graph, and inductor's fused
loops round differently), and a step that disagrees runs eagerly, with a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
import warnings
from typing import Any, NamedTuple

import torch
import torch.utils._pytree as pytree

from . import keys

__all__ = ["CHECK_RTOL", "ENGINES", "TracedStep", "tracing", "trace_step"]

#: relative tolerance of the check of a recorded step against the eager one (float32 rounding
#: of a few thousand operations, each ~1e-7 relative, summed)
CHECK_RTOL = 1e-3

#: calls of a new recording made while compiling: TorchScript's executor profiles a graph's
#: first runs and then optimises it (seconds for a graph of thousands of operations), 3x
#: faster per step on the double well's RealNVP than without, so that time is compile time
WARMUP_CALLS = 2

#: what runs the recording: ``"script"`` (``torch.jit.trace``, frozen: seconds to compile, one
#: C++ dispatch per operation) or ``"inductor"`` (``torch._inductor.compile``: the elementwise
#: operations fused into C++ loops by a C++ compiler; a cold compile takes tens of seconds, and
#: the fused arithmetic rounds differently, so it is checked like the other, not bitwise)
ENGINES = ("script", "inductor")

_TRACING = contextvars.ContextVar("ppl_tracing_step", default=False)


def tracing() -> bool:
    """Whether a step is being recorded now (the key and branch operations then record)."""
    return _TRACING.get()


@contextlib.contextmanager
def _recording():
    token = _TRACING.set(True)
    try:
        yield
    finally:
        _TRACING.reset(token)


@torch.library.custom_op("ppl::split", mutates_args=())
def split_op(parent: torch.Tensor, num: int) -> torch.Tensor:
    """``keys.split`` as an operator a recorded graph can hold."""
    return keys.split(parent, num)


@split_op.register_fake
def _(parent, num):
    return parent.new_empty((num,))


@torch.library.custom_op("ppl::normal", mutates_args=())
def normal_op(key: torch.Tensor, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    """Standard normal draws of ``shape`` from the generator of ``key`` (``TorchArrays.normal``)."""
    return torch.randn(tuple(shape), generator=keys.generator(key), dtype=dtype)


@normal_op.register_fake
def _(key, shape, dtype):
    return key.new_empty(tuple(shape), dtype=dtype)


@torch.library.custom_op("ppl::uniform", mutates_args=())
def uniform_op(key: torch.Tensor, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    """Uniform ``[0, 1)`` draws of ``shape`` from the generator of ``key``."""
    return torch.rand(tuple(shape), generator=keys.generator(key), dtype=dtype)


@uniform_op.register_fake
def _(key, shape, dtype):
    return key.new_empty(tuple(shape), dtype=dtype)


@torch.library.custom_op("ppl::permutation", mutates_args=())
def permutation_op(key: torch.Tensor, n: int) -> torch.Tensor:
    """A permutation of ``range(n)`` from the generator of ``key``."""
    return torch.randperm(n, generator=keys.generator(key))


@permutation_op.register_fake
def _(key, n):
    return key.new_empty((n,))


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return (text.splitlines()[0][:200] if text else "") or type(err).__name__


def _close(fast, slow) -> bool:
    if fast.shape != slow.shape or fast.dtype != slow.dtype:
        return False
    if not fast.dtype.is_floating_point:
        return bool(torch.equal(fast, slow))
    fast, slow = fast.detach(), slow.detach()
    finite = slow[torch.isfinite(slow)]
    scale = 1.0 + (float(finite.abs().max()) if finite.numel() else 0.0)
    atol = CHECK_RTOL * scale
    return bool(torch.allclose(fast, slow, rtol=CHECK_RTOL, atol=atol, equal_nan=True))


def _signature(leaves, spec):
    signature = (spec, tuple((tuple(v.shape), v.dtype) if torch.is_tensor(v) else ("value", v)
                             for v in leaves))  # fmt: skip
    try:
        hash(signature)
    except TypeError:  # a leaf that is neither an array nor a plain value
        return ("unhashable",)
    return signature


class TracedStep:
    """``f(*args)`` recorded at its first call (per structure, shapes and dtypes of ``args``)
    and run as the recording by ``engine`` (one of ``ENGINES``); ``compile_seconds``: the
    recording's cost so far (tracing, compiling, the check). Falls back to ``f`` with one
    warning where it cannot record.

    A step's state goes round a loop: ``f(state, key) -> (state, info)``. Where the state
    passed in is the very object the last call returned (and that output's structure, shapes
    and dtypes are those of the recorded input), its leaves are taken from that call rather
    than flattened and matched again (states are values: nothing changes one in place); on
    the double well's RealNVP the flattening and matching of its ~120 leaves cost as much as a
    step of the inductor-compiled program.
    """

    def __init__(self, f, name: str, engine: str = "script"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self._f, self._name, self._engine = f, name, engine
        self._programs: dict = {}
        self.compile_seconds = 0.0
        # (the state the last call returned, its program, its tensors, the signature of the
        # other arguments of that call), or None
        self._carried = None

    def __call__(self, *args):
        carried, self._carried = self._carried, None
        rest_leaves, rest_spec = pytree.tree_flatten(args[1:])
        rest = _signature(rest_leaves, rest_spec)
        rest_tensors = [v for v in rest_leaves if torch.is_tensor(v)]
        if carried is not None and args and args[0] is carried[0] and rest == carried[3]:
            return self._run(carried[1], carried[2] + rest_tensors, rest)
        leaves, spec = pytree.tree_flatten(args)
        signature = _signature(leaves, spec)
        if signature not in self._programs:
            start = time.perf_counter()
            self._programs[signature] = self._record(args, leaves, spec)
            self.compile_seconds += time.perf_counter() - start
        program = self._programs[signature]
        if program is None:
            return self._f(*args)
        return self._run(program, [v for v in leaves if torch.is_tensor(v)], rest)

    def _run(self, program, tensors, rest):
        outs = list(program.graph(*tensors))
        out = iter(outs)
        tree = pytree.tree_unflatten([None if e else next(out) for e in program.empty],
                                     program.out_spec)  # fmt: skip
        if program.carry is not None:
            self._carried = (tree[0], program, outs[: program.carry], rest)
        return tree

    def _record(self, args, leaves, spec):
        from torch.fx.experimental.proxy_tensor import make_fx

        if not all(torch.is_tensor(v) or v is None for v in leaves):
            kinds = sorted({type(v).__name__ for v in leaves if not torch.is_tensor(v)})
            warnings.warn(
                f"compile=True: {self._name}'s step takes values that are not arrays "
                f"({', '.join(kinds)}); it runs eagerly instead.",
                stacklevel=5,
            )
            return None
        positions = [i for i, v in enumerate(leaves) if torch.is_tensor(v)]
        tensors = [leaves[i] for i in positions]
        out_spec = []

        def flat(*inputs):
            full = list(leaves)
            for i, v in zip(positions, inputs):
                full[i] = v
            out = self._f(*pytree.tree_unflatten(full, spec))
            out_leaves, tree = pytree.tree_flatten(out)
            if not all(v is None or torch.is_tensor(v) for v in out_leaves):
                raise TypeError("the step returns values that are neither tensors nor None")
            out_spec.append((tree, [v is None for v in out_leaves]))
            return [v for v in out_leaves if v is not None]

        try:
            with _recording(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = make_fx(flat)(*tensors)
                program = _ENGINES[self._engine](graph, tensors)
            eager_tree = self._f(*args)
            eager = [v for v in pytree.tree_leaves(eager_tree) if v is not None]
            fast = list(program(*tensors))
            if len(fast) != len(eager) or not all(map(_close, fast, eager)):
                bad = sum(not _close(a, b) for a, b in zip(fast, eager))
                raise ValueError(f"{bad} of its {len(eager)} outputs differ from the eager step's")
        except Exception as err:  # any failure: the eager step gives the answer
            warnings.warn(
                f"compile=True: {self._name}'s step could not be recorded as one graph "
                f"({type(err).__name__}: {_first_line(err)}); it runs eagerly instead (slower, "
                "same results). Python control flow on array values stops the recording.",
                stacklevel=5,
            )
            return None
        return _Program(program, *out_spec[-1], _carry(args, eager_tree))


class _Program(NamedTuple):
    """A recorded step: ``graph`` (tensors in, tensors out), the output's structure
    (``out_spec``, ``empty``: which of its leaves are None) and ``carry``: how many of the
    outputs make up its first element, where that element can be the next call's first
    argument (the same structure, shapes and dtypes as the recorded one); else None."""

    graph: Any
    out_spec: Any
    empty: list
    carry: int | None


def _carry(args, out):
    if not (args and isinstance(out, tuple) and out):
        return None
    before, after = (pytree.tree_flatten(tree) for tree in (args[0], out[0]))
    signature = _signature(*before)
    if signature == ("unhashable",) or signature != _signature(*after):
        return None
    return sum(torch.is_tensor(v) for v in after[0])


def _script(graph, tensors):
    script = torch.jit.freeze(torch.jit.trace(graph, tuple(tensors), check_trace=False).eval())
    for _ in range(WARMUP_CALLS):  # the executor's profiling runs, timed here
        script(*tensors)
    return script


def _inductor(graph, tensors):
    from torch._inductor import compile as inductor_compile  # imports the compiler: seconds

    return inductor_compile(graph, list(tensors))  # compiles now (C++, on this machine)


_ENGINES = {"script": _script, "inductor": _inductor}


def trace_step(f, name: str, engine: str = "script") -> TracedStep:
    """``f`` recorded as one graph at its first call, run by ``engine`` (``TracedStep``)."""
    return TracedStep(f, name, engine)
