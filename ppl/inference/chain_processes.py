"""Chains in forked worker processes: ``chain_method="parallel"`` on a backend whose loop runs
eagerly (torch on CPU), as Pyro's own MCMC runs several chains.

Each worker is forked from the driver after the chains' initial states and keys are made, runs
one chain group's whole loop (the same chunks and keys as one after another, so the same draws)
and sends back its results, pickled; an error in a worker is raised in the parent. Forking
shares the model, the problem and the compiled functions without pickling them, so closures
and models defined anywhere work. Each worker keeps the parent's intra-op thread count, so its
arithmetic is the sequential run's.

>>> run_forked(lambda g: g * g, 3)
[0, 1, 4]
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
import traceback
import warnings
from collections.abc import Callable

__all__ = ["run_forked"]


def _work(fn, index, writer) -> None:
    try:
        result = ("ok", fn(index))
    except BaseException as err:  # noqa: BLE001 - every failure goes back to the parent
        result = ("error", err, traceback.format_exc())
    try:  # plain pickle, by value (torch's reductions would share memory the worker frees)
        payload = pickle.dumps(result)
    except Exception as err:  # noqa: BLE001 - an unpicklable result or error: say so
        text = f"{type(err).__name__}: {err}\n{traceback.format_exc()}"
        payload = pickle.dumps(("error", None, text))
    writer.send_bytes(payload)
    writer.close()


def run_forked(fn: Callable[[int], object], count: int) -> list:
    """``[fn(0), ..., fn(count - 1)]``, each computed in its own forked process at once."""
    context = multiprocessing.get_context("fork")
    readers, workers = [], []
    # the parent's objects out of the collector's reach while forking: a worker's collections
    # would otherwise write to (and so copy) every page of the parent that holds an object
    gc.freeze()
    try:
        for index in range(count):
            reader, writer = context.Pipe(duplex=False)
            worker = context.Process(target=_work, args=(fn, index, writer), daemon=True)
            with warnings.catch_warnings():
                # JAX, where it is loaded, warns that its threads do not survive a fork; a
                # worker runs the torch loop alone and never calls JAX
                warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
                worker.start()
            writer.close()  # the parent's copy: the reader sees EOF if the worker dies
            readers.append(reader)
            workers.append(worker)
        results = []
        for index, (reader, worker) in enumerate(zip(readers, workers)):
            try:
                message = pickle.loads(reader.recv_bytes())
            except EOFError:
                worker.join()
                raise RuntimeError(
                    f"chain worker {index} ended without a result (exit code "
                    f"{worker.exitcode}); run with chain_method='sequential' to see its error."
                ) from None
            if message[0] == "error":
                _, err, text = message
                if err is None or not isinstance(err, BaseException):
                    raise RuntimeError(f"chain worker {index} failed:\n{text}")
                raise err
            results.append(message[1])
        return results
    finally:
        gc.unfreeze()
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
        for reader in readers:
            reader.close()
