"""Optimizers and gradient clipping: known minima, hand-computed steps, state and errors."""

import math

import numpy as np
import pytest

from minilpr.nn import LSTM, SGD, Adam, AdamW, Parameter, clip_grad_norm


def quadratic_problem(rng, n=5):
    """f(x) = 1/2 (x - c)^T A (x - c) with A symmetric positive definite; minimum at c."""
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    a = q @ np.diag(np.linspace(0.5, 2.0, n)) @ q.T
    c = rng.standard_normal(n)
    return a, c


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.3),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: SGD(ps, lr=0.1, momentum=0.5, dampening=0.5),
    lambda ps: Adam(ps, lr=0.05),
    lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0),
], ids=["sgd", "momentum", "nesterov", "dampening", "adam", "adamw"])
def test_reaches_the_minimum_of_a_quadratic(make, rng):
    a, c = quadratic_problem(rng)
    x = Parameter(np.zeros(5))
    opt = make([x])
    for _ in range(600):
        opt.zero_grad()
        x.grad += a @ (x.data - c)
        opt.step()
    np.testing.assert_allclose(x.data, c, atol=1e-4)


def test_weight_decay_moves_the_sgd_minimum(rng):
    """With L2 decay wd the minimum of 1/2 |x - c|² + wd/2 |x|² is c / (1 + wd)."""
    c = rng.standard_normal(4)
    x = Parameter(np.zeros(4))
    opt = SGD([x], lr=0.2, momentum=0.5, weight_decay=0.25)
    for _ in range(300):
        opt.zero_grad()
        x.grad += x.data - c
        opt.step()
    np.testing.assert_allclose(x.data, c / 1.25, atol=1e-8)


def test_sgd_first_steps_by_hand():
    p = Parameter(np.array([1.0, -2.0]))
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    p.grad[...] = [0.5, 1.0]
    opt.step()
    # g1 = grad + 0.1 p = [0.6, 0.8]; first step: buf = g1 (no dampening); p -= 0.1 buf.
    np.testing.assert_allclose(p.data, [1.0 - 0.06, -2.0 - 0.08])
    np.testing.assert_allclose(opt.momentum_buffer[0], [0.6, 0.8])
    p.grad[...] = [1.0, 0.0]
    opt.step()
    # g2 = [1 + 0.094, -0.208]; buf = 0.9 buf + 0.5 g2; p -= 0.1 buf.
    g2 = np.array([1.094, -0.208])
    buf = 0.9 * np.array([0.6, 0.8]) + 0.5 * g2
    np.testing.assert_allclose(opt.momentum_buffer[0], buf)
    np.testing.assert_allclose(p.data, np.array([0.94, -2.08]) - 0.1 * buf)


def test_nesterov_first_step_by_hand():
    p = Parameter(np.array([2.0]))
    opt = SGD([p], lr=0.5, momentum=0.9, nesterov=True)
    p.grad[...] = 1.0
    opt.step()
    # buf = g = 1; step = g + 0.9 buf = 1.9.
    np.testing.assert_allclose(p.data, [2.0 - 0.5 * 1.9])


def test_adam_first_two_steps_by_hand():
    p = Parameter(np.array([1.0, 1.0, 1.0]))
    opt = Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    g1 = np.array([3.0, -0.001, 0.0])
    p.grad[...] = g1
    opt.step()
    # Bias correction makes m_hat = g and v_hat = g²: the first step is lr * sign(g).
    np.testing.assert_allclose(p.data, 1.0 - 0.1 * g1 / (np.abs(g1) + 1e-8))
    np.testing.assert_allclose(opt.exp_avg[0], 0.1 * g1)
    np.testing.assert_allclose(opt.exp_avg_sq[0], 0.01 * g1**2)
    after_one = p.data.copy()
    g2 = np.array([-1.0, 2.0, 0.5])
    p.grad[...] = g2
    opt.step()
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.99 * 0.01 * g1**2 + 0.01 * g2**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.99**2)
    np.testing.assert_allclose(p.data, after_one - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8))


def test_adam_l2_decay_differs_from_adamw_decoupled_decay():
    """With a zero gradient, Adam's L2 term is normalised into a full lr-sized step; AdamW's
    decoupled decay only shrinks the weight by lr * wd of itself."""
    adam_p, adamw_p = Parameter(np.array([4.0])), Parameter(np.array([4.0]))
    adam = Adam([adam_p], lr=0.1, weight_decay=0.01)
    adamw = AdamW([adamw_p], lr=0.1, weight_decay=0.01)
    adam.step()
    adamw.step()
    np.testing.assert_allclose(adam_p.data, [4.0 - 0.1], rtol=1e-7)
    np.testing.assert_allclose(adamw_p.data, [4.0 * (1 - 0.1 * 0.01)])


