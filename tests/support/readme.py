"""The README's runnable examples: the `temporal` CLI blocks (``<!-- cli-example -->``, ``: refused`` when the
command must be refused) and the HTTP API's curl blocks (``<!-- api-example -->``, ``: refused``, ``: setup``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tests.support import README

CLI_MARKER = re.compile(r"<!-- cli-example(?:: (?P<kind>refused))? -->\n```sh\n(?P<body>.*?)```", re.S)
API_BLOCK = re.compile(r"<!-- api-example(?:: (?P<kind>refused|setup))? -->\n```sh\n(?P<body>.*?)```", re.S)
# The README whose curl examples are checked (API_README: another copy of it, to try a change).
API_README = Path(os.environ.get("API_README") or README)
README_ADDRESS = "http://localhost:8000"


@dataclass
class Example:
    command: str
    refused: bool


def readme_examples() -> list[Example]:
    """Every command of the CLI blocks, one by one."""
    examples = []
    for match in CLI_MARKER.finditer(README.read_text(encoding="utf-8")):
        body = match.group("body").replace("\\\n", " ")
        for line in body.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                examples.append(Example(line.strip(), refused=match.group("kind") == "refused"))
    return examples


def api_examples() -> tuple[str, list[tuple[str, bool]]]:
    """The setup block, and every other block with whether it must be refused."""
    setup, blocks = "", []
    for match in API_BLOCK.finditer(API_README.read_text(encoding="utf-8")):
        if match.group("kind") == "setup":
            setup += match.group("body")
        else:
            blocks.append((match.group("body"), match.group("kind") == "refused"))
    return setup, blocks
