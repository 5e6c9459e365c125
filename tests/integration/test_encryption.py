"""Payload encryption: the histories a real server keeps, key rotation on a running mentorship, the CLI and the UI
decoding through the codec server, and the codec server over HTTP (the codec itself, without a server, is in
tests/unit/test_encryption.py).

The end-to-end tests run the project's worker on the session's dev server with an encrypting client, then read
the raw history with a client that has no codec: what an operator, a backup or anyone with database access sees.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from playwright.async_api import Browser, expect
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

import mentorship_client
from devtools.mailsink import MailSink, free_port
from infra import codec_server
from infra.encryption import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    EncryptionError,
    EncryptionKey,
    data_converter,
    new_key_entry,
    parse_keys,
)
from infra.settings import Settings
from tests.support import ROOT
from tests.support.browser import ui_page
from tests.support.builders import people
from tests.support.encryption import NEW, OLD, entry, plain
from tests.support.temporal import TEMPORAL_CLI, running_worker
from tests.support.waiting import status_of, wait_status
from worker import build_worker
from workflows import search_attributes as sa
from workflows.contract import WORKFLOW_TYPE, MentorshipStatus, Stage, workflow_id_for

UI_ORIGIN = "http://localhost:8233"


def test_new_key_command_prints_a_usable_entry() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra.encryption", "new-key", "--id", "2027-01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    [key] = parse_keys(done.stdout.strip())
    assert key.id == "2027-01" and len(key.secret) == 32
    [dated] = parse_keys(new_key_entry())
    assert dated.id[:2] == "20" and dated.secret != key.secret


# --- A real server's histories ----------------------------------------------------------------------------


def messages_in(message: Message, path: str = "") -> Iterator[tuple[str, Message]]:
    """Every nested message with its field path, maps and lists included."""
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        name = f"{path}.{field.name}" if path else field.name
        if isinstance(value, Message):
            children: list[tuple[str, Any]] = [(name, value)]
        elif hasattr(value, "items"):
            children = [(f"{name}[{key}]", item) for key, item in value.items()]
        else:
            children = [(f"{name}[{index}]", item) for index, item in enumerate(value)]
        for child_path, child in children:
            if isinstance(child, Message):
                yield child_path, child
                yield from messages_in(child, child_path)


def payloads_of(history: WorkflowHistory) -> list[tuple[str, Payload]]:
    found = []
    for event in history.events:
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        for path, message in messages_in(event):
            if isinstance(message, Payload):
                found.append((f"{kind}:{path}", message))
    return found


def failures_of(history: WorkflowHistory) -> list[Failure]:
    return [message for event in history.events for _, message in messages_in(event) if isinstance(message, Failure)]


def clear_by_design(path: str) -> bool:
    """Search attributes (ids, stages, times, counts), the SDK's patch markers (names of code changes) and its
    local activity markers' bookkeeping (``[data]``: sequence, attempt, activity type, times; the local activity's
    result is ``[result]``, encrypted)."""
    if "search_attributes" in path:
        return True
    return path.startswith("MARKER_RECORDED:") and ("[patch-data]" in path or "details[data]" in path)


def assert_no_plaintext(history: WorkflowHistory, secrets: Sequence[str]) -> None:
    # The serialized history is what the server stores: payload bytes appear in it verbatim.
    raw = History(events=history.events).SerializeToString()
    leaked = [secret for secret in secrets if secret.encode() in raw]
    assert not leaked, f"plaintext personal data in the history: {leaked}"


@asynccontextmanager
async def clients(env: WorkflowEnvironment, keys: Sequence[EncryptionKey]) -> AsyncIterator[tuple[Client, Client]]:
    """A client encrypting with ``keys``, and one with no codec at all (what the server and its database see)."""
    target, namespace = env.client.service_client.config.target_host, env.client.namespace
    encrypting = await Client.connect(target, namespace=namespace, data_converter=data_converter(keys))
    bare = await Client.connect(target, namespace=namespace, data_converter=DataConverter())
    yield encrypting, bare


async def test_history_keeps_no_personal_data_in_plaintext(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> None:
    notes = {
        "accept": "Happy to help you, Ben Ode — call me on +44 20 7946 0958",
        "check_in": "Talked with Ana Ruiz about delegating the Q3 roadmap",
        "withdraw": "Ben Ode is moving to the Lisbon office",
    }
    invitation = people("mentee", message="Dear Ana Ruiz, I would value your guidance (ben@example.com)")
    mentor, mentee = invitation.mentor.id, invitation.mentee.id
    personal = [
        "Ana Ruiz",
        "Ben Ode",
        "Cora Lind",
        "ana@example.com",
        "ben@example.com",
        "cora@example.com",
        "I would value your guidance",
        "leadership",  # a focus area
        *notes.values(),
    ]
    codec = EncryptionCodec([NEW])
    async with clients(dev_env, [NEW]) as (client, bare), running_worker(client, mail_sink) as task_queue:
        # The first email is refused for good: its failure (message naming the address) goes into the history.
        mail_sink.fail_next(1, "550 5.1.1 mailbox unavailable")
        current = await mentorship_client.invite(client, invitation, task_queue=task_queue)  # update-with-start
        workflow_id = current.workflow_id
        current = await mentorship_client.act(
            client, workflow_id, "accept", {"by": mentor, "note": notes["accept"]}
        )  # update
        assert current.stage is Stage.ACTIVE
        # A refused update leaves no event; its reason, sent back through the server, is encrypted and read back.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await mentorship_client.act(client, workflow_id, "resume", {"by": mentee})
        assert isinstance(refused.value.cause, ApplicationError)
        assert "the mentorship is not paused" in refused.value.cause.message
        await mentorship_client.send(
            client, workflow_id, "check_in", {"by": mentee, "note": notes["check_in"], "rating": 4}
        )
        handle = client.get_workflow_handle(workflow_id, result_type=MentorshipStatus)
        current = await wait_status(
            handle, lambda s: len(s.check_ins) == 1 and len(s.notification_failures) == 1, "check-in and failure"
        )
        assert "@example.com" in current.notification_failures[0].error

        # Current details are not in the history: the UI reads them with a built-in query, whose answer the
        # worker encrypts like any other. They do name an address here, from the failed notification.
        answer = await bare.workflow_service.query_workflow(
            QueryWorkflowRequest(
                namespace=bare.namespace,
                execution=WorkflowExecution(workflow_id=workflow_id),
                query=WorkflowQuery(query_type="__temporal_workflow_metadata"),
            )
        )
        [metadata] = answer.query_result.payloads
        assert metadata.metadata["encoding"] == ENCODING and b"@example.com" not in metadata.data
        [decoded_metadata] = await codec.decode([metadata])
        assert b"Last failed notification" in decoded_metadata.data and b"@example.com" in decoded_metadata.data

        await mentorship_client.send(client, workflow_id, "withdraw", {"by": mentee, "reason": notes["withdraw"]})
        result = await handle.result()
        assert result.stage is Stage.WITHDRAWN and result.check_ins[0].note == notes["check_in"]

        # An invalid start fails the workflow at once: its failure message is encrypted too.
        failing = await client.start_workflow(
            WORKFLOW_TYPE,
            {**invitation.model_dump(mode="json"), "mentee": invitation.model_dump(mode="json")["mentor"]},
            id=f"{workflow_id}-invalid",
            task_queue=task_queue,
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await failing.result()
        assert isinstance(caught.value.cause, ApplicationError)
        assert "mentor and mentee must be two people" in caught.value.cause.message

    history = await bare.get_workflow_handle(workflow_id).fetch_history()
    failed_history = await bare.get_workflow_handle(failing.id).fetch_history()
    assert_no_plaintext(history, personal)
    assert_no_plaintext(failed_history, ["Ana Ruiz", "ana@example.com", "mentor and mentee must be two people"])

    payloads = payloads_of(history) + payloads_of(failed_history)
    kinds = {path.split(":")[0] for path, _ in payloads}
    assert {
        "WORKFLOW_EXECUTION_STARTED",  # input, and the static summary and details (names)
        "WORKFLOW_EXECUTION_UPDATE_ACCEPTED",  # the invite and accept updates' inputs
        "WORKFLOW_EXECUTION_UPDATE_COMPLETED",  # their answers: the status
        "WORKFLOW_EXECUTION_SIGNALED",
        "ACTIVITY_TASK_SCHEDULED",  # the notification, and the activity's summary
        "ACTIVITY_TASK_COMPLETED",
        "ACTIVITY_TASK_FAILED",  # the refused email: failure details
        "TIMER_STARTED",  # the timer's summary
        "WORKFLOW_EXECUTION_COMPLETED",
        "WORKFLOW_EXECUTION_FAILED",
    } <= kinds
    in_clear = [
        path for path, payload in payloads if payload.metadata.get("encoding") != ENCODING and not clear_by_design(path)
    ]
    assert not in_clear, f"payloads in clear: {in_clear}"
    assert {p.metadata[KEY_ID_METADATA] for _, p in payloads if p.metadata.get("encoding") == ENCODING} == {b"2026-07"}
    summaries = {path for path, _ in payloads if "user_metadata.summary" in path}
    assert {"WORKFLOW_EXECUTION_STARTED:user_metadata.summary", "TIMER_STARTED:user_metadata.summary"} <= summaries

    # Failure messages and stack traces live in an encrypted payload; the type stays readable.
    failures = failures_of(history) + failures_of(failed_history)
    assert failures and all(f.message == "Encoded failure" and not f.stack_trace for f in failures)
    [decoded] = await codec.decode([failures[0].encoded_attributes])
    assert b"mail server refused" in decoded.data and b"@example.com" in decoded.data

    # Search attributes stay plaintext by design: ids, stages, times and counts, nothing personal.
    search = [p for path, p in payloads if "search_attributes" in path]
    assert search and all(p.metadata["encoding"] != ENCODING for p in search)
    assert any(mentor.encode() in p.data for p in search)

    # Everything encrypted is there, for whoever holds the key.
    decoded_all = b"".join(p.data for p in await codec.decode([p for _, p in payloads]))
    assert all(text.encode() in decoded_all for text in ("Ana Ruiz", "ben@example.com", notes["check_in"]))


async def test_rotation_on_a_running_mentorship(dev_env: WorkflowEnvironment, mail_sink: MailSink) -> None:
    """Started under the old key; the workers move to [new, old]; the mentorship goes on, new events use new."""
    invitation = people("mentee")
    async with clients(dev_env, [OLD]) as (before, bare), running_worker(before, mail_sink) as task_queue:
        current = await mentorship_client.invite(before, invitation, task_queue=task_queue)
    workflow_id = current.workflow_id
    events_before = len((await bare.get_workflow_handle(workflow_id).fetch_history()).events)

    # The workflow's task queue is fixed at start: the rotated worker takes over that queue.
    async with clients(dev_env, [NEW, OLD]) as (after, _), running_worker_on(after, mail_sink, task_queue):
        current = await mentorship_client.act(after, workflow_id, "accept", {"by": invitation.mentor.id})
        assert current.stage is Stage.ACTIVE
        assert (await status_of(after.get_workflow_handle(workflow_id))).invitation == invitation

    history = await bare.get_workflow_handle(workflow_id).fetch_history()
    key_ids = [
        (index, payload.metadata.get(KEY_ID_METADATA))
        for index, event in enumerate(history.events)
        for path, payload in messages_in(event)
        if isinstance(payload, Payload) and payload.metadata.get("encoding") == ENCODING
    ]
    assert {key for index, key in key_ids if index < events_before} == {OLD.id.encode()}
    assert NEW.id.encode() in {key for index, key in key_ids if index >= events_before}
    # Without the old key the start of this history is unreadable, which is why old keys stay until such
    # histories are gone.
    with pytest.raises(EncryptionError, match="'2026-01'"):
        await EncryptionCodec([NEW]).decode([p for _, p in payloads_of(history)])


@asynccontextmanager
async def running_worker_on(client: Client, sink: MailSink, task_queue: str) -> AsyncIterator[None]:
    settings = Settings(
        _env_file=None,
        mentorship_task_queue=task_queue,
        smtp_host=sink.host,
        smtp_port=sink.port,
        mail_from="Mentorships <mentorships@example.org>",
    )
    async with build_worker(client, settings):
        yield


async def test_an_encrypting_worker_reads_histories_written_in_clear(
    dev_env: WorkflowEnvironment, mail_sink: MailSink
) -> None:
    invitation = people("mentor")
    async with clients(dev_env, [NEW]) as (client, _), running_worker(client, mail_sink) as task_queue:
        # Started by a client without keys (as before encryption was turned on), driven by one with keys.
        # (That client could not read the worker's answers any more, which are encrypted: it only starts.)
        started = await dev_env.client.start_workflow(
            WORKFLOW_TYPE,
            invitation,
            id=workflow_id_for(invitation.mentor.id, invitation.mentee.id),
            task_queue=task_queue,
        )
        current = await mentorship_client.act(client, started.id, "accept", {"by": invitation.mentee.id})
        assert current.stage is Stage.ACTIVE and current.invitation == invitation
    history = await dev_env.client.get_workflow_handle(started.id).fetch_history()
    started_event = history.events[0].workflow_execution_started_event_attributes
    assert started_event.input.payloads[0].metadata["encoding"] == b"json/plain"


async def test_temporal_cli_shows_the_history_decoded_through_the_codec_server(
    dev_env: WorkflowEnvironment, mail_sink: MailSink
) -> None:
    invitation = people("mentee")
    async with clients(dev_env, [NEW]) as (client, _), running_worker(client, mail_sink) as task_queue:
        current = await mentorship_client.invite(client, invitation, task_queue=task_queue)
    app = codec_server.build_app(EncryptionCodec([NEW]), token="cli-token")
    async with codec_server.serving(app) as url:
        base = [
            str(TEMPORAL_CLI),
            "workflow",
            "show",
            "--workflow-id",
            current.workflow_id,
            "--address",
            dev_env.client.service_client.config.target_host,
            "--detailed",
        ]
        without = await run(*base)
        decoded = await run(*base, "--codec-endpoint", url, "--codec-auth", "Bearer cli-token")
        refused = await run(*base, "--codec-endpoint", url, "--codec-auth", "Bearer wrong", check=False)
    assert "Ana Ruiz" not in without and "ana@example.com" not in without
    assert "Ana Ruiz" in decoded and "ben@example.com" in decoded
    assert "Ana Ruiz" not in refused


@pytest.mark.timeout(90)
async def test_temporal_ui_shows_payloads_decoded_through_the_codec_server(
    mail_sink: MailSink,
    browser: Browser,
) -> None:
    """A dev server started as the README says (--ui-codec-endpoint); the UI decodes in the browser."""
    ui_port = free_port()
    ui = f"http://localhost:{ui_port}"
    async with codec_server.serving(codec_server.build_app(EncryptionCodec([NEW]), allowed_origins=[ui])) as url:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_CLI),
            data_converter=data_converter([NEW]),
            search_attributes=sa.REGISTERED_KEYS,
            port=free_port(),
            ui=True,
            ui_port=ui_port,
            dev_server_extra_args=["--ui-disable-news-fetch", "--ui-codec-endpoint", url],
        )
        try:
            async with running_worker(env.client, mail_sink) as task_queue:
                invitation = people("mentee")
                current = await mentorship_client.invite(env.client, invitation, task_queue=task_queue)
                run_id = (await env.client.get_workflow_handle(current.workflow_id).describe()).run_id
                async with ui_page(browser, ui) as page:
                    await page.goto(f"{ui}/namespaces/default/workflows/{current.workflow_id}/{run_id}/history")
                    # The workflow's input, decoded.
                    await expect(page.get_by_text('"email": "ben@example.com"').first).to_be_visible()
                    await page.get_by_role("tab", name="User Metadata").click()
                    summary = page.frame_locator("#user-metadata-summary").locator("body")
                    await expect(summary).to_contain_text(mentorship_client.summary_for(invitation))
                    details = page.frame_locator("#user-metadata-current-details").locator("body")
                    await expect(details).to_contain_text(re.compile(r"Stage:\s*invited"))
        finally:
            await env.shutdown()


async def run(*argv: str, check: bool = True) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEMPORAL_")}
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**env, "TEMPORAL_CONFIG_FILE": os.devnull},
    )
    output, _ = await process.communicate()
    text = output.decode()
    if check:
        assert process.returncode == 0, text
    return text


# --- The codec server, over HTTP ---------------------------------------------------------------------------


def body(payloads: Sequence[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def parsed(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


@asynccontextmanager
async def codec_service(**options: Any) -> AsyncIterator[tuple[str, aiohttp.ClientSession]]:
    app = codec_server.build_app(EncryptionCodec([NEW, OLD]), **options)
    async with codec_server.serving(app) as url, aiohttp.ClientSession() as session:
        yield url, session


async def test_codec_server_encodes_and_decodes() -> None:
    original = [plain("Ana Ruiz"), plain("ben@example.com")]
    async with codec_service() as (url, session):
        async with session.post(
            f"{url}/encode", data=body(original), headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 200 and r.content_type == "application/json"
            encoded = parsed(await r.text())
        assert [p.metadata[KEY_ID_METADATA] for p in encoded] == [NEW.id.encode()] * 2
        assert all(b"Ana" not in p.data for p in encoded)

        # What the worker wrote under the old key decodes too; clear payloads pass through.
        [old] = await EncryptionCodec([OLD]).encode([plain("January")])
        headers = {"Content-Type": "application/json", "X-Namespace": "default"}
        async with session.post(f"{url}/decode", data=body([*encoded, old, plain("clear")]), headers=headers) as r:
            assert r.status == 200
            assert parsed(await r.text()) == [*original, plain("January"), plain("clear")]

        [foreign] = await EncryptionCodec([EncryptionKey("gone", os.urandom(32))]).encode([plain("x")])
        async with session.post(f"{url}/decode", data=body([foreign])) as r:
            assert r.status == 400 and "'gone'" in await r.text()
        async with session.post(f"{url}/decode", data="not json") as r:
            assert r.status == 400 and "payloads" in await r.text()


async def test_codec_server_answers_the_ui_origin_only() -> None:
    async with codec_service(allowed_origins=[UI_ORIGIN, "https://temporal.example.org"]) as (url, session):
        preflight = {
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        }
        for path in ("/decode", "/encode"):
            async with session.options(f"{url}{path}", headers=preflight) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
                assert "POST" in r.headers["Access-Control-Allow-Methods"]
                allowed = r.headers["Access-Control-Allow-Headers"].split(",")
                assert {"content-type", "x-namespace", "authorization"} <= set(allowed)
        async with session.options(f"{url}/decode", headers={**preflight, "Origin": "https://evil.example"}) as r:
            assert r.status == 403 and "Access-Control-Allow-Origin" not in r.headers

        async with session.post(f"{url}/decode", data=body([plain("x")]), headers={"Origin": UI_ORIGIN}) as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
        async with session.post(
            f"{url}/decode", data=body([plain("x")]), headers={"Origin": "https://evil.example"}
        ) as r:
            assert "Access-Control-Allow-Origin" not in r.headers


async def test_codec_server_enforces_the_bearer_token() -> None:
    [secret] = await EncryptionCodec([NEW]).encode([plain("Ana Ruiz")])
    async with codec_service(token="t0ken", allowed_origins=[UI_ORIGIN]) as (url, session):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "t0ken"}):
            async with session.post(
                f"{url}/decode", data=body([secret]), headers={"Origin": UI_ORIGIN, **headers}
            ) as r:
                assert r.status == 401 and "Ana" not in await r.text()
                assert r.headers["WWW-Authenticate"] == "Bearer"
                # So that the UI can tell the operator why.
                assert r.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
            async with session.post(f"{url}/encode", data=body([plain("x")]), headers=headers) as r:
                assert r.status == 401
        # Browsers send preflights without credentials: they must pass.
        async with session.options(f"{url}/decode", headers={"Origin": UI_ORIGIN}) as r:
            assert r.status == 204
        async with session.post(f"{url}/decode", data=body([secret]), headers={"Authorization": "Bearer t0ken"}) as r:
            assert r.status == 200 and parsed(await r.text()) == [plain("Ana Ruiz")]


async def test_codec_server_command() -> None:
    port = free_port()
    env = {
        **os.environ,
        "MENTORSHIP_ENCRYPTION_KEYS": f"{entry(NEW)},{entry(OLD)}",
        "CODEC_SERVER_TOKEN": "cmd-token",
        "CODEC_SERVER_CORS_ORIGINS": f"{UI_ORIGIN},https://ui.example.org",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.codec_server",
        "--port",
        str(port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        [secret] = await EncryptionCodec([OLD]).encode([plain("Cora Lind")])
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.post(
                        f"http://127.0.0.1:{port}/decode",
                        data=body([secret]),
                        headers={"Authorization": "Bearer cmd-token", "Origin": "https://ui.example.org"},
                    ) as r:
                        assert r.status == 200, await r.text()
                        assert parsed(await r.text()) == [plain("Cora Lind")]
                        assert r.headers["Access-Control-Allow-Origin"] == "https://ui.example.org"
                        break
                except aiohttp.ClientConnectorError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the codec server did not answer")
    finally:
        process.terminate()
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    logged = output.decode()
    assert "encrypts with key '2026-07', decrypts with '2026-07', '2026-01'" in logged, logged
    assert "Cora" not in logged and base64.b64encode(NEW.secret).decode() not in logged

    refused = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infra.codec_server",
        cwd=ROOT,
        env={**env, "MENTORSHIP_ENCRYPTION_KEYS": ""},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(refused.communicate(), 30)
    assert refused.returncode == 2 and "MENTORSHIP_ENCRYPTION_KEYS is not set" in output.decode()
