# %% [markdown]
# # Swapping algorithms on a ready model
#
# `ppl.models` ships posteriors with gold-standard reference moments. `ppl.compare` runs several
# registered algorithms on both backends and measures each against the reference.

# %%
import os

import ppl
from ppl.compare import compare, format_table, plot_marginals

SMOKE = os.environ.get("PPL_SMOKE") == "1"
spec = ppl.models.get("kidiq-kidscore_momiq")
options = (
    {"num_warmup": 50, "num_samples": 50, "num_steps": 200, "map_iterations": 50}
    if SMOKE
    else {"num_warmup": 500, "num_samples": 1000, "guide": "mvn"}
)
print(spec.description)

# %%
rows = compare(spec, ["nuts", "svi"], ppl.backends(), options)
print(format_table(rows))

# %%
os.makedirs("out", exist_ok=True)
plot_marginals(rows, "out/swapping_algorithms.png", reference=spec.reference)
