"""How far real plates are from the generator's glyphs, measured without training anything.

A learned recogniser hides *why* it fails on real crops. A nearest-template reader cannot: it
renders every candidate character of one plate position in one face, at a range of sizes,
slides each rendering over that position's columns of the crop, and names the character whose
best normalised cross-correlation is highest. Run it on synthetic crops drawn in the same face
and on real crops: where it reads the synthetic ones and not the real ones, the real glyphs are
not that face's drawing of them, in plain pixels — no model, no seed, nothing fitted.

``docs/data.md`` ("Not the model alone") has what it found: Noto's provinces are found on
74–76 % of synthetic crops and 8–15 % of the 200 real dev crops, while the letter after them
transfers (87 % and 73 %).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from minilpr.data.glyphs import glyph_master

# template sizes (width, height) in pixels of the recogniser's 32 × 220 input: a character of a
# tight crop is 16–24 px tall, and 16–25 px wide once the crop is stretched to 220 columns
TEMPLATE_SIZES = tuple((w, h) for h in (16, 18, 20, 22, 24) for w in (16, 19, 22, 25))
# where a one-row plate's first and second characters lie, in columns of a 220-wide crop
PROVINCE_COLUMNS = (0, 70)
LETTER_COLUMNS = (25, 90)


def glyph_templates(chars, face: str = "noto", weight: float = 0.005, blur: float = 1.0,
                    sizes=TEMPLATE_SIZES) -> dict[str, list[np.ndarray]]:
    """Every character of ``chars`` rendered in ``face`` at every size of ``sizes``.

    Parameters
    ----------
    chars : iterable of str
    face, weight : as `minilpr.data.glyphs.glyph_master` takes them
    blur : float
        Gaussian σ in pixels, applied after the shrink (real crops are never sharp).
    sizes : sequence of (width, height)

    Returns
    -------
    dict char -> list of (h + 4, w + 4) float32
        Ink 1 on 0, with a 2-pixel empty border so the template also says where ink is not.
    """
    templates = {}
    for char in dict.fromkeys(chars):
        master = glyph_master(char, weight, face)
        rendered = []
        for w, h in sizes:
            small = cv2.resize(master, (w, h), interpolation=cv2.INTER_AREA)
            if blur > 0:
                small = cv2.GaussianBlur(small, (0, 0), blur)
            rendered.append(cv2.copyMakeBorder(small, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=0))
        templates[char] = rendered
    return templates


@dataclass
class TemplateReport:
    """What the nearest-template reader named at one plate position."""

    n: int
    accuracy: float                 # share of crops whose character was named right
    reads: list                     # (N,) the character named for each crop
    confusions: list                # ((truth, named), count), most frequent first


def template_read(images: np.ndarray, templates: dict, columns=PROVINCE_COLUMNS) -> list[str]:
    """The character of ``templates`` that best matches each crop within ``columns``.

    Parameters
    ----------
    images : (N, H, W) or (N, 1, H, W) float in [0, 1] or uint8
        Gray crops, as `PlateGenerator.batch` or `load_crop_folder` give them. The score is
        normalised cross-correlation, so brightness and contrast do not matter, but polarity
        does: light characters on a dark plate (blue plates) match the ink-1 templates.
    templates : dict char -> list of 2-D float32, from `glyph_templates`
    columns : (start, stop)
        The columns searched (the character's region with some room around it).

    Returns
    -------
    list of N str
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]                     # (N, 1, H, W) -> (N, H, W)
    if images.ndim != 3:
        raise ValueError(f"template_read: images must be (N, H, W) or (N, 1, H, W) gray, "
                         f"got shape {images.shape}")
    if not templates:
        raise ValueError("template_read: no templates")
    start, stop = columns
    reads = []
    for image in images:
        region = np.ascontiguousarray(image[:, start:stop], np.float32)
        best, best_score = "", -np.inf
        for char, rendered in templates.items():
            for template in rendered:
                if template.shape[0] > region.shape[0] or template.shape[1] > region.shape[1]:
                    continue
                score = float(cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED).max())
                if score > best_score:
                    best, best_score = char, score
        if not best:
            raise ValueError(f"template_read: every template is larger than the searched "
                             f"region {region.shape} (columns {columns})")
        reads.append(best)
    return reads


def template_report(images: np.ndarray, texts, position: int, templates: dict,
                    columns=PROVINCE_COLUMNS) -> TemplateReport:
    """`template_read` at plate position ``position`` (0 = the province), scored on ``texts``."""
    texts = list(texts)
    if len(texts) != len(images):
        raise ValueError(f"template_report: {len(images)} images but {len(texts)} texts")
    reads = template_read(images, templates, columns)
    truths = [t[position] for t in texts]
    wrong = Counter((t, r) for t, r in zip(truths, reads) if t != r)
    return TemplateReport(n=len(texts),
                          accuracy=float(np.mean([t == r for t, r in zip(truths, reads)])),
                          reads=reads, confusions=wrong.most_common())
