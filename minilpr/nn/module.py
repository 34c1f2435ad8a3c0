"""The contract every layer keeps: `Parameter`, `Module` and `Sequential`.

A `Module` is a small object with two methods a student reads side by side:

* ``forward(*inputs)`` computes the output and keeps *only* what ``backward`` needs;
* ``backward(dout)`` receives dL/d(output), fills ``.grad`` of every parameter it owns
  (accumulating, as PyTorch does) and returns dL/d(input) — a tuple when the forward took
  several inputs.

There is no autograd: composite modules call their children's ``backward`` in reverse order by
hand, so the chain rule is written out where a reader can see it.

The backward contract, kept by one pair of helpers that every layer calls:

* ``forward`` ends with ``return self._keep_for_backward(out, cache)``: it keeps the cache and
  the shape and dtype of every array in ``out``;
* ``backward`` opens with ``cache, dout = self._take_for_backward(dout)``, which refuses (one
  line each) a backward before any forward or a second one for one forward, and a ``dout`` whose
  shape or dtype differs from the forward's output; then it clears the cache.
* ``dout`` mirrors ``out``: an array for an array, a number for a scalar loss, a nest of tuples
  for a nest (an LSTM's ``out, (h_n, c_n)``), where ``None`` — or a bare array for the first
  entry alone — stands for zeros.
* Gradients are the caller's: ``backward`` never writes into ``dout`` or its input, and never
  returns an array that shares memory with ``dout`` or with another returned gradient, so a
  caller summing fan-out gradients (``da += ...``) cannot corrupt another branch.

Names follow PyTorch (``weight``, ``bias``, ``running_mean``, dotted names such as
``block.0.weight``) so that weights can be copied between the two by name.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

import numpy as np


class Parameter:
    """A trainable array and the gradient that backward accumulates into it.

    Attributes
    ----------
    data : ndarray
        The values, float32 by default.
    grad : ndarray
        Same shape and dtype as ``data``; zeroed by ``Module.zero_grad``.
    """

    def __init__(self, data: np.ndarray):
        data = np.asarray(data)
        if not np.issubdtype(data.dtype, np.floating):
            raise TypeError(f"Parameter needs a floating-point array, got {data.dtype}")
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


@dataclass(frozen=True)
class _Leaf:
    """The shape and dtype of one array of a forward's output (dtype None: a Python number)."""

    shape: tuple
    dtype: Any


class _Kept(NamedTuple):
    """What `Module._keep_for_backward` stores: the cache, the output's form, the dout names."""

    cache: Any
    form: Any
    names: Any


def _form_of(out):
    """The `_Leaf` of every array in ``out``, nested in tuples as ``out`` is."""
    if isinstance(out, tuple):
        return tuple(_form_of(o) for o in out)
    if isinstance(out, np.ndarray):
        return _Leaf(out.shape, out.dtype)
    return _Leaf((), None)


def _default_names(form, label: str = "dout"):
    if isinstance(form, tuple):
        return tuple(_default_names(f, f"{label}[{i}]") for i, f in enumerate(form))
    return label


def _spelled(names) -> str:
    """``("dout", ("dh_n", "dc_n"))`` -> ``"(dout, (dh_n, dc_n))"``."""
    if isinstance(names, tuple):
        return "(" + ", ".join(_spelled(n) for n in names) + ")"
    return names


def _first(names) -> str:
    return _first(names[0]) if isinstance(names, tuple) else names


