"""The real plate statistics the scenes draw from: the table, its inversion, its derivation."""

from pathlib import Path

import numpy as np
import pytest

from minilpr.data.scene_stats import CCPD_GEOMETRY, PROBS, draw, fit_ccpd_geometry, quantile

CSV = Path("/work/shared/data/real/ccpd-geometry/ccpd_geometry.csv")


def test_tables_are_quantiles():
    for name, table in CCPD_GEOMETRY.items():
        assert len(table) == len(PROBS), name
        assert all(a <= b for a, b in zip(table, table[1:])), name


def test_quantile_inverts_the_table():
    table = CCPD_GEOMETRY["width"]
    np.testing.assert_allclose(quantile(table, np.array(PROBS)), table)
    assert quantile(table, 0.375) == pytest.approx((table[3] + table[4]) / 2)


def test_draws_follow_the_table():
    rng = np.random.default_rng(0)
    values = np.array([draw(rng, "roll") for _ in range(4000)])
    table = CCPD_GEOMETRY["roll"]
    assert table[0] <= values.min() and values.max() <= table[-1]
    np.testing.assert_allclose(np.percentile(values, [25, 50, 75]), table[3:6], atol=1.5)


def test_fit_rejects_other_tables(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="other.csv"):
        fit_ccpd_geometry(path)


@pytest.mark.skipif(not CSV.exists(), reason="the shared CCPD geometry table is not here")
def test_table_is_what_the_real_annotations_give():
    assert fit_ccpd_geometry(CSV) == CCPD_GEOMETRY
