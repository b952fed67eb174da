"""Playbooks are data: the shipped ones load, malformed ones are rejected with the step and field."""

from pathlib import Path

import pytest

from bot.analysis import STEP_FIELDS
from bot.errors import PlaybookError
from bot.playbooks import load_playbooks
from bot.settings import PLAYBOOKS_DIR


def test_shipped_playbooks_load():
    playbooks = load_playbooks(PLAYBOOKS_DIR, fields=STEP_FIELDS)
    main = playbooks["metric_anomaly"]

    assert [step.id for step in main.steps_for("spike")] == ["1", "2", "3a", "4", "5", "6", "7", "8"]
    assert [step.id for step in main.steps_for("drop")][2] == "3d"
    # 2 + 3 + 5 + 5 + 3 + 5 + 10 + 5 minutes for a spike.
    assert main.budget_for("spike") == 38 * 60


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "broken.yml").write_text(text, encoding="utf-8")
    return tmp_path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(PlaybookError) as caught:
        load_playbooks(_write(tmp_path, text), fields=STEP_FIELDS)
    return str(caught.value)


def test_unknown_template_field_rejected(tmp_path):
    message = _error(tmp_path, "name: x\nsteps:\n  - {id: '1', title: T, budget: 2m, text: 'now {curent}'}\n")
    assert "broken.yml" in message
    assert "step '1'" in message
    assert "{curent}" in message
    assert "use one of" in message


def test_bad_budget_rejected(tmp_path):
    message = _error(tmp_path, "name: x\nsteps:\n  - {id: '2', title: T, budget: soon, text: hi}\n")
    assert "step '2': field 'budget': 'soon' is not a duration" in message


def test_missing_title_rejected(tmp_path):
    message = _error(tmp_path, "name: x\nsteps:\n  - {id: '3', budget: 1m, text: hi}\n")
    assert "step '3': field 'title' is missing" in message


def test_unknown_kind_rejected(tmp_path):
    message = _error(tmp_path, "name: x\nsteps:\n  - {id: 3e, title: T, budget: 1m, text: hi, when: wobble}\n")
    assert "field 'when': 'wobble' is not an anomaly kind" in message


def test_repeated_step_id_rejected(tmp_path):
    message = _error(
        tmp_path,
        "name: x\nsteps:\n  - {id: '1', title: A, budget: 1m, text: a}\n"
        "  - {id: '1', title: B, budget: 1m, text: b}\n",
    )
    assert "step '1': field 'id' repeats" in message


def test_format_spec_rejected(tmp_path):
    message = _error(tmp_path, "name: x\nsteps:\n  - {id: '1', title: T, budget: 1m, text: '{current:.2f}'}\n")
    assert "has a format spec" in message


def test_wording_change_needs_no_code(tmp_path):
    _write(tmp_path, "name: custom\nsteps:\n  - {id: '1', title: Look, budget: 90s, text: 'value {current}'}\n")
    playbook = load_playbooks(tmp_path, fields=STEP_FIELDS)["custom"]
    assert playbook.steps[0].render({"current": "42"}) == "value 42"
    assert playbook.steps[0].budget == 90