def test_adamw_default_weight_decay_is_pytorchs():
    assert AdamW([Parameter(np.zeros(1))]).weight_decay == 0.01
    assert Adam([Parameter(np.zeros(1))]).weight_decay == 0.0


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1),
    lambda ps: Adam(ps, weight_decay=0.1),
    lambda ps: AdamW(ps),
], ids=["nesterov", "dampening", "adam", "adamw"])
def test_state_is_updated_in_place(make, rng):
    params = [Parameter(rng.standard_normal((3, 2)).astype(np.float32)),
              Parameter(rng.standard_normal(4).astype(np.float32))]
    opt = make(params)
    names = [k for k in opt.state_dict() if "." in k]
    before = {k: id(getattr(opt, k.split(".")[0])[int(k.split(".")[1])]) for k in names}
    data_ids = [id(p.data) for p in params]
    for _ in range(3):
        for p in params:
            p.grad[...] = rng.standard_normal(p.shape)
        opt.step()
    after = {k: id(getattr(opt, k.split(".")[0])[int(k.split(".")[1])]) for k in names}
    assert before == after and names
    assert [id(p.data) for p in params] == data_ids
    for p in params:
        assert p.data.dtype == np.float32
    for k in names:
        assert opt.state_dict()[k].dtype == np.float32


def test_float64_parameters_keep_float64_state():
    p = Parameter(np.ones(3))
    opt = Adam([p])
    p.grad[...] = 1.0
    opt.step()
    assert opt.exp_avg[0].dtype == np.float64 and p.data.dtype == np.float64


def test_zero_grad(rng):
    p = Parameter(rng.standard_normal(3))
    p.grad[...] = 5.0
    grad = p.grad
    SGD([p], lr=0.1).zero_grad()
    assert grad is p.grad and not p.grad.any()


def run_steps(opt, params, grads):
    for g in grads:
        for p, gi in zip(params, g):
            p.grad[...] = gi
        opt.step()


@pytest.mark.parametrize("cls, kwargs", [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (Adam, dict(lr=0.01)),
    (AdamW, dict(lr=0.01)),
])
def test_state_dict_resumes_exactly(cls, kwargs, rng):
    shapes = [(2, 3), (3,)]
    start = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]

    straight = [Parameter(a.copy()) for a in start]
    run_steps(cls(straight, **kwargs), straight, grads)

    first = [Parameter(a.copy()) for a in start]
    opt = cls(first, **kwargs)
    run_steps(opt, first, grads[:3])
    saved = opt.state_dict()
    opt.lr = 123.0  # the saved lr must come back
    resumed = [Parameter(p.data.copy()) for p in first]
    opt2 = cls(resumed, **kwargs)
    opt2.load_state_dict(saved)
    assert opt2.step_count == 3 and opt2.lr == kwargs["lr"]
    run_steps(opt2, resumed, grads[3:])
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_copy(rng):
    p = Parameter(rng.standard_normal(3))
    opt = Adam([p])
    p.grad[...] = 1.0
    opt.step()
    saved = opt.state_dict()
    opt.step()
    assert not np.array_equal(saved["exp_avg.0"], opt.exp_avg[0])


def test_state_dict_survives_a_npz_file(tmp_path, rng):
    p = Parameter(rng.standard_normal((2, 3)).astype(np.float32))
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad[...] = 1.0
    opt.step()
    np.savez(tmp_path / "opt.npz", **opt.state_dict())
    opt2 = SGD([Parameter(p.data.copy())], lr=0.5, momentum=0.9)
    with np.load(tmp_path / "opt.npz") as saved:
        opt2.load_state_dict(dict(saved))
    assert opt2.step_count == 1 and opt2.lr == pytest.approx(0.1)
    np.testing.assert_array_equal(opt2.momentum_buffer[0], opt.momentum_buffer[0])


