"""Every posterior-producing algorithm with its DEFAULT options on the posteriordb posteriors.

One cell per (backend, algorithm, posterior): ``ppl.infer`` with default options (only
``batch_size``, about 10% of the data, for the SG-MCMC family), scored against posteriordb's
gold-standard moments. A cell

- **passes** when the worst parameter's mean is within ``MEAN_TOL`` posterior sd of the reference
  and its sd within ``SD_TOL`` of the reference sd (importance weights applied where the
  ``Posterior`` has them, ``post.diagnostics["log_weights"]``);
- is **refused** when ``ppl.infer`` raises a ``ppl`` error, and **warned** when it warns with
  ``UntrustedResultWarning`` (a fit whose loss did not settle included); the message's first
  line is recorded;
- is a **SILENT failure** when it returns a posterior outside the tolerance with neither;
- is a **crash** when anything else is raised (a bug, not a refusal).

    python -m benchmarks.defaults_matrix --backends numpyro --models sblrc-blr --algorithms nuts
    python -m benchmarks.defaults_matrix --json out.json --markdown out.md   # everything
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

import ppl
from ppl.errors import PPLError, UntrustedResultWarning
from ppl.inference import registry
from ppl.models import element_names
from ppl.models.posteriordb import NAMES

__all__ = ["Cell", "algorithms", "batch_size", "run_cell", "score", "main", "markdown"]

#: the worst parameter's mean may be this many reference sd off
MEAN_TOL = 0.3
#: and its sd this fraction off the reference sd
SD_TOL = 0.35
#: SG-MCMC batch size as a fraction of the data size
BATCH_FRACTION = 0.1


@dataclass
class Cell:
    """One run: outcome is ``pass``, ``warned``, ``refused``, ``SILENT``, or ``crash``."""

    backend: str
    algorithm: str
    model: str
    outcome: str
    mean_err: float = float("nan")
    sd_err: float = float("nan")
    worst: str = ""
    message: str = ""
    seconds: float = 0.0
    warm_start_seconds: float = float("nan")


def algorithms() -> list[str]:
    """The registered algorithms that return a posterior (every family but ``decision``)."""
    return [spec.name for spec in ppl.algorithms() if spec.family != "decision"]


def batch_size(spec) -> int:
    """About ``BATCH_FRACTION`` of the largest data array's length (at least 1)."""
    arrays = [np.asarray(a) for a in (*spec.args, *spec.kwargs.values())]
    n = max(a.shape[0] for a in arrays if a.ndim)
    return max(1, round(BATCH_FRACTION * n))


def score(post, reference) -> tuple[float, float, str]:
    """``(max mean error in sd, max |sd / ref sd - 1|, worst parameter)`` of ``post``, with its
    importance weights applied where it has them."""
    log_w = post.diagnostics.get("log_weights")
    weights = None
    # the draws as made, weighted (``samples`` are them resampled by the weights)
    draws = post.samples if log_w is None else post.raw_samples
    if log_w is not None:
        w = np.exp(np.asarray(log_w, dtype=np.float64) - np.max(log_w)).reshape(-1)
        weights = w / w.sum()
    mean_err, sd_err, worst, badness = 0.0, 0.0, "", -1.0
    for site, ref in reference.items():
        ref_mean, ref_sd = np.asarray(ref["mean"]), np.asarray(ref["sd"])
        flat = np.asarray(draws[site], dtype=np.float64).reshape(-1, ref_mean.size)
        w = np.full(len(flat), 1.0 / len(flat)) if weights is None else weights
        mean = w @ flat
        sd = np.sqrt(w @ (flat - mean) ** 2)
        m_err = np.abs(mean - ref_mean.ravel()) / ref_sd.ravel()
        s_err = np.abs(sd / ref_sd.ravel() - 1.0)
        for name, m, s in zip(element_names(site, ref_mean.shape), m_err, s_err):
            if max(m / MEAN_TOL, s / SD_TOL) > badness:  # the parameter furthest off, in tolerances
                worst, badness = name, max(m / MEAN_TOL, s / SD_TOL)
            mean_err, sd_err = max(mean_err, m), max(sd_err, s)
    return float(mean_err), float(sd_err), worst


def _first_line(text: str) -> str:
    return str(text).strip().splitlines()[0][:300] if str(text).strip() else ""


