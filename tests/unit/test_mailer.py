"""The email activity's own checks and message building (activities/mailer.py), without a mail server; sending
over SMTP is in tests/integration/test_email.py."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from activities.mailer import Mailer
from infra.settings import Settings
from tests.support.builders import MAIL_FROM, make_notification, settings


def test_an_unknown_placeholder_in_the_template_stops_the_worker_at_start() -> None:
    settings = Settings(_env_file=None, mentorship_link_template="https://x/{mentorship}")
    with pytest.raises(ValueError, match="unknown placeholders"):
        Mailer(settings)


@pytest.mark.parametrize("brk", ["\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_line_break_never_reaches_a_header(brk: str) -> None:
    """The contract refuses such names; the message builder stops them again, whatever the source: a raw break
    is refused, a non-ASCII one ends up inside an encoded word. Either way no header of the sender's making."""
    notification = make_notification()
    recipient = notification.recipient.model_copy(update={"name": f"Ada{brk}Bcc: eve@example.com"})
    forged = notification.model_copy(update={"recipient": recipient})
    try:
        message = Mailer(settings(mail_from=MAIL_FROM)).build_message(forged)
    except ValueError as refused:
        assert "line break" in str(refused)
        return
    assert not brk.isascii()
    raw = message.as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    assert head.isascii()
    assert not [line for line in head.splitlines() if line.lower().startswith(b"bcc")]
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert parsed["Bcc"] is None
    assert [address.addr_spec for address in parsed["To"].addresses] == ["ada@example.com"]