def test_load_state_dict_checks_keys_and_shapes():
    opt = Adam([Parameter(np.zeros((2, 2)))])
    state = opt.state_dict()
    with pytest.raises(KeyError, match="missing keys \\['exp_avg_sq.0'\\]"):
        opt.load_state_dict({k: v for k, v in state.items() if k != "exp_avg_sq.0"})
    with pytest.raises(KeyError, match="unexpected keys \\['momentum_buffer.0'\\]"):
        opt.load_state_dict({**state, "momentum_buffer.0": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="'exp_avg.0' has shape \\(3,\\)"):
        opt.load_state_dict({**state, "exp_avg.0": np.zeros(3), "step": 7})
    assert opt.step_count == 0  # nothing changed by a failed load


@pytest.mark.parametrize("make, message", [
    (lambda ps: SGD(ps, lr=-0.1), "SGD: lr must be >= 0"),
    (lambda ps: SGD(ps, lr=float("nan")), "SGD: lr must be >= 0"),
    (lambda ps: SGD(ps, momentum=-0.5), "momentum must be >= 0"),
    (lambda ps: SGD(ps, dampening=1.5), "dampening must be in \\[0, 1\\]"),
    (lambda ps: SGD(ps, weight_decay=-1e-4), "weight_decay must be >= 0"),
    (lambda ps: SGD(ps, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda ps: SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda ps: Adam(ps, betas=(0.9, 1.0)), "betas\\[1\\] must be in \\[0, 1\\)"),
    (lambda ps: Adam(ps, betas=(-0.1, 0.9)), "betas\\[0\\] must be in \\[0, 1\\)"),
    (lambda ps: Adam(ps, betas=(0.9,)), "betas must be a pair"),
    (lambda ps: Adam(ps, eps=-1.0), "eps must be >= 0"),
    (lambda ps: AdamW(ps, weight_decay=-0.01), "AdamW: weight_decay must be >= 0"),
])
def test_bad_hyper_parameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter(np.zeros(2))])


def test_bad_parameter_lists_are_refused():
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 is a ndarray, not a Parameter"):
        SGD([p, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="same Parameter twice"):
        Adam([p, p])
    with pytest.raises(TypeError, match="lr must be a number"):
        Adam([p], lr="0.1")


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps),
                                  lambda ps: AdamW(ps), lambda ps: clip_grad_norm(ps, 1.0)])
def test_a_module_instead_of_its_parameters_says_what_to_pass(make):
    model = LSTM(2, 3, rng=0)
    with pytest.raises(TypeError, match=r"takes the parameters, not the LSTM module: pass "
                                        r"model.parameters\(\)"):
        make(model)
    with pytest.raises(TypeError, match=r"wrap a single one in a list: \[param\]"):
        make(model.weight_ih_l0)
    with pytest.raises(TypeError, match=r"iterable of Parameters \(model.parameters\(\)\), "
                                        "got float"):
        make(0.1)
    make(model.parameters())


def test_casting_the_model_after_building_the_optimizer_is_refused():
    p = Parameter(np.zeros(2, dtype=np.float32))
    opt = Adam([p])
    p.data = p.data.astype(np.float64)
    p.grad = np.zeros_like(p.data)
    with pytest.raises(TypeError, match="build the optimizer after casting"):
        opt.step()


def test_clip_scales_a_large_gradient_to_exactly_max_norm():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros((1, 1)))
    a.grad[...] = [3.0, 0.0]
    b.grad[...] = 4.0  # global norm 5
    total = clip_grad_norm([a, b], max_norm=2.5)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad, [1.5, 0.0])
    np.testing.assert_allclose(b.grad, [[2.0]])
    new_norm = math.sqrt(float((a.grad**2).sum() + (b.grad**2).sum()))
    assert new_norm == pytest.approx(2.5, rel=1e-12)


def test_clip_leaves_small_gradients_alone(rng):
    params = [Parameter(rng.standard_normal((4, 4)).astype(np.float32)) for _ in range(3)]
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape) * 0.01
    before = [p.grad.copy() for p in params]
    total = clip_grad_norm(params, max_norm=1.0)
    assert 0 < total < 1.0
    for p, g in zip(params, before):
        np.testing.assert_array_equal(p.grad, g)


def test_clip_float32_norm_matches_float64(rng):
    p = Parameter(np.zeros(10000, dtype=np.float32))
    p.grad[...] = rng.standard_normal(10000)
    exact = float(np.linalg.norm(p.grad.astype(np.float64)))
    assert clip_grad_norm([p], max_norm=1.0) == pytest.approx(exact, rel=1e-6)
    assert float(np.linalg.norm(p.grad.astype(np.float64))) == pytest.approx(1.0, rel=1e-6)


def test_clip_non_finite():
    p = Parameter(np.zeros(2))
    p.grad[...] = [np.inf, 1.0]
    assert math.isinf(clip_grad_norm([p], 1.0))
    assert p.grad[1] == 1.0  # left unchanged: the caller skips the step
    with pytest.raises(ValueError, match="gradient norm is inf"):
        clip_grad_norm([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be positive"):
        clip_grad_norm([p], 0.0)
