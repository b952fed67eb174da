import csv

import numpy as np
import pytest
from detector_series import MINUTE, noise_series, shifted

from bot.backtest import main
from detectors import DetectorSettings, evaluate, replay


def write_series(path, times, values):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        for stamp, value in zip(times, values, strict=True):
            writer.writerow([f"{stamp:.0f}", "" if np.isnan(value) else f"{value:.6f}"])


def read_scores(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_backtest_scores_every_row(tmp_path):
    times, values = noise_series(days=2.5)
    values = shifted(values, last=5, by=60.0)
    values[100] = np.nan
    source = tmp_path / "series.csv"
    out = tmp_path / "scores.csv"
    write_series(source, times, values)

    code = main([str(source), "--detector", "sigma", "--baseline", "86400", "--out", str(out)])

    assert code == 0
    rows = read_scores(out)
    assert len(rows) == times.size
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    scores = np.array([float(row["anomaly_score"]) for row in rows])
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert scores[-5:].max() > 0.99
    assert rows[100]["value"] == ""


def test_backtest_is_causal(tmp_path):
    times, values = noise_series(days=2.5)
    settings = DetectorSettings(baseline=86400.0)
    spiked = shifted(values, last=200, by=60.0)

    before = replay(times[:-200], values[:-200], settings=settings)
    after = replay(times, spiked, settings=settings)

    assert list(after.status[:-200]) == list(before.status)
    assert np.array_equal(after.p_value[:-200], before.p_value)


def test_replay_matches_evaluate_at_refit():
    times, values = noise_series(days=2.5)
    values = shifted(values, last=3, by=60.0)
    settings = DetectorSettings(baseline=86400.0)

    replayed = replay(times, values, settings=settings, refit_interval=MINUTE / 2)
    direct = evaluate(times, values, now=times[-1], settings=settings)

    assert replayed.status[-1] == direct.status
    assert replayed.p_value[-1] == pytest.approx(direct.p_value)


def test_replay_handles_rows_out_of_order():
    times, values = noise_series(days=1.5)
    times = times.copy()
    times[[500, 501]] = times[[501, 500]]

    result = replay(times, values, settings=DetectorSettings(baseline=86400.0))

    assert result.status.size == times.size


def test_backtest_iso_timestamps(tmp_path):
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n2024-05-01 12:00:00,1\n2024-05-01T12:05:00+00:00,2\n")
    out = tmp_path / "scores.csv"

    assert main([str(source), "--out", str(out)]) == 0
    assert [row["timestamp"] for row in read_scores(out)] == [
        "2024-05-01 12:00:00",
        "2024-05-01T12:05:00+00:00",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,val\n1,2\n", "missing column"),
        ("timestamp,value\n1,abc\n", "invalid value 'abc'"),
        ("timestamp,value\nyesterday,2\n", "invalid timestamp 'yesterday'"),
        ("timestamp,value\n", "no data rows"),
    ],
)
def test_backtest_rejects_bad_input(tmp_path, capsys, content, message):
    source = tmp_path / "series.csv"
    source.write_text(content)

    code = main([str(source), "--out", str(tmp_path / "scores.csv")])

    assert code == 2
    assert message in capsys.readouterr().err


def test_backtest_missing_file(tmp_path, capsys):
    code = main([str(tmp_path / "absent.csv"), "--out", str(tmp_path / "scores.csv")])

    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_backtest_unknown_detector(tmp_path, capsys):
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n1,2\n")

    code = main([str(source), "--detector", "nope", "--out", str(tmp_path / "scores.csv")])

    assert code == 2
    assert "invalid choice" in capsys.readouterr().err
