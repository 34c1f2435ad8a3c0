"""Layers that only move numbers around: the residual sum, concatenation, nearest upsampling,
flattening, the identity, and the turn of a feature map into a sequence.

Their backward passes are the adjoints of bookkeeping:

* ``Add`` copies its output gradient to both inputs — a sum lets the gradient through
  unchanged, which is why a residual connection keeps deep networks trainable;
* ``Concat`` cuts the gradient back into the pieces it glued;
* ``Upsample`` copied each pixel into an ``s × s`` block, so each pixel's gradient is the sum
  over its block (the adjoint of a copy is a sum);
* ``Flatten`` reshapes the gradient back;
* ``Identity`` passes the gradient through;
* ``ToSequence`` reads a height-1 feature map's columns as time steps, ``(N, C, 1, W) ->
  (T = W, N, C)``, the layout `minilpr.nn.LSTM` takes; its backward is the inverse move.
"""

from __future__ import annotations

import math

import numpy as np

from minilpr.nn.checks import pair
from minilpr.nn.module import Module


def upsample_nearest_forward(x: np.ndarray, scale_factor=2):
    """Nearest-neighbour upsampling by integer factors: each pixel becomes an ``s_h × s_w`` block.

    Parameters
    ----------
    x : (N, C, H, W) float
    scale_factor : int or (int, int)
        ``s`` or ``(s_h, s_w)``.

    Returns
    -------
    out : (N, C, H_out, W_out) with ``H_out = H * s_h`` and ``W_out = W * s_w``
    cache : tuple
        ``(s_h, s_w)``.
    """
    s_h, s_w = pair(scale_factor, "Upsample scale_factor", low=1)
    if x.ndim != 4:
        raise ValueError(f"Upsample expects an (N, C, H, W) input, got shape {x.shape}")
    N, C, H, W = x.shape
    blocks = np.broadcast_to(x[:, :, :, None, :, None], (N, C, H, s_h, W, s_w))
    out = blocks.reshape(N, C, H * s_h, W * s_w)  # (N, C, H_out, W_out), a copy
    return out, (s_h, s_w)


