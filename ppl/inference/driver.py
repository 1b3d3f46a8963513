"""The one driver loop: runs any registered algorithm's ``init``/``step`` and packs a ``Posterior``.

It owns what every algorithm shares: chains (vectorised with ``vmap`` on JAX, one after another on
torch), chunked ``scan`` inside ``jit`` on JAX so a progress bar can follow a compiled loop, warmup
and thinning, collecting draws, NaN/inf checks that name the step and the site, timing split into
compile and run, and Ctrl-C returning the draws so far.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from typing import Any

import numpy as np

from ..core import Draws
from ..errors import DivergenceError
from . import checks, compiled, warm_start
from .checkpoint import Checkpoint
from .posterior import LogZ, Posterior

__all__ = ["Draws", "run"]

#: chunks per run when a progress bar is shown (one compiled chunk otherwise)
PROGRESS_CHUNKS = 20
#: steps between convergence checks, for algorithms that can stop early (``converged``)
CONVERGENCE_CHECK_EVERY = 250


def _stack_trees(backend, trees):
    return backend.tree_map(lambda *leaves: backend.xp.stack(leaves), *trees)


def _progress_bar(total: int, enabled: bool | None, desc: str):
    import sys

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False)


def _chunk_sizes(total: int, progress: bool, every: int | None = None) -> list[int]:
    if total <= 0:
        return []
    if every:
        size = every
    elif not progress:
        return [total]
    else:
        size = max(1, math.ceil(total / PROGRESS_CHUNKS))
    return [size] * (total // size) + ([total % size] if total % size else [])


def _check_finite(problem, positions: np.ndarray, first_step: int, method: str) -> None:
    bad = ~np.isfinite(positions)
    if not bad.any():
        return
    step, index = np.argwhere(bad.reshape(bad.shape[0], -1, bad.shape[-1]))[0][[0, 2]]
    offsets = np.cumsum((0,) + problem.layout.sizes)
    site = problem.layout.names[int(np.searchsorted(offsets, index, side="right") - 1)]
    raise DivergenceError(
        f"{method}: the chain reached NaN or inf at step {first_step + int(step)} in site "
        f"{site!r}. Lower the step size (or learning rate), or check that site's prior and "
        "likelihood for regions where the density is not finite."
    )


class _Loop:
    """Runs ``step`` for ``total`` steps over all chains, in compiled chunks where possible.

    The chunk is compiled with the model's data as arguments (``ppl.inference.compiled``), so
    a later run of the same algorithm on data of the same shapes reuses it; algorithms declare
    that their step depends only on the problem, the options and the state with
    ``SHARES_COMPILED_STEPS``."""

    def __init__(self, spec, module, problem, options, vectorize: bool):
        backend = problem.backend

        def build(bound):
            step = functools.partial(module.step, problem=bound, options=options)
            body_step = backend.vmap(step) if vectorize else step

            def chunk(state, keys):
                def body(carry, key):
                    carry, info = body_step(carry, key)
                    return carry, (getattr(carry, "position", None), info)

                return backend.scan(body, state, keys)

            return chunk

        static = (spec.name, compiled.model_token(options), vectorize)
        share = _shares_compiled(module, options) and static[1] is not None
        self._chunk = compiled.compiled(problem, "driver-chunk", build, static, share)

    @property
    def compile_seconds(self) -> float:
        return self._chunk.compile_seconds

    def run_chunk(self, state, keys):
        return self._chunk(state, keys)


def _shares_compiled(module, options) -> bool:
    share = getattr(module, "SHARES_COMPILED_STEPS", False)
    return bool(share(options) if callable(share) else share)


def _sampler(spec, module, problem, options):
    """``(state, key) -> Draws`` of a ``"fit"`` algorithm, compiled with the data as arguments
    where the algorithm shares compiled steps (see ``_Loop``)."""

    def build(bound):
        return functools.partial(
            module.sample, problem=bound, options=options, num_samples=options.num_samples
        )

    static = (spec.name, compiled.model_token(options))
    share = _shares_compiled(module, options) and static[1] is not None
    return compiled.compiled(problem, "driver-sample", build, static, share)


def _to_numpy_tree(backend, tree) -> dict[str, np.ndarray]:
    if tree is None:
        return {}
    fields = tree._asdict() if hasattr(tree, "_asdict") else dict(tree)
    return {k: backend.to_numpy(v) for k, v in fields.items() if v is not None}


def _run_steps(spec, module, problem, options, key, progress, checkpoint):
    """All steps of all chains. Returns final states, kept positions (chain, draw, dim), kept
    infos {name: (chain, draw)}, timings and whether the run was interrupted."""
    backend = problem.backend
    kind = module.KIND
    num_chains = getattr(options, "num_chains", 1) if kind == "mcmc" else 1
    if kind == "mcmc":
        warmup, thinning = options.num_warmup, getattr(options, "thinning", 1)
        total = warmup + options.num_samples * thinning
    else:
        warmup, thinning, total = 0, 1, options.num_steps
    init_key, run_key = backend.split(key)
    start = time.perf_counter()
    chain_keys = backend.split(init_key, num_chains)
    states = [module.init(problem, chain_keys[c], options) for c in range(num_chains)]
    init_seconds = time.perf_counter() - start
    vectorize = backend.supports_vmap_of_models and num_chains > 1
    groups = [_stack_trees(backend, states)] if vectorize else states
    loop = _Loop(spec, module, problem, options, vectorize)
    step_keys = backend.split(run_key, total * num_chains)
    positions: list[list] = [[] for _ in groups]
    infos: list[list] = [[] for _ in groups]
    progress_made = [0] * len(groups)
    if checkpoint.resume_from:
        groups, positions, infos, progress_made = checkpoint.load(backend, groups, spec, options)
    bar = _progress_bar(total * (1 if vectorize else num_chains), progress, spec.name)
    if bar is not None:
        bar.update(sum(progress_made))
    interrupted, converged, run_seconds = False, False, 0.0
    # an algorithm with ``converged`` may stop early; ``tol=0`` asks it to run every step
    stops_early = hasattr(module, "converged") and getattr(options, "tol", None) != 0
    try:
        for g in range(len(groups)):
            done = progress_made[g]
            every = checkpoint.every or (CONVERGENCE_CHECK_EVERY if stops_early else None)
            for size in _chunk_sizes(total - done, bar is not None, every):
                keys = _chunk_keys(backend, step_keys, g, done, size, num_chains, vectorize)
                t0 = time.perf_counter()
                compile_before = loop.compile_seconds
                groups[g], (pos, info) = loop.run_chunk(groups[g], keys)
                pos_np = None if pos is None else backend.to_numpy(pos)
                info_np = _to_numpy_tree(backend, info)  # waits for the chunk to finish
                run_seconds += time.perf_counter() - t0 - (loop.compile_seconds - compile_before)
                keep = _kept(done, size, warmup, thinning)
                if hasattr(module, "check_info"):  # an algorithm's own checks of its steps
                    module.check_info(problem, options, info_np, done, spec.name)
                if pos_np is not None:
                    _check_finite(problem, pos_np, done, spec.name)
                    positions[g].append(pos_np[keep])
                infos[g].append({k: v[keep] for k, v in info_np.items()})
                done += size
                progress_made[g] = done
                if bar is not None:
                    bar.update(size)
                checkpoint.save(backend, groups, positions, infos, progress_made, spec, options)
                after_chunk(g, done)
                if stops_early and module.converged(_history(infos[g], "loss"), options):
                    converged = True
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    if stops_early and not (converged or interrupted):
        warnings.warn(
            f"{spec.name}: {module.CONVERGENCE_RULE} was not met within num_steps={total}; "
            "the fit may not have converged. Raise num_steps (or check the learning rate).",
            stacklevel=4,
        )
    timings = {
        "init_seconds": init_seconds,
        "compile_seconds": loop.compile_seconds + problem.compile_seconds,
        "run_seconds": run_seconds,
    }
    return (
        groups,
        _assemble(positions, vectorize),
        _assemble_info(infos, vectorize),
        timings,
        interrupted,
    )


def _history(chunks: list[dict], name: str) -> np.ndarray:
    return np.concatenate([c[name].reshape(-1) for c in chunks]) if chunks else np.zeros(0)


def after_chunk(group: int, steps_done: int) -> None:
    """Called after every chunk (a hook for tests that simulate an interrupt)."""


def _chunk_keys(backend, step_keys, group, done, size, num_chains, vectorize):
    if vectorize:
        flat = step_keys[done * num_chains : (done + size) * num_chains]
        return backend.xp.reshape(flat, (size, num_chains) + tuple(flat.shape[1:]))
    total = len(step_keys) // num_chains
    start = group * total + done
    return step_keys[start : start + size]


def _kept(done: int, size: int, warmup: int, thinning: int) -> np.ndarray:
    steps = np.arange(done, done + size)
    return np.flatnonzero((steps >= warmup) & ((steps - warmup) % thinning == 0))


def _assemble(per_group: list[list[np.ndarray]], vectorize: bool) -> np.ndarray | None:
    joined = [np.concatenate(chunks, axis=0) for chunks in per_group if chunks]
    if not joined:
        return None
    if vectorize:  # (draw, chain, dim) -> (chain, draw, dim)
        return np.swapaxes(joined[0], 0, 1)
    shortest = min(len(j) for j in joined)  # an interrupted run: chains done so far, aligned
    return np.stack([j[:shortest] for j in joined], axis=0)


def _assemble_info(per_group: list[list[dict]], vectorize: bool) -> dict[str, np.ndarray]:
    groups = [chunks for chunks in per_group if chunks]
    if not groups:
        return {}
    out = {}
    for name in groups[0][0]:
        joined = [np.concatenate([c[name] for c in chunks], axis=0) for chunks in groups]
        if vectorize:
            out[name] = np.swapaxes(joined[0], 0, 1)
        else:
            shortest = min(len(j) for j in joined)
            out[name] = np.stack([j[:shortest] for j in joined], axis=0)
    return out


def _log_z(log_weights: np.ndarray) -> LogZ:
    """``log mean exp(w)`` and its delta-method standard error."""
    w = np.asarray(log_weights, dtype=np.float64).reshape(-1)
    shift = w.max()
    ratios = np.exp(w - shift)
    mean = ratios.mean()
    stderr = ratios.std(ddof=1) / math.sqrt(len(w)) / mean if len(w) > 1 else math.inf
    return LogZ(float(shift + math.log(mean)), float(stderr))


def run(spec, problem, options, key, progress=None, observed=None, checkpoint=None) -> Posterior:
    """Run algorithm ``spec`` on ``problem`` with validated ``options``; return a ``Posterior``."""
    module = spec.load()
    backend = problem.backend
    loop_key, sample_key = backend.split(key)
    states, positions, info, timings, interrupted = _run_steps(
        spec, module, problem, options, loop_key, progress, checkpoint or Checkpoint()
    )
    diagnostics: dict[str, Any] = {"partial": interrupted}
    start = getattr(states[0], "warm_start", None)  # an algorithm's warm start, in its state
    if start is not None:
        timings["warm_start_seconds"] = float(start.seconds)
        diagnostics["warm_start"] = warm_start.describe(start)
    log_z = log_weights = None
    if module.KIND == "fit":
        t0 = time.perf_counter()
        sampler = _sampler(spec, module, problem, options)
        draws = sampler(states[0], sample_key)
        timings["compile_seconds"] += sampler.compile_seconds
        timings["sample_seconds"] = time.perf_counter() - t0 - sampler.compile_seconds
        positions = backend.to_numpy(draws.z)[None]
        if draws.log_weights is not None:
            log_weights = backend.to_numpy(draws.log_weights)
        diagnostics.update({f"final_{k}": v[:, -1] for k, v in info.items() if v.size})
    checks.check_result(spec.name, module.KIND, problem, positions, log_weights, info)
    if log_weights is not None:
        diagnostics["log_weights"] = log_weights
        diagnostics["ess"] = checks.importance_ess(log_weights)
        log_z = _log_z(log_weights)
    if positions is None or positions.shape[1] == 0:
        samples = {}
    else:
        t0 = time.perf_counter()
        flat = backend.asarray(positions)
        # compiled with the data as arguments: deterministic sites run the model
        constrain = compiled.compiled(problem, "constrain", lambda bound: bound.constrain)
        samples = {k: backend.to_numpy(v) for k, v in constrain(flat).items()}
        timings["compile_seconds"] += constrain.compile_seconds
        timings["constrain_seconds"] = time.perf_counter() - t0 - constrain.compile_seconds
    return Posterior(
        samples=samples,
        method=spec.name,
        backend=backend.name,
        options=options,
        sample_stats=info,
        diagnostics=diagnostics,
        timings=timings,
        log_z=log_z,
        observed_data=observed or {},
        problem=problem,
    )
