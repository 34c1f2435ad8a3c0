"""Numba loops of batch normalisation (`minilpr.nn.norm`).

Batch norm reduces over every axis but the channel: for channel ``c`` it visits the ``N``
blocks ``x[n, c]`` of ``H * W`` contiguous numbers. These loops read each block once, in order,
and accumulate in float64 whatever the array's dtype, so float32 statistics stay accurate.

The two reductions are compiled with ``fastmath={"reassoc"}``: a running sum ``total += v`` is a
chain in which each addition waits for the previous one, unless the compiler may reorder the
additions — then it keeps several partial sums in SIMD lanes and adds them at the end. That is
about six times faster here, and changes the result only by rounding (the order of additions);
NaN and infinity keep their meaning, which the full ``fastmath=True`` would not promise.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, fastmath={"reassoc"})
def channel_mean_var_kernel(x, mean, var):
    """Per-channel mean and biased variance over the batch and both spatial axes.

    Two passes (mean first, then the squared deviations from it) rather than
    ``E[x²] - E[x]²``, which loses every digit when the mean is large next to the spread.

    Parameters
    ----------
    x : (N, C, H, W) float
        The input.
    mean, var : (C,) float
        Written in full: ``mean[c] = sum(x[:, c]) / M`` and
        ``var[c] = sum((x[:, c] - mean[c])²) / M`` with ``M = N * H * W``.
    """
    N, C, H, W = x.shape
    M = N * H * W
    for c in range(C):
        total = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    total += x[n, c, h, w]
        mu = total / M
        squares = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    d = x[n, c, h, w] - mu
                    squares += d * d
        mean[c] = mu
        var[c] = squares / M


@njit(cache=True)
def batchnorm_normalize_kernel(x, mean, inv_std, scale, shift, xhat, out):
    """``xhat = (x - mean) * inv_std`` and ``out = scale * xhat + shift``, channel by channel.

    Parameters
    ----------
    x : (N, C, H, W) float
        The input.
    mean, inv_std : (C,) float
        The statistics used (the batch's in training, the running ones in eval);
        ``inv_std = 1 / sqrt(var + eps)``.
    scale, shift : (C,) float
        gamma and beta (ones and zeros without an affine part).
    xhat, out : (N, C, H, W) float
        Written in full.
    """
    N, C, H, W = x.shape
    for n in range(N):
        for c in range(C):
            mu = mean[c]
            s = inv_std[c]
            g = scale[c]
            b = shift[c]
            for h in range(H):
                for w in range(W):
                    v = (x[n, c, h, w] - mu) * s
                    xhat[n, c, h, w] = v
                    out[n, c, h, w] = g * v + b


@njit(cache=True, fastmath={"reassoc"})
def channel_grad_sums_kernel(dout, xhat, sum_dout, sum_dout_xhat):
    """The two per-channel sums every batch-norm backward needs.

    Parameters
    ----------
    dout : (N, C, H, W) float
        Upstream gradient.
    xhat : (N, C, H, W) float
        The normalised input from the forward.
    sum_dout, sum_dout_xhat : (C,) float
        Written in full: ``sum(dout[:, c])`` (= dL/dbeta) and ``sum(dout[:, c] * xhat[:, c])``
        (= dL/dgamma).
    """
    N, C, H, W = dout.shape
    for c in range(C):
        s1 = 0.0
        s2 = 0.0
        for n in range(N):
            for h in range(H):
                for w in range(W):
                    g = dout[n, c, h, w]
                    s1 += g
                    s2 += g * xhat[n, c, h, w]
        sum_dout[c] = s1
        sum_dout_xhat[c] = s2


@njit(cache=True)
def batchnorm_train_dx_kernel(dout, xhat, scale, mean_dout, mean_dout_xhat, dx):
    """The input gradient of training-mode batch norm, in its compact three-term form.

    ``dx = scale * (dout - mean(dout) - xhat * mean(dout * xhat))`` per channel, where the
    means run over ``N, H, W`` and ``scale = gamma / sqrt(var + eps)``.

    Parameters
    ----------
    dout, xhat : (N, C, H, W) float
        Upstream gradient and the forward's normalised input.
    scale, mean_dout, mean_dout_xhat : (C,) float
        ``gamma * inv_std`` and the two channel sums divided by ``M = N * H * W``.
    dx : (N, C, H, W) float
        Written in full.
    """
    N, C, H, W = dout.shape
    for n in range(N):
        for c in range(C):
            k = scale[c]
            m1 = mean_dout[c]
            m2 = mean_dout_xhat[c]
            for h in range(H):
                for w in range(W):
                    dx[n, c, h, w] = k * (dout[n, c, h, w] - m1 - xhat[n, c, h, w] * m2)
