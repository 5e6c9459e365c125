"""A local SMTP server that keeps every message: the mail side of `make dev`, and a real server for tests.

It speaks real SMTP (aiosmtpd), so the code under test goes through the same client, protocol and replies as
with a production relay. Tests can make it refuse the next deliveries with a chosen reply, at RCPT or at DATA,
to see how the sender copes with "try later" and "no such user"; or refuse only what goes to one address.

    python -m devtools.mailsink --port 1025 --dir .data/mail
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller

log = logging.getLogger("devtools.mailsink")

Stage = Literal["rcpt", "data"]

_REPLY = re.compile(r"^[45]\d\d[ -]")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Delivery:
    """One accepted message: the envelope as the client gave it, the bytes, and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    path: Path | None
    # The client's (host, port): deliveries over one SMTP connection share it.
    peer: tuple[str, int] | None = None


@dataclass(frozen=True)
class _Fault:
    reply: str
    stage: Stage


@dataclass
class _AddressFault:
    address: str  # lower case
    reply: str
    stage: Stage
    remaining: int | None  # None: every time


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it); there is a small window for someone to take it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class _Handler:
    """aiosmtpd handler hooks; runs on the controller's own thread and event loop."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]) -> str:
        self.sink._count_attempt()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.sink._take_fault("rcpt", [address])
        if reply is not None:
            log.info("mail: refused rcpt to=%s with %r (fault injected)", address, reply)
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.sink._take_fault("data", [str(rcpt) for rcpt in envelope.rcpt_tos])
        if reply is not None:
            log.info("mail: refused data to=%s with %r (fault injected)", ",".join(envelope.rcpt_tos), reply)
            return reply
        raw: bytes = envelope.original_content or b""
        peer = tuple(session.peer[:2]) if session.peer else None
        self.sink._store(str(envelope.mail_from), [str(rcpt) for rcpt in envelope.rcpt_tos], raw, peer)
        return "250 OK: message accepted"


class MailSink:
    """An SMTP server on 127.0.0.1 that keeps what it receives.

    ``async with MailSink() as sink:`` (or ``start()``/``stop()``); ``port=0`` picks a free port, read it back
    from ``sink.port``.
    """

    def __init__(self, port: int = 0, directory: str | Path | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self._requested_port = port
        self.port = port
        self.directory = Path(directory) if directory is not None else None
        self._deliveries: list[Delivery] = []
        self._faults: deque[_Fault] = deque()
        self._address_faults: list[_AddressFault] = []
        self._attempts = 0
        # The SMTP server runs on its own thread: every shared field is guarded by this one condition.
        self._changed = threading.Condition()
        # Async waiters, woken from the server thread through their own loop.
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._controller: Controller | None = None

    # --- Lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("the mail sink is already running")
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        # aiosmtpd's Controller connects to its own port to check it is up, so it needs the real number.
        self.port = self._requested_port or free_port(self.host)
        controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        controller.start()
        self._controller = controller
        log.info("mail sink listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    async def __aenter__(self) -> MailSink:
        # start() blocks until the server thread answers; keep the caller's event loop free meanwhile.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- What was received -------------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[Delivery]:
        with self._changed:
            return list(self._deliveries)

    @property
    def messages(self) -> list[EmailMessage]:
        return [delivery.message for delivery in self.deliveries]

    @property
    def attempts(self) -> int:
        """Transactions begun (MAIL FROM commands), refused or not."""
        with self._changed:
            return self._attempts

    def clear(self) -> None:
        """Forget messages, pending faults and the attempt count."""
        with self._changed:
            self._deliveries.clear()
            self._faults.clear()
            self._address_faults.clear()
            self._attempts = 0
            self._notify()

    def wait_for_sync(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        """Block until at least ``count`` messages have arrived; raise TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._deliveries) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} message(s) within {timeout}s, the mail sink has {len(self._deliveries)}"
                )
            return [delivery.message for delivery in self._deliveries]

    # A timeout argument on purpose: the sink's callers (tests, dev tools) expect `wait_for(count, timeout)`.
    async def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:  # noqa: ASYNC109
        """Wait until at least ``count`` messages have arrived, without blocking the event loop."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    arrived = asyncio.Event()
                    waiter = (loop, arrived)
                    with self._changed:
                        if len(self._deliveries) >= count:
                            return [delivery.message for delivery in self._deliveries]
                        self._waiters.add(waiter)
                    try:
                        await arrived.wait()
                    finally:
                        with self._changed:
                            self._waiters.discard(waiter)
        except TimeoutError:
            raise TimeoutError(
                f"expected {count} message(s) within {timeout}s, the mail sink has {len(self.deliveries)}"
            ) from None

    # --- Fault injection ---------------------------------------------------------------------------------

    def fail_next(self, count: int, reply: str, at: Stage = "rcpt") -> None:
        """Answer the next ``count`` deliveries with ``reply`` (e.g. "451 4.3.0 try again later") at RCPT or DATA.

        Faults queue up in order; each is used by the first delivery that reaches its stage.
        """
        _check_fault(reply, at)
        with self._changed:
            self._faults.extend(_Fault(reply, at) for _ in range(count))

    def fail_for(self, address: str, reply: str, at: Stage = "rcpt", count: int | None = None) -> None:
        """Answer deliveries to ``address`` with ``reply`` at RCPT or DATA: ``count`` times, or always (None).

        Only messages to that address are refused (case-insensitively), whatever else is being sent meanwhile;
        these faults come before the ones queued by ``fail_next``.
        """
        _check_fault(reply, at)
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, or None for always; not {count}")
        with self._changed:
            self._address_faults.append(_AddressFault(address.lower(), reply, at, count))

    # --- Called from the server thread -------------------------------------------------------------------

    def _count_attempt(self) -> None:
        with self._changed:
            self._attempts += 1
            self._notify()

    def _take_fault(self, stage: Stage, recipients: list[str]) -> str | None:
        wanted = {recipient.lower() for recipient in recipients}
        with self._changed:
            for fault in self._address_faults:
                if fault.stage == stage and fault.address in wanted:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._address_faults.remove(fault)
                    return fault.reply
            if self._faults and self._faults[0].stage == stage:
                return self._faults.popleft().reply
            return None

    def _store(self, mail_from: str, rcpt_tos: list[str], raw: bytes, peer: tuple[str, int] | None = None) -> None:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        path = self._write(message, raw)
        log.info(
            "mail: to=%s subject=%r file=%s",
            ",".join(rcpt_tos),
            str(message.get("Subject", "")),
            path if path is not None else "-",
        )
        with self._changed:
            self._deliveries.append(Delivery(mail_from, rcpt_tos, raw, message, path, peer))
            self._notify()

    def _notify(self) -> None:
        """Wake every waiter; the caller holds ``self._changed``."""
        self._changed.notify_all()
        for loop, event in self._waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting there any more
                loop.call_soon_threadsafe(event.set)

    def _write(self, message: EmailMessage, raw: bytes) -> Path | None:
        if self.directory is None:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
        message_id = str(message.get("Message-ID", "")).strip("<>")
        name = _UNSAFE_FILENAME.sub("_", message_id)[:120].strip("._") or "no-message-id"
        path = self.directory / f"{stamp}_{name}.eml"
        path.write_bytes(raw)
        return path


def _check_fault(reply: str, at: str) -> None:
    if not _REPLY.match(reply):
        raise ValueError(f"{reply!r} is not an SMTP error reply; write it like '550 5.1.1 no such user'")
    if at not in ("rcpt", "data"):
        raise ValueError(f"at must be 'rcpt' or 'data', not {at!r}")


# --- Command line ---------------------------------------------------------------------------------------


async def _serve(port: int, directory: Path | None, host: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with MailSink(port=port, directory=directory, host=host) as sink:
        where = f", saving to {directory}" if directory is not None else ""
        print(f"mail sink on {sink.host}:{sink.port}{where}; Ctrl-C to stop", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.mailsink", description="A local SMTP server that keeps every message."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=1025, help="port, 0 for any free one (default: %(default)s)")
    parser.add_argument("--dir", type=Path, default=None, help="also write each message here as an .eml file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # aiosmtpd logs every SMTP command at INFO; our one line per message is enough.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.dir, args.host))


if __name__ == "__main__":
    main()
