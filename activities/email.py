"""The one activity with a side effect: send a notification by SMTP.

Failures are sorted for Temporal's retry policy. A mail server that says "later" (4xx) or cannot be reached
is worth retrying; one that says "no" (5xx) will say no again, so the activity fails at once with a
non-retryable ``PermanentEmailFailure`` whose message names the refused address and the server's reply, and
the workflow can record it and move on.

The Message-ID is derived from the notification, not random: a retried send (after a timeout in which the
server may in fact have accepted the message) carries the same id, so mail clients and servers can drop the
duplicate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messages import check_link_template, render
from config import Settings
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


class Mailer:
    """Holds the SMTP settings; register ``Mailer(settings).send_notification`` with the worker."""

    def __init__(self, settings: Settings) -> None:
        if settings.smtp_tls and settings.smtp_starttls:
            raise ValueError("set SMTP_TLS (implicit TLS) or SMTP_STARTTLS, not both")
        if settings.mentorship_link_template:
            check_link_template(settings.mentorship_link_template)
        _, sender = parseaddr(settings.mail_from)
        if "@" not in sender:
            raise ValueError(f"MAIL_FROM {settings.mail_from!r} has no email address in it")
        self.settings = settings
        self.sender = sender
        self.message_id_domain = _atext(settings.mail_message_id_domain or sender.rpartition("@")[2] or "localhost")

    def message_id(self, notification: Notification) -> str:
        """``<{mentorship_key}.{step}.{to}@{domain}>``: the same for every attempt at the same notification."""
        left = ".".join(_atext(part) for part in (notification.mentorship_key, notification.step, notification.to))
        return f"<{left}@{self.message_id_domain}>"

    def build_message(self, notification: Notification, now: datetime | None = None) -> EmailMessage:
        rendered = render(notification, self.settings)
        recipient = notification.recipient
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        # Address (not a formatted string) so that the policy quotes and RFC 2047-encodes the display name.
        message["To"] = Address(display_name=recipient.name, addr_spec=str(recipient.email))
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(now or datetime.now(UTC))
        message["Message-ID"] = self.message_id(notification)
        message["X-Mentorship-Workflow-Id"] = notification.workflow_id
        message["X-Mentorship-Step"] = notification.step
        # RFC 3834: tells autoresponders (vacation replies) not to answer.
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    @activity.defn(name=SEND_NOTIFICATION)
    async def send_notification(self, notification: Notification) -> SendReceipt:
        address = str(notification.recipient.email)
        try:
            message = self.build_message(notification)
        except Exception as exc:
            # Built from the notification alone: a message that cannot be built now cannot be built on a retry.
            failure = _permanent(f"cannot build the message to {address}: {type(exc).__name__}: {exc}", None, address)
            activity.logger.warning("mail %s to %s cannot be built: %s", notification.kind, address, failure.message)
            _count_failure(notification, failure)
            raise failure from exc
        message_id = str(message["Message-ID"])
        settings = self.settings
        try:
            await aiosmtplib.send(
                message,
                sender=self.sender,
                recipients=[address],
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                use_tls=settings.smtp_tls,
                start_tls=settings.smtp_starttls,
                timeout=settings.smtp_timeout_seconds,
            )
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
