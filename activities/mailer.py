"""The one activity with a side effect: send a notification by SMTP.

Failures are sorted for Temporal's retry policy. A mail server that says "later" (4xx) or cannot be reached
is worth retrying; one that says "no" (5xx) will say no again, so the activity fails at once with a
non-retryable ``PermanentEmailFailure`` whose message names the refused address and the server's reply, and
the workflow can record it and move on.

The Message-ID is derived from the notification, not random: a retried send (after a timeout in which the
server may in fact have accepted the message) carries the same id, so mail clients and servers can drop the
duplicate.

Cost (bench/email_throughput.py): the message is built with the ``email`` package's compat32 classes (headers
set as text, display names RFC 2047-encoded by ``formataddr``) rather than ``EmailMessage`` with
``policy.default``, which parses and refolds every header as an object (~3.5 ms a message); and SMTP
connections are kept open and reused (up to ``SMTP_MAX_IDLE_CONNECTIONS`` of them, each for at most
``MAX_IDLE_SECONDS`` idle) instead of connect, EHLO, QUIT per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.calendar import FILENAME, Method, calendar_for, calendar_method
from activities.messages import check_link_template, prepare, render
from activities.templating import LINE_BREAKS
from infra.quiet_hours import held_until
from infra.settings import Settings
from workflows import metrics
from workflows.contract import (
    PERMANENT_EMAIL_FAILURE,
    SEND_NOTIFICATION,
    TRANSIENT_EMAIL_FAILURE,
    Notification,
    SendReceipt,
)

# RFC 5322 dot-atom text: what may stand on either side of the "@" of a Message-ID without quoting.
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def _atext(value: str) -> str:
    return _NOT_ATEXT.sub("-", value).strip(".") or "x"


# UTF-8 bodies and encoded words in quoted-printable, as policy.default writes them.
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_UTF8.body_encoding = QP


# The contract already refuses line breaks in names and ids (control and separator characters); this is the last
# line of defence, since compat32 does not refuse what policy.default does: a line break in a header value would
# start a header (or the body) of its own. The subject, the only header built from a template's output, is refused
# with one already when it renders (activities/templating.py).
_LINE_BREAKS = LINE_BREAKS

# A connection idle for longer than this is closed rather than reused: servers drop idle clients (Postfix after
# 300 s), and a dropped one would cost a failed attempt.
MAX_IDLE_SECONDS = 30.0
# How often a send that lasts heartbeats; the workflow's heartbeat timeout (workflows/mentorship.py) is longer.
HEARTBEAT_EVERY_SECONDS = 3.0


def _header(value: str) -> str:
    if not _LINE_BREAKS.isdisjoint(value):
        raise ValueError(f"a header value may not contain a line break: {value!r}")
    return value


def _address(name: str, address: str) -> str:
    """``Name <address>``. An ASCII name is quoted as needed (formataddr); any other is RFC 2047-encoded in words of
    at most 75 characters, folded between them (formataddr would make one word of any length, which RFC 2047
    forbids and some mail programs show as is)."""
    name = _header(name)
    if name.isascii():
        return _header(formataddr((name, _header(address))))
    # 76: a continuation line's space and an encoded word of at most 75 (the module's default allows 77).
    return f"{Header(name, _UTF8, maxlinelen=76, header_name='To').encode()} <{_header(address)}>"


def _calendar_part(data: bytes, method: Method) -> MIMEBase:
    """The .ics file (activities/calendar.py) as an attachment calendar programs act on: ``text/calendar`` with its
    iTIP method, in base64 so that its CRLF lines arrive as written."""
    part = MIMEBase("text", "calendar", charset="utf-8", method=method.value, name=FILENAME)
    del part["MIME-Version"]
    part.set_payload(data)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=FILENAME)
    return part


class Mailer:
    """Holds the SMTP settings; register ``Mailer(settings).send_notification`` with the worker."""

    def __init__(self, settings: Settings, *, max_idle: int | None = None) -> None:
        if settings.smtp_tls and settings.smtp_starttls:
            raise ValueError("set SMTP_TLS (implicit TLS) or SMTP_STARTTLS, not both")
        if settings.mentorship_link_template:
            check_link_template(settings.mentorship_link_template)
        _, sender = parseaddr(settings.mail_from)
        if "@" not in sender:
            raise ValueError(f"MAIL_FROM {settings.mail_from!r} has no email address in it")
        self.settings = settings
        self.sender = sender
        # Every template compiled and tried now (MENTORSHIP_TEMPLATES_DIR's overrides included): a broken one stops
        # the worker at start, naming the file and line, rather than failing sends.
        self.templates = prepare(settings.mentorship_templates_dir)
        self.message_id_domain = _atext(settings.mail_message_id_domain or sender.rpartition("@")[2] or "localhost")
        # Open connections between sends, reused by the next send; at most max_idle are kept, each with the
        # moment it went idle.
        self.max_idle = settings.smtp_max_idle_connections if max_idle is None else max_idle
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    def message_id(self, notification: Notification) -> str:
        """``<{mentorship_key}.{step}.{to}@{domain}>``: the same for every attempt at the same notification."""
        left = ".".join(_atext(part) for part in (notification.mentorship_key, notification.step, notification.to))
        return f"<{left}@{self.message_id_domain}>"

    def build_message(self, notification: Notification, now: datetime | None = None) -> Message:
        rendered = render(notification, self.settings, self.templates)
        recipient = notification.recipient
        # With a calendar file (activities/calendar.py): multipart/mixed of the text and HTML alternative and the file.
        calendar, method = calendar_for(notification, self.settings.mail_from), calendar_method(notification)
        body = MIMEMultipart("alternative")
        message = body if calendar is None else MIMEMultipart("mixed")
        message["From"] = _header(self.settings.mail_from)
        message["To"] = _address(recipient.name, str(recipient.email))
        subject = _header(rendered.subject)
        # Encoded words sized for the "Subject: " line, so that no fold puts the value on a line of its own.
        message["Subject"] = subject if subject.isascii() else Header(subject, _UTF8, header_name="Subject").encode()
        message["Date"] = format_datetime(now or datetime.now(UTC))
        message["Message-ID"] = self.message_id(notification)
        message["X-Mentorship-Workflow-Id"] = _header(notification.workflow_id)
        message["X-Mentorship-Step"] = _header(notification.step)
        # RFC 3834: tells autoresponders (vacation replies) not to answer.
        message["Auto-Submitted"] = "auto-generated"
        body.attach(MIMEText(rendered.text, "plain", _UTF8))  # type: ignore[arg-type]
        body.attach(MIMEText(rendered.html, "html", _UTF8))  # type: ignore[arg-type]
        if calendar is not None and method is not None:
            del body["MIME-Version"]
            message.attach(body)
            message.attach(_calendar_part(calendar, method))
        return message

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_tls,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,
        )

    async def _send(self, message: Message, address: str) -> None:
        """Send on an idle connection, or a new one; a connection that failed in any way is closed, never reused.

        A reused connection the server dropped while it was idle (a disconnect, a reset, a 421 "closing") is
        replaced by a new one once before the failure counts: nothing was sent on it.
        """
        for attempt in range(2):
            smtp, reused = self._take_idle(), True
            if smtp is None:
                smtp, reused = self._client(), False
                await smtp.connect()
            try:
                await smtp.send_message(message, sender=self.sender, recipients=[address])
            except BaseException as exc:
                smtp.close()
                if reused and attempt == 0 and _dropped(exc):
                    continue
                raise
            if len(self._idle) < self.max_idle:
                self._idle.append((smtp, time.monotonic()))
            else:
                smtp.close()
            return

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        """The most recently used idle connection still fit for use; older or closed ones are closed."""
        while self._idle:
            smtp, since = self._idle.pop()
            if smtp.is_connected and time.monotonic() - since < MAX_IDLE_SECONDS:
                return smtp
            smtp.close()
        return None

    async def close(self) -> None:
        """QUIT the idle connections (the worker calls this once it has stopped)."""
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            with contextlib.suppress(Exception):
                await smtp.quit()
            smtp.close()

    @activity.defn(name=SEND_NOTIFICATION)
    async def send_notification(self, notification: Notification) -> SendReceipt:
        address = str(notification.recipient.email)
        if not notification.deliver_now and notification.issued_at is not None:
            # Decided here, from this worker's zone database; the answer is recorded in the workflow's history,
            # which waits and sends it again with deliver_now (workflows/delivery.py).
            until = held_until(notification.issued_at, notification.recipient.time_zone, self.settings.quiet_hours)
            if until is not None:
                activity.logger.info("mail %s to %s held for quiet hours until %s", notification.kind, address, until)
                return SendReceipt(message_id=self.message_id(notification), accepted=[], held_until=until)
        try:
            message = self.build_message(notification)
        except Exception as exc:
            # Built from the notification alone: a message that cannot be built now cannot be built on a retry.
            failure = _permanent(f"cannot build the message to {address}: {type(exc).__name__}: {exc}", None, address)
            activity.logger.warning("mail %s to %s cannot be built: %s", notification.kind, address, failure.message)
            _count_failure(notification, failure)
            raise failure from exc
        message_id = str(message["Message-ID"])
        # Heartbeats tell Temporal the worker is alive while a slow exchange lasts, so that a send cut off by a
        # dead worker is retried after the workflow's heartbeat timeout instead of its start-to-close timeout.
        heartbeats = asyncio.create_task(_heartbeat_while_sending())
        try:
            await self._send(message, address)
        except Exception as exc:
            failure = self._classify(exc, address)
            activity.logger.warning(
                "mail %s to %s (%s) failed: %s",
                notification.kind,
                address,
                message_id,
                failure.message,
            )
            _count_failure(notification, failure)
            raise failure from exc
        finally:
            heartbeats.cancel()
        activity.logger.info("mail %s sent to %s (%s)", notification.kind, address, message_id)
        metrics.EMAILS_SENT.add(activity.metric_meter(), {"notice": notification.kind.value})
        return SendReceipt(message_id=message_id, accepted=[address])

    def _classify(self, exc: Exception, address: str) -> ApplicationError:
        server = f"{self.settings.smtp_host}:{self.settings.smtp_port}"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [refusal.code for refusal in exc.recipients]
            replies = "; ".join(f"{refusal.code} {refusal.message}" for refusal in exc.recipients)
            # We send to one address at a time, so this is all-or-nothing; any 4xx among them may pass later.
            if codes and all(code >= 500 for code in codes):
                return _permanent(f"mail server refused {address}: {replies}", codes[0], address)
            return _transient(f"mail server deferred {address}: {replies}", codes[0] if codes else None)
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            reply = f"{exc.code} {exc.message}"
            if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
                what = f"mail server refused {exc.recipient}"
            elif isinstance(exc, aiosmtplib.SMTPSenderRefused):
                what = f"mail server refused the sender {exc.sender}"
            elif isinstance(exc, aiosmtplib.SMTPAuthenticationError):
                what = f"mail server {server} refused our login (check SMTP_USERNAME and SMTP_PASSWORD)"
            elif isinstance(exc, aiosmtplib.SMTPDataError):
                what = f"mail server refused the message to {address}"
            elif isinstance(exc, aiosmtplib.SMTPConnectResponseError):
                what = f"mail server {server} turned the connection away"
            else:
                what = f"mail server {server} refused to send to {address}"
            if exc.code >= 500:
                return _permanent(f"{what}: {reply}", exc.code, address)
            # 4xx, and the odd non-standard code: the server did not say no for good.
            return _transient(f"{what} for now: {reply}", exc.code)
        if isinstance(exc, aiosmtplib.SMTPNotSupported):
            # E.g. STARTTLS required by our settings but not offered, or a non-ASCII address without SMTPUTF8.
            return _permanent(f"mail server {server} cannot send to {address}: {exc.message}", None, address)
        if isinstance(exc, ValueError):
            # aiosmtplib's address check: an address that cannot be put on an SMTP command line.
            return _permanent(f"cannot send to {address}: {exc}", None, address)
        if isinstance(exc, aiosmtplib.SMTPTimeoutError):
            return _transient(f"mail server {server} timed out: {exc}", None)
        if isinstance(exc, aiosmtplib.SMTPException | OSError):
            # Connection refused, reset, DNS failure, TLS handshake, unexpected disconnect.
            return _transient(f"could not reach mail server {server}: {exc}", None)
        return _transient(f"sending to {address} failed: {type(exc).__name__}: {exc}", None)


async def _heartbeat_while_sending() -> None:
    # Only once a send takes longer than a beat: most take milliseconds, and a heartbeat is a call to the server.
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)
        activity.heartbeat()


def _dropped(exc: BaseException) -> bool:
    """The signs of a connection the server closed while it sat idle."""
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected | ConnectionError):
        return True
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code == 421


def _count_failure(notification: Notification, failure: ApplicationError) -> None:
    kind = "permanent" if failure.non_retryable else "transient"
    metrics.EMAILS_FAILED.add(activity.metric_meter(), {"notice": notification.kind.value, "failure": kind})


def _permanent(message: str, code: int | None, address: str) -> ApplicationError:
    return ApplicationError(
        message,
        {"smtp_code": code, "recipient": address},
        type=PERMANENT_EMAIL_FAILURE,
        non_retryable=True,
    )


def _transient(message: str, code: int | None) -> ApplicationError:
    return ApplicationError(message, {"smtp_code": code}, type=TRANSIENT_EMAIL_FAILURE, non_retryable=False)
