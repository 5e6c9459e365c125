"""Serve the HTTP API with uvicorn: ``python -m api``.

    python -m api              serve on MENTORSHIP_API_HOST:MENTORSHIP_API_PORT (127.0.0.1:8000)
    python -m api --health     ask a running API's /readyz: exit 0 if it and Temporal answer, else 1

Temporal is reached through Temporal's environment configuration (TEMPORAL_ADDRESS, ...), like the worker. The
API refuses to start without MENTORSHIP_API_KEYS. uvicorn's access log is off: it would write the tokens of
email links (credentials) into the log; the app logs each request with those redacted instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

import uvicorn

import observability
from api.app import ApiConfigError, create_app
from config import Settings

log = logging.getLogger("mentorship.api")


def probe(settings: Settings, timeout: float = 5.0) -> int:
    host = settings.mentorship_api_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    url = f"http://{'[' + host + ']' if ':' in host else host}:{settings.mentorship_api_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as err:
        print(f"{url}: {err}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="The mentorship HTTP API.")
    parser.add_argument("--health", action="store_true", help="ask a running API's /readyz; exit 0 if ready")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except Settings.InvalidSetting as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.health:
        return probe(settings)
    # LOG_FORMAT and LOG_LEVEL as for the worker; uvicorn's own loggers go through the same handler.
    observability.configure_logging(settings)
    try:
        app = create_app(settings)
    except ApiConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if settings.mentorship_link_secret is None:
        log.info("email link pages off: MENTORSHIP_LINK_SECRET is not set")
    uvicorn.run(
        app,
        host=settings.mentorship_api_host,
        port=settings.mentorship_api_port,
        access_log=False,
        server_header=False,
        log_config=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
