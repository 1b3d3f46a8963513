"""``ppl.infer``: run any registered algorithm by name on either backend."""

from __future__ import annotations

import dataclasses
import functools

from ..backends import bind, get_backend
from ..core import RunConfig, minibatch_sizes
from ..errors import ModelError, OptionError, did_you_mean
from ..primitives import plate_subsample_sizes
from . import chains, data_parallel, driver, registry
from .log_density import as_model
from .posterior import Posterior

__all__ = ["infer"]


def infer(
    model,
    method: str,
    args=(),
    kwargs=None,
    *,
    backend: str | None = None,
    seed: int = 0,
    device: str | None = None,
    chain_method: str | None = None,
    devices: int = 1,
    progress: bool | None = None,
    checkpoint_every: int | None = None,
    checkpoint_path: str | None = None,
    resume_from: str | None = None,
    dim: int | None = None,
    init_values: dict | None = None,
    compile: bool | str = False,
    **options,
) -> Posterior:
    """Infer the posterior of ``model(*args, **kwargs)`` with algorithm ``method``.

    ``args``/``kwargs`` are the model's arguments (numpy arrays, lists or arrays of either
    backend); ``options`` are the algorithm's own (``ppl.algorithms()`` lists them with their
    defaults); an unknown option is an error, never dropped. ``progress``: a progress bar
    (default: when stderr is a terminal). ``checkpoint_every=N, checkpoint_path=p`` writes the
    loop's state to ``p`` every ``N`` steps (atomically); ``resume_from=p`` continues such a run
    (same seed and options) to the same numbers. Ctrl-C returns the draws so far, marked
    ``partial``. ``dim=d``: ``model`` is a log density ``f(x, *args, **kwargs)`` of one point
    ``x`` of shape ``(d,)`` written with ``ppl.ops``, rather than a model; the draws are
    ``samples["x"]`` (see ``ppl.inference.log_density``). ``init_values``: ``{site: value}``
    (constrained) where the algorithm starts, for the sites named (a warm start; ``Problem.init``).
    ``chain_method``: ``"vectorized"`` (chains mapped with ``vmap`` on one device; ``nuts``
    on Pyro: a batched kernel with all chains' trees in lockstep),
    ``"parallel"`` (one chain per device; JAX sees several host CPUs with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N``; on Pyro's CPU, one forked worker
    process per chain, as Pyro's own MCMC does) or ``"sequential"``; ``None`` (the
    default): vectorized where the backend can map a model over chains (NumPyro), else
    sequential (Pyro). A method the backend or the devices cannot give warns and falls back.
    ``devices=N``: the stochastic-gradient samplers and ``svi`` (with a ``batch_size``) split
    every minibatch over ``N`` devices, each computing the gradient of its slice, summed before
    the update, so the chain or fit is the one-device one up to rounding; the samplers on
    NumPyro shard the plate's rows over the devices instead, each drawing its slice from its
    own rows (a stratified minibatch: the same posterior, other rows than one device draws)
    (``ppl.inference.data_parallel``): on NumPyro ``N``
    devices of a JAX mesh (``XLA_FLAGS=--xla_force_host_platform_device_count=N`` on CPU;
    several processes or hosts through ``jax.distributed``), on Pyro ``N`` processes joined by
    ``torch.distributed`` (started by ``torchrun --nproc_per_node N``), one per device.
    ``compile=True``: on Pyro, compile the SG-MCMC samplers' minibatch value and gradient with
    ``torch.compile`` (13 s for a first compile on a quiet 2-core machine; per step ~10% faster
    than the default on the logistic regression of ``benchmarks/sgmcmc_speed.py``); for the
    flows and diffusions (``Capabilities.compiles_step``), record the whole training step as
    one graph at its first call and run it with TorchScript (``ppl.backends.pyro.traced``:
    seconds to record, per step ~2-3x faster, ``benchmarks/pyro_vs_numpyro_steps.py``); other
    algorithms refuse it on Pyro; NumPyro always compiles. ``compile="inductor"``: the flows'
    and diffusions' recorded step compiled by ``torch.compile``'s inductor instead (its
    elementwise operations fused into C++ loops: needs a C++ compiler, tens of seconds to
    compile, ~3x faster per step than TorchScript on the double well's RealNVP); for the
    SG-MCMC samplers the same as ``True``.
    Without it, Pyro's SG-MCMC samplers take that value and gradient from one recorded graph
    (no autograd pass per step; built in well under a second, falling back with a warning for
    a model whose structure is not static). ``timings["compile_seconds"]`` holds compilation,
    and on Pyro the recording of the SG-MCMC minibatch gradient.

    >>> import ppl
    >>> from ppl import dist
    >>> def model(y):
    ...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ...     ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
    >>> post = ppl.infer(model, "nuts", args=(0.5,), backend="pyro", num_warmup=100,
    ...                  num_samples=100, progress=False)
    >>> post.samples["mu"].shape, post.backend
    ((1, 100), 'pyro')
    """
    spec = registry.get(method)
    _check_compile(compile)
    if dim is not None:
        model = as_model(model, dim)
    chosen = get_backend(backend)
    if chosen.name not in spec.backends:
        raise OptionError(
            f"{spec.name!r} runs on the backends {spec.backends}, not {chosen.name!r}."
        )
    opts = registry.validate_options(spec, options)
    chains.check_chain_method(chain_method)
    capabilities = spec.load().CAPABILITIES
    data_parallel.check_devices(devices, spec.name, capabilities, chain_method)
    minibatch = capabilities.minibatch  # the algorithms that take a batch_size
    # the samplers take their minibatch gradients from the problem, so the backend prepares
    # them (Pyro records one fused graph); svi ("fit") subsamples through the backend's own SVI
    gradients = minibatch and capabilities.kind == "mcmc"
    if compile and not (gradients or capabilities.compiles_step) and chosen.compiles_on_request:
        raise OptionError(
            f"compile=True compiles the minibatch gradient that the SG-MCMC samplers take, or "
            f"the training step of the flows and diffusions; {spec.name!r} has neither, so on "
            f"{chosen.name!r} its compile time would be wasted. Drop compile=True."
        )
    target = chosen.resolve_device(device)
    # the devices that share each minibatch (a process group started on torch); this
    # process builds the problem on its own device of them
    parallel = chosen.data_parallel(devices, target) if devices > 1 else None
    if parallel is not None:
        target = parallel.device
    with chosen.device_scope(target):
        args, kwargs = chosen.convert_args(args, kwargs)
        args, kwargs = chosen.to_device((args, kwargs), target)
        sizes = minibatch_sizes(opts.batch_size) if minibatch else {}
        problem = _build_problem(  # compile=True: the minibatch gradient, or else the step
            chosen,
            sizes,
            model,
            args,
            kwargs,
            init_values,
            bool(compile) and gradients,
            gradients,
            capabilities.discrete,
            capabilities.local_latents,
        )
        if problem.dim == 0 and not problem.local_sites:
            raise ModelError(
                f"{spec.name!r} needs at least one latent (unobserved, continuous) sample site; "
                "the model has none."
            )
        if devices > 1:
            data_parallel.check_problem(problem, devices)
            problem = dataclasses.replace(problem, parallel=parallel)
            if gradients:  # the samplers' data sharded over the devices, where it checks out
                problem = data_parallel.shard(problem)
        config = RunConfig.for_options(
            capabilities.kind,
            opts,
            seed=seed,
            device=device,
            chain_method=chain_method,
            devices=devices,
            progress=progress,
            checkpoint_every=checkpoint_every,
            checkpoint_path=checkpoint_path,
            resume_from=resume_from,
            compile_step=bool(compile) and capabilities.compiles_step,
            compile_engine="inductor" if compile == "inductor" else None,
        )
        run = bind(driver.run, chosen.name)
        return run(spec, problem, opts, config, problem.observed)


