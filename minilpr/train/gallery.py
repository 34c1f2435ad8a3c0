"""Pictures of what the recogniser read: a grid of plates with the true and the read text.

``plate_gallery`` draws any chosen plates of a `RecognizerReport` (right reads in green, wrong
ones in red, each with its confidence — the probability of its least sure character);
``failure_gallery`` draws the ones it got wrong, least confident first. Chinese characters are
drawn with the Noto Sans CJK font the synthetic plates use, so the province reads as it should.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

RIGHT, WRONG = "forestgreen", "crimson"


def plate_gallery(report, images: np.ndarray, path, indices: Sequence[int], title: str,
                  columns: int = 4) -> int:
    """Draw the plates ``indices`` of ``report`` into a PNG grid with their true and read text.

    Parameters
    ----------
    report : RecognizerReport
    images : (N, C, H, W) float32 in [0, 1], or (N, H, W, 3) uint8 RGB
        What to show for each plate of the report, in the report's order (the model's input,
        or the colour crop it was made from).
    path : str or Path
        Where to write the PNG.
    indices : sequence of int
        The plates to draw, in this order.
    title : str
    columns : int

    Returns
    -------
    int
        How many plates were drawn (none writes a picture that says only ``title``).
    """
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    from minilpr.data.fonts import cjk_font_path

    if len(images) != report.n:
        raise ValueError(f"plate_gallery: {len(images)} images for a report of {report.n}")
    font = FontProperties(fname=str(cjk_font_path()), size=9)
    indices = list(indices)
    if not indices:
        fig = Figure(figsize=(4, 1))
        fig.text(0.5, 0.5, title, ha="center", va="center", fontproperties=font)
        fig.savefig(path, dpi=110)
        return 0
    rows = -(-len(indices) // columns)
    fig = Figure(figsize=(2.6 * columns, 1.05 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), indices):
        _show(ax, images[i])
        read = report.reads[i] or "(nothing)"
        right = report.reads[i] == report.texts[i]
        ax.set_title(f"true {report.texts[i]}", fontproperties=font, fontsize=9, pad=2,
                     loc="left")
        ax.text(0.0, -0.08, f"read {read}  ({report.confidences[i]:.2f})",
                transform=ax.transAxes, fontproperties=font, fontsize=9,
                color=RIGHT if right else WRONG, va="top")
    fig.suptitle(title, fontproperties=font, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return len(indices)


def failure_gallery(report, images: np.ndarray, path, max_items: int = 48,
                    columns: int = 4) -> int:
    """Draw the plates ``report`` got wrong, least confident first, into a PNG grid.

    Parameters as `plate_gallery`; at most ``max_items`` failures are drawn. Returns how many
    were drawn (0 writes a picture saying there were none).
    """
    chosen = report.failures[:max_items]
    if not chosen:
        title = f"no failures among {report.n} plates"
    else:
        title = (f"{len(chosen)} of {len(report.failures)} failures "
                 f"(plate accuracy {report.plate_accuracy:.1%}, decoder {report.decoder})")
    return plate_gallery(report, images, path, chosen, title, columns)


def _show(ax, image: np.ndarray) -> None:
    """One plate on ``ax``: a model input (C, H, W) in [0, 1], or an RGB (H, W, 3) picture."""
    if image.ndim == 3 and image.shape[-1] == 3 and image.dtype == np.uint8:
        ax.imshow(image)
        return
    picture = image.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if picture.shape[2] == 1:
        ax.imshow(picture[:, :, 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(picture, 0, 1))
