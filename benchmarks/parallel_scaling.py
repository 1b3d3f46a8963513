"""Data-parallel SGLD (``ppl.infer(..., devices=N)``) on a large logistic regression: time per
step and the draws' agreement with the one-device run, across 1, 2, 4 JAX host devices and
1, 2 torch processes (gloo).

Every configuration runs in its own process(es): the JAX one with
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (devices 1, 2 and 4 in turn), the torch
ones as one process and as two processes joined by gloo (the environment ``torchrun`` sets).
Each configuration's draws are compared with its backend's one-device draws for the same
seed: the largest absolute difference, and the largest difference of the posterior means in
units of the posterior standard deviation.

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


def run(backend: str, devices: int, args) -> dict:
    """One ``ppl.infer`` of sgld; its draws go to ``args.out``, its timings are returned."""
    import warnings

    import ppl

    X, y = data(args.n, args.d)
    half = args.steps // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the short run's own checks (ESS, R-hat)
        post = ppl.infer(model, "sgld", args=(X, y), backend=backend, seed=0, progress=False,
                         num_warmup=half, num_samples=args.steps - half, batch_size=args.batch,
                         step_size=args.step_size, devices=devices)  # fmt: skip
    np.save(args.out, post.samples["w"])
    seconds = post.timings["run_seconds"]
    return {"backend": backend, "devices": devices, "step_us": 1e6 * seconds / args.steps,
            "compile_s": post.timings["compile_seconds"]}  # fmt: skip


def _worker(args) -> None:
    if args.backend == "numpyro":
        rows = []
        for devices in (1, 2, 4):
            args.out = f"{args.prefix}-numpyro-{devices}.npy"
            rows.append(run("numpyro", devices, args))
        print("ROWS", json.dumps(rows))
    else:
        args.out = f"{args.prefix}-pyro-{args.devices}.npy"
        row = run("pyro", args.devices, args)
        if os.environ.get("RANK", "0") == "0":
            print("ROWS", json.dumps([row]))


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
    one = np.load(f"{prefix}-{row['backend']}-1.npy")
    mine = np.load(f"{prefix}-{row['backend']}-{row['devices']}.npy")
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
    parser.add_argument("--worker", dest="backend", default=None)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--prefix", default=None)
    args = parser.parse_args()
    if args.backend is not None:
        return _worker(args)
    shared = ["--n", str(args.n), "--d", str(args.d), "--batch", str(args.batch),
              "--steps", str(args.steps), "--step-size", str(args.step_size)]  # fmt: skip
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
        print(f"sgld, N={args.n}, D={args.d}, minibatch {args.batch}, {args.steps} steps, "
              f"float32 ({time.perf_counter() - begin:.0f} s in all)\n")  # fmt: skip
        print("| backend | devices | per step (ms) | vs 1 device | compile (s) | "
              "largest draw difference | largest mean difference (sd) |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|")
        base = {r["backend"]: r["step_us"] for r in rows if r["devices"] == 1}
        for row in rows:
            diff, mean_sd = _agreement(prefix, row)
            print(f"| {row['backend']} | {row['devices']} | {row['step_us'] / 1e3:.2f} | "
                  f"{base[row['backend']] / row['step_us']:.2f}x | {row['compile_s']:.1f} | "
                  f"{diff:.1e} | {mean_sd:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
