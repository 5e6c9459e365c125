"""What the tests share, registered as a pytest plugin by tests/conftest.py (``tests.support.plugin``).

No test file imports another test file: whatever two tests share lives here.

- ``plugin``: the layers (each folder of tests/ is a marker, applied by folder), ``Settings`` that never read a
  ``.env``, the shared fixtures (``mail_sink``, ``mail_settings``, ``time_env``, ``dev_env``, ``browser``) and the
  reliability figures printed at the end of the run.
- ``builders``: the one invitation builder (``invitation``, ``invitation_data``, ``people``), ``make_notification``
  and ``settings``.
- ``waiting``: waiting on a condition, a workflow's status, a mentorship's emails.
- ``temporal``: the Temporal binaries, the project's worker in-process on a fresh task queue.
- ``api``: the HTTP API served in-process beside a worker, and reading the links out of its emails.
- ``faults``: the fault tests' world (a dev server on an SQLite file, worker processes, a mail sink) and email
  tallies.
- ``dev_stack``: ``make dev`` run as a process.
- ``browser``: headless Chromium and the Temporal Web UI.
- ``bad_input``, ``invariants``, ``mail``, ``encryption``, ``links``, ``readme``: the cases, checkers and values
  that tests of several layers share.
- ``stories``: mentorships driven through the pure effects, collecting their webhook events (every type);
  ``event_catalog``: the README's event catalog made from them (``python -m tests.support.event_catalog --write``).
- ``reliability``: the figures the fault, bad-input and property tests report.

Processes (the dev server, workers, the mail sink, the API) are started with ``devtools.processes``, as by the
benchmarks and ``make dev``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
TESTS = ROOT / "tests"
HISTORIES = TESTS / "histories"
README = ROOT / "README.md"
