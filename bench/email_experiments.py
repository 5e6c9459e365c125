"""The email activity as it was before it reused connections and built messages with compat32, to measure the
change against (bench/email_throughput.py, and the lifecycle with ``+before``).

``PerMessageMailer`` is ``activities.mailer.Mailer`` with the former ``build_message`` (``EmailMessage`` with
``policy.default``: every header parsed and refolded as an object) and the former send (a new connection for
every message: connect, EHLO, send, QUIT, as ``aiosmtplib.send`` does). Everything else (rendering, the
Message-ID, the classification of failures) is the deployed activity's. Not deployed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime

from temporalio import activity

from activities.mailer import Mailer
from activities.messages import render
from workflows.contract import SEND_NOTIFICATION, Notification, SendReceipt


class PerMessageMailer(Mailer):
    def build_message(self, notification: Notification, now: datetime | None = None) -> EmailMessage:
        rendered = render(notification, self.settings)
        recipient = notification.recipient
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = Address(display_name=recipient.name, addr_spec=str(recipient.email))
        message["Subject"] = rendered.subject
        message["Date"] = format_datetime(now or datetime.now(UTC))
        message["Message-ID"] = self.message_id(notification)
        message["X-Mentorship-Workflow-Id"] = notification.workflow_id
        message["X-Mentorship-Step"] = notification.step
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    async def _send(self, message: Message, address: str) -> None:
        # What aiosmtplib.send does: connect (TLS, login), send, QUIT, for every message.
        async with self._client() as smtp:
            await smtp.send_message(message, sender=self.sender, recipients=[address])

    @activity.defn(name=SEND_NOTIFICATION)
    async def send_notification(self, notification: Notification) -> SendReceipt:
        return await super().send_notification(notification)


MAILERS: dict[str, type[Mailer]] = {"before": PerMessageMailer}
