"""The functional torch optimizers follow torch.optim step by step, and svi's decaying Adam is
torch's Adam with the rate schedule of NumPyro's ``optax.exponential_decay`` (no clamp)."""

import pytest

torch = pytest.importorskip("torch")
pyro_optim = pytest.importorskip("pyro.optim")

from ppl.backends.pyro.optim import functional_optimizer  # noqa: E402

REFERENCE = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.05),
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.05),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.05),
}


def _grad(x, t):  # a gradient that changes sign and size over the steps, with one large entry
    return torch.sin(x * (t + 1)) + torch.tensor([0.0, 30.0 * (t % 2), 0.0], dtype=x.dtype)


def _compare(ours, reference_step, x0):
    params, state = {"x": x0.clone()}, ours.init({"x": x0})
    for t in range(20):
        params, state = ours.update({"x": _grad(params["x"], t)}, state, params)
        expected = reference_step(t)
    # float64 rounding differs only in the order of operations
    torch.testing.assert_close(params["x"], expected, rtol=1e-12, atol=1e-12)
    assert int(state["step"]) == 20


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_functional_optimizer_matches_torch_optim(name):
    x0 = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    leaf = x0.clone().requires_grad_(True)
    reference = REFERENCE[name]([leaf])

    def reference_step(t):
        leaf.grad = _grad(leaf.detach(), t)
        reference.step()
        return leaf.detach()

    _compare(functional_optimizer(name, 0.05), reference_step, x0)


def test_svi_decaying_adam_is_unclamped_adam_with_numpyros_schedule():
    # issue 24 item 2: Pyro's ClippedAdam clamps each gradient entry to [-10, 10], which biased
    # noisy Gamma-guide fits; svi's Adam on Pyro is torch's Adam (the entry 30 of _grad is not
    # clamped) with the rate lr * lr_decay ** (step / num_steps), as on NumPyro.
    from ppl.backends.pyro.svi import _optimizer
    from ppl.inference.svi import Options

    options = Options(lr=0.05, lr_decay=0.1, num_steps=20)
    x0 = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    leaf = x0.clone().requires_grad_(True)
    reference = torch.optim.Adam([leaf], lr=0.05)
    schedule = torch.optim.lr_scheduler.LambdaLR(reference, lambda step: 0.1 ** (step / 20))

    def reference_step(t):
        leaf.grad = _grad(leaf.detach(), t)
        reference.step()
        schedule.step()
        return leaf.detach()

    _compare(_optimizer(options), reference_step, x0)
