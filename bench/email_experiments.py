"""Experimental email activities, to measure proposed changes to activities/email.py before anyone makes them.

``PooledMailer`` is ``activities.email.Mailer`` with one difference: instead of ``aiosmtplib.send`` (connect,
EHLO, send, QUIT for every message) it keeps up to ``size`` SMTP connections open and reuses them. A connection
that fails in any way is closed, never reused; a connection the server closed while idle is replaced once
before the failure counts. Everything else (the message, the Message-ID, the classification of failures) is
the deployed activity's.

``Compat32PooledMailer`` also builds the message with the ``email`` package's compat32 API (``MIMEMultipart``
and ``MIMEText``, headers set as text, display names encoded by ``formataddr``) instead of ``EmailMessage``
with ``policy.default``, whose header objects are parsed and refolded one by one: the same headers, the same
multipart/alternative structure, the same quoted-printable UTF-8 bodies. It trusts what ``policy.default``
would check again (no line breaks in header values): the contract already refuses control characters in names.

Neither is deployed: bench/email_throughput.py measures them. ``bench/proposals/email-activity.diff`` is the
same change as a patch of activities/email.py (the project's email tests pass with it).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

import aiosmtplib
from temporalio import activity

from activities.email import Mailer
from activities.messages import render
from config import Settings
from workflows.contract import SEND_NOTIFICATION, Notification, SendReceipt


class PooledMailer(Mailer):
    def __init__(self, settings: Settings, size: int = 8) -> None:
        super().__init__(settings)
        self.size = size
        self._idle: list[aiosmtplib.SMTP] = []

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
        )

    async def _take(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A connected client, and whether it was reused (it may have been closed by the server meanwhile)."""
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp, True
        smtp = self._new_client()
        await smtp.connect()
        return smtp, False

    def _give_back(self, smtp: aiosmtplib.SMTP) -> None:
        if smtp.is_connected and len(self._idle) < self.size:
            self._idle.append(smtp)
        else:
            smtp.close()

    def build(self, notification: Notification) -> Message:
        return self.build_message(notification)

    async def _send(self, notification: Notification) -> tuple[str, str]:
        message = self.build(notification)
        address = str(notification.recipient.email)
        for attempt in range(2):
            smtp, reused = await self._take()
            try:
                await smtp.send_message(message, sender=self.sender, recipients=[address])
            except aiosmtplib.SMTPServerDisconnected:
                smtp.close()
                if reused and attempt == 0:
                    continue  # the server had closed it while idle: once more, on a fresh connection
                raise
            except BaseException:
                smtp.close()
                raise
            self._give_back(smtp)
            break
        return str(message["Message-ID"]), address

    @activity.defn(name=SEND_NOTIFICATION)
    async def send_notification(self, notification: Notification) -> SendReceipt:
        address = str(notification.recipient.email)
        try:
            message_id, address = await self._send(notification)
        except Exception as exc:
            failure = self._classify(exc, address)
            activity.logger.warning("mail %s to %s failed: %s", notification.kind, address, failure.message)
            raise failure from exc
        activity.logger.info("mail %s sent to %s (%s)", notification.kind, address, message_id)
        return SendReceipt(message_id=message_id, accepted=[address])

    async def close(self) -> None:
        while self._idle:
            smtp = self._idle.pop()
            with contextlib.suppress(Exception):
                await smtp.quit()


_UTF8_QP = Charset("utf-8")
_UTF8_QP.header_encoding = QP
_UTF8_QP.body_encoding = QP


def _header(value: str) -> str:
    # compat32 does not check what policy.default refuses: a line break would start a header of its own.
    if any(char in value for char in "\r\n"):
        raise ValueError(f"a header value may not contain a line break: {value!r}")
    return value


class Compat32PooledMailer(PooledMailer):
    def build(self, notification: Notification) -> Message:
        rendered = render(notification, self.settings)
        recipient = notification.recipient
        message = MIMEMultipart("alternative")
        message["From"] = _header(self.settings.mail_from)
        message["To"] = _header(formataddr((recipient.name, str(recipient.email)), charset="utf-8"))
        subject = _header(rendered.subject)
        # Encoded words sized for the "Subject: " line, so that no fold puts the value on a line of its own.
        message["Subject"] = subject if subject.isascii() else Header(subject, _UTF8_QP, header_name="Subject").encode()
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = self.message_id(notification)
        message["X-Mentorship-Workflow-Id"] = _header(notification.workflow_id)
        message["X-Mentorship-Step"] = _header(notification.step)
        message["Auto-Submitted"] = "auto-generated"
        message.attach(MIMEText(rendered.text, "plain", _UTF8_QP))  # type: ignore[arg-type]
        message.attach(MIMEText(rendered.html, "html", _UTF8_QP))  # type: ignore[arg-type]
        return message

    @activity.defn(name=SEND_NOTIFICATION)
    async def send_notification(self, notification: Notification) -> SendReceipt:
        return await super().send_notification(notification)


MAILERS: dict[str, type[Mailer]] = {"pooled": PooledMailer, "compat32": Compat32PooledMailer}
