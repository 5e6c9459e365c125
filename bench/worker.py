"""A worker for benchmarks: ``worker.py`` itself (its ``cli``: settings from the environment, logging, runtime,
health, tracing, signals, ``build_worker``'s options), with the ``Worker`` it builds given the floor or an
experimental variant instead of the Mentorship, or another cache bound.

    python -m bench.worker --workflow floor
    python -m bench.worker --workflow mentorship --max-cached-workflows 250
    python -m bench.worker --workflow mentorship --variant lean

Nothing is copied from worker.py: the ``Worker`` class it calls is swapped for one that changes only what the
flags name, so the floor runs on the same task queue settings, sandbox runner, activity, converter, tuning and
graceful shutdown as the Mentorship. ``build()`` does the same for an in-process worker.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any
from unittest import mock

from temporalio.client import Client
from temporalio.worker import Worker

import worker as deployed
from bench.email_experiments import MAILERS
from bench.floor import Floor
from bench.variants import VARIANTS
from infra.settings import Settings
from workflows.contract import SEND_NOTIFICATION
from workflows.mentorship import Mentorship

log = logging.getLogger("bench.worker")


def worker_options(client: Client, settings: Settings) -> dict[str, Any]:
    """The keyword arguments ``worker.build_worker`` gives ``Worker``, as it gives them."""
    captured: dict[str, Any] = {}

    class Capture:
        def __init__(self, client: Client, **options: Any) -> None:
            captured.update(options, client=client)

    with mock.patch.object(deployed, "Worker", Capture):
        deployed.build_worker(client, settings)
    return captured


def build(
    client: Client,
    settings: Settings,
    *,
    workflow: str,
    variant: str | None = None,
    max_cached_workflows: int | None = None,
) -> Worker:
    options = worker_options(client, settings)
    swap(options, workflow=workflow, variant=variant, max_cached_workflows=max_cached_workflows)
    return Worker(**options)


def swap(
    options: dict[str, Any],
    *,
    workflow: str,
    variant: str | None = None,
    max_cached_workflows: int | None = None,
    mailer: str | None = None,
) -> None:
    """Change ``build_worker``'s options in place: the Mentorship swapped for the floor or a variant (the other
    workflows it registers, the Person record, stay: a variant's acceptances take places in it), the email
    activity for an experimental one (the place activities stay), or another cache bound."""
    workflows = list(options["workflows"])
    assert workflows.count(Mentorship) == 1, "build_worker no longer registers the Mentorship: see bench/worker.py"
    replacement: type[Any] = Mentorship
    if workflow == "floor":
        replacement = Floor
    elif variant is not None:
        replacement = VARIANTS[variant]
    options["workflows"] = [replacement if registered is Mentorship else registered for registered in workflows]
    if max_cached_workflows is not None:
        options["max_cached_workflows"] = max_cached_workflows
    if mailer is not None:
        activities = list(options["activities"])
        sends = [i for i, fn in enumerate(activities) if getattr(fn, "__name__", "") == SEND_NOTIFICATION]
        assert len(sends) == 1, "build_worker registers no email activity (or several): see bench/worker.py"
        activities[sends[0]] = MAILERS[mailer](Settings()).send_notification
        options["activities"] = activities


def main(argv: list[str] | None = None) -> int:
    """``worker.py``'s own ``main`` (logging, runtime, health, tracing, signals, the ready line), with the
    ``Worker`` it builds given another workflow or cache bound."""
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("--workflow", choices=("mentorship", "floor"), required=True)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="an experimental Mentorship (bench/variants.py)")
    parser.add_argument("--max-cached-workflows", type=int, help="worker.py's: WORKER_MAX_CACHED_WORKFLOWS (500)")
    parser.add_argument(
        "--mailer", choices=sorted(MAILERS), help="an experimental email activity (bench/email_experiments.py)"
    )
    args = parser.parse_args(argv)
    real_worker = Worker

    def swapped(client: Client, **options: Any) -> Worker:
        swap(
            options,
            workflow=args.workflow,
            variant=args.variant,
            max_cached_workflows=args.max_cached_workflows,
            mailer=args.mailer,
        )
        log.info("bench worker: %s, max_cached_workflows=%s", args.variant or args.workflow,
                 options.get("max_cached_workflows", "SDK default"))  # fmt: skip
        return real_worker(client, **options)

    with mock.patch.object(deployed, "Worker", swapped):
        return deployed.cli([])


if __name__ == "__main__":
    sys.exit(main())
