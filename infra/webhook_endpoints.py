"""Where events go: MENTORSHIP_WEBHOOK_ENDPOINTS, parsed and checked when the worker starts (issue 17).

The setting is a JSON list, one object per endpoint::

    [{"url": "https://hooks.example.com/mentorships",
      "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_..."],
      "events": ["mentorship.completed", "mentorship.change.*"]}]

- ``url``: https; plain http only for a loopback host (``localhost``, ``127.0.0.1``, ``::1``). No user or password
  in it, no fragment. Each URL once.
- ``secrets``: one or more, each in the Standard Webhooks form ``whsec_`` + base64 of 24 to 64 random bytes (e.g.
  ``python -c 'import base64, os; print("whsec_" + base64.b64encode(os.urandom(32)).decode())'``). Every delivery
  carries one signature per secret, so a receiver holding either the old or the new one verifies it: add the new
  secret, move receivers to it, remove the old one.
- ``events`` (optional; left out: every event): event types (``workflows/events.py``), prefixes ending in ``.*``
  (``mentorship.change.*``) or ``*``. An entry matching no type is refused, with the nearest type.

Every error names the endpoint by its position and URL and says what is wrong; none quotes a secret.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from workflows.events import EventType, check_filter, matches

SECRET_PREFIX = "whsec_"
# The Standard Webhooks specification's range for a symmetric secret.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
SETTING = "MENTORSHIP_WEBHOOK_ENDPOINTS"


class WebhookConfigError(Exception):
    """A bad MENTORSHIP_WEBHOOK_ENDPOINTS. Not a ValueError: pydantic would quote the setting (and its secrets)."""


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secrets: tuple[str, ...]
    events: tuple[str, ...] | None = None

    def takes(self, kind: EventType | str) -> bool:
        return matches(list(self.events) if self.events is not None else None, kind)

    def __repr__(self) -> str:
        return f"WebhookEndpoint(url={self.url!r}, secrets=<{len(self.secrets)} hidden>, events={self.events!r})"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("url must be a non-empty string")
    url: str = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http(s) address like https://hooks.example.com/mentorships")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError("url must use https (plain http is allowed only for localhost, 127.0.0.1 and ::1)")
    if parts.username or parts.password:
        raise ValueError("url must not carry a user or password (the signature authenticates the sender)")
    if parts.fragment:
        raise ValueError("url must not have a #fragment")
    return url


def check_secret(value: Any, number: int) -> str:
    what = f"secret {number}"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is empty")
    secret: str = value.strip()
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"{what} must start with {SECRET_PREFIX!r} followed by base64 (the Standard Webhooks form)")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError(f"{what} is not valid base64 after {SECRET_PREFIX!r}") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"{what} decodes to {len(key)} bytes; use {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes"
        )
    return secret


def parse_endpoint(raw: Any) -> WebhookEndpoint:
    if not isinstance(raw, dict):
        raise ValueError('must be an object like {"url": "https://...", "secrets": ["whsec_..."]}')
    unknown = sorted(set(raw) - {"url", "secrets", "events"})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}: expected url, secrets, events")
    url = check_url(raw.get("url"))
    secrets = raw.get("secrets")
    if isinstance(secrets, str):
        secrets = [secrets]
    if not isinstance(secrets, list) or not secrets:
        raise ValueError("secrets must be a list of one or more secrets ('whsec_...')")
    checked = tuple(check_secret(secret, number) for number, secret in enumerate(secrets, 1))
    if len(set(checked)) != len(checked):
        raise ValueError("secrets lists the same secret twice")
    events = raw.get("events")
    if events is not None:
        if not isinstance(events, list) or not events or not all(isinstance(entry, str) for entry in events):
            raise ValueError(
                "events must be a non-empty list of event types or prefixes (leave it out for every event)"
            )
        events = tuple(check_filter(entry) for entry in events)
    return WebhookEndpoint(url=url, secrets=checked, events=events)


def parse_endpoints(text: str | None) -> tuple[WebhookEndpoint, ...]:
    """The endpoints of MENTORSHIP_WEBHOOK_ENDPOINTS; empty when unset or blank. WebhookConfigError says why not."""
    if text is None or not text.strip():
        return ()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise WebhookConfigError(f"{SETTING} is not JSON ({err.msg} at position {err.pos})") from None
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise WebhookConfigError(f"{SETTING} must be a JSON list of endpoints")
    endpoints: list[WebhookEndpoint] = []
    for number, item in enumerate(raw, 1):
        url = item.get("url") if isinstance(item, dict) else None
        named = f"endpoint {number}" + (f" ({url})" if isinstance(url, str) and len(url) <= 200 else "")
        try:
            endpoint = parse_endpoint(item)
        except ValueError as err:
            raise WebhookConfigError(f"{SETTING}: {named}: {err}") from None
        if any(other.url == endpoint.url for other in endpoints):
            raise WebhookConfigError(f"{SETTING}: {named}: the same url is listed twice")
        endpoints.append(endpoint)
    return tuple(endpoints)
