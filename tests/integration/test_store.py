"""The Redis store on a real redis-server: dedupe, atomic updates, locks, series windows."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bot.incident import Incident
from bot.sources.base import Series
from bot.store import LockBusy, Store


def _incident(incident_id: str, fingerprint: str = "fp1") -> Incident:
    return Incident(
        id=incident_id, fingerprint=fingerprint, monitor="api", query="up", labels={"a": "b"},
        channel="#c", playbook="metric_anomaly", opened_at=100.0, updated_at=100.0,
        anomaly_start=90.0, last_anomalous_at=100.0, detector="sigma", kind="spike",
        direction="above", tier="high", p_value=0.001, deviation=4.0, peak_deviation=4.0,
        current=10.0, expected=5.0, baseline_mean=5.0, baseline_std=1.0,
    )


def test_concurrent_creates_make_one_incident(redis_client):
    store = Store(redis_client)
    results = []

    def create():
        results.append(Store(redis_client.__class__.from_url(
            f"redis://{redis_client.connection_pool.connection_kwargs['host']}:"
            f"{redis_client.connection_pool.connection_kwargs['port']}/0"
        )).create_incident(_incident))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = [incident for incident, was_created in results if was_created]
    assert len(created) == 1
    assert {incident.id for incident, _ in results} == {created[0].id}
    assert store.open_incident_ids() == [created[0].id]


def test_resolve_clears_open_pointer(redis_client):
    store = Store(redis_client)
    incident, _ = store.create_incident(_incident)

    store.update_incident(incident.id, lambda current: current.model_copy(update={"status": "resolved"}))

    assert store.open_incident_id("fp1") is None
    assert store.open_incident_ids() == []
    assert store.get_incident(incident.id).status == "resolved"
    again, created = store.create_incident(_incident)
    assert created
    assert again.id != incident.id


def test_lock_excludes_second_holder(redis_client):
    store = Store(redis_client)
    with store.lock("poll:api"):
        with pytest.raises(LockBusy):
            with store.lock("poll:api"):
                pass
    with store.lock("poll:api"):
        pass


def test_series_window_round_trip(redis_client):
    store = Store(redis_client)
    series = Series({"instance": "a"}, np.array([1.0, 2.0, 3.0]), np.array([0.5, np.nan, np.inf]))

    store.save_series("api", "fp1", series)
    loaded = Store(redis_client).load_series("api", "fp1")

    assert loaded.labels == {"instance": "a"}
    assert loaded.timestamps.tolist() == [1.0, 2.0, 3.0]
    assert loaded.values[0] == 0.5
    assert np.isnan(loaded.values[1])
    assert np.isinf(loaded.values[2])
    assert store.series_fingerprints("api") == ["fp1"]
