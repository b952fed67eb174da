import pytest

from bot.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("7d", 604800), ("1w", 604800), ("250ms", 0.25),
     (90, 90), (1.5, 1.5), ("0s", 0)],
)
def test_parse_duration_accepts(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "5", "m5", "", "5m 3s", "-5m", "1.5.2h", True, None, [5]])
def test_parse_duration_rejects_with_hint(text):
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)
    assert "such as 30s, 5m" in str(caught.value)


def test_parse_duration_rejects_negative_number():
    with pytest.raises(ValueError, match="-3 is negative"):
        parse_duration(-3)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (300, "5m"), (3600, "1h"), (3900, "1h05m"), (7 * 86400, "7d"),
     (7 * 86400 + 3 * 3600, "7d3h")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
