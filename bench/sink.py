"""The project's mail sink (devtools/mailsink.py: aiosmtpd, real SMTP) in a process of its own, for benchmarks.

    python -m bench.sink --port 2525 [--keep]

By default it only counts what it accepts: the SMTP conversation is the sink's own (aiosmtpd with the
``MailSink`` handler), but the message is neither parsed nor kept, so tens of thousands of emails cost it
little memory. ``--keep`` runs ``MailSink`` unchanged (every message parsed and kept in memory), as tests and
``make dev`` use it. Prints ``sink ready`` once it listens, ``sink delivered N`` whenever the count has changed
(at most twice a second), and once more when SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from devtools.mailsink import MailSink


class CountingSink(MailSink):
    """MailSink whose accepted messages are counted, not parsed or kept."""

    def __init__(self, port: int) -> None:
        super().__init__(port=port)
        self.count = 0
        self._count_lock = threading.Lock()

    def _store(self, mail_from: str, rcpt_tos: list[str], raw: bytes, peer: tuple[str, int] | None = None) -> None:
        with self._count_lock:
            self.count += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sink", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--keep", action="store_true", help="parse and keep every message (MailSink unchanged)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sink: MailSink = MailSink(port=args.port) if args.keep else CountingSink(args.port)
    sink.start()
    print(f"sink ready on {sink.host}:{sink.port}", flush=True)

    def delivered() -> int:
        return sink.count if isinstance(sink, CountingSink) else len(sink.deliveries)

    stopped = threading.Event()

    def report() -> None:
        shown = -1
        while not stopped.wait(0.5):
            if (now := delivered()) != shown:
                print(f"sink delivered {now}", flush=True)
                shown = now

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    stopped.set()
    reporter.join()
    sink.stop()
    print(f"sink delivered {delivered()}", flush=True)


if __name__ == "__main__":
    main()
