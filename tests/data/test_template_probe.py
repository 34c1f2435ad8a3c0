"""The nearest-template reader: it must read clean crops of its own face and fail where it should."""

import numpy as np
import pytest

from minilpr.data.charset import LETTERS, PROVINCES, random_plate
from minilpr.data.synth import PlateGenerator
from minilpr.data.template_probe import (LETTER_COLUMNS, glyph_templates, template_read,
                                         template_report)


@pytest.fixture(scope="module")
def clean_blue():
    """40 clean, frontal blue crops (light characters on a dark plate), random provinces."""
    rng = np.random.default_rng(0)
    texts = [random_plate(rng, "blue") for _ in range(40)]
    gen = PlateGenerator(seed=1, augment=None, kinds={"blue": 1.0}, typeface=None)
    images = np.stack([gen.sample(text=t).image for t in texts])   # (N, 32, 220) uint8
    return images, texts


@pytest.fixture(scope="module")
def province_templates():
    return glyph_templates(PROVINCES)


def test_reads_its_own_face(clean_blue, province_templates):
    images, texts = clean_blue
    report = template_report(images, texts, 0, province_templates)
    assert report.n == 40 and len(report.reads) == 40
    assert report.accuracy >= 0.9, report.confusions
    assert sum(c for _, c in report.confusions) == round((1 - report.accuracy) * 40)


def test_polarity_matters(clean_blue, province_templates):
    # dark characters on a light plate do not match ink-1 templates: the reader is not
    # naming provinces by some property every crop shares
    images, texts = clean_blue
    inverted = 255 - images
    assert template_report(inverted, texts, 0, province_templates).accuracy < 0.5


def test_letters_and_float_input(clean_blue):
    images, texts = clean_blue
    as_batch = (images[:, None] / 255).astype(np.float32)        # (N, 1, H, W) in [0, 1]
    report = template_report(as_batch, texts, 1, glyph_templates(LETTERS, weight=0.03),
                             LETTER_COLUMNS)
    assert report.accuracy >= 0.8, report.confusions


def test_templates_shapes():
    templates = glyph_templates("皖A", sizes=((10, 20), (7, 9)), blur=0)
    assert [t.shape for t in templates["皖"]] == [(24, 14), (13, 11)]
    assert all(t.dtype == np.float32 and t.max() <= 1 for t in templates["A"])


def test_bad_input(province_templates):
    with pytest.raises(ValueError, match="gray"):
        template_read(np.zeros((2, 32, 220, 3)), province_templates)
    with pytest.raises(ValueError, match="no templates"):
        template_read(np.zeros((2, 32, 220)), {})
    with pytest.raises(ValueError, match="larger than the searched region"):
        template_read(np.zeros((1, 32, 220), np.float32), province_templates, columns=(0, 10))
    with pytest.raises(ValueError, match="2 images but 1 texts"):
        template_report(np.zeros((2, 32, 220)), ["皖A12345"], 0, province_templates)
