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
from collections.abc import Sequence

import uvicorn

from api.main import ApiConfigError, create_app
from infra import observability
from infra.process import probe
from infra.settings import Settings

log = logging.getLogger("mentorship.api")


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
        return probe(settings.mentorship_api_host, settings.mentorship_api_port, "/readyz", show_answer=False)
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