def run_cell(backend: str, algorithm: str, model: str, seed: int = 0, **options) -> Cell:
    """Run and score one cell (``options``: budgets for quick runs; empty for the defaults)."""
    spec = ppl.models.get(model)
    if registry.get(algorithm).family == "sgmcmc":
        options = {"batch_size": batch_size(spec), **options}
    start = time.perf_counter()
    cell = Cell(backend, algorithm, model, "")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            post = ppl.infer(
                spec.model, algorithm, args=spec.args, kwargs=spec.kwargs,
                backend=backend, seed=seed, progress=False, **options,
            )  # fmt: skip
        except PPLError as err:
            cell.outcome, cell.message = "refused", f"{type(err).__name__}: {_first_line(err)}"
        except Exception as err:  # noqa: BLE001 - a crash is a row of the table, not the end
            cell.outcome, cell.message = "crash", f"{type(err).__name__}: {_first_line(err)}"
    cell.seconds = time.perf_counter() - start
    if cell.outcome:
        return cell
    cell.mean_err, cell.sd_err, cell.worst = score(post, spec.reference)
    cell.warm_start_seconds = post.timings.get("warm_start_seconds", float("nan"))
    flagged = [w for w in caught if issubclass(w.category, UntrustedResultWarning)]
    if flagged:
        cell.outcome = "warned"
        cell.message = f"{flagged[0].category.__name__}: {_first_line(flagged[0].message)}"
    elif cell.mean_err <= MEAN_TOL and cell.sd_err <= SD_TOL:
        cell.outcome = "pass"
    else:
        cell.outcome = "SILENT"
    return cell


def _label(cell: Cell) -> str:
    numbers = f"{cell.mean_err:.2g} / {cell.sd_err:.2g}"
    if cell.outcome == "pass":
        return f"✓ {numbers}"
    if cell.outcome == "warned":
        return f"warned ({numbers})"
    if cell.outcome == "SILENT":
        return f"**SILENT {numbers}** ({cell.worst})"
    return cell.outcome


def markdown(cells: list[Cell]) -> str:
    """One table per backend (rows: algorithms, columns: models; each cell ``mean err / sd err``
    and seconds), the counts per outcome, then the messages of refused and warned cells."""
    out = []
    for backend in dict.fromkeys(c.backend for c in cells):
        mine = [c for c in cells if c.backend == backend]
        models = list(dict.fromkeys(c.model for c in mine))
        algos = list(dict.fromkeys(c.algorithm for c in mine))
        at = {(c.algorithm, c.model): c for c in mine}
        out += [f"**{backend}** (each cell: max mean err in sd / max sd err, seconds)", ""]
        out.append("| algorithm | " + " | ".join(models) + " |")
        out.append("|---|" + "---|" * len(models))
        for algo in algos:
            row = [
                f"{_label(at[algo, m])}, {at[algo, m].seconds:.0f} s" if (algo, m) in at else ""
                for m in models
            ]
            out.append(f"| {algo} | " + " | ".join(row) + " |")
        counts = {k: sum(c.outcome == k for c in mine) for k in dict.fromkeys(OUTCOMES)}
        out += ["", ", ".join(f"{k}: {v}" for k, v in counts.items()) + f" of {len(mine)}", ""]
        out += _warm_start_costs(mine)
        notes = [c for c in mine if c.message]
        if notes:
            out += [f"- {c.algorithm} on {c.model}: {c.outcome}: {c.message}" for c in notes]
            out.append("")
    return "\n".join(out)


def _warm_start_costs(cells: list[Cell]) -> list[str]:
    """The warm start's seconds per algorithm (median and range over the models), where the
    algorithm has one."""
    rows = []
    for algo in dict.fromkeys(c.algorithm for c in cells):
        seconds = [c.warm_start_seconds for c in cells if c.algorithm == algo]
        seconds = [s for s in seconds if s == s]  # NaN: no warm start, or no posterior
        if seconds:
            rows.append(
                f"| {algo} | {np.median(seconds):.2f} | {min(seconds):.2f}-{max(seconds):.2f} "
                f"| {len(seconds)} |"
            )
    if not rows:
        return []
    head = ["Warm start (seconds per run):", "", "| algorithm | median | range | runs |"]
    return head + ["|---|---|---|---|"] + rows + [""]


OUTCOMES = ("pass", "warned", "refused", "SILENT", "crash")


def main(argv=None) -> list[Cell]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="numpyro,pyro")
    parser.add_argument("--algorithms", default=",".join(algorithms()))
    parser.add_argument("--models", default=",".join(NAMES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="append each cell to this file (JSON lines) as it ends")
    parser.add_argument("--resume", action="store_true", help="skip the cells already in --json")
    parser.add_argument("--markdown", help="write the tables to this file at the end")
    a = parser.parse_args(argv)
    cells = []
    if a.resume:
        with open(a.json) as f:
            cells = [Cell(**json.loads(line)) for line in f]
    done = {(c.backend, c.algorithm, c.model) for c in cells}
    for backend in a.backends.split(","):
        for model in a.models.split(","):
            for algorithm in a.algorithms.split(","):
                if (backend, algorithm, model) in done:
                    continue
                cell = run_cell(backend, algorithm, model, seed=a.seed)
                cells.append(cell)
                print(json.dumps(asdict(cell)), flush=True)
                if a.json:
                    with open(a.json, "a") as f:
                        f.write(json.dumps(asdict(cell)) + "\n")
    table = markdown(cells)
    print(table)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table)
    return cells


if __name__ == "__main__":
    main()
