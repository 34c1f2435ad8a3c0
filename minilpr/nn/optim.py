"""Optimizers — SGD (momentum, Nesterov), Adam, AdamW — and gradient clipping.

An optimizer owns a list of `Parameter` objects and, for each, the arrays its update rule
remembers between steps (a momentum buffer; Adam's two moment estimates). ``step()`` reads every
``param.grad`` that the backward passes filled and changes ``param.data`` in place; ``zero_grad()``
clears the gradients for the next batch. Layers never contain optimizer code.

The update rules are PyTorch's (``torch.optim``), so a recipe written for PyTorch means the same
thing here; `tests/nn/test_optim_torch.py` checks this step by step. With ``t`` the step number
(1 on the first step), ``g`` the gradient and ``lr`` the learning rate:

SGD, with ``wd`` = weight_decay, ``mu`` = momentum, ``d`` = dampening::

    g = g + wd * p                         (L2 penalty wd/2 |p|², added to the gradient)
    b = g                     if t == 1
    b = mu * b + (1 - d) * g  otherwise    (the momentum buffer: a running sum of gradients)
    p = p - lr * (g + mu * b)   with Nesterov momentum (look ahead along the buffer)
    p = p - lr * b              otherwise

Adam (Kingma & Ba 2015)::

    g = g + wd * p                         (Adam's weight decay is an L2 penalty, as above)
    m = b1 * m + (1 - b1) * g              (first moment: the mean gradient)
    v = b2 * v + (1 - b2) * g²             (second moment: the mean squared gradient)
    p = p - lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)

``m`` and ``v`` start at zero, so early averages are biased towards zero; dividing by
``1 - beta^t`` removes that bias. Each coordinate moves by about ``lr`` whatever the size of its
gradient, because ``m_hat / sqrt(v_hat)`` is close to ±1 when the gradient keeps its sign.

AdamW (Loshchilov & Hutter 2019) *decouples* the weight decay: instead of adding ``wd * p`` to the
gradient — where Adam's normalisation would shrink it for parameters with large gradients — it
shrinks the weights directly, ``p = p - lr * wd * p``, then takes a plain Adam step.

Every state array is allocated once, when the optimizer is built, and updated in place; a
step allocates nothing. That is why the updates below are written with ``out=`` and one scratch
array per parameter rather than as the one-line formulas above.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from minilpr.nn.module import Module, Parameter


def _parameter_list(owner: str, params) -> list[Parameter]:
    """``params`` as a list, with a one-line hint for the natural mistakes: passing the module
    itself, or one bare Parameter, instead of an iterable of Parameters."""
    if isinstance(params, Module):
        raise TypeError(f"{owner} takes the parameters, not the {type(params).__name__} module: "
                        f"pass model.parameters(), e.g. {owner}(model.parameters(), ...)")
    if isinstance(params, Parameter):
        raise TypeError(f"{owner} takes an iterable of Parameters; wrap a single one in a "
                        "list: [param]")
    try:
        return list(params)
    except TypeError:
        raise TypeError(f"{owner} takes an iterable of Parameters (model.parameters()), got "
                        f"{type(params).__name__}") from None


def _add_scaled(y: np.ndarray, a: float, x: np.ndarray, scratch: np.ndarray) -> None:
    """``y += a * x`` without allocating: ``a * x`` is written into ``scratch`` first."""
    np.multiply(x, a, out=scratch)
    y += scratch


class Optimizer:
    """What every optimizer shares: its parameters, ``lr``, the step count and saving state.

    Subclasses name their per-parameter state arrays in ``_state_names`` (lists of arrays, one per
    parameter, in ``self.__dict__``) so that `state_dict` and `load_state_dict` find them.

    Attributes
    ----------
    params : list of Parameter
    lr : float
        The learning rate; schedules (`minilpr.nn.schedule`) change it between steps.
    step_count : int
        Steps taken so far (Adam's ``t`` after the step is ``step_count``).
    """

    _state_names: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Parameter], lr: float):
        self.params = _parameter_list(type(self).__name__, params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{type(self).__name__} parameter {i} is a {type(p).__name__}, "
                                "not a Parameter (pass model.parameters())")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__} got the same Parameter twice")
        _check_hyper(self, "lr", lr, low=0.0)
        self.lr = float(lr)
        self.step_count = 0
        # One scratch array per parameter holds the temporaries of an update.
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def _zeros(self) -> list[np.ndarray]:
        """A fresh state array per parameter, zero, of the parameter's shape and dtype."""
        return [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (backward passes accumulate into it)."""
        for p in self.params:
            p.grad[...] = 0

    def step(self) -> None:
        """Update every parameter from its ``.grad``; subclasses write the rule in `_update`."""
        self._check_dtypes()
        self.step_count += 1
        self._update()

    def _update(self) -> None:
        raise NotImplementedError

    def _check_dtypes(self) -> None:
        # Casting a model (module.astype) after building its optimizer would otherwise make
        # the in-place updates silently round float64 steps to the float32 state.
        for i, (p, scratch) in enumerate(zip(self.params, self._scratch)):
            if p.data.shape != scratch.shape or p.data.dtype != scratch.dtype:
                raise TypeError(f"{type(self).__name__}: parameter {i} is now {p.data.dtype} "
                                f"{p.data.shape} but the optimizer was built for "
                                f"{scratch.dtype} {scratch.shape}; build the optimizer after "
                                "casting the model")

    def state_dict(self) -> dict:
        """Everything a resumed run needs besides the hyper-parameters: step, lr and the arrays.

        Keys: ``"step"``, ``"lr"`` and ``"<state name>.<parameter index>"`` (such as
        ``"exp_avg.3"``), all NumPy-savable (``np.savez(path, **opt.state_dict())``).
        """
        state = {"step": self.step_count, "lr": self.lr}
        for name in self._state_names:
            for i, array in enumerate(getattr(self, name)):
                state[f"{name}.{i}"] = array.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict`'s contents in place, after checking every key and shape."""
        expected = {"step", "lr"} | {f"{name}.{i}" for name in self._state_names
                                     for i in range(len(self.params))}
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        for name in self._state_names:
            for i, array in enumerate(getattr(self, name)):
                got = np.shape(state[f"{name}.{i}"])
                if got != array.shape:
                    raise ValueError(f"{type(self).__name__}.load_state_dict: '{name}.{i}' has "
                                     f"shape {got} but parameter {i} has shape {array.shape}")
        for name in self._state_names:
            for i, array in enumerate(getattr(self, name)):
                array[...] = state[f"{name}.{i}"]
        self.step_count = int(state["step"])
        self.lr = float(state["lr"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr:g})"


def _check_hyper(owner, name: str, value, low: float, high: float = math.inf,
                 high_open: bool = False) -> None:
    """Raise a one-line error unless ``value`` is a number in ``[low, high]`` (``[low, high)``)."""
    kind = type(owner).__name__
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{kind}: {name} must be a number, got {value!r}")
    inside = low <= value < high if high_open else low <= value <= high
    if not inside:
        if math.isinf(high):
            wanted = f">= {low:g}"
        else:
            wanted = f"in [{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{kind}: {name} must be {wanted}, got {value!r}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    momentum : float
        ``mu`` in the module docstring; 0 disables the buffer.
    dampening : float
        Scales new gradients entering the buffer by ``1 - dampening`` (not on the first step).
    weight_decay : float
        Coefficient of the L2 penalty, added to the gradient.
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        _check_hyper(self, "momentum", momentum, low=0.0)
        _check_hyper(self, "dampening", dampening, low=0.0, high=1.0)
        _check_hyper(self, "weight_decay", weight_decay, low=0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)
        if self.momentum:
            self._state_names = ("momentum_buffer",)
            self.momentum_buffer = self._zeros()

    def _update(self) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for i, (p, tmp) in enumerate(zip(self.params, self._scratch)):
            # Each term goes straight into its target: g = grad + wd * p is never formed, the
            # buffer and p receive its two parts as two scaled additions.
            if mu:
                buf = self.momentum_buffer[i]
                if self.step_count == 1:
                    buf[...] = p.grad
                    scale = 1.0
                else:
                    buf *= mu
                    scale = 1.0 - self.dampening
                    _add_scaled(buf, scale, p.grad, tmp)
                if wd:
                    _add_scaled(buf, scale * wd, p.data, tmp)
            if not mu or self.nesterov:
                # p -= lr * g  (plain SGD, and the first half of Nesterov's lr * (g + mu * buf)).
                # The decay term goes first, while p is still the p that g was taken at.
                if wd:
                    p.data *= 1.0 - lr * wd
                _add_scaled(p.data, -lr, p.grad, tmp)
            if mu:
                _add_scaled(p.data, -lr * mu if self.nesterov else -lr, buf, tmp)

    def __repr__(self) -> str:
        return (f"SGD({len(self.params)} parameters, lr={self.lr:g}, momentum={self.momentum:g}, "
                f"dampening={self.dampening:g}, weight_decay={self.weight_decay:g}, "
                f"nesterov={self.nesterov})")


class Adam(Optimizer):
    """Adam: per-coordinate steps scaled by running moments of the gradient.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
    betas : (float, float)
        Decay rates ``(b1, b2)`` of the first and second moment averages, each in [0, 1).
    eps : float
        Added to ``sqrt(v_hat)`` so a coordinate with no gradient does not divide by zero.
    weight_decay : float
        L2 penalty added to the gradient (for the decoupled kind, use `AdamW`).
    """

    _state_names = ("exp_avg", "exp_avg_sq")
    _decoupled = False

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        if len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair (b1, b2), got {betas!r}")
        _check_hyper(self, "betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
        _check_hyper(self, "betas[1]", betas[1], low=0.0, high=1.0, high_open=True)
        _check_hyper(self, "eps", eps, low=0.0)
        _check_hyper(self, "weight_decay", weight_decay, low=0.0)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.exp_avg = self._zeros()
        self.exp_avg_sq = self._zeros()
        # Adam's L2 decay needs g = grad + wd * p in full (it is squared), hence one more array.
        self._penalised_grad = self._zeros() if weight_decay and not self._decoupled else None

    def _update(self) -> None:
        lr, wd, eps = self.lr, self.weight_decay, self.eps
        b1, b2 = self.betas
        t = self.step_count
        bias_correction1 = 1.0 - b1**t
        bias_correction2 = 1.0 - b2**t
        for i, (p, tmp) in enumerate(zip(self.params, self._scratch)):
            m, v = self.exp_avg[i], self.exp_avg_sq[i]
            g = p.grad
            if wd and self._decoupled:
                p.data *= 1.0 - lr * wd
            elif wd:
                g = np.multiply(p.data, wd, out=self._penalised_grad[i])
                g += p.grad
            m *= b1
            _add_scaled(m, 1.0 - b1, g, tmp)
            v *= b2
            np.multiply(g, g, out=tmp)
            _add_scaled(v, 1.0 - b2, tmp, tmp)
            # tmp = sqrt(v_hat) + eps, then the step lr * m_hat / tmp, all in the scratch array.
            np.sqrt(v, out=tmp)
            tmp /= math.sqrt(bias_correction2)
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr / bias_correction1
            p.data -= tmp

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr:g}, "
                f"betas={self.betas}, eps={self.eps:g}, weight_decay={self.weight_decay:g})")


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before each Adam step.

    Same parameters as `Adam`; ``weight_decay`` defaults to 0.01, as in PyTorch.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm(parameters: Iterable[Parameter], max_norm: float,
                   error_if_nonfinite: bool = False) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    The global norm treats every gradient as one long vector,
    ``total = sqrt(sum_p ||p.grad||²)``. When ``total > max_norm`` every gradient is multiplied
    by ``max_norm / total``, which keeps the update's direction and makes its norm exactly
    ``max_norm``; smaller gradients are left alone. (A recurrent network's gradient can
    explode over long sequences; clipping bounds one bad batch's damage.)

    Parameters
    ----------
    parameters : iterable of Parameter
    max_norm : float
        Positive bound on the global norm.
    error_if_nonfinite : bool
        Raise if the norm is inf or NaN. Otherwise such gradients are left unchanged and the
        returned norm tells the caller to skip the step.

    Returns
    -------
    float
        The global norm *before* clipping (worth logging: it shows exploding gradients).
    """
    params = _parameter_list("clip_grad_norm", parameters)
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be positive, got {max_norm!r}")
    # Each tensor's norm in its own dtype (no copy); the sum of squares in Python's float64.
    # A float32 gradient whose norm overflows float32 counts as non-finite: it is garbage anyway.
    total = math.sqrt(sum(float(np.linalg.norm(p.grad.reshape(-1)))**2 for p in params))
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise ValueError(f"clip_grad_norm: the gradient norm is {total}")
        return total
    if total > max_norm:
        scale = max_norm / total
        for p in params:
            p.grad *= scale
    return total
