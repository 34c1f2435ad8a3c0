"""Check a hand-written backward pass against centred finite differences.

The idea (CS231n's, and every careful framework's): pick a random upstream gradient ``dout``,
define the scalar ``L = sum(forward(x) * dout)``, so that ``dL/dx`` is exactly what
``backward(dout)`` must return. Then nudge each entry of ``x`` by ``±eps``:

    dL/dx[i]  ≈  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

whose error is O(eps²). In float64 with eps = 1e-6 the two agree to about 1e-9 relative, so a
wrong index, a missing term or a transposed product shows up as an error of order 1.

The error we report for a tensor is norm-wise,

    rel_err = ||analytic - numeric|| / max(||analytic||, ||numeric||, 1e-3 * G),

which is insensitive to single entries that happen to be near zero (where an entry-wise ratio
is noise) but still exposes any real mistake. ``G`` is the largest gradient norm among all the
tensors of the check — the problem's own gradient scale. The floor matters only for a tensor
whose gradient is (nearly) zero, such as the bias of a convolution followed by batch norm: its
numeric gradient is pure round-off, about 1e-10 * G, and dividing that by itself would report
an error of 1. Measured against 1e-3 * G it reads as 1e-7, while a real mistake in any tensor
whose gradient is larger than about 1e-9 * G still reads far above the 1e-6 tolerance.

One harness serves the tests, the lessons and ``minilpr gradcheck``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from minilpr.nn.module import Module


@dataclass(frozen=True)
class FunctionPair:
    """A pure forward/backward pair, checked like a module.

    ``forward(*inputs) -> (out, cache)`` and ``backward(dout, cache) -> grads``, where ``grads``
    holds one gradient per input (``None`` for inputs that are not differentiable, such as
    integer targets). A single gradient may be returned bare when there is a single input, and
    trailing non-differentiable inputs may be left out of ``grads``.
    """

    forward: Callable
    backward: Callable


def relative_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 0.0) -> float:
    """``||analytic - numeric|| / max(||analytic||, ||numeric||, floor)``; 0 when all are 0."""
    diff = float(np.linalg.norm(np.ravel(analytic) - np.ravel(numeric)))
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)), floor)
    return diff / scale if scale > 0 else diff


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _map_arrays(fn, value):
    """Apply ``fn`` to every array in a nest of tuples/lists, keeping the nesting."""
    if isinstance(value, (tuple, list)):
        return tuple(_map_arrays(fn, v) for v in value)
    return fn(value)


def _flatten(value) -> list:
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _flatten(v)]
    return [value]


def _random_generators(target) -> list[tuple[object, dict]]:
    """The ``rng`` attributes of a module tree, with their states, so draws can be replayed."""
    if not isinstance(target, Module):
        return []
    found = []
    for _, module in target.named_modules():
        rng = getattr(module, "rng", None)
        if isinstance(rng, np.random.Generator):
            found.append((rng, rng.bit_generator.state))
    return found


def gradcheck(target: Module | FunctionPair, inputs, *, wrt: Sequence[int] | None = None,
              eps: float = 1e-6, seed: int = 0, max_elements: int | None = None,
              check_params: bool = True, input_names: Sequence[str] | None = None
              ) -> "OrderedDict[str, float]":
    """Compare ``target``'s backward with centred differences, in float64.

    Parameters
    ----------
    target : Module or FunctionPair
        A module is checked in float64 (``target.astype(np.float64)``) and then left as it was
        found: its parameters, gradients and buffers (batch norm's running statistics) are the
        arrays it had, of the dtype it had, and its train/eval modes, caches and random
        generators are put back. Modules that draw random numbers must keep their
        ``numpy.random.Generator`` in an attribute named ``rng``: its state is replayed before
        every forward so each evaluation sees the same draws.
    inputs : ndarray or tuple
        The forward's positional arguments. Floating arrays are copied to float64.
    wrt : sequence of int, optional
        Indices of the inputs to differentiate; default: every floating-point input.
    eps : float
        The finite-difference step.
    seed : int
        Seeds the random upstream gradient and the subset of checked entries.
    max_elements : int, optional
        Check at most this many randomly chosen entries of each tensor (for big tensors).
    check_params : bool
        Also check every parameter of a module.
    input_names : sequence of str, optional
        Names for the inputs in the result; default ``x`` for one input, ``input0``... otherwise.

    Returns
    -------
    OrderedDict[str, float]
        Relative error for each checked input and parameter (parameters by dotted name).
    """
    if not isinstance(target, Module):
        return _gradcheck(target, inputs, wrt, eps, seed, max_elements, check_params,
                          input_names)
    found = _Found(target)
    try:
        target.astype(np.float64)
        return _gradcheck(target, inputs, wrt, eps, seed, max_elements, check_params,
                          input_names)
    finally:
        found.restore()


class _Found:
    """A module as gradcheck found it: every module's attributes, every parameter's arrays and
    every generator's state.

    ``astype`` gives the module new arrays and leaves the old ones untouched, so putting the old
    references back restores every value and dtype exactly: parameters, gradients, buffers
    (batch norm's running statistics), modes, caches.
    """

    def __init__(self, module: Module):
        self.attributes = [(m, dict(m.__dict__)) for _, m in module.named_modules()]
        self.params = [(p, p.data, p.grad) for p in module.parameters()]
        self.generators = _random_generators(module)

    def restore(self) -> None:
        for m, attributes in self.attributes:
            m.__dict__.clear()
            m.__dict__.update(attributes)
        for p, data, grad in self.params:
            p.data, p.grad = data, grad
        for generator, state in self.generators:
            generator.bit_generator.state = state


def _gradcheck(target, inputs, wrt, eps, seed, max_elements, check_params, input_names):
    """`gradcheck` on a module already cast to float64, or on a function pair."""
    # A stream of its own: with plain default_rng(seed) the upstream gradient would equal an
    # input drawn by the caller with the same seed, and for some layers (batch norm) that
    # particular dout has an exactly zero input gradient.
    rng = np.random.default_rng([0x67726164, seed])
    inputs = tuple(np.array(a, dtype=np.float64) if _is_float(a) else a for a in _as_tuple(inputs))
    if wrt is None:
        wrt = [i for i, a in enumerate(inputs) if _is_float(a)]
    if input_names is None:
        input_names = ["x"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]
    generators = _random_generators(target)

    def run_forward():
        for generator, state in generators:
            generator.bit_generator.state = state
        if isinstance(target, Module):
            return target.forward(*inputs), None
        return target.forward(*inputs)

    out, cache = run_forward()
    # One random upstream gradient per output array, nested like the output (an LSTM returns
    # ``out, (h_n, c_n)``; backward then receives ``dout, (dh_n, dc_n)``).
    dout = _map_arrays(lambda o: rng.standard_normal(np.shape(o)), out)
    flat_douts = _flatten(dout)

    def loss() -> float:
        outs = _flatten(run_forward()[0])
        return float(sum(np.sum(np.asarray(o, dtype=np.float64) * d)
                         for o, d in zip(outs, flat_douts)))

    # The analytic gradients, from one forward followed by one backward.
    if isinstance(target, Module):
        target.zero_grad()
        grads = _as_tuple(target.backward(dout))
        params = list(target.named_parameters()) if check_params else []
        analytic_params = [p.grad.copy() for _, p in params]
    else:
        grads = _as_tuple(target.backward(dout, cache))
        params, analytic_params = [], []
    # Trailing inputs that are not differentiable (targets, lengths) may get no entry.
    grads = grads + (None,) * (len(inputs) - len(grads))

    pairs: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
    for i in wrt:
        if grads[i] is None:
            raise ValueError(f"backward returned no gradient for input {input_names[i]}")
        numeric, checked = _numeric_gradient(loss, inputs[i], eps, rng, max_elements)
        pairs[input_names[i]] = _checked_entries(np.asarray(grads[i]), numeric, checked)
    for (name, param), analytic in zip(params, analytic_params):
        numeric, checked = _numeric_gradient(loss, param.data, eps, rng, max_elements)
        pairs[name] = _checked_entries(analytic, numeric, checked)

    scale = max((max(np.linalg.norm(a), np.linalg.norm(n)) for a, n in pairs.values()), default=0)
    return OrderedDict((name, relative_error(a, n, floor=1e-3 * float(scale)))
                       for name, (a, n) in pairs.items())


def assert_gradcheck(target, inputs, tol: float = 1e-6, **kwargs) -> "OrderedDict[str, float]":
    """Run `gradcheck` and raise ``AssertionError`` naming every tensor above ``tol``."""
    errors = gradcheck(target, inputs, **kwargs)
    bad = {name: err for name, err in errors.items() if not err < tol}
    if bad:
        listed = ", ".join(f"{name}: {err:.2e}" for name, err in bad.items())
        raise AssertionError(f"gradient check failed (tolerance {tol:g}) for {listed}")
    return errors


def _is_float(a) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _numeric_gradient(loss: Callable[[], float], array: np.ndarray, eps: float,
                      rng: np.random.Generator, max_elements: int | None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Centred differences of ``loss`` with respect to ``array`` (perturbed in place).

    Returns the numeric gradient and a boolean mask of the entries that were differenced (all
    of them, unless ``max_elements`` chose a subset); the others are left at zero.
    """
    if not array.flags.c_contiguous:
        raise ValueError("gradcheck perturbs arrays in place and needs them C-contiguous")
    flat = array.reshape(-1)  # a view: writing to it perturbs the array the forward reads
    indices = np.arange(flat.size)
    if max_elements is not None and flat.size > max_elements:
        indices = rng.choice(flat.size, size=max_elements, replace=False)
    numeric = np.zeros(flat.size)
    checked = np.zeros(flat.size, dtype=bool)
    checked[indices] = True
    for i in indices:
        saved = flat[i]
        flat[i] = saved + eps
        plus = loss()
        flat[i] = saved - eps
        minus = loss()
        flat[i] = saved
        numeric[i] = (plus - minus) / (2 * eps)
    return numeric.reshape(array.shape), checked.reshape(array.shape)


def _checked_entries(analytic: np.ndarray, numeric: np.ndarray, checked: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """The entries that were differenced. A NaN in either gradient stays in, and fails."""
    if analytic.shape != numeric.shape:
        raise ValueError(f"gradient has shape {analytic.shape}, expected {numeric.shape}")
    return analytic[checked], numeric[checked]
