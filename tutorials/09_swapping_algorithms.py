# %% [markdown]
# # 09 · Swapping algorithms on a ready model
#
# Why: whether an approximation is good enough depends on the posterior, and the only honest
# check is against a reference. `ppl.models` ships posteriors (from posteriordb) with
# gold-standard reference moments, and `ppl.compare` runs several registered algorithms on both
# backends and measures each against the reference: swapping the algorithm is one string.
#
# `PPL_SMOKE=1` runs with tiny settings (the tests do), so its errors are large.

# %%
import os
import pathlib

import matplotlib.pyplot as plt

import ppl
from ppl.compare import compare, format_table
from ppl.plots import compare as plot_compare

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")  # the compare below runs both backends
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "09_swapping_algorithms"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["marginals.png"]

spec = ppl.models.get("kidiq-kidscore_momiq")
options = (
    {"num_warmup": 30, "num_samples": 30, "num_steps": 100, "map_iterations": 20, "tol": 0}
    if SMOKE
    else {"num_warmup": 500, "num_samples": 1000, "guide": "mvn"}
)
print(spec.description)

# %% [markdown]
# ## The table
#
# One row per (algorithm, backend): the largest error of the posterior means and standard
# deviations, in units of the reference standard deviation, and the time each took. `compare`
# passes each method only the options it has (`guide` to SVI, `num_warmup` to NUTS).

# %%
rows = compare(spec, ["nuts", "svi"], ppl.backends(), options)
print(format_table(rows))

# %% [markdown]
# ## The marginals
#
# Each run's marginal histograms, with the reference as a dashed normal curve.

# %%
runs = {f"{r.method}/{r.backend}": r.posterior for r in rows if r.posterior is not None}
fig = plot_compare(runs, reference=spec.reference, max_params=4)
fig.savefig(OUT / "marginals.png", dpi=90)
plt.show()
