"""The one driver loop: runs any registered algorithm's ``Algorithm`` and packs a ``Posterior``.

It builds the algorithm once (``module.build(problem, options)``, the contract in
``ppl.core.algorithm``), reads only its ``Algorithm`` fields and ``Capabilities`` and the run's
``RunConfig``, and never probes the module.

It owns what every algorithm shares: chains (``ppl.inference.chains``: vectorised with ``vmap`` on
JAX, in parallel over devices, or one after another), chunked ``scan`` inside ``jit`` on JAX so a
progress bar can follow a compiled loop, warmup and thinning, collecting draws, NaN/inf checks that
name the step and the site, timing split into compile and run, and Ctrl-C returning the draws so
far.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from ..core import Algorithm, Draws, RunConfig
from ..errors import DivergenceError, UntrustedResultWarning
from . import chain_processes, chains, checks, compiled, data_parallel, warm_start
from .checkpoint import Checkpoint
from .posterior import LogZ, Posterior, resampling_index

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
    ``Capabilities.shares_compiled_steps``. ``build(bound)`` is the ``Algorithm`` on the
    problem bound to the chunk's data."""

    def __init__(self, spec, build, problem, options, capabilities, vectorize: bool,
                 compile_step: bool = False, engine: str | None = None,
                 batched: bool = False):  # fmt: skip
        backend = problem.backend
        mcmc = capabilities.kind == "mcmc"
        self._steps = []  # the steps compiled on their own (``RunConfig.compile_step``)

        def chunk_of(bound):
            if batched:  # the algorithm's own step over stacked chains
                body_step = build(bound).vectorized().step
            else:
                step = build(bound).step
                body_step = backend.vmap(step) if vectorize else step
            if compile_step:
                body_step = backend.compile_step(body_step, spec.name, engine)
                self._steps.append(body_step)

            def chunk(state, keys):
                def body(carry, key):
                    carry, info = body_step(carry, key)
                    return carry, (carry.position if mcmc else None, info)

                return backend.scan(body, state, keys)

            return chunk

        token = compiled.model_token(options)
        static = (spec.name, token, vectorize, compile_step, engine, batched)
        share = capabilities.shares_compiled_steps and static[1] is not None
        self._chunk = compiled.compiled(problem, "driver-chunk", chunk_of, static, share)

    @property
    def compile_seconds(self) -> float:
        return self._chunk.compile_seconds + sum(s.compile_seconds for s in self._steps)

    def run_chunk(self, state, keys):
        return self._chunk(state, keys)


def _sampler(spec, build, problem, options, capabilities, num_samples: int):
    """``(state, key) -> Draws`` of a ``"fit"`` algorithm, compiled with the data as arguments
    where the algorithm shares compiled steps (see ``_Loop``)."""

    def sampler_of(bound):
        sample = build(bound).sample
        return lambda state, key: sample(state, key, num_samples)

    static = (spec.name, compiled.model_token(options), num_samples)
    share = capabilities.shares_compiled_steps and static[1] is not None
    # run once: its compilation (of the draws' random numbers, mostly) is its cost
    return compiled.compiled(problem, "driver-sample", sampler_of, static, share, once=True)


def _to_numpy_tree(backend, tree) -> dict[str, np.ndarray]:
    if tree is None:
        return {}
    # ``info`` is a NamedTuple (the contract)
    return {k: backend.to_numpy(v) for k, v in tree._asdict().items() if v is not None}


