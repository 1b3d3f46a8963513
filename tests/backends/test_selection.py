import threading

import pytest

import ppl
from ppl.errors import BackendError


def test_default_backend_is_numpyro():
    assert ppl.get_backend().name == "numpyro"


def test_backend_context_scopes_and_restores():
    with ppl.backend("pyro"):
        assert ppl.get_backend().name == "pyro"
        with ppl.backend("numpyro"):
            assert ppl.get_backend().name == "numpyro"
        assert ppl.get_backend().name == "pyro"
    assert ppl.get_backend().name == "numpyro"


def test_set_backend_changes_the_process_default():
    ppl.set_backend("pyro")
    try:
        assert ppl.get_backend().name == "pyro"
    finally:
        ppl.set_backend("numpyro")


def test_unknown_backend_suggests_the_closest():
    with pytest.raises(BackendError, match="Did you mean 'numpyro'"):
        ppl.set_backend("numpyr")


def test_backend_context_does_not_leak_between_threads():
    seen, barrier = {}, threading.Barrier(2)

    def work(name):
        with ppl.backend(name):
            barrier.wait()
            seen[name] = ppl.get_backend().name

    threads = [threading.Thread(target=work, args=(n,)) for n in ("pyro", "numpyro")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"pyro": "pyro", "numpyro": "numpyro"}


def test_absent_device_is_a_clear_error(backend):
    with pytest.raises(BackendError, match="device"):
        backend.resolve_device("tpu")
    try:
        backend.resolve_device("cuda")
    except BackendError as err:
        assert "device='cpu'" in str(err)


def test_unknown_precision_suggests_the_closest():
    with pytest.raises(ppl.errors.OptionError, match="float64"):
        ppl.set_precision("float46")
