"""Pictures of a spatial transformer at work.

* `draw_grid`: the sampling grid of a ``theta`` drawn over the *input* — where each output
  pixel looks; the bright outline is the output image's border.
* `show_pair` / `gallery`: inputs and corrected outputs side by side.

To make tilted inputs, warp a plate from `minilpr.data.synth` with `minilpr.models.stn.warp`
and `tilt_theta` (lesson 07 does).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from minilpr.nn.spatial import affine_grid, unnormalise


def _as_picture(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(C, H, W) or (H, W) -> something ``imshow`` shows, and its colour map."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 3:
        return np.clip(image.transpose(1, 2, 0), 0, 1), None  # (H, W, 3)
    return image, "gray"


def draw_grid(ax, image: np.ndarray, theta: np.ndarray, out_size=None, step: int = 4,
              align_corners: bool = False, color: str = "tab:orange"):
    """Show ``image`` with the sampling grid of ``theta`` drawn over it.

    Parameters
    ----------
    ax : matplotlib Axes
    image : (C, H, W) or (H, W)
        The sampler's input.
    theta : (2, 3)
        Output -> input, normalised.
    out_size : (H_out, W_out) or None
        The output's size; default the image's.
    step : int
        Draw every ``step``-th row and column of output pixels.
    """
    picture, cmap = _as_picture(image)
    H, W = picture.shape[:2]
    H_out, W_out = out_size or (H, W)
    grid = affine_grid(np.asarray(theta, np.float64)[None], (1, 1, H_out, W_out),
                       align_corners)[0]
    px = unnormalise(grid[..., 0], W, align_corners)  # (H_out, W_out) input columns
    py = unnormalise(grid[..., 1], H, align_corners)  # (H_out, W_out) input rows
    ax.imshow(picture, cmap=cmap, vmin=0, vmax=1)
    for r in range(0, H_out, step):
        ax.plot(px[r], py[r], color=color, lw=0.6, alpha=0.7)
    for c in range(0, W_out, step):
        ax.plot(px[:, c], py[:, c], color=color, lw=0.6, alpha=0.7)
    border_x = np.concatenate([px[0], px[:, -1], px[-1, ::-1], px[::-1, 0]])
    border_y = np.concatenate([py[0], py[:, -1], py[-1, ::-1], py[::-1, 0]])
    ax.plot(border_x, border_y, color="yellow", lw=1.5)
    ax.set_xlim(-0.5 - W * 0.1, W - 0.5 + W * 0.1)
    ax.set_ylim(H - 0.5 + H * 0.3, -0.5 - H * 0.3)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def show_pair(before: np.ndarray, after: np.ndarray, theta: np.ndarray | None = None,
              titles=("input", "output"), axes=None):
    """Input (with the sampling grid when ``theta`` is given) beside the output."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 1.6))
    if theta is None:
        picture, cmap = _as_picture(before)
        axes[0].imshow(picture, cmap=cmap, vmin=0, vmax=1)
        axes[0].set_xticks([])
        axes[0].set_yticks([])
    else:
        out_size = np.shape(after)[-2:]
        draw_grid(axes[0], before, theta, out_size=out_size)
    picture, cmap = _as_picture(after)
    axes[1].imshow(picture, cmap=cmap, vmin=0, vmax=1)
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    for ax, title in zip(axes, titles):
        ax.set_title(title, fontsize=9)
    return axes


def gallery(inputs: np.ndarray, outputs: np.ndarray, thetas: np.ndarray | None = None,
            n: int = 4, titles=("input", "output")):
    """``n`` rows of `show_pair`, from batches ``(N, C, H, W)`` (and ``thetas (N, 2, 3)``)."""
    n = min(n, len(inputs))
    fig, axes = plt.subplots(n, 2, figsize=(10, 1.4 * n), squeeze=False)
    for i in range(n):
        show_pair(inputs[i], outputs[i], None if thetas is None else thetas[i],
                  titles=titles if i == 0 else ("", ""), axes=axes[i])
    fig.tight_layout()
    return fig
