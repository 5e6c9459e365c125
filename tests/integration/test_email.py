"""The email activity against a real SMTP server (the in-process mail sink) over loopback."""

from __future__ import annotations

import html
from email.message import EmailMessage

import pytest
from markupsafe import escape
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mailer import Mailer
from devtools.mailsink import MailSink, free_port
from infra.settings import Settings
from tests.support import builders
from tests.support.builders import make_notification
from tests.support.links import TEMPLATE
from workflows.contract import (
    PERMANENT_EMAIL_FAILURE,
    TRANSIENT_EMAIL_FAILURE,
    Audience,
    Notice,
    Notification,
    Person,
    SendReceipt,
)


async def send(settings: Settings, notification: Notification) -> SendReceipt:
    return await ActivityEnvironment().run(Mailer(settings).send_notification, notification)


def parts(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML bodies, checking the structure a mail client relies on."""
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    assert plain.get_content_type() == "text/plain"
    assert rich.get_content_type() == "text/html"
    return str(plain.get_content()), str(rich.get_content())


async def test_delivers_a_multipart_message_with_the_expected_headers(
    mail_sink: MailSink, mail_settings: Settings
) -> None:
    notification = make_notification(Notice.INVITATION)

    receipt = await send(mail_settings, notification)

    [message] = await mail_sink.wait_for(1)
    text, body = parts(message)
    assert message["From"] == "Mentorships <mentorships@example.org>"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Subject"] == "Ben Okafor would like you to be their mentor"
    assert message["Message-ID"] == "<mk-7f3a.invitation.1.mentor@example.org>"
    assert message["X-Mentorship-Workflow-Id"] == "mentorship-ada--ben.b"
    assert message["X-Mentorship-Step"] == "invitation.1"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    assert receipt == SendReceipt(message_id="<mk-7f3a.invitation.1.mentor@example.org>", accepted=["ada@example.com"])
    assert mail_sink.deliveries[0].rcpt_tos == ["ada@example.com"]
    assert mail_sink.deliveries[0].mail_from == "mentorships@example.org"
    for rendered in (text, body):
        assert "Ben Okafor" in rendered
        assert "first conference talk" in rendered
        assert "public speaking" in rendered
        assert "Wed 9 Dec 2026, 14:00 UTC" in rendered
        assert "every 14 days" in rendered


async def test_message_id_is_the_same_for_every_attempt_at_a_notification(
    mail_sink: MailSink, mail_settings: Settings
) -> None:
    notification = make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTEE, step="check_in_due.3")

    first = await send(mail_settings, notification)
    second = await send(mail_settings, notification)
    other_step = await send(mail_settings, notification.model_copy(update={"step": "check_in_due.4"}))

    messages = await mail_sink.wait_for(3)
    assert first.message_id == second.message_id == "<mk-7f3a.check_in_due.3.mentee@example.org>"
    assert [m["Message-ID"] for m in messages[:2]] == [first.message_id] * 2
    assert other_step.message_id == "<mk-7f3a.check_in_due.4.mentee@example.org>"

    custom = mail_settings.model_copy(update={"mail_message_id_domain": "mail.example.net"})
    assert Mailer(custom).message_id(notification) == "<mk-7f3a.check_in_due.3.mentee@mail.example.net>"
    no_domain = mail_settings.model_copy(update={"mail_from": "mentorships"})
    with pytest.raises(ValueError, match="no email address"):
        Mailer(no_domain)


async def test_user_input_is_escaped_in_the_html_part(mail_sink: MailSink, mail_settings: Settings) -> None:
    invitation = builders.invitation(
        mentee=Person(id="mal", name="Mal <b>Bold</b> & Co", email="mal@example.com"),
        message='Hi! <script>alert("pwned")</script>\nSecond line',
        focus_areas=['<img src=x onerror="alert(1)">'],
    )
    await send(mail_settings, make_notification(Notice.INVITATION, invitation=invitation))

    [message] = await mail_sink.wait_for(1)
    text, body = parts(message)
    assert "<script>" not in body and "<img" not in body and "<b>" not in body
    # Jinja2's autoescape (markupsafe): quotes as &#34; and &#39;.
    assert escape('<script>alert("pwned")</script>') in body
    assert escape('<img src=x onerror="alert(1)">') in body
    assert "Mal &lt;b&gt;Bold&lt;/b&gt; &amp; Co" in body
    # The plain-text part shows what the person wrote, as written.
    assert '<script>alert("pwned")</script>' in text
    assert "Mal <b>Bold</b> & Co" in text


async def test_links_follow_the_template(mail_sink: MailSink, mail_settings: Settings) -> None:
    settings = mail_settings.model_copy(update={"mentorship_link_template": TEMPLATE})
    await send(settings, make_notification(Notice.INVITATION))
    await send(settings, make_notification(Notice.CHECK_IN_NUDGE, to=Audience.MENTEE))

    invitation, nudge = await mail_sink.wait_for(2)
    accept = "https://app.example.com/m/mentorship-ada--ben.b/accept?as=ada&src=mail"
    decline = "https://app.example.com/m/mentorship-ada--ben.b/decline?as=ada&src=mail"
    check_in = "https://app.example.com/m/mentorship-ada--ben.b/check_in?as=ben.b&src=mail"
    text, body = parts(invitation)
    assert accept in text and decline in text
    assert f'href="{html.escape(accept)}"' in body and f'href="{html.escape(decline)}"' in body
    text, body = parts(nudge)
    assert check_in in text and f'href="{html.escape(check_in)}"' in body
    assert "accept" not in text


async def test_no_links_without_a_template(mail_sink: MailSink, mail_settings: Settings) -> None:
    await send(mail_settings, make_notification(Notice.INVITATION))
    await send(mail_settings, make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTOR))

    for message in await mail_sink.wait_for(2):
        text, body = parts(message)
        assert "http" not in text
        assert "href" not in body


async def test_non_ascii_names_are_encoded(mail_sink: MailSink, mail_settings: Settings) -> None:
    invitation = builders.invitation(
        mentor=Person(id="zoe", name="Zoë Ångström, PhD", email="zoe@example.com"),
        mentee=Person(id="jiro", name="山田 次郎", email="jiro@example.com"),
    )
    await send(mail_settings, make_notification(Notice.INVITATION, invitation=invitation))

    await mail_sink.wait_for(1)
    [delivery] = mail_sink.deliveries
    # On the wire the headers are 7-bit (RFC 2047 encoded words); decoded they read as typed.
    headers = delivery.raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii()
    assert b"=?utf-8?" in headers
    message = delivery.message
    [address] = message["To"].addresses
    assert address.display_name == "Zoë Ångström, PhD"
    assert address.addr_spec == "zoe@example.com"
    assert message["Subject"] == "山田 次郎 would like you to be their mentor"
    text, body = parts(message)
    assert "Hi Zoë Ångström, PhD," in text and "山田 次郎" in body


@pytest.mark.parametrize("stage", ["rcpt", "data"])
async def test_a_4xx_reply_is_retryable_and_the_next_attempt_delivers(
    mail_sink: MailSink, mail_settings: Settings, stage: str
) -> None:
    mail_sink.fail_next(1, "451 4.3.0 try again later", at="rcpt" if stage == "rcpt" else "data")
    notification = make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTOR)

    with pytest.raises(ApplicationError) as failure:
        await send(mail_settings, notification)
    assert not failure.value.non_retryable
    assert failure.value.type == TRANSIENT_EMAIL_FAILURE
    assert "451 4.3.0 try again later" in failure.value.message
    assert mail_sink.messages == []

    receipt = await send(mail_settings, notification)
    [message] = await mail_sink.wait_for(1)
    assert message["Message-ID"] == receipt.message_id
    assert mail_sink.attempts == 2


async def test_a_5xx_refusal_of_the_recipient_is_permanent(mail_sink: MailSink, mail_settings: Settings) -> None:
    mail_sink.fail_next(1, "550 5.1.1 no such user")

    with pytest.raises(ApplicationError) as failure:
        await send(mail_settings, make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTEE))

    assert failure.value.non_retryable
    assert failure.value.type == PERMANENT_EMAIL_FAILURE
    assert failure.value.message == "mail server refused ben@example.com: 550 5.1.1 no such user"
    assert mail_sink.messages == []


async def test_a_5xx_refusal_of_the_message_is_permanent(mail_sink: MailSink, mail_settings: Settings) -> None:
    mail_sink.fail_next(1, "554 5.7.1 message rejected as spam", at="data")

    with pytest.raises(ApplicationError) as failure:
        await send(mail_settings, make_notification(Notice.WRAP_UP, to=Audience.MENTEE))

    assert failure.value.non_retryable
    assert failure.value.type == PERMANENT_EMAIL_FAILURE
    assert "ben@example.com" in failure.value.message
    assert "554 5.7.1 message rejected as spam" in failure.value.message


async def test_no_server_listening_is_retryable(mail_settings: Settings) -> None:
    nobody = mail_settings.model_copy(update={"smtp_port": free_port()})

    with pytest.raises(ApplicationError) as failure:
        await send(nobody, make_notification())

    assert not failure.value.non_retryable
    assert failure.value.type == TRANSIENT_EMAIL_FAILURE
    assert "could not reach mail server" in failure.value.message


# --- Connections ----------------------------------------------------------------------------------------


async def test_one_connection_carries_consecutive_sends(mail_sink: MailSink, mail_settings: Settings) -> None:
    mailer = Mailer(mail_settings)
    env = ActivityEnvironment()
    for kind in (Notice.INVITATION, Notice.INVITATION_REMINDER, Notice.INVITATION_EXPIRED):
        await env.run(mailer.send_notification, make_notification(kind))
    await mailer.close()

    first, second, third = mail_sink.deliveries
    assert first.peer is not None and first.peer == second.peer == third.peer


async def test_a_connection_the_server_dropped_is_replaced(mail_settings: Settings) -> None:
    """The mail server restarts between two sends (as a server dropping idle clients would): the second send
    notices the dead connection and delivers over a new one, without a failed attempt."""
    settings = mail_settings.model_copy(update={"smtp_port": free_port()})
    mailer = Mailer(settings)
    env = ActivityEnvironment()
    sink = MailSink(port=settings.smtp_port)
    async with sink:
        await env.run(mailer.send_notification, make_notification(Notice.INVITATION))
    restarted = MailSink(port=settings.smtp_port)
    async with restarted:
        await env.run(mailer.send_notification, make_notification(Notice.INVITATION_REMINDER))
        await mailer.close()
    [before], [after] = sink.deliveries, restarted.deliveries
    assert before.peer != after.peer
    assert restarted.attempts == 1


async def test_a_connection_idle_too_long_is_not_reused(
    mail_sink: MailSink, mail_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("activities.mailer.MAX_IDLE_SECONDS", 0.0)
    mailer = Mailer(mail_settings)
    env = ActivityEnvironment()
    await env.run(mailer.send_notification, make_notification(Notice.INVITATION))
    await env.run(mailer.send_notification, make_notification(Notice.INVITATION_REMINDER))
    await mailer.close()
    first, second = mail_sink.deliveries
    assert first.peer != second.peer