def upsample_nearest_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dL/dx of nearest upsampling: the sum of the gradient over each pixel's block.

    Parameters
    ----------
    dout : (N, C, H * s_h, W * s_w)

    Returns
    -------
    dx : (N, C, H, W)
    """
    s_h, s_w = cache
    N, C, H_out, W_out = dout.shape
    blocks = dout.reshape(N, C, H_out // s_h, s_h, W_out // s_w, s_w)  # (N, C, H, s_h, W, s_w)
    return blocks.sum(axis=(3, 5))


def upsample_nearest_naive(x: np.ndarray, scale_factor=2) -> np.ndarray:
    """The reference: ``out[n, c, i, j] = x[n, c, i // s_h, j // s_w]`` by index arrays."""
    s_h, s_w = pair(scale_factor, "Upsample scale_factor", low=1)
    rows = np.arange(x.shape[2] * s_h) // s_h
    cols = np.arange(x.shape[3] * s_w) // s_w
    return x[:, :, rows[:, None], cols[None, :]]


class Add(Module):
    """The residual sum ``out = a + b`` of two tensors of the same shape.

    No broadcasting: the two inputs must agree exactly, so a mismatched shortcut is an error
    rather than a silently wrong sum.

    Shapes: ``a, b : (...)`` -> ``out : (...)``; backward returns ``(da, db)``, two copies of
    ``dout`` — separate arrays, so a caller may accumulate into one without touching the other.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.shape != b.shape:
            raise ValueError(f"Add needs inputs of the same shape, got {a.shape} and {b.shape}")
        if a.dtype != b.dtype:
            raise TypeError(f"Add needs inputs of the same dtype, got {a.dtype} and {b.dtype}")
        return self._keep_for_backward(a + b)

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, dout = self._take_for_backward(dout)
        # d(a + b)/da = d(a + b)/db = 1: both inputs receive the output gradient unchanged.
        return dout.copy(), dout.copy()


class Concat(Module):
    """Concatenate tensors along ``dim`` (channels by default), as ``torch.cat``.

    Shapes: ``x_i : (N, C_i, H, W)`` -> ``out : (N, sum C_i, H, W)`` for ``dim=1``; every other
    axis must agree. Backward returns one gradient per input, in order: copies of the slices of
    ``dout``, so that each is an array of its own.
    """

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        if not xs:
            raise ValueError("Concat needs at least one input")
        ndim = xs[0].ndim
        if not -ndim <= self.dim < ndim:
            raise ValueError(f"Concat dim={self.dim} is out of range for {ndim}-D inputs")
        axis = self.dim % ndim
        first = xs[0].shape
        others = first[:axis] + first[axis + 1:]
        for x in xs[1:]:
            if x.ndim != ndim or x.shape[:axis] + x.shape[axis + 1:] != others:
                raise ValueError(f"Concat along dim {self.dim} needs the other axes to agree, "
                                 f"got shapes {[x.shape for x in xs]}")
        sizes = [x.shape[axis] for x in xs]
        return self._keep_for_backward(np.concatenate(xs, axis=axis), (axis, sizes))

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, ...]:
        (axis, sizes), dout = self._take_for_backward(dout)
        bounds = np.cumsum([0] + sizes)
        index = [slice(None)] * dout.ndim
        grads = []
        for start, stop in zip(bounds[:-1], bounds[1:]):
            index[axis] = slice(start, stop)
            grads.append(dout[tuple(index)].copy())
        return tuple(grads)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Upsample(Module):
    """Nearest-neighbour upsampling by an integer factor, as ``torch.nn.Upsample(mode="nearest")``.

    The default factor 2 is the locator's: it doubles a coarse feature map before concatenating
    it with a finer one.

    Parameters
    ----------
    scale_factor : int or (int, int)
        ``s`` for both axes, or ``(s_h, s_w)``.

    Shapes: ``x : (N, C, H, W)`` -> ``out : (N, C, H * s_h, W * s_w)``.
    """

    def __init__(self, scale_factor=2):
        super().__init__()
        self.scale_factor = pair(scale_factor, "Upsample scale_factor", low=1)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep_for_backward(*upsample_nearest_forward(x, self.scale_factor))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        cache, dout = self._take_for_backward(dout)
        return upsample_nearest_backward(dout, cache)

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, mode='nearest'"


class Flatten(Module):
    """Merge axes ``start_dim .. end_dim`` into one, as ``torch.nn.Flatten``.

    Shapes: ``(N, C, H, W)`` -> ``(N, C * H * W)`` with the defaults.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: np.ndarray) -> np.ndarray:
        start = self.start_dim % max(x.ndim, 1)
        end = self.end_dim % max(x.ndim, 1)
        if not (-x.ndim <= self.start_dim < x.ndim and -x.ndim <= self.end_dim < x.ndim
                and start <= end):
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does "
                             f"not fit an input of shape {x.shape}")
        merged = math.prod(x.shape[start:end + 1])
        out = x.reshape(x.shape[:start] + (merged,) + x.shape[end + 1:])  # start..end merged
        return self._keep_for_backward(out, x.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        shape, dout = self._take_for_backward(dout)
        return dout.reshape(shape).copy()  # a copy: the caller owns its gradient

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """``out = x``, as ``torch.nn.Identity``: a placeholder where a model has no layer.

    Shapes: ``x : (...)`` -> ``out : (...)``, the same array. Backward returns a copy of
    ``dout``, so the caller may accumulate into it.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Identity needs a NumPy array, got {type(x).__name__}")
        return self._keep_for_backward(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _, dout = self._take_for_backward(dout)
        return dout.copy()


def to_sequence(x: np.ndarray) -> np.ndarray:
    """Read a height-1 feature map's columns as time steps.

    Parameters
    ----------
    x : (N, C, 1, W) float

    Returns
    -------
    seq : (T, N, C) float
        A new contiguous array with ``T = W`` and ``seq[t, n, c] = x[n, c, 0, t]``.
    """
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[2] != 1:
        raise ValueError("ToSequence expects an (N, C, 1, W) feature map (height 1, its W "
                         f"columns become the T time steps), got shape {np.shape(x)}")
    return x[:, :, 0, :].transpose(2, 0, 1).copy()  # (N, C, W) -> (T=W, N, C), a C-order copy


def from_sequence(seq: np.ndarray) -> np.ndarray:
    """The inverse of `to_sequence`: ``(T, N, C) -> (N, C, 1, W = T)``, a new contiguous array."""
    if not isinstance(seq, np.ndarray) or seq.ndim != 3:
        raise ValueError(f"from_sequence expects a (T, N, C) sequence, got shape {np.shape(seq)}")
    return seq.transpose(1, 2, 0)[:, :, None, :].copy()  # (N, C, 1, W=T), a C-order copy


class ToSequence(Module):
    """The hinge between a CNN and an LSTM: ``(N, C, 1, W) -> (T = W, N, C)``.

    A recogniser's CNN squeezes the plate's height to 1 and keeps its width; each of the ``W``
    columns is then one time step of ``C`` features for the sequence model. A height other
    than 1 is refused rather than folded silently into the features.

    Shapes: ``x : (N, C, 1, W)`` -> ``out : (T, N, C)`` with ``T = W``. Backward moves
    ``dout : (T, N, C)`` back to ``(N, C, 1, W)`` — the same numbers, rearranged.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._keep_for_backward(to_sequence(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        _, dout = self._take_for_backward(dout)
        return from_sequence(dout)
