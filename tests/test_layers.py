"""The import contracts of ``.importlinter`` (ARCHITECTURE.md): ppl's layers point one way, only
``ppl.backends`` imports the array libraries, ppl's packages form no import cycle, and a
backend's array layer imports nothing of its probabilistic runtime.

``make test`` runs ``lint-imports`` itself; these tests check the same contracts from Python and
show that each contract fails on the import it exists to forbid, added to the real import graph.
"""

from __future__ import annotations

import copy
import pathlib

import pytest

pytest.importorskip("importlinter")
import grimp  # noqa: E402
from importlinter.api import read_configuration  # noqa: E402
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract  # noqa: E402
from importlinter.contracts.forbidden import ForbiddenContract  # noqa: E402
from importlinter.contracts.layers import LayersContract  # noqa: E402

CONFIG = str(pathlib.Path(__file__).resolve().parent.parent / ".importlinter")
CONTRACT_TYPES = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


@pytest.fixture(scope="module")
def contracts():
    """``{contract id: (contract class, its options, the session options)}`` from the config."""
    config = read_configuration(CONFIG)
    return {
        opts["id"]: (CONTRACT_TYPES[opts["type"]], opts, config["session_options"])
        for opts in config["contracts_options"]
    }


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("ppl", include_external_packages=True, cache_dir=None)


def _kept(contracts, graph, contract_id, extra_import=None) -> bool:
    cls, opts, session = contracts[contract_id]
    graph = copy.deepcopy(graph)
    if extra_import is not None:
        importer, imported = extra_import
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="")
    contract = cls(name=opts["name"], session_options=session, contract_options=opts)
    return contract.check(graph, verbose=False).kept


def test_the_contracts_are_the_four_the_architecture_names(contracts):
    assert {cid: opts["type"] for cid, (_, opts, _) in contracts.items()} == {
        "layers": "layers",
        "boundary": "forbidden",
        "acyclic": "acyclic_siblings",
        "arrays": "forbidden",
    }


@pytest.mark.parametrize("contract_id", ["layers", "boundary", "acyclic", "arrays"])
def test_the_package_keeps_its_contract(contracts, graph, contract_id):
    assert _kept(contracts, graph, contract_id), f"run lint-imports: {contract_id} is broken"


@pytest.mark.parametrize(
    "contract_id,extra_import",
    [
        # a backend reaching up for an algorithm's table, as before ppl.core existed
        ("layers", ("ppl.backends.pyro.svi", "ppl.inference.svi")),
        # the leaf reaching up for the Trace it is viewed through
        ("layers", ("ppl.core.sites", "ppl.handlers.trace_view")),
        ("boundary", ("ppl.inference.driver", "torch")),
        ("boundary", ("ppl.handlers.standard", "jax")),
        # reparam <-> inference, the cycle that gradcheck closed
        ("acyclic", ("ppl.reparam.base", "ppl.inference.svi")),
        # the array layer reaching for the runtime: for a Problem, or for Pyro itself
        ("arrays", ("ppl.backends.numpyro.array", "ppl.backends.problem")),
        ("arrays", ("ppl.backends.pyro.optim", "pyro")),
    ],
    ids=lambda value: "->".join(value) if isinstance(value, tuple) else value,
)
def test_the_contract_fails_on_the_import_it_forbids(contracts, graph, contract_id, extra_import):
    assert not _kept(contracts, graph, contract_id, extra_import)
