"""How a workflow sends one email: the activity's timeouts and retries, shared by the Mentorship and Feedback
workflows. Imported into workflows (passed through the sandbox); nothing here holds state or reads the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from workflows.contract import PERMANENT_EMAIL_FAILURE, SEND_NOTIFICATION, HeldEmail, Notification, SendReceipt
from workflows.wording import email_summary

EMAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    non_retryable_error_types=[PERMANENT_EMAIL_FAILURE],
)
# A mail server down for longer than this is recorded as a failed notification; the workflow goes on.
EMAIL_GIVE_UP_AFTER = timedelta(hours=24)
# How long one SMTP exchange may take before the attempt counts as failed and is retried.
EMAIL_ATTEMPT_TIMEOUT = timedelta(minutes=1)
# A send that lasts heartbeats every few seconds (activities/mailer.py): one whose worker died is retried after
# this, not after the whole attempt timeout. A live exchange never hits it, so it adds no duplicates.
EMAIL_HEARTBEAT_TIMEOUT = timedelta(seconds=10)


async def send(
    notification: Notification,
    *,
    summarize: bool = True,
    held_emails: list[HeldEmail] | None = None,
    on_hold: Callable[[], None] | None = None,
) -> SendReceipt:
    """Send one email through the activity; raises ActivityError once given up on.

    The activity may answer that the recipient's quiet hours hold it (``SendReceipt.held_until``): the email is
    listed in ``held_emails`` (the status shows it) and ``on_hold`` is told (the workflow republishes its details),
    a durable timer waits until then, and the email is sent without looking at quiet hours again, then unlisted. The
    answer is in the history, so a replay never decides it again from the zone database. No patch guards this: a
    history has a held answer only if the worker that made it had this code, so earlier histories take the same
    path as before.
    """
    receipt = await _attempt(notification, summarize)
    if receipt.held_until is None:
        return receipt
    entry = HeldEmail(step=notification.step, to=notification.to, until=receipt.held_until)
    listed = held_emails if held_emails is not None else []
    listed.append(entry)
    if on_hold is not None:
        on_hold()
    try:
        wait = receipt.held_until - workflow.now()
        if wait > timedelta(0):
            summary = f"quiet hours: {email_summary(notification)}" if summarize else None
            await workflow.sleep(wait, summary=summary)
        return await _attempt(notification.model_copy(update={"deliver_now": True}), summarize)
    finally:
        listed.remove(entry)


def failure_reason(err: ActivityError) -> str:
    """Why an activity was given up on, as it said it: an email (activities/mailer.py) or a webhook delivery
    (activities/webhooks.py)."""
    cause = err.cause
    return cause.message if isinstance(cause, ApplicationError) else str(cause or err)


async def _attempt(notification: Notification, summarize: bool) -> SendReceipt:
    receipt: SendReceipt = await workflow.execute_activity(
        SEND_NOTIFICATION,
        notification,
        result_type=SendReceipt,
        start_to_close_timeout=EMAIL_ATTEMPT_TIMEOUT,
        heartbeat_timeout=EMAIL_HEARTBEAT_TIMEOUT,
        schedule_to_close_timeout=EMAIL_GIVE_UP_AFTER,
        retry_policy=EMAIL_RETRY,
        summary=email_summary(notification) if summarize else None,
    )
    return receipt
