"""Changes to the terms by mutual agreement, on the time-skipping test server: every path of a proposal from each
side, and the reminders that follow an agreed change of cadence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink
from tests.support.builders import people
from tests.support.temporal import running_worker
from tests.support.waiting import status_of, steps, terminate_when_idle, wait_status
from workflows.contract import Invitation, MentorshipStatus, Role, Stage
from workflows.plan import after

DAY = timedelta(days=1)
BOTH_SIDES = pytest.mark.parametrize("proposer", [Role.MENTOR, Role.MENTEE])


class Pair:
    """One accepted mentorship on the shared test server, and the sink its emails reach."""

    def __init__(self, env: WorkflowEnvironment, sink: MailSink, task_queue: str) -> None:
        self.env, self.sink, self.task_queue = env, sink, task_queue
        self.handle: WorkflowHandle[Any, Any] | None = None
        self.invitation: Invitation | None = None

    @property
    def client(self) -> Client:
        return self.env.client

    async def start(self, **overrides: Any) -> MentorshipStatus:
        self.invitation = people("mentee", **overrides)
        current = await mentorship_client.invite(self.client, self.invitation, task_queue=self.task_queue)
        self.handle = self.client.get_workflow_handle(current.workflow_id)
        return await mentorship_client.act(self.client, current.workflow_id, "accept", {"by": self.id(Role.MENTOR)})

    def id(self, role: Role) -> str:
        assert self.invitation is not None
        return self.invitation.person(role).id

    async def signal(self, action: str, **payload: Any) -> None:
        assert self.handle is not None
        await mentorship_client.send(self.client, self.handle.id, action, payload)

    async def until(self, what: str, predicate: Any) -> MentorshipStatus:
        assert self.handle is not None
        return await wait_status(self.handle, predicate, what)

    def mail(self) -> list[tuple[str, str]]:
        assert self.handle is not None
        return steps(self.sink, self.handle.id)

    async def close(self) -> None:
        if self.handle is None:
            return
        try:
            final = await wait_status(
                self.handle, lambda s: s.notifications_pending == 0 and s.webhooks.pending == 0, "sends to finish"
            )
            if final.feedback_workflow_id is not None:
                # It outlives the mentorship, with timers days ahead that no worker would serve.
                await terminate_when_idle(self.client, final.feedback_workflow_id)
            await terminate_when_idle(self.client, self.handle.id)
        except RPCError:
            pass


@pytest_asyncio.fixture
async def pair(time_env: WorkflowEnvironment, mail_sink: MailSink) -> AsyncIterator[Pair]:
    async with running_worker(time_env.client, mail_sink) as task_queue:
        pair = Pair(time_env, mail_sink, task_queue)
        yield pair
        await pair.close()


def timeline(current: MentorshipStatus) -> list[str]:
    return [entry.event for entry in current.timeline]


@BOTH_SIDES
async def test_an_accepted_cadence_change_starts_a_fresh_cycle_at_the_new_cadence(pair: Pair, proposer: Role) -> None:
    await pair.start(check_in_every="P14D")
    other = proposer.other
    await pair.signal("propose_change", by=pair.id(proposer), check_in_every="P7D", note="Weekly suits us better")
    current = await pair.until("the proposal open", lambda s: s.proposal is not None)
    assert current.proposal is not None and current.proposal.role is proposer
    assert current.proposal.check_in_grace == "P3D"  # derived from the new cadence, as for an invitation
    assert f"change {current.proposal.number}" in current.waiting_for
    await pair.env.sleep(2 * DAY)
    await pair.signal("accept_change", by=pair.id(other), note="Yes")
    current = await pair.until("the change applied", lambda s: s.proposal is None and s.changes_agreed == 1)
    agreed_at = next(e.at for e in current.timeline if e.event == "change 1 accepted")
    assert current.invitation.check_in_every == "P7D"
    assert current.next_check_in_due == after("P7D", agreed_at)
    await pair.until("the proposer told", lambda s: ("change-1-accepted", proposer.value) in pair.mail())
    assert [m for m in pair.mail() if m[0] == "change-1-proposed"] == [("change-1-proposed", other.value)]
    # The next reminder comes a week after the agreement, not two weeks after the acceptance.
    await pair.env.sleep(7 * DAY + timedelta(hours=1))
    current = await pair.until("check-in 1 reminded", lambda s: s.cycle_reminded)
    assert ("check-in-1-due", "mentor") in pair.mail() and ("check-in-1-due", "mentee") in pair.mail()
    assert "check-in 1 due" in timeline(current)


async def test_a_longer_term_moves_the_wrap_up_and_tells_the_coordinator(pair: Pair) -> None:
    current = await pair.start(term="P30D")
    assert current.term_ends_at is not None
    first_end = current.term_ends_at
    await pair.signal("propose_change", by=pair.id(Role.MENTEE), extend_term_by="P30D")
    await pair.until("the proposal open", lambda s: s.proposal is not None)
    await pair.signal("accept_change", by=pair.id(Role.MENTOR))
    current = await pair.until("the term extended", lambda s: s.changes_agreed == 1)
    assert current.term_ends_at == after("P30D", first_end)
    await pair.until("the coordinator told", lambda s: ("change-1-term", "coordinator") in pair.mail())
    await pair.env.sleep(31 * DAY)
    current = await status_of(pair.handle)  # type: ignore[arg-type]
    assert current.stage is Stage.ACTIVE


@BOTH_SIDES
async def test_declined_withdrawn_and_lapsed_proposals_change_nothing(pair: Pair, proposer: Role) -> None:
    await pair.start(check_in_every="P14D", term="P60D")
    before = await status_of(pair.handle)  # type: ignore[arg-type]
    by, other = pair.id(proposer), pair.id(proposer.other)

    await pair.signal("propose_change", by=by, check_in_every="P7D")
    await pair.until("proposal 1", lambda s: s.proposal is not None)
    await pair.signal("decline_change", by=other, reason="Fortnightly is fine")
    await pair.until("declined", lambda s: "change 1 declined" in timeline(s))

    await pair.signal("propose_change", by=by, extend_term_by="P1M")
    await pair.until("proposal 2", lambda s: s.proposal is not None and s.proposal.number == 2)
    await pair.signal("withdraw_change", by=by)
    await pair.until("withdrawn", lambda s: "change 2 withdrawn" in timeline(s))

    await pair.signal("propose_change", by=by, extend_term_by="P1M", respond_within="P3D")
    await pair.until("proposal 3", lambda s: s.proposal is not None and s.proposal.number == 3)
    await pair.env.sleep(3 * DAY + timedelta(hours=1))
    current = await pair.until("lapsed", lambda s: "change 3 lapsed" in timeline(s))

    assert current.proposal is None and current.changes_agreed == 0 and current.proposals == 3
    assert current.invitation.check_in_every == before.invitation.check_in_every
    assert current.term_ends_at == before.term_ends_at
    await pair.until(
        "every outcome told",
        lambda s: (
            {
                ("change-1-declined", proposer.value),
                ("change-2-withdrawn", proposer.other.value),
                ("change-3-lapsed", proposer.value),
            }
            <= set(pair.mail())
        ),
    )


async def test_who_may_answer_and_one_proposal_at_a_time(pair: Pair) -> None:
    await pair.start()
    mentor, mentee = pair.id(Role.MENTOR), pair.id(Role.MENTEE)
    client, workflow_id = pair.client, pair.handle.id  # type: ignore[union-attr]

    async def refused(action: str, payload: dict[str, Any]) -> str:
        with pytest.raises(Exception) as caught:
            await mentorship_client.act(client, workflow_id, action, payload)
        return str(getattr(caught.value, "cause", None) or caught.value)

    assert "no change is proposed" in await refused("accept_change", {"by": mentee})
    await mentorship_client.act(client, workflow_id, "propose_change", {"by": mentor, "check_in_every": "P7D"})
    assert "only the other participant" in await refused("accept_change", {"by": mentor})
    assert "already proposed a change" in await refused("propose_change", {"by": mentee, "extend_term_by": "P1M"})
    assert "only" in await refused("withdraw_change", {"by": mentee})
    assert "not part of this mentorship" in await refused("decline_change", {"by": "stranger"})
    current = await status_of(pair.handle)  # type: ignore[arg-type]
    assert current.proposal is not None and current.proposal.by == mentor and current.proposals == 1


async def test_a_proposal_never_outlives_the_term(pair: Pair) -> None:
    current = await pair.start(term="P5D")
    await pair.signal("propose_change", by=pair.id(Role.MENTOR), check_in_every="P7D")
    current = await pair.until("the proposal open", lambda s: s.proposal is not None)
    assert current.proposal is not None and current.proposal.lapses_at == current.term_ends_at
    await pair.env.sleep(5 * DAY + timedelta(hours=1))
    current = await pair.until("completed", lambda s: s.stage is Stage.COMPLETED)
    assert current.proposal is None
    assert timeline(current)[-2:] == ["completed", "change 1 lapsed"]


async def test_a_proposal_while_invited_is_refused(pair: Pair) -> None:
    invitation = people("mentee")
    current = await mentorship_client.invite(pair.client, invitation, task_queue=pair.task_queue)
    pair.handle, pair.invitation = pair.client.get_workflow_handle(current.workflow_id), invitation
    with pytest.raises(Exception, match="Workflow update failed") as caught:
        await mentorship_client.act(
            pair.client, current.workflow_id, "propose_change", {"by": invitation.mentee.id, "extend_term_by": "P1M"}
        )
    assert "once the invitation is accepted" in str(getattr(caught.value, "cause", ""))
