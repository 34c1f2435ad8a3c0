"""Pictures of k-means anchors: the (w, h) cloud by cluster, and what each extra anchor buys."""

from __future__ import annotations

import numpy as np

from minilpr.detect.anchors import AnchorFit


def plot_anchors(wh: np.ndarray, fit: AnchorFit, curve: dict[int, float], path=None,
                 title: str = ""):
    """Draw the box sizes coloured by anchor, the anchors, and the mean-IoU-vs-k curve.

    Parameters
    ----------
    wh : (M, 2) float
        The box sizes that were clustered.
    fit : AnchorFit
    curve : {k: mean IoU}
        From `mean_iou_curve`.
    path : str or Path, optional
        Save the figure there (PNG) and close it; otherwise return it open.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    figure, (cloud, gain) = plt.subplots(1, 2, figsize=(11, 4.6),
                                         gridspec_kw={"width_ratios": [1.4, 1]})
    colours = plt.get_cmap("tab10" if len(fit.anchors) <= 10 else "tab20")
    shown = np.random.default_rng(0).permutation(len(wh))[:20_000]  # a big CSV stays legible
    cloud.scatter(wh[shown, 0], wh[shown, 1], s=6, alpha=0.5, linewidths=0,
                  c=[colours(a % colours.N) for a in fit.assignment[shown]])
    for a, (w, h) in enumerate(fit.anchors):
        cloud.scatter([w], [h], marker="X", s=120, color=colours(a % colours.N),
                      edgecolors="black", linewidths=1.2, zorder=3)
        cloud.annotate(f"{w:.0f}×{h:.0f}", (w, h), textcoords="offset points", xytext=(6, 6),
                       fontsize=8)
    cloud.set_xscale("log")  # sizes span an order of magnitude; IoU compares ratios
    cloud.set_yscale("log")
    for axis in (cloud.xaxis, cloud.yaxis):
        axis.set_major_formatter(ticker.ScalarFormatter())
        axis.set_minor_formatter(ticker.NullFormatter())
    cloud.set_xlabel("box width (input pixels)")
    cloud.set_ylabel("box height (input pixels)")
    cloud.set_title(f"{len(wh)} boxes, {len(fit.anchors)} anchors, mean IoU {fit.mean_iou:.3f}")
    ks = sorted(curve)
    gain.plot(ks, [curve[k] for k in ks], "o-")
    gain.axvline(len(fit.anchors), color="grey", linestyle=":")
    gain.set_xlabel("k (number of anchors)")
    gain.set_ylabel("mean IoU with the best anchor")
    gain.set_xticks(ks)
    gain.grid(alpha=0.3)
    gain.set_title("what each extra anchor buys")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=110)
        plt.close(figure)
    return figure
