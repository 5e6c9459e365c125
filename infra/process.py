"""What every entry point of the service shares as a process: the health probe of its CLI, and the way out.

- ``probe``: ``python worker.py --health`` and ``python -m api --health`` ask a running server's health endpoint
  on this machine and turn the answer into an exit code, for a container health check or a Kubernetes exec probe.
- ``exit_now``: leave without the interpreter's teardown, which the SDK's Rust runtime can abort
  (temporalio/sdk-python#300).

Nothing here imports the SDK, the settings or a web framework: a probe starts in a fresh process every few
seconds.
"""

from __future__ import annotations

import logging
import os
import sys
import urllib.error
import urllib.request
from typing import NoReturn

# A server listening on every address is asked on loopback.
_LOCAL = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def bind_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def local_url(host: str, port: int, path: str) -> str:
    """The URL of ``path`` on a server of this machine that listens on ``host`` (a wildcard: loopback)."""
    return f"http://{bind_address(_LOCAL.get(host) or host, port)}{path}"


def probe(
    host: str,
    port: int | None,
    path: str,
    *,
    timeout: float = 5.0,
    show_answer: bool = True,
    unset: str = "no port is configured: nothing serves a health endpoint",
) -> int:
    """0 if the server listening on ``host``:``port`` answers ``path`` with 200; 1 if it answers otherwise or not
    at all; 2 (printing ``unset``) when ``port`` is None, i.e. no endpoint is configured.

    With ``show_answer`` the answer's body is printed (the reason of a 503, say); otherwise only a failure is,
    to standard error.
    """
    if port is None:
        print(unset, file=sys.stderr)
        return 2
    url = local_url(host, port, path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            if show_answer:
                print(answer.read().decode("utf-8", errors="replace"))
            return 0 if answer.status == 200 else 1
    except urllib.error.HTTPError as err:
        if show_answer:
            print(err.read().decode("utf-8", errors="replace"))
        else:
            print(f"{url}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"{url}: {err}", file=sys.stderr)
        return 1


def exit_now(code: int) -> NoReturn:
    """Leave without the interpreter's teardown: the SDK's Rust runtime can abort it (SIGABRT "PyGILState_Release",
    or SIGSEGV; temporalio/sdk-python#300), turning a clean stop or an answered command into exit code 134 that
    orchestrators and scripts read as a crash. Call it once everything is said and done: logs are flushed here."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
