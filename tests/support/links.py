"""The links of the tests: one secret and one public address to sign links to, one template for links into the
caller's own app, and reading a token out of a link."""

from __future__ import annotations

from typing import Any

from infra.settings import Settings
from tests.support.builders import settings

LINK_SECRET = "test-link-secret-0123456789abcdefghijklmnop"
SECRET = LINK_SECRET.encode()
PUBLIC = "https://mentorships.example.com"
# Links into the caller's own app (MENTORSHIP_LINK_TEMPLATE), with every placeholder.
TEMPLATE = "https://app.example.com/m/{workflow_id}/{action}?as={participant_id}&src=mail"


def link_settings(**overrides: Any) -> Settings:
    """Settings that sign links to ``PUBLIC`` with ``LINK_SECRET`` (no template)."""
    fields: dict[str, Any] = {
        "mentorship_link_template": None,
        "mentorship_api_public_url": PUBLIC,
        "mentorship_link_secret": LINK_SECRET,
    }
    return settings(**(fields | overrides))


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]
