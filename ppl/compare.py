"""Run several algorithms on one ready model, on both backends, and tabulate the results.

The runs are independent, and each takes the one seed it is given, so their results do not
depend on where or in which order they run: ``executor="local"`` runs them one after another
here, ``executor="ray"`` as Ray tasks (``pip install ppl[ray]``) on the cluster that
``ray.init`` joins (this machine's cores, or ``RAY_ADDRESS``'s cluster).

>>> from ppl.compare import parse_options
>>> parse_options(["num_samples=200", "guide=mvn", "lr=0.01"])
{'num_samples': 200, 'guide': 'mvn', 'lr': 0.01}
"""

from __future__ import annotations

import ast
import math
import pathlib
import time
from dataclasses import dataclass

from .errors import OptionError, did_you_mean

__all__ = [
    "EXECUTORS",
    "Row",
    "parse_options",
    "run_one",
    "compare",
    "format_table",
    "plot_marginals",
]

#: where ``compare`` runs its runs
EXECUTORS = ("local", "ray")


@dataclass
class Row:
    """One run: accuracy against the model's reference (where known), log Z, timings."""

    method: str
    backend: str
    mean_err: float = math.nan
    sd_err: float = math.nan
    log_z: float | None = None
    log_z_true: float | None = None
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    wall_seconds: float = 0.0
    error: str = ""
    posterior: object = None


def parse_options(items: list[str] | None) -> dict:
    """``["key=value", ...]`` to a dict; values are Python literals where they parse."""
    options = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise OptionError(f"--option takes key=value, got {item!r}.")
        try:
            options[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            options[key] = text
    return options


def _accepted(method: str, options: dict) -> dict:
    from .inference.registry import get

    return {k: v for k, v in options.items() if k in get(method).defaults()}


def run_one(
    spec,
    method: str,
    backend: str,
    options: dict,
    seed: int = 0,
    progress=None,
    strict: bool = True,
    device: str | None = None,
    chain_method: str | None = None,
    devices: int = 1,
) -> Row:
    """Run ``method`` on model ``spec`` and measure it against the spec's reference."""
    import ppl

    given = options if strict else _accepted(method, options)
    start = time.perf_counter()
    post = ppl.infer(
        spec.model,
        method,
        args=spec.args,
        kwargs=spec.kwargs,
        backend=backend,
        seed=seed,
        progress=progress,
        device=device,
        chain_method=chain_method,
        devices=devices,
        **given,
    )
    row = Row(
        method,
        backend,
        wall_seconds=time.perf_counter() - start,
        posterior=post,
        compile_seconds=post.timings.get("compile_seconds", 0.0),
        run_seconds=post.timings.get("run_seconds", 0.0),
        log_z_true=spec.log_z,
    )
    if spec.reference is not None and all(site in post.samples for site in spec.reference):
        errors = spec.compare(post.samples)
        row.mean_err = max(e["mean_err"] for e in errors.values())
        row.sd_err = max(abs(e["sd_err"]) for e in errors.values())
    if post.log_z is not None:
        row.log_z = post.log_z.estimate
    return row


def compare(
    spec, methods, backends, options=None, seed=0, progress=None, executor="local"
) -> list[Row]:
    """``run_one`` for every method on every backend the model and the method support; options
    that a method does not have are left out for it. ``executor``: ``"local"`` (one after
    another, here) or ``"ray"`` (Ray tasks, in parallel; each row's posterior then comes back
    without its problem, so ``predictive`` is not available on it)."""
    _check_names(methods, backends, options or {})
    if executor not in EXECUTORS:
        raise OptionError(
            f"Unknown executor {executor!r}; choose one of {EXECUTORS}."
            + did_you_mean(executor, EXECUTORS)
        )
    from .inference.registry import get

    runs = [
        (spec, method, backend, options or {}, seed)
        for method in methods
        for backend in backends
        if backend in spec.backends and backend in get(method).backends
    ]
    if executor == "ray":
        ray = _ray()
        if not ray.is_initialized():
            ray.init()  # this machine's cores, or the cluster RAY_ADDRESS names
        task = ray.remote(_portable_run)
        return ray.get([task.remote(*run) for run in runs])
    return [_guarded_run(*run, progress=progress) for run in runs]


def _ray():
    try:
        import ray
    except ImportError as err:
        raise OptionError(
            "executor='ray' runs the runs as Ray tasks, but Ray is not installed: "
            "pip install ppl[ray] (or pip install ray), or use executor='local'."
        ) from err
    return ray


def _guarded_run(spec, method, backend, options, seed, progress=None) -> Row:
    """``run_one``, where one failed run is a row of the table, not the end."""
    try:
        return run_one(spec, method, backend, options, seed, progress, strict=False)
    except Exception as err:  # noqa: BLE001 - the error goes into the row, named
        return Row(method, backend, error=f"{type(err).__name__}: {err}"[:160])


def _portable_run(spec, method, backend, options, seed) -> Row:
    """``_guarded_run`` in a Ray worker: the posterior comes back without its problem (the
    compiled functions of a model, which do not travel between processes)."""
    import dataclasses

    row = _guarded_run(spec, method, backend, options, seed, progress=False)
    if row.posterior is not None:
        row.posterior = dataclasses.replace(row.posterior, problem=None)
    return row


def _check_names(methods, backends, options: dict) -> None:
    """An error naming the valid choices for an unknown backend, method, or an option that
    none of ``methods`` has (one a method lacks is left out for it, by design)."""
    import ppl

    from .errors import BackendError
    from .inference.registry import get

    known = ppl.backends()
    for backend in backends:
        if backend not in known:
            raise BackendError(
                f"Unknown backend {backend!r}."
                + did_you_mean(backend, known)
                + f" The backends are: {', '.join(known)}."
            )
    accepted = set().union(*(get(method).defaults() for method in methods))
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise OptionError(
            f"Option {unknown[0]!r} is not an option of any of {', '.join(methods)}."
            + did_you_mean(unknown[0], accepted)
            + f" Their options are: {', '.join(sorted(accepted))}."
        )


def _fmt(value, digits=3) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.{digits}f}")
    )


def format_table(rows: list[Row]) -> str:
    """A plain-text table of the rows."""
    head = (
        f"{'method':<20} {'backend':<8} {'mean err':>9} {'sd err':>8} {'log Z':>9} "
        f"{'true':>8} {'compile s':>9} {'run s':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if r.error:
            lines.append(f"{r.method:<20} {r.backend:<8} failed: {r.error}")
            continue
        lines.append(
            f"{r.method:<20} {r.backend:<8} {_fmt(r.mean_err):>9} {_fmt(r.sd_err):>8} "
            f"{_fmt(r.log_z):>9} {_fmt(r.log_z_true):>8} {r.compile_seconds:>9.2f} "
            f"{r.run_seconds:>8.2f}"
        )
    return "\n".join(lines)


def plot_marginals(rows: list[Row], path: str, max_sites: int = 6, reference=None) -> str:
    """Histograms of each scalar parameter (first ``max_sites``), one colour per run, with the
    ``reference`` moments (a model spec's) as a dashed normal curve; written to ``path``."""
    import matplotlib.pyplot as plt

    from .plots import compare as compare_plot

    runs = {f"{r.method}/{r.backend}": r.posterior for r in rows if r.posterior is not None}
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig = compare_plot(runs, reference=reference, max_params=max_sites, path=path)
    plt.close(fig)
    return path
