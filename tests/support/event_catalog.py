"""The README's event catalog, made from the pure effects: a table of every event type (from
``workflows/event_data.py``'s ``CATALOG``) and an example of each, as delivered without personal data (the first
event of each type in ``tests/support/stories.every_event``). A unit test (tests/unit/test_readme.py) fails when
the README's catalog differs; rewrite it with::

    python -m tests.support.event_catalog --write

The catalog is what lies between ``<!-- event-catalog -->`` and ``<!-- /event-catalog -->``; each example is a
```json block after ``<!-- event-example: <type> -->``. The "Verifying a delivery" snippet is the ```python block
after ``<!-- webhook-verify-example -->``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from tests.support import README
from tests.support.stories import example_of_each_type
from workflows.event_data import CATALOG

START, END = "<!-- event-catalog -->\n", "<!-- /event-catalog -->"
EXAMPLE = re.compile(r"<!-- event-example: (?P<type>[\w.]+) -->\n```json\n(?P<body>.*?)```", re.S)
VERIFY = re.compile(r"<!-- webhook-verify-example -->\n```python\n(?P<body>.*?)```", re.S)


def examples() -> dict[str, dict[str, Any]]:
    """Type -> an event of that type, as its JSON body is delivered without personal data."""
    return {
        str(kind): json.loads(event.for_delivery(personal_data=False).model_dump_json())
        for kind, event in example_of_each_type().items()
    }


def render() -> str:
    """The catalog as the README must have it (between the markers)."""
    lines = [
        "| Type | When | Actor | `data` |",
        "| --- | --- | --- | --- |",
    ]
    for kind, doc in CATALOG.items():
        fields = ", ".join(f"`{name}`" for name in doc.data.model_fields)
        lines.append(f"| `{kind}` | {doc.when} | {doc.actor} | {fields} |")
    lines.append("")
    for name, event in examples().items():
        lines += [
            f"<details><summary><code>{name}</code></summary>",
            "",
            f"<!-- event-example: {name} -->",
            "```json",
            json.dumps(event, indent=2),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def readme_catalog(text: str | None = None) -> str:
    """What the README has between the markers."""
    text = README.read_text(encoding="utf-8") if text is None else text
    assert START in text and END in text, f"the README has no {START.strip()} ... {END} section"
    return text.split(START, 1)[1].split(END, 1)[0]


def readme_examples() -> dict[str, dict[str, Any]]:
    """Type -> the README's example of it."""
    text = readme_catalog()
    return {match.group("type"): json.loads(match.group("body")) for match in EXAMPLE.finditer(text)}


def verify_snippet() -> str:
    """The README's receiver snippet ("Verifying a delivery"), as written."""
    found = VERIFY.search(README.read_text(encoding="utf-8"))
    assert found is not None, "the README has no <!-- webhook-verify-example --> python block"
    return found.group("body")


def write() -> None:
    text = README.read_text(encoding="utf-8")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(before + START + render() + END + after, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.event_catalog", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the README's catalog (else: print it)")
    args = parser.parse_args(argv)
    if args.write:
        write()
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
