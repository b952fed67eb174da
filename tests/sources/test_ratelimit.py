"""The shared rate-limit budget, in Redis and in process memory."""

from __future__ import annotations

import pytest

from bot.sources import SourceRateLimited
from bot.sources.ratelimit import RateBudget, parse_rate_limit_headers
from tests.sources.conftest import FakeClock

KEY = "test:ratelimit:org"


def _headers(remaining: int, reset: float) -> dict[str, str]:
    return {"X-RateLimit-Limit": "10", "X-RateLimit-Period": "60", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(reset)}


@pytest.fixture(params=["redis", "local"])
def budgets(request, clock):
    """Return a factory of budgets that share state: through Redis, or one local budget for every call."""
    if request.param == "redis":
        client = request.getfixturevalue("redis_client")
        return lambda **options: RateBudget(key=KEY, redis_client=client, clock=clock.time, sleep=clock.sleep,
                                            **options)
    shared = RateBudget(key=KEY, clock=clock.time, sleep=clock.sleep)
    return lambda **options: shared


@pytest.fixture
def clock():
    return FakeClock()


def _acquire(budget: RateBudget) -> None:
    budget.acquire(source="datadog", url="https://api.datadoghq.com", query="avg:cpu{*}")


def test_headers_parsed():
    report = parse_rate_limit_headers(_headers(7, 30))
    assert report is not None
    assert (report.remaining, report.reset_after, report.limit, report.period) == (7, 30.0, 10, 60.0)


def test_headers_missing_give_nothing():
    assert parse_rate_limit_headers({"X-RateLimit-Limit": "10"}) is None
    assert parse_rate_limit_headers({"X-RateLimit-Remaining": "many", "X-RateLimit-Reset": "5"}) is None


def test_unknown_budget_lets_requests_through(budgets, clock):
    budget = budgets()
    for _ in range(3):
        _acquire(budget)
    assert budget.remaining() is None
    assert clock.sleeps == []


def test_each_request_takes_one(budgets, clock):
    first, second = budgets(), budgets()
    first.record(_headers(2, 600))

    _acquire(first)
    _acquire(second)
    assert first.remaining() == (0, clock.now + 600)

    with pytest.raises(SourceRateLimited) as caught:
        _acquire(second)
    assert caught.value.retry_after == 600.0


def test_short_reset_waited_for(budgets, clock):
    budget = budgets(max_wait=10.0)
    budget.record(_headers(0, 4))

    _acquire(budget)

    assert clock.sleeps == [4.0]


def test_lower_count_kept_within_a_period(budgets, clock):
    budget = budgets()
    budget.record(_headers(3, 60))
    budget.record(_headers(8, 60.5))  # a slower response that left the server earlier
    remaining, reset_at = budget.remaining()
    assert remaining == 3
    assert reset_at == pytest.approx(clock.now + 60, abs=1)


def test_new_period_replaces_count(budgets, clock):
    budget = budgets()
    budget.record(_headers(0, 5))
    clock.now += 10
    budget.record(_headers(9, 50))
    assert budget.remaining() == (9, clock.now + 50)


def test_late_answer_from_old_period_ignored(budgets, clock):
    budget = budgets()
    budget.record(_headers(9, 55))
    budget.record(_headers(0, 1))  # reset_at 54 seconds earlier: the period before
    assert budget.remaining() == (9, clock.now + 55)


def test_spend_blocks_until_reset(budgets, clock):
    budget = budgets(max_wait=1.0)
    budget.spend(30)
    with pytest.raises(SourceRateLimited):
        _acquire(budget)
