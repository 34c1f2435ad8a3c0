"""The run's CSV log: a fixed header, rows read back as numbers, truncation for a resume."""

import math

from minilpr.train.log import FIXED_COLUMNS, RunLog


def row(step, **figures):
    return {"step": step, "elapsed_s": 1.0, "lr": 0.1, "loss": 2.5, "grad_norm": 1.0,
            "images_per_s": 30.0, "data_wait": 0.05, **figures}


def test_append_read_and_truncate(tmp_path):
    log = RunLog(tmp_path / "log.csv")
    assert log.rows() == [] and log.header() is None
    log.append(row(10, val_accuracy=0.5))
    log.append(row(20, val_accuracy=0.75))
    log.append(row(30))  # a figure missing: left empty, read as NaN
    assert log.header() == list(FIXED_COLUMNS) + ["val_accuracy"]
    rows = log.rows()
    assert [r["step"] for r in rows] == [10, 20, 30]
    assert rows[1]["val_accuracy"] == 0.75 and math.isnan(rows[2]["val_accuracy"])
    log.truncate_after(20)
    assert [r["step"] for r in log.rows()] == [10, 20]
    log.append(row(40, val_accuracy=1.0))
    assert [r["step"] for r in log.rows()] == [10, 20, 40]
