"""The app manifest declares what the code uses: the command, interactivity and scopes."""

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parent.parent.parent / "manifest.yml"


def test_manifest_declares_command_interactivity_and_scopes():
    manifest = yaml.safe_load(MANIFEST.read_text())

    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/anomaly"
    assert command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    for needed in ("chat:write", "commands", "channels:join", "channels:manage", "channels:history",
                   "files:write", "usergroups:read"):
        assert needed in scopes
