"""``vmap`` on torch vectorises (``torch.func.vmap``) and falls back to a loop, with a warning,
only where a function cannot be vectorised."""

import warnings

import numpy as np
import pytest

import ppl
import ppl.models

torch = pytest.importorskip("torch")


def test_vmap_of_a_model_potential_is_vectorised_and_equals_the_loop():
    backend = ppl.get_backend("pyro")
    spec = ppl.models.get("eight_schools-eight_schools_noncentered")
    problem = backend.problem(spec.model, spec.args, dict(spec.kwargs))
    z = 0.3 * torch.randn(16, problem.layout.dim, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fallback warns: here it must not happen
        batched = backend.vmap(problem.potential)(z)
    rows = torch.stack([problem.potential(row) for row in z])
    np.testing.assert_allclose(batched.numpy(), rows.numpy(), rtol=1e-6)


def test_vmap_of_data_dependent_control_flow_loops_with_a_warning_naming_it():
    arrays = ppl.get_backend("pyro").arrays

    def branchy(x):
        return x * 2 if float(x.sum()) > 0 else -x

    x = torch.tensor([[1.0, 2.0], [-1.0, -3.0]])
    with pytest.warns(UserWarning, match="branchy.*could not be vectorised"):
        out = arrays.vmap(branchy)(x)
    np.testing.assert_array_equal(out.numpy(), [[2.0, 4.0], [1.0, 3.0]])
