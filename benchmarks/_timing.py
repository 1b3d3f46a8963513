"""Timing helpers shared by the benchmarks: medians of repeats, alternating the contenders."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Run every function ``repeats`` times, interleaved so machine noise hits all alike;
    the median wall time of each (the first call of each is a warm-up and not counted)."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}