class Module:
    """Base class of every layer and model.

    Subclasses set parameters, buffers and child modules as plain attributes in ``__init__``;
    ``__setattr__`` files them so that ``named_parameters`` and ``state_dict`` find them in the
    order they were assigned — the same order PyTorch uses.

    Buffers (``register_buffer``) are arrays that belong to the state but are not trained, such
    as batch norm's running statistics.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_cache", None)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        if name in self._parameters and not isinstance(value, Parameter) and value is not None:
            # Silently replacing a Parameter would drop it from parameters() and the optimizer.
            raise TypeError(f"cannot assign a {type(value).__name__} to parameter '{name}' of "
                            f"{type(self).__name__}; assign to '{name}.data' instead")
        if isinstance(value, (Parameter, Module)) or name not in self._buffers:
            for registry in (self._parameters, self._buffers, self._modules):
                registry.pop(name, None)
        # A plain array assigned to a buffer's name stays a buffer (BN replaces its statistics).
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Keep ``value`` as state (saved, loaded, cast) that the optimizer never touches."""
        setattr(self, name, value)
        self._buffers[name] = True

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def _check_dtype(self, x: np.ndarray, expected: np.dtype) -> None:
        """Refuse a silent float32/float64 mix, which would upcast and slow everything down."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{type(self).__name__} needs a NumPy array, got {type(x).__name__}")
        if x.dtype != expected:
            raise TypeError(f"{type(self).__name__} got {x.dtype} input but computes in "
                            f"{np.dtype(expected)}; cast the input, or the module with .astype()")

    def _keep_for_backward(self, out, cache=None, names=None):
        """End a forward: keep ``cache`` and the form of ``out`` for backward; return ``out``.

        Parameters
        ----------
        out : ndarray, number, or nested tuple of them
            What the forward returns; ``dout`` must later match its shapes and dtypes.
        cache : any
            What backward needs, handed back by `_take_for_backward`.
        names : str or nested tuple of str, optional
            What to call each gradient in error messages, nested like ``out``
            (default ``dout``, ``dout[0]``, ``dout[1][0]``, ...).
        """
        form = _form_of(out)
        object.__setattr__(self, "_cache", _Kept(cache, form, names or _default_names(form)))
        return out

    def _take_for_backward(self, dout):
        """Open a backward: check ``dout`` against the forward's output, clear and return the cache.

        Returns
        -------
        cache : what the forward passed to `_keep_for_backward`
        dout : ``dout`` checked, and for a nested output completed with zeros where it held
            None (or where a bare array stood for the first entry alone)

        Raises
        ------
        RuntimeError
            No forward since the last backward.
        TypeError, ValueError
            ``dout`` is not an array (a number, for a scalar loss), or differs from the output
            in shape or dtype; NumPy would otherwise broadcast a wrongly shaped gradient into a
            silently wrong answer, or turn a float32 backward pass into float64.
        """
        kept = self._need_forward(self._cache if isinstance(self._cache, _Kept) else None)
        dout = self._checked_dout(dout, kept.form, kept.names)
        object.__setattr__(self, "_cache", None)
        return kept.cache, dout

    def _checked_dout(self, dout, form, names):
        name = f"{type(self).__name__}.backward"
        if isinstance(form, tuple):
            if not isinstance(dout, tuple):
                # A bare gradient is the first output's; every other output's is zero.
                dout = (dout,) + (None,) * (len(form) - 1)
            if len(dout) != len(form):
                raise ValueError(f"{name} takes {_first(names)} or {_spelled(names)}")
            return tuple(self._checked_dout(d, f, n) if d is not None else _zeros(f)
                         for d, f, n in zip(dout, form, names))
        if isinstance(dout, tuple):
            raise ValueError(f"{name} takes {_first(names)} or {_spelled(names)}")
        if form.dtype is None:
            if isinstance(dout, (bool, np.bool_)) or np.ndim(dout) != 0 or not np.isrealobj(dout):
                raise TypeError(f"{name}: {names} must be a number (the output is a scalar), "
                                f"got {type(dout).__name__} of shape {np.shape(dout)}")
            return dout
        self._check_dout(dout, form.shape, form.dtype, label=names)
        return dout

    def _check_dout(self, dout: np.ndarray, shape: tuple | None = None, dtype=None,
                    label: str = "dout") -> None:
        """Refuse an upstream gradient that does not fit the forward's output (one line)."""
        name = f"{type(self).__name__}.backward"
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"{name} needs a NumPy array {label}, got {type(dout).__name__}")
        if shape is not None and dout.shape != tuple(shape):
            raise ValueError(f"{name}: {label} has shape {dout.shape}, expected {tuple(shape)} "
                             "(the forward's output)")
        if dtype is not None and dout.dtype != dtype:
            raise TypeError(f"{name}: {label} is {dout.dtype} but the forward's output was "
                            f"{np.dtype(dtype)}; cast {label}")

    def _need_forward(self, cache):
        """Return ``cache``, or raise the one-line error a backward-before-forward deserves."""
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               "(or twice for one forward)")
        return cache

    def children(self) -> Iterator["Module"]:
        yield from self._modules.values()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, parameter)`` pairs, as ``torch.nn.Module.named_parameters``."""
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for module_name, module in self.named_modules(prefix):
            for name in module._buffers:
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> "Module":
        for _, module in self.named_modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def astype(self, dtype) -> "Module":
        """Cast every parameter and floating buffer in place (float64 for gradient checks)."""
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = np.zeros_like(p.data)
        for module_name, module in self.named_modules():
            for name in module._buffers:
                value = getattr(module, name)
                if np.issubdtype(value.dtype, np.floating):
                    object.__setattr__(module, name, value.astype(dtype))
        return self

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and buffer, under PyTorch's dotted names."""
        state = OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())
        state.update((name, np.array(b, copy=True)) for name, b in self.named_buffers())
        return state

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays from ``state`` into this module, checking names and shapes first.

        Nothing is changed unless every check passes, so a bad file never leaves a model
        half-loaded.
        """
        targets = {name: ("param", p) for name, p in self.named_parameters()}
        targets.update({name: ("buffer", name) for name, _ in self.named_buffers()})
        missing = [k for k in targets if k not in state]
        unexpected = [k for k in state if k not in targets]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        buffers = dict(self.named_buffers())
        for name, (kind, target) in targets.items():
            if name not in state:
                continue
            expected = target.data.shape if kind == "param" else np.shape(buffers[name])
            got = np.shape(state[name])
            if tuple(expected) != tuple(got):
                raise ValueError(f"load_state_dict for {type(self).__name__}: '{name}' has shape "
                                 f"{tuple(got)} in the state but {tuple(expected)} in the model")
        modules = dict(self.named_modules())
        for name, (kind, target) in targets.items():
            if name not in state:
                continue
            value = np.asarray(state[name])
            if kind == "param":
                target.data[...] = value
            else:
                owner, _, attr = name.rpartition(".")
                module = modules[owner]
                current = getattr(module, attr)
                object.__setattr__(module, attr, value.astype(np.asarray(current).dtype, copy=True))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()})"]
        for name, child in self._modules.items():
            child_lines = repr(child).splitlines()
            lines.append(f"  ({name}): " + child_lines[0])
            lines.extend("  " + line for line in child_lines[1:])
        return "\n".join(lines)

    def extra_repr(self) -> str:
        return ""


def _zeros(form):
    """Zeros shaped like a forward's output form, for the gradients a caller left out."""
    if isinstance(form, tuple):
        return tuple(_zeros(f) for f in form)
    return np.zeros(form.shape, form.dtype)


class Sequential(Module):
    """Children run in order; backward runs them in reverse.

    Children are named ``0``, ``1``, ... as in ``torch.nn.Sequential``.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            setattr(self, str(i), layer)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def forward(self, x):
        for layer in self:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(list(self)):
            dout = layer.backward(dout)
        return dout