def _run_steps(spec, algorithm, build, problem, options, config, key, checkpoint):
    """All steps of all chains. Returns the first chain's final state, kept positions (chain,
    draw, dim), kept infos {name: (chain, draw)}, timings and whether the run was
    interrupted."""
    backend = problem.backend
    caps = algorithm.capabilities
    num_chains = config.num_chains if caps.kind == "mcmc" else 1  # a fit has one state
    warmup, thinning, total = config.num_warmup, config.thinning, config.total_steps
    init_key, run_key = backend.split(key)
    start = time.perf_counter()
    layout = chains.plan(
        backend, config.chain_method, config.device, num_chains, algorithm.vectorized
    )
    vectorize = layout.vectorize
    init = (layout.batched or algorithm).init
    chain_keys = backend.split(init_key, num_chains)
    states = [init(chain_keys[c]) for c in range(num_chains)]
    init_seconds = time.perf_counter() - start
    groups = [_stack_trees(backend, states)] if vectorize else states
    loop_problem = problem
    # the data on every device of the chains, or of the devices that share each minibatch
    replicated = layout.shardings[0] if layout.shardings is not None else None
    if problem.parallel is not None and problem.parallel.placement is not None:
        replicated = problem.parallel.placement
        # the data over the devices that share each minibatch: the sharded rows by blocks
        loop_problem = data_parallel.place(problem)
    elif replicated is not None:
        loop_problem = problem.with_data(
            *backend.to_device((problem.args, dict(problem.kwargs)), replicated)
        )
    loop = _Loop(spec, build, loop_problem, options, caps, vectorize, config.compile_step,
                 config.compile_engine, batched=layout.batched is not None)  # fmt: skip
    step_keys = backend.split(run_key, total * num_chains)
    positions: list[list] = [[] for _ in groups]
    infos: list[list] = [[] for _ in groups]
    progress_made = [0] * len(groups)
    if checkpoint.resume_from:
        groups, positions, infos, progress_made = checkpoint.load(backend, groups, spec, options)
    if layout.shardings is not None:  # one chain per device
        groups = [backend.to_device(groups[0], layout.shardings[1])]
    elif replicated is not None:  # every state on every device that shares the minibatch
        groups = [backend.to_device(group, replicated) for group in groups]
    bar = _progress_bar(total * (1 if vectorize else num_chains), config.progress, spec.name)
    if bar is not None:
        bar.update(sum(progress_made))
    # ``converged`` is ``None`` where the algorithm, or its options (svi's ``tol=0``), run
    # every step
    stops_early = algorithm.converged is not None
    processes = layout.processes and len(groups) > 1
    if processes and (checkpoint.every or checkpoint.resume_from):
        warnings.warn(
            "chain_method='parallel' with checkpoints: the workers cannot write one checkpoint "
            "together, so the chains run one after another.",
            stacklevel=4,
        )
        processes = False

    chunked = bar is not None  # chunks for the bar (the same in a worker, which shows none)

    def run_group(g: int, bar) -> tuple[float, float, bool]:
        """All chunks of chain group ``g``; its run and compile seconds, and whether it
        stopped early (converged)."""
        seconds, compile_start, done = 0.0, loop.compile_seconds, progress_made[g]
        every = checkpoint.every or (CONVERGENCE_CHECK_EVERY if stops_early else None)
        for size in _chunk_sizes(total - done, chunked, every):
            keys = _chunk_keys(backend, step_keys, g, done, size, num_chains, vectorize)
            t0 = time.perf_counter()
            compile_before = loop.compile_seconds
            groups[g], (pos, info) = loop.run_chunk(groups[g], keys)
            pos_np = None if pos is None else backend.to_numpy(pos)
            info_np = _to_numpy_tree(backend, info)  # waits for the chunk to finish
            seconds += time.perf_counter() - t0 - (loop.compile_seconds - compile_before)
            keep = _kept(done, size, warmup, thinning)
            if algorithm.check_info is not None:  # an algorithm's own checks of its steps
                algorithm.check_info(info_np, done, spec.name)
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
            if stops_early and algorithm.converged(_history(infos[g], "loss")):
                return seconds, loop.compile_seconds - compile_start, True
        return seconds, loop.compile_seconds - compile_start, False

    interrupted, converged, run_seconds, worker_compile = False, False, 0.0, 0.0
    try:
        if processes:  # one forked worker per chain; the parent waits for them all
            t0 = time.perf_counter()

            def worker(g):
                return run_group(g, None), groups[g], positions[g], infos[g], progress_made[g]

            results = chain_processes.run_forked(worker, len(groups))
            for g, ((_, seconds, stopped), state, pos, inf, done) in enumerate(results):
                groups[g], positions[g], infos[g], progress_made[g] = state, pos, inf, done
                worker_compile = max(worker_compile, seconds)
                converged = converged or stopped
            run_seconds = time.perf_counter() - t0 - worker_compile
            if bar is not None:
                bar.update(sum(progress_made))
        else:
            for g in range(len(groups)):
                seconds, _, stopped = run_group(g, bar)
                run_seconds += seconds
                converged = converged or stopped
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    if stops_early and not (converged or interrupted):
        warnings.warn(
            f"{spec.name}: {caps.convergence_rule} was not met within num_steps={total}; "
            "the fit may not have converged. Raise num_steps (or check the learning rate).",
            UntrustedResultWarning,
            stacklevel=4,
        )
    timings = {
        "init_seconds": init_seconds,
        "compile_seconds": loop.compile_seconds + worker_compile + problem.compile_seconds,
        "run_seconds": run_seconds,
    }
    # the first chain's final state (of the stacked chains, where they were vectorised)
    first = backend.tree_map(lambda leaf: leaf[0], groups[0]) if vectorize else groups[0]
    return (
        first,
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
    """The keys of steps ``done`` to ``done + size``: step ``t`` of chain ``c`` takes key
    ``t * num_chains + c`` however the chains are laid out, so a seed gives the same chains
    vectorized, in parallel or one after another."""
    flat = step_keys[done * num_chains : (done + size) * num_chains]
    if vectorize:
        return backend.xp.reshape(flat, (size, num_chains) + tuple(flat.shape[1:]))
    return flat[group::num_chains]


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


def run(spec, problem, options, config: RunConfig, observed=None) -> Posterior:
    """Run algorithm ``spec`` on ``problem`` with validated ``options`` and the run settings
    ``config``; return a ``Posterior``."""
    module = spec.load()
    begin = time.perf_counter()
    algorithm = module.build(problem, options)
    build_seconds = time.perf_counter() - begin
    if not isinstance(algorithm, Algorithm):
        raise TypeError(
            f"{spec.target}.build returned a {type(algorithm).__name__}, not a "
            "ppl.core.Algorithm; build(problem, options) must return one (ARCHITECTURE.md)."
        )
    caps = algorithm.capabilities

    def build(bound):  # the algorithm on a problem bound to a compiled function's data
        return algorithm if bound is problem else module.build(bound, options)

    backend = problem.backend
    loop_key, sample_key = backend.split(backend.key(config.seed))
    checkpoint = Checkpoint(config.checkpoint_every, config.checkpoint_path, config.resume_from)
    state, positions, info, timings, interrupted = _run_steps(
        spec, algorithm, build, problem, options, config, loop_key, checkpoint
    )
    timings["init_seconds"] += build_seconds  # the kernel, runner or network that build made
    diagnostics: dict[str, Any] = {"partial": interrupted}
    start = None if algorithm.warm_start is None else algorithm.warm_start(state)
    if start is not None:
        timings["warm_start_seconds"] = float(start.seconds)
        diagnostics["warm_start"] = warm_start.describe(start)
    log_z = log_weights = None
    if caps.kind == "fit":
        t0 = time.perf_counter()
        sampler = _sampler(spec, build, problem, options, caps, config.num_samples)
        draws = sampler(state, sample_key)
        timings["compile_seconds"] += sampler.compile_seconds
        timings["sample_seconds"] = time.perf_counter() - t0 - sampler.compile_seconds
        positions = backend.to_numpy(draws.z)[None]
        if draws.log_weights is not None:
            log_weights = backend.to_numpy(draws.log_weights)
        diagnostics.update({f"final_{k}": v[:, -1] for k, v in info.items() if v.size})
    checks.check_result(spec.name, caps.kind, problem, positions, log_weights, info)
    if log_weights is not None:
        diagnostics["log_weights"] = log_weights
        diagnostics["ess"] = checks.importance_ess(log_weights)
        log_z = _log_z(log_weights)
    if positions is None or positions.shape[1] == 0 or positions.shape[-1] == 0:
        samples = {}  # nothing drawn, or no global latent site (only local ones)
    else:
        t0 = time.perf_counter()
        flat = backend.asarray(positions)
        # compiled with the data as arguments: deterministic sites run the model
        constrain = compiled.compiled(problem, "constrain", lambda bound: bound.constrain)
        samples = {k: backend.to_numpy(v) for k, v in constrain(flat).items()}
        timings["compile_seconds"] += constrain.compile_seconds
        timings["constrain_seconds"] = time.perf_counter() - t0 - constrain.compile_seconds
        if problem.enumerated:
            t0 = time.perf_counter()
            samples.update(_discrete_samples(spec.name, problem, flat, backend.split(loop_key)[1]))
            timings["discrete_seconds"] = time.perf_counter() - t0
    raw_samples = {}
    if log_weights is not None and samples:  # equal-weight draws for the user; raw ones kept
        checks.check_weighted_draws(spec.name, samples, log_weights)
        uniform = backend.uniform(backend.split(sample_key)[1])
        index = resampling_index(log_weights, float(backend.to_numpy(uniform)))
        raw_samples, samples = samples, {k: v[:, index] for k, v in samples.items()}
    return Posterior(
        samples=samples,
        raw_samples=raw_samples,
        method=spec.name,
        backend=backend.name,
        options=options,
        sample_stats=info,
        diagnostics=diagnostics,
        timings=timings,
        log_z=log_z,
        observed_data=observed or {},
        problem=problem,
        params=_params(algorithm, state, backend),
    )


def _discrete_samples(name, problem, flat, key) -> dict:
    """The enumerated sites, one draw from their conditional given each draw of the
    continuous sites (``infer_discrete``): ``{site: (chain, draw, *shape)}`` numpy arrays."""
    if problem.sample_discrete is None:
        sites = problem.enumerated
        named = ", ".join(repr(s) for s in sites[:3]) + (
            f", ... ({len(sites)} sites)" if len(sites) > 3 else ""
        )
        warnings.warn(
            f"{name}: the enumerated sites {named} are summed out of the "
            f"posterior but the {problem.backend.name!r} backend cannot draw them for this "
            "model (its joint support is too large to contract at once); the samples hold the "
            "continuous sites only. Run it with backend='pyro' to recover them.",
            UntrustedResultWarning,
            stacklevel=4,
        )
        return {}
    backend = problem.backend
    batch = tuple(flat.shape[:-1])
    rows = backend.xp.reshape(flat, (math.prod(batch), flat.shape[-1]))
    draws = problem.sample_discrete(rows, key)
    return {k: backend.to_numpy(v).reshape(batch + tuple(v.shape[1:])) for k, v in draws.items()}


def _params(algorithm, state, backend) -> dict:
    """The fitted parameters of ``state`` as numpy (``{}`` for algorithms without them); a
    parameter that is a tree (a NumPyro flow guide's network) as the same tree of numpy."""
    if algorithm.params is None:
        return {}
    params = algorithm.params(state)
    return {name: backend.tree_map(backend.to_numpy, value) for name, value in params.items()}
