"""im2col / col2im: both loop orders give the NumPy references' matrices, whatever the stride."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from minilpr.nn.conv import col2im_reference, im2col_reference
from minilpr.nn.kernels.conv import (col2im_by_offset, col2im_by_output_row, conv_output_size,
                                     im2col_by_offset, im2col_by_output_row)

ORDERS = [(im2col_by_offset, col2im_by_offset), (im2col_by_output_row, col2im_by_output_row)]


@st.composite
def windows(draw):
    """(N, C, H, W, (KH, KW), (SH, SW), (PH, PW)) with the padded input at least the kernel."""
    KH, KW = draw(st.sampled_from([(1, 1), (3, 3), (1, 3), (3, 2)]))
    SH, SW = draw(st.sampled_from([(1, 1), (2, 2), (2, 1), (4, 2), (1, 2)]))
    PH, PW = draw(st.sampled_from([(0, 0), (1, 1), (1, 0)]))
    H = draw(st.integers(max(1, KH - 2 * PH), 11))
    W = draw(st.integers(max(1, KW - 2 * PW), 11))
    return draw(st.integers(1, 3)), draw(st.integers(1, 3)), H, W, (KH, KW), (SH, SW), (PH, PW)


@pytest.mark.kernel
@pytest.mark.parametrize("im2col_kernel, col2im_kernel", ORDERS)
@given(windows(), st.integers(0, 2**31 - 1))
@example((1, 1, 1, 1, (1, 1), (2, 2), (0, 0)), 0)
@example((2, 3, 9, 7, (3, 3), (2, 2), (1, 1)), 1)
@example((1, 2, 11, 10, (3, 3), (4, 2), (1, 1)), 2)
def test_each_loop_order_matches_the_references(im2col_kernel, col2im_kernel, setup, seed):
    N, C, H, W, (KH, KW), (SH, SW), (PH, PW) = setup
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    P = conv_output_size(H, KH, SH, PH) * conv_output_size(W, KW, SW, PW)
    cols = np.full((C * KH * KW, N * P), np.nan, np.float32)  # every entry must be written
    im2col_kernel(x, KH, KW, SH, SW, PH, PW, cols)
    np.testing.assert_array_equal(cols, im2col_reference(x, (KH, KW), (SH, SW), (PH, PW)))
    y = rng.standard_normal(cols.shape).astype(np.float32)
    dx = np.zeros_like(x)
    col2im_kernel(y, KH, KW, SH, SW, PH, PW, dx)
    np.testing.assert_allclose(dx, col2im_reference(y, x.shape, (KH, KW), (SH, SW), (PH, PW)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.kernel
@pytest.mark.parametrize("stride", [2, (2, 1), (4, 2), 1])
def test_a_large_channel_goes_by_output_row_and_gives_the_same_columns(stride):
    from minilpr.nn.conv import col2im, im2col
    from minilpr.nn.kernels.conv import ROW_ORDER_MIN_VALUES, _by_output_row

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 70, 61)).astype(np.float32)  # 8,540 values per channel
    SH, SW = (stride, stride) if isinstance(stride, int) else stride
    assert 2 * 70 * 61 > ROW_ORDER_MIN_VALUES
    assert _by_output_row(2, 70, 61, SH, SW) == (stride != 1)
    assert not _by_output_row(1, 70, 61, SH, SW)
    cols = im2col(x, 3, stride, 1)
    np.testing.assert_array_equal(cols, im2col_reference(x, 3, stride, 1))
    y = rng.standard_normal(cols.shape).astype(np.float32)
    np.testing.assert_allclose(col2im(y, x.shape, 3, stride, 1),
                               col2im_reference(y, x.shape, 3, stride, 1), rtol=1e-5, atol=1e-5)
