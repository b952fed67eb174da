import csv

import numpy as np
import pytest
from detector_series import MINUTE, noise_series, shifted

from bot.backtest import main
from detectors import DetectorSettings, ReplayResult, evaluate, replay


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


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--detector", "nope", "invalid choice"),
        ("--window", "5x", "argument --window: '5x' is not a duration; use a number with a unit"),
        ("--tail", "heavy", "argument --tail: invalid choice: 'heavy'"),
    ],
)
def test_backtest_bad_argument(tmp_path, capsys, option, value, expected):
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n1,2\n")

    code = main([str(source), option, value, "--out", str(tmp_path / "scores.csv")])

    assert code == 2
    assert expected in capsys.readouterr().err


def scored(status, p_values, times):
    count = len(status)
    return ReplayResult(
        status=np.array(status, dtype=object),
        p_value=np.array(p_values, dtype=float),
        deviation=np.zeros(count),
        kind=np.full(count, "", dtype=object),
        evaluated_at=np.array(times, dtype=float),
    )


def test_memory_scores_suppress_repeat():
    # One hour later, evidence 3 is below the remembered 4 * exp(-1 / 24).
    result = scored(["anomaly", "normal", "anomaly"], [1e-4, 1.0, 1e-3], [0.0, 60.0, 3600.0])

    remembered = result.anomaly_scores(memory=86400.0)
    forgotten = result.anomaly_scores(memory=60.0)

    assert remembered[0] == pytest.approx(1.0 - np.exp(-1.0))
    assert remembered[2] == 0.0
    assert forgotten[2] == pytest.approx(1.0 - np.exp(-0.75))


def test_memory_scores_stronger_evidence():
    result = scored(["anomaly", "anomaly"], [1e-3, 1e-8], [0.0, 60.0])

    scores = result.anomaly_scores(memory=86400.0)

    assert 0.0 < scores[0] < scores[1] < 1.0


def test_memory_scores_run_needs_rise():
    # Evidence 3.0, 3.3, 3.7 and 4.5 in one run: 3.3 is under 1.2 * 3.0, 3.7 is over it,
    # and 4.5 is over 1.2 * 3.7.
    p_values = [1e-3, 10**-3.3, 10**-3.7, 10**-4.5]
    result = scored(["anomaly"] * 4, p_values, [0.0, 300.0, 600.0, 900.0])

    scores = result.anomaly_scores(memory=86400.0)

    assert scores[0] == pytest.approx(1.0 - np.exp(-3.0 / 4.0))
    assert scores[1] == 0.0
    assert scores[2] == pytest.approx(1.0 - np.exp(-3.7 / 4.0))
    assert scores[3] == pytest.approx(1.0 - np.exp(-4.5 / 4.0))


def test_memory_scores_new_run_decayed_bar():
    # A second run two hours later: the decayed memory 3.0 * exp(-2 / 24) = 2.76 is the bar, not 1.2 * 3.0.
    result = scored(["anomaly", "normal", "anomaly"], [1e-3, 1.0, 10**-3.1], [0.0, 60.0, 7200.0])

    scores = result.anomaly_scores(memory=86400.0)

    assert scores[2] == pytest.approx(1.0 - np.exp(-3.1 / 4.0))


def test_memory_scores_need_times():
    result = ReplayResult(
        status=np.array(["anomaly"], dtype=object),
        p_value=np.array([1e-4]),
        deviation=np.zeros(1),
        kind=np.array([""], dtype=object),
    )

    with pytest.raises(ValueError, match="evaluated_at"):
        result.anomaly_scores(memory=60.0)


def test_backtest_rejects_negative_memory(tmp_path, capsys):
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n1,2\n")

    code = main([str(source), "--memory", "-5", "--out", str(tmp_path / "scores.csv")])

    assert code == 2
    assert "invalid --memory" in capsys.readouterr().err


def test_backtest_takes_durations_and_writes_unix_line_ends(tmp_path):
    times, values = noise_series(days=1.5)
    source = tmp_path / "series.csv"
    out = tmp_path / "scores.csv"
    write_series(source, times, shifted(values, last=5, by=60.0))

    code = main([str(source), "--detector", "sigma", "--baseline", "1d", "--window", "5m", "--out", str(out)])

    assert code == 0
    text = out.read_bytes()
    assert b"\r" not in text
    assert text.count(b"\n") == times.size + 1
    assert float(text.splitlines()[-1].split(b",")[-1]) > 0.99



def test_backtest_notes_rows_out_of_order(tmp_path, capsys):
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n3,1\n1,2\n1,3\n2,4\n")

    code = main([str(source), "--out", str(tmp_path / "scores.csv")])

    err = capsys.readouterr().err
    assert code == 0
    assert "3 row(s) are earlier than a row above them; they are evaluated in time order" in err
    assert "1 row(s) repeat an earlier timestamp" in err


def test_backtest_rejects_row_with_extra_field(tmp_path, capsys):
    source = tmp_path / "series.csv"
    source.write_text("timestamp,value\n1,2\n2,3,4\n")

    code = main([str(source), "--out", str(tmp_path / "scores.csv")])

    assert code == 2
    assert "line 3: 1 more field(s) than the header's 2: quote values that contain a comma" in capsys.readouterr().err
    assert not (tmp_path / "scores.csv").exists()
