"""``compile=True`` for the flows and diffusions on Pyro: the whole training step recorded as one
graph (``ppl.backends.pyro.traced``) gives the eager step's numbers, keys stay inputs of the
graph (not constants baked in at the recording), and what cannot be recorded runs eagerly with
a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ppl  # noqa: E402
from ppl.backends.pyro import optim  # noqa: E402
from ppl.backends.pyro.array import TorchArrays  # noqa: E402
from ppl.errors import OptionError, UntrustedResultWarning  # noqa: E402

ARRAYS = TorchArrays()


def _both(method, model_args=(), model_kwargs=None, model=None, **options):
    runs = {}
    for compile in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UntrustedResultWarning)  # a handful of steps
            warnings.filterwarnings("error", message="compile=True")  # no eager fallback
            runs[compile] = ppl.infer(
                model, method, args=model_args, kwargs=model_kwargs, backend="pyro", seed=3,
                progress=False, compile=compile, **options,
            )  # fmt: skip
    return runs


def test_a_recorded_realnvp_step_gives_the_eager_numbers_bitwise():
    spec = ppl.models.get("double_well")
    runs = _both("realnvp", model=spec.model, num_blocks=2, hidden=(8,), batch_size=16,
                 num_steps=6, num_samples=32, warm_start=False)  # fmt: skip
    eager, fast = runs[False], runs[True]
    np.testing.assert_array_equal(fast.sample_stats["loss"], eager.sample_stats["loss"])
    np.testing.assert_array_equal(fast.samples["x"], eager.samples["x"])
    assert fast.timings["compile_seconds"] > eager.timings["compile_seconds"]


def test_a_recorded_cmcd_step_gives_the_eager_step_to_rounding():
    # the kl loss differentiates through the potential's gradient (second derivatives) and the
    # path draws K + 1 normals from keys split inside the step. Not bitwise: eagerly, the
    # recorded (TorchScript) potential is differentiated by TorchScript's own formulas; a
    # gradient may differ in its last bits (then Adam, which normalises a near-zero gradient
    # to +-lr, makes later steps differ visibly)
    from ppl.inference import registry

    spec = ppl.models.get("funnel")
    backend = ppl.get_backend("pyro")
    problem = backend.problem(spec.model, spec.args, spec.kwargs)
    algorithm = registry.get("cmcd")
    options = registry.validate_options(algorithm, dict(K=3, hidden=(8,), batch_size=8,
                                        init_q0="prior", warm_start=False))  # fmt: skip
    built = algorithm.load().build(problem, options)
    state, key = built.init(backend.key(0)), backend.key(1)
    compiled = backend.compile_step(built.step, "cmcd")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="compile=True")  # no eager fallback
        fast = torch.utils._pytree.tree_leaves(compiled(state, key))
    slow = torch.utils._pytree.tree_leaves(built.step(state, key))
    assert len(fast) == len(slow) > 10
    for got, want in zip(fast, slow):  # float32 rounding of a few thousand operations
        torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "method, model_name, options",
    [
        pytest.param(  # the Metropolis moves between the blocks (6 s on the loaded VM)
            "snf",
            "double_well",
            dict(num_blocks=1, hidden=(8,), mc_steps=2, warm_start=False),
            marks=pytest.mark.slow,
        ),
        # AIS's state holds no optimizer (None leaves); its MALA moves accept with a select
        ("ais", "funnel", dict(K=3, init_q0="prior", warm_start=False)),
    ],
)
def test_snf_and_ais_steps_record_and_give_the_eager_numbers(method, model_name, options):
    spec = ppl.models.get(model_name)
    runs = _both(method, spec.args, spec.kwargs, model=spec.model, batch_size=8, num_steps=3,
                 num_samples=16, **options)  # fmt: skip
    np.testing.assert_array_equal(runs[True].sample_stats["loss"], runs[False].sample_stats["loss"])


def _random_step(state, key):
    a, b, c = ARRAYS.split(key, 3)
    noise = ARRAYS.normal(a, (3,)) + ARRAYS.uniform(b, (3,), -1.0, 1.0)
    order = ARRAYS.permutation(c, 3)
    state = ARRAYS.cond(state.sum() > 0, lambda s: s + noise, lambda s: s - noise, state)
    return state[order], noise


def test_keys_are_inputs_of_the_recording_not_constants():
    compiled = ARRAYS.compile_step(_random_step, "random")
    state = torch.zeros(3)
    for seed in range(4):  # new keys draw new numbers, as the eager step does
        key = ARRAYS.key(seed)
        for got, want in zip(compiled(state, key), _random_step(state, key)):
            assert torch.equal(got, want)
        state = compiled(state, key)[0]
    assert compiled.compile_seconds > 0
    assert len({float(compiled(state, ARRAYS.key(s))[1][0]) for s in range(4)}) == 4


def _drift_step(state, key):
    return {"x": state["x"] * 0.5 + ARRAYS.normal(key, (2,))}, state["x"].sum()


def test_a_state_fed_back_gives_the_eager_numbers_and_a_new_one_is_not_mistaken_for_it():
    # the state a call returns is taken by the next call from that call's outputs, without
    # flattening it again; a new state object (same structure) must be read afresh
    compiled = ARRAYS.compile_step(_drift_step, "drift")
    state = want = {"x": torch.ones(2)}
    for seed in range(3):
        state, info = compiled(state, ARRAYS.key(seed))
        want, want_info = _drift_step(want, ARRAYS.key(seed))
        assert torch.equal(state["x"], want["x"]) and torch.equal(info, want_info)
    fresh = {"x": torch.full((2,), 7.0)}
    got, _ = compiled(fresh, ARRAYS.key(0))
    assert torch.equal(got["x"], _drift_step(fresh, ARRAYS.key(0))[0]["x"])
    assert len(compiled._programs) == 1  # the same recording throughout


def test_compile_names_its_choices():
    spec = ppl.models.get("double_well")
    with pytest.raises(OptionError, match="Did you mean 'inductor'"):
        ppl.infer(spec.model, "realnvp", backend="pyro", compile="inducter", num_steps=1)


@pytest.mark.slow  # inductor compiles C++: 20-60 s on the loaded 2-core VM
def test_an_inductor_compiled_realnvp_step_gives_the_eager_step_to_rounding():
    # inductor's fused loops round differently from ATen's kernels (a sum reassociated, a
    # multiply-add fused): float32 rounding of the ~1,000 operations of a step, each ~1e-7
    # relative; the first step only, as Adam magnifies a last-bit difference in a near-zero
    # gradient to +-lr on later steps
    from ppl.inference import registry

    spec = ppl.models.get("double_well")
    backend = ppl.get_backend("pyro")
    problem = backend.problem(spec.model)
    algorithm = registry.get("realnvp")
    options = registry.validate_options(algorithm, dict(num_blocks=1, hidden=(8,), batch_size=16,
                                        warm_start=False))  # fmt: skip
    built = algorithm.load().build(problem, options)
    state, key = built.init(backend.key(0)), backend.key(1)
    compiled = backend.compile_step(built.step, "realnvp", "inductor")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="compile=True")  # no eager fallback
        fast = torch.utils._pytree.tree_leaves(compiled(state, key))
    slow = torch.utils._pytree.tree_leaves(built.step(state, key))
    assert len(fast) == len(slow) > 10
    for got, want in zip(fast, slow):
        torch.testing.assert_close(got, want.detach(), rtol=1e-5, atol=1e-6)


def test_a_step_that_reads_an_array_into_python_runs_eagerly_with_a_warning():
    def step(state, key):
        return state + int(key) % 7, state

    compiled = ARRAYS.compile_step(step, "pythonic")
    state, key = torch.zeros(2), ARRAYS.key(0)
    with pytest.warns(UserWarning, match="pythonic's step could not be recorded"):
        out = compiled(state, key)
    assert torch.equal(out[0], step(state, key)[0])


def test_adam_over_all_leaves_equals_adam_leaf_by_leaf():
    # the foreach update makes the same operations on every element as one leaf at a time
    params = {"a": torch.randn(4, 3, generator=torch.Generator().manual_seed(0)),
              "b": torch.tensor([0.5, -2.0])}  # fmt: skip
    together = optim.functional_optimizer("adam", 0.01)
    state = together.init(params)
    single = {k: optim.functional_optimizer("adam", 0.01) for k in params}
    states = {k: single[k].init({k: v}) for k, v in params.items()}
    mine, theirs = params, dict(params)
    for t in range(30):
        grads = {k: torch.sin(v * (t + 1)) * (10.0 if t % 3 else 0.1) for k, v in mine.items()}
        mine, state = together.update(grads, state, mine)
        for k in params:
            new, states[k] = single[k].update({k: grads[k]}, states[k], {k: theirs[k]})
            theirs[k] = new[k]
    for k in params:
        assert torch.equal(mine[k], theirs[k])


def test_compile_is_refused_where_the_algorithm_has_nothing_to_compile():
    spec = ppl.models.get("double_well")
    with pytest.raises(OptionError, match="training step of the flows and diffusions"):
        ppl.infer(spec.model, "nuts", backend="pyro", compile=True, num_warmup=5,
                  num_samples=5, progress=False)  # fmt: skip
