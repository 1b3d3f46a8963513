"""Data-parallel SGLD and SVI (``ppl.infer(..., devices=N)``) on a large logistic regression:
time per step and the posterior's agreement with the one-device run, across 1, 2, 4 JAX host
devices and 1, 2 torch processes (gloo).

Every configuration runs in its own process(es): the JAX one with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (devices 1, 2 and 4 in turn), the torch
ones as one process and as two processes joined by gloo (the environment ``torchrun`` sets).
Each configuration is compared with its backend's one-device run for the same seed: for
sgld the largest absolute difference of the draws and of the posterior means (in posterior
standard deviations, over the second half of the draws); on JAX the data are sharded over the
devices and each draws its part of the minibatch from its own rows (a stratified minibatch),
so those sgld draws differ from one device's by Monte Carlo error, not rounding; for svi (an
AutoNormal guide from the prior's median, minibatch ELBO, every step run) the largest absolute
difference of the fitted guide's parameters (locations and scales) and of its means in units
of its scales.

Usage::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/parallel_scaling.py            # N=10^6, D=100
    PYTHONPATH=$PWD .venv/bin/python benchmarks/parallel_scaling.py --n 20000 --steps 100
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def data(n: int, d: int):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal(d).astype(np.float32) / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w)))).astype(np.float32)
    return X, y


def model(X, y):
    import ppl

    w = ppl.sample("w", ppl.dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    with ppl.plate("data", X.shape[0]) as idx:
        ppl.sample("y", ppl.dist.Bernoulli(logits=ppl.ops.matmul(X[idx], w)), obs=y[idx])


METHODS = ("sgld", "svi")


def run(method: str, backend: str, devices: int, args) -> dict:
    """One ``ppl.infer``; its draws (sgld) or fitted guide (svi) go to ``args.out``, its
    timings are returned."""
    import warnings

    import ppl

    X, y = data(args.n, args.d)
    half = args.steps // 2
    if method == "sgld":
        options = dict(num_warmup=half, num_samples=args.steps - half, step_size=args.step_size)
    else:  # every step (tol=0) from the prior's median (no MAP search over the 10^6 rows)
        options = dict(num_steps=args.steps, lr=args.lr, tol=0, init="median", num_samples=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short run's own checks (ESS, R-hat, the budget)
        post = ppl.infer(model, method, args=(X, y), backend=backend, seed=0, progress=False,
                         batch_size=args.batch, devices=devices, **options)  # fmt: skip
    if method == "sgld":
        np.savez(args.out, draws=post.samples["w"])
    else:
        # AutoNormal's parameters: w_auto_loc / w_auto_scale (NumPyro), AutoNormal.locs.w /
        # AutoNormal.scales.w (Pyro)
        params = {name: np.asarray(value) for name, value in post.params.items()}
        (loc,) = (v for k, v in params.items() if "loc" in k)
        (scale,) = (v for k, v in params.items() if "scale" in k)
        np.savez(args.out, loc=loc, scale=scale)
    seconds = post.timings["run_seconds"]
    return {"method": method, "backend": backend, "devices": devices,
            "step_us": 1e6 * seconds / args.steps,
            "compile_s": post.timings["compile_seconds"]}  # fmt: skip


def _out(prefix, method, backend, devices) -> str:
    return f"{prefix}-{method}-{backend}-{devices}.npz"


def _worker(args) -> None:
    rows = []
    for method in METHODS:
        if args.backend == "numpyro":
            for devices in (1, 2, 4):
                args.out = _out(args.prefix, method, "numpyro", devices)
                rows.append(run(method, "numpyro", devices, args))
        else:
            args.out = _out(args.prefix, method, "pyro", args.devices)
            rows.append(run(method, "pyro", args.devices, args))
    if os.environ.get("RANK", "0") == "0":
        print("ROWS", json.dumps(rows))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(argv, extra_env):
    # one thread per torch process: two intra-op threads per process on a shared 2-core
    # machine made a step up to 100x slower (oversubscription); JAX keeps its own threads
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **extra_env}
    return subprocess.Popen([sys.executable, __file__, *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def _rows(procs) -> list[dict]:
    rows = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(err[-3000:])
        rows += [r for line in out.splitlines() if line.startswith("ROWS ")
                 for r in json.loads(line[5:])]  # fmt: skip
    return rows


def _agreement(prefix, row) -> tuple[float, float]:
    """The largest absolute difference from the one-device run (draws, or guide parameters)
    and the largest difference of the posterior means in posterior standard deviations."""
    one = np.load(_out(prefix, row["method"], row["backend"], 1))
    mine = np.load(_out(prefix, row["method"], row["backend"], row["devices"]))
    if row["method"] == "svi":
        diff = max(float(np.abs(mine[k] - one[k]).max()) for k in ("loc", "scale"))
        return diff, float((np.abs(mine["loc"] - one["loc"]) / one["scale"]).max())
    one, mine = one["draws"], mine["draws"]
    kept = one[:, one.shape[1] // 2 :]  # the second half of the draws: the chain has settled
    sd = kept.reshape(-1, kept.shape[-1]).std(axis=0)
    means = np.abs(mine[:, mine.shape[1] // 2 :].mean(axis=(0, 1)) - kept.mean(axis=(0, 1)))
    return float(np.abs(mine - one).max()), float((means / sd).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--step-size", type=float, default=1e-6)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--worker", dest="backend", default=None)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--prefix", default=None)
    args = parser.parse_args()
    if args.backend is not None:
        return _worker(args)
    shared = ["--n", str(args.n), "--d", str(args.d), "--batch", str(args.batch),
              "--steps", str(args.steps), "--step-size", str(args.step_size),
              "--lr", str(args.lr)]  # fmt: skip
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "draws")
        common = [*shared, "--prefix", prefix]
        four_devices = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
        rows = _rows([_spawn([*common, "--worker", "numpyro"], four_devices)])
        rows += _rows([_spawn([*common, "--worker", "pyro", "--devices", "1"], {})])
        port = str(_free_port())
        rows += _rows([
            _spawn([*common, "--worker", "pyro", "--devices", "2"],
                   {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "RANK": str(rank),
                    "WORLD_SIZE": "2", "LOCAL_RANK": str(rank)})
            for rank in range(2)
        ])  # fmt: skip
        print(f"N={args.n}, D={args.d}, minibatch {args.batch}, {args.steps} steps, "
              f"float32 ({time.perf_counter() - begin:.0f} s in all)\n")  # fmt: skip
        print("| method | backend | devices | per step (ms) | vs 1 device | compile (s) | "
              "largest difference | largest mean difference (sd) |")  # fmt: skip
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        base = {(r["method"], r["backend"]): r["step_us"] for r in rows if r["devices"] == 1}
        for row in sorted(rows, key=lambda r: (r["method"], r["backend"], r["devices"])):
            diff, mean_sd = _agreement(prefix, row)
            speed = base[row["method"], row["backend"]] / row["step_us"]
            print(f"| {row['method']} | {row['backend']} | {row['devices']} | "
                  f"{row['step_us'] / 1e3:.2f} | {speed:.2f}x | {row['compile_s']:.1f} | "
                  f"{diff:.1e} | {mean_sd:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