def _check_compile(compile) -> None:
    if isinstance(compile, bool) or compile == "inductor":
        return
    hint = did_you_mean(compile, ["inductor"]) if isinstance(compile, str) else ""
    raise OptionError(
        f"compile={compile!r} is not a choice; use compile=True (each algorithm's default "
        "compiler), compile='inductor' or compile=False." + hint
    )


def _build_problem(
    backend,
    sizes,
    model,
    args,
    kwargs,
    init_values=None,
    compile=False,
    minibatch=False,
    discrete=False,
    local_latents=False,
):
    """``backend.problem(model, ...)``, with the plate subsample sizes ``{plate: size}`` that
    the algorithm sets for the user (a minibatch algorithm's ``batch_size``) in effect whenever
    the model runs: while the problem is built and at every potential evaluation (the model is
    wrapped, so a re-trace under ``jit`` sees them too). Sizes the problem itself sets (the
    whole data set for ``constrain``) take precedence. ``Problem.model`` stays the user's
    model, so predictive draws cover the whole data set."""
    if not sizes:
        return backend.problem(
            model,
            args,
            kwargs,
            init_values=init_values,
            compile=compile,
            minibatch=minibatch,
            discrete=discrete,
            local_latents=local_latents,
        )

    @functools.wraps(model)
    def subsampled(*model_args, **model_kwargs):
        with plate_subsample_sizes(sizes, keep_outer=True):
            return model(*model_args, **model_kwargs)

    problem = backend.problem(
        subsampled,
        args,
        kwargs,
        init_values=init_values,
        compile=compile,
        minibatch=minibatch,
        discrete=discrete,
        local_latents=local_latents,
    )
    _check_subsampled(sizes, problem.subsample_plates)
    return dataclasses.replace(problem, model=bind(model, backend.name))


def _check_subsampled(sizes, subsampled_plates):
    """An ``OptionError`` when minibatch sizes set for the user subsample nothing: a named plate
    the model lacks, or no plate larger than the size."""
    too_large = [
        name
        for name, (size, subsample) in subsampled_plates.items()
        if name in sizes and subsample is not None and subsample >= size
    ]
    missing = too_large + [name for name in sizes if name != "*" and name not in subsampled_plates]
    if missing:
        raise OptionError(
            f"batch_size names the plate {missing[0]!r}, which the model does not subsample (its "
            f"subsampled plates: {sorted(subsampled_plates)}): the model has no such plate, or "
            f"batch_size {sizes[missing[0]]} is not smaller than it. Name a ppl.plate of the "
            "model and a batch size below its size."
        )
    if not subsampled_plates:
        raise OptionError(
            f"batch_size={sizes['*']} subsamples nothing: the model has no ppl.plate larger than "
            "it. Put the observations in ppl.plate(name, N) (and index the data by it), or "
            "drop batch_size for full-batch gradients."
        )
