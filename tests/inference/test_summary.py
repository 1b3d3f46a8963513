"""``Posterior.summary`` for one chain and with divergences (issue 24, item 14).

No inference runs: the posteriors are built from fixed draws.
"""

from __future__ import annotations

import logging

import arviz as az
import numpy as np
import pytest

from ppl.inference.posterior import Posterior
from ppl.inference.summary import NO_R_HAT


def _posterior(num_chains: int, diverging=None) -> Posterior:
    rng = np.random.default_rng(0)
    stats = {} if diverging is None else {"diverging": diverging}
    return Posterior(
        samples={
            "x": rng.normal(size=(num_chains, 100)),
            "v": rng.normal(size=(num_chains, 100, 2)),
        },
        method="nuts",
        backend="numpyro",
        sample_stats=stats,
    )


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def arviz_log():
    """What ArviZ logs (through its own ``Logger("arviz")``, which caplog does not see)."""
    records = _Records()
    az._log.addHandler(records)
    yield records.messages
    az._log.removeHandler(records)


def test_one_chain_has_no_r_hat_column_and_says_why_without_arviz_warning(arviz_log):
    table = _posterior(1).summary()
    assert not any("Shape validation failed" in m for m in arviz_log), arviz_log
    assert "r_hat" not in table.columns and {"mean", "ess_bulk"} <= set(table.columns)
    assert table.attrs["notes"] == [NO_R_HAT]
    assert NO_R_HAT in table.to_string() and NO_R_HAT in repr(table)
    assert repr(table).count(NO_R_HAT) == 1


def test_several_chains_keep_r_hat_and_no_note():
    table = _posterior(2).summary()
    assert np.isfinite(table["r_hat"]).all()
    assert table.attrs["notes"] == []


def test_divergences_are_counted_with_their_share():
    diverging = np.zeros((2, 100), dtype=bool)
    diverging[0, :3] = diverging[1, :2] = True
    table = _posterior(2, diverging).summary()
    assert table.attrs["notes"] == [
        "divergences: 5 of 200 draws (2.5%); raise target_accept_prob or reparameterize the model."
    ]
    clean = _posterior(2, np.zeros((2, 100), dtype=bool)).summary()
    assert clean.attrs["notes"] == ["divergences: 0 of 200 draws (0.0%)."]
