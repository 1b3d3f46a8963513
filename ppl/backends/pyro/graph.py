"""``simplify``: fewer operations in a traced, functional ATen graph, with the same values.

A value-and-gradient graph traced from a Pyro model through ``make_fx`` carries what Pyro's
distributions and the autograd formulas write out in general: log-densities of identity
transforms (``zeros_like`` summed), prior parameters lifted and squared at every call,
``pow(x, 1.0)``, ``x * 1``, views and expands to the shape a tensor already has, the same
``neg`` twice. Run eagerly (TorchScript), each costs a dispatch, and in a small minibatch
gradient the dispatches are most of the time. ``simplify`` removes them:

- every operation whose value does not depend on the graph's inputs (only on constants, or on
  an input's shape, as ``zeros_like``: the shapes are fixed in a traced graph) is computed once,
  at the example inputs, and kept as a constant;
- identities are dropped: ``x + 0``, ``x - 0``, ``x * 1``, ``x / 1``, ``x ** 1`` (where the
  result has ``x``'s shape and dtype), ``view``/``expand``/``reshape`` to ``x``'s own shape,
  ``-(-x)``;
- an operation repeated with the same arguments is computed once.

The graph must be functional (no in-place operations: trace through ``torch.func.functionalize``)
so that a constant is never written to. Random operations are neither folded nor merged.

>>> import torch
>>> from torch.fx.experimental.proxy_tensor import make_fx
>>> def f(x):
...     return (x * 1.0).view(3) + torch.ones_like(x).sum() + torch.zeros_like(x)
>>> graph = simplify(make_fx(f)(torch.ones(3)), torch.ones(3))
>>> [n.target.__name__ for n in graph.graph.nodes if n.op == "call_function"]
['add.Tensor']
>>> graph(torch.arange(3.0))
tensor([3., 4., 5.])
"""

from __future__ import annotations

import torch
import torch.fx as fx

__all__ = ["simplify"]

aten = torch.ops.aten

#: operations whose value depends on their tensor arguments' shapes and dtypes only
_SHAPE_ONLY = frozenset(
    {
        aten.zeros_like.default,
        aten.ones_like.default,
        aten.full_like.default,
        aten.fill.Scalar,
        aten.scalar_tensor.default,
        aten.zeros.default,
        aten.ones.default,
        aten.full.default,
    }
)
#: operations that return their first argument where the result has its shape
_SAME_SHAPE = frozenset(
    {aten.view.default, aten.expand.default, aten.reshape.default, aten._unsafe_view.default}
)
#: binary operations and the second argument that leaves the first unchanged
_NEUTRAL = {
    aten.add.Tensor: 0,
    aten.sub.Tensor: 0,
    aten.mul.Tensor: 1,
    aten.div.Tensor: 1,
    aten.pow.Tensor_Scalar: 1,
}
#: of those, the ones where the first argument may be the neutral one
_COMMUTATIVE = frozenset({aten.add.Tensor, aten.mul.Tensor})


def _inputs(node: fx.Node) -> list:
    found: list = []
    fx.node.map_arg((node.args, node.kwargs), found.append)
    return found


def _random(node: fx.Node) -> bool:
    return torch.Tag.nondeterministic_seeded in getattr(node.target, "tags", ())


def simplify(graph_module: fx.GraphModule, *example) -> fx.GraphModule:
    """``graph_module`` (a functional ATen graph, changed in place and returned) with fewer
    operations and the same outputs; ``example``: inputs of the shapes it was traced for."""
    graph = graph_module.graph
    values: dict = {}

    class _Record(fx.Interpreter):
        def run_node(self, n):
            values[n] = super().run_node(n)
            return values[n]

    _Record(graph_module).run(*example)
    _fold_constants(graph_module, values)
    _drop_identities(graph, values)
    _merge_repeats(graph)
    graph.eliminate_dead_code()
    graph.lint()
    graph_module.recompile()
    return graph_module


def _fold_constants(graph_module, values) -> None:
    graph = graph_module.graph
    dependent = set()
    for n in graph.nodes:
        if n.op == "placeholder" or (
            n.op == "call_function"
            and (
                _random(n)
                or (n.target not in _SHAPE_ONLY and any(a in dependent for a in _inputs(n)))
            )
        ):
            dependent.add(n)
    for n in list(graph.nodes):
        if n.op != "call_function" or n in dependent or not torch.is_tensor(values.get(n)):
            continue
        if not any(user in dependent or user.op == "output" for user in n.users):
            continue  # only used by other constants: computed inside the one that is kept
        name = f"_folded_{len(graph_module._buffers)}"
        graph_module.register_buffer(name, values[n].detach())
        with graph.inserting_before(n):
            constant = graph.get_attr(name)
        values[constant] = values[n]
        n.replace_all_uses_with(constant)
    graph.eliminate_dead_code()


def _drop_identities(graph, values) -> None:
    def same_shape(a, b) -> bool:
        va, vb = values.get(a), values.get(b)
        return (
            torch.is_tensor(va) and torch.is_tensor(vb) and va.shape == vb.shape
            and va.dtype == vb.dtype
        )  # fmt: skip

    def equals(arg, number) -> bool:
        if isinstance(arg, bool) or not isinstance(arg, int | float | fx.Node):
            return False
        if not isinstance(arg, fx.Node):
            return arg == number
        value = values.get(arg)
        return arg.op == "get_attr" and torch.is_tensor(value) and bool((value == number).all())

    for n in list(graph.nodes):
        if n.op != "call_function":
            continue
        target, args, keep = n.target, n.args, None
        if target in _SAME_SHAPE and same_shape(n, args[0]):
            keep = args[0]
        elif target is aten.neg.default and getattr(args[0], "target", None) is aten.neg.default:
            keep = args[0].args[0]
        elif target in _NEUTRAL and len(args) == 2 and not n.kwargs:
            neutral = _NEUTRAL[target]
            if equals(args[1], neutral) and same_shape(n, args[0]):
                keep = args[0]
            elif target in _COMMUTATIVE and equals(args[0], neutral) and same_shape(n, args[1]):
                keep = args[1]
        if keep is not None:
            n.replace_all_uses_with(keep)
            graph.erase_node(n)


def _merge_repeats(graph) -> None:
    seen: dict = {}
    for n in list(graph.nodes):
        if n.op != "call_function" or _random(n):
            continue
        key = (n.target, repr(n.args), repr(n.kwargs))
        if key in seen:
            n.replace_all_uses_with(seen[key])
            graph.erase_node(n)
        else:
            seen[key] = n
