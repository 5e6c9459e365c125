"""`make dev`'s own decisions (devtools/dev.py), without starting anything: the webhook receiver's port, the secret
it is made once (0600), and whether the worker is pointed at it or at the developer's own endpoints."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from devtools.dev import DevConfig, StartupError, dev_webhook_secret, webhook_env, webhook_url
from infra.webhook_endpoints import check_secret, parse_endpoints
from tests.support.builders import settings

MINE = json.dumps([{"url": "https://hooks.example.com/m", "secrets": ["whsec_" + "A" * 43 + "="]}])


def config(tmp_path: Path, **env: str) -> DevConfig:
    return DevConfig.from_env({"MENTORSHIP_DATA_DIR": str(tmp_path / "data"), **env})


def test_the_receiver_port_is_8089_unless_set_and_must_not_clash(tmp_path: Path) -> None:
    assert config(tmp_path).webhook_port == 8089
    assert config(tmp_path, WEBHOOK_RECEIVER_PORT="9100").webhook_port == 9100
    with pytest.raises(StartupError, match="WEBHOOK_RECEIVER_PORT='x' is not a port number"):
        config(tmp_path, WEBHOOK_RECEIVER_PORT="x")
    with pytest.raises(StartupError, match="must differ"):
        config(tmp_path, WEBHOOK_RECEIVER_PORT="1025")


def test_the_secret_is_made_once_readable_by_its_owner_only_and_remade_if_broken(tmp_path: Path) -> None:
    dev = config(tmp_path)
    made = dev_webhook_secret(dev)
    assert check_secret(made, 1) == made and len(made) == len("whsec_") + 44  # base64 of 32 bytes
    path = dev.webhook_secret_file
    assert path == tmp_path / "data" / "webhook-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert dev_webhook_secret(dev) == made, "kept across restarts"
    path.write_text("not a secret\n")
    path.chmod(0o644)
    remade = dev_webhook_secret(dev)
    assert remade != made and check_secret(remade, 1) == remade
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_worker_delivers_to_the_receiver_unless_endpoints_are_configured(tmp_path: Path) -> None:
    dev = config(tmp_path, WEBHOOK_RECEIVER_PORT="9100")
    given = webhook_env(dev, settings(mentorship_webhook_endpoints=None))
    (endpoint,) = parse_endpoints(given["MENTORSHIP_WEBHOOK_ENDPOINTS"])
    assert endpoint.url == webhook_url(dev) == "http://127.0.0.1:9100/webhooks"
    assert endpoint.secrets == (dev_webhook_secret(dev),) and endpoint.events is None
    # Set empty (as the tests set it, to keep a .env out): unset, like every empty setting.
    assert webhook_env(dev, settings(mentorship_webhook_endpoints="")) == given
    # The developer's own endpoints, or none at all ([]): left alone, never added to.
    assert webhook_env(dev, settings(mentorship_webhook_endpoints=MINE)) == {}
    assert webhook_env(dev, settings(mentorship_webhook_endpoints="[]")) == {}
