"""The worker's JSON log lines (infra/observability.py), without a worker process (tests/system/test_observability.py
runs one)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from infra import observability


def record(**extra: Any) -> logging.LogRecord:
    entry = logging.LogRecord("temporalio.activity", logging.INFO, __file__, 1, "mail %s sent", ("invitation",), None)
    entry.__dict__.update(extra)
    return entry


def test_json_lines_flatten_the_sdk_details() -> None:
    formatter = observability.JsonFormatter()
    activity = {
        "activity_id": "3",
        "activity_type": "send_notification",
        "attempt": 2,
        "namespace": "default",
        "task_queue": "mentorship",
        "workflow_id": "mentorship-ana--ben",
        "workflow_run_id": "run-1",
        "workflow_type": "Mentorship",
    }
    line = json.loads(formatter.format(record(temporal_activity=activity)))
    assert line["message"] == "mail invitation sent"
    assert (line["workflow_id"], line["run_id"], line["activity_type"], line["attempt"]) == (
        "mentorship-ana--ben",
        "run-1",
        "send_notification",
        2,
    )
    workflow = {"workflow_id": "mentorship-ana--ben", "run_id": "run-2", "update_name": "accept", "attempt": 1}
    line = json.loads(formatter.format(record(temporal_workflow=workflow)))
    assert (line["run_id"], line["update_name"]) == ("run-2", "accept")
    try:
        raise ValueError("boom")
    except ValueError:
        line = json.loads(formatter.format(record(exc_info=sys.exc_info())))
    assert "ValueError: boom" in line["exception"]
