import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import ModelError, OptionError
from tests.inference.test_contract import Y, normal_normal


def test_unknown_method_suggests_the_closest():
    with pytest.raises(OptionError, match="Did you mean 'nuts'"):
        ppl.infer(normal_normal, "nutz", args=(Y,))


def test_unknown_guide_and_objective_are_errors():
    with pytest.raises(OptionError, match="Did you mean 'normal'"):
        ppl.infer(normal_normal, "svi", args=(Y,), guide="normall")
    with pytest.raises(OptionError, match="Did you mean 'elbo'"):
        ppl.infer(normal_normal, "svi", args=(Y,), objective="elbow")


def test_model_without_latent_sites_is_an_error_for_nuts(backend):
    def model(y):
        ppl.sample("y", dist.Normal(0.0, 1.0), obs=y)

    with pytest.raises(ModelError, match="no.*latent|latent.*none"):
        ppl.infer(model, "nuts", args=(1.0,), backend=backend.name)


def test_wrong_shaped_observation_names_site_and_shapes(backend):
    with pytest.raises(ppl.errors.ShapeError, match=r"'y'.*\(20, 1\).*\(20,\)"):
        ppl.infer(normal_normal, "nuts", args=(Y[:, None],), backend=backend.name)


def test_chains_warmup_thinning_and_stats(backend):
    post = ppl.infer(
        normal_normal,
        "nuts",
        args=(Y,),
        backend=backend.name,
        num_warmup=100,
        num_samples=60,
        num_chains=2,
        thinning=3,
        progress=False,
    )
    assert post.samples["mu"].shape == (2, 60)
    assert post.sample_stats["diverging"].shape == (2, 60)
    assert {"compile_seconds", "run_seconds"} <= post.timings.keys()
    summary = post.summary()
    assert {"r_hat", "ess_bulk"} <= set(summary.columns)
    assert summary.loc["mu", "r_hat"] < 1.1


def test_save_and_load_round_trip(backend, tmp_path):
    post = ppl.infer(
        normal_normal,
        "nuts",
        args=(Y,),
        backend=backend.name,
        num_warmup=50,
        num_samples=40,
        progress=False,
    )
    back = ppl.load(post.save(str(tmp_path / "post.nc")))
    np.testing.assert_array_equal(back.samples["mu"], post.samples["mu"])
    assert (back.method, back.backend) == ("nuts", backend.name)
    assert back.options["num_samples"] == 40
    np.testing.assert_allclose(back.observed_data["y"], Y, rtol=1e-6)  # stored in float32
    np.testing.assert_array_equal(back.sample_stats["step_size"], post.sample_stats["step_size"])


def test_predictive_draws_new_observations(backend):
    def model(n, y=None):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", n):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    post = ppl.infer(
        model,
        "nuts",
        args=(len(Y),),
        kwargs={"y": Y},
        backend=backend.name,
        num_warmup=100,
        num_samples=200,
        progress=False,
    )
    new = post.predictive(args=(5,))
    assert new["y"].shape == (200, 5)
    # y_new = mu + N(0, 1): over 200 x 5 draws the mean's sd is ~0.05 (draws correlate through
    # mu, sd 0.22/sqrt(ESS)); 0.2 is a 4-sigma margin. A predictive that ignored mu centres at 0.
    assert abs(new["y"].mean() - post.samples["mu"].mean()) < 0.2
    assert abs(new["y"].mean()) > 0.4
    loglik = post.log_likelihood()
    assert loglik["y"].shape == (1, 200, 20)


def test_to_arviz_has_posterior_stats_and_observed(backend):
    post = ppl.infer(
        normal_normal,
        "nuts",
        args=(Y,),
        backend=backend.name,
        num_warmup=50,
        num_samples=30,
        progress=False,
    )
    idata = post.to_arviz(log_likelihood=True)
    assert {"posterior", "sample_stats", "observed_data", "log_likelihood"} <= set(idata.groups())
