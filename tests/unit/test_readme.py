"""The README has runnable examples of every action, for the `temporal` CLI and for the HTTP API (they are run as
written in tests/integration/test_readme_examples.py and tests/system/test_api_dev_stack.py)."""

from __future__ import annotations

import re
from pathlib import Path

from devtools.dev import DEV_API_KEY
from tests.support.readme import API_README, README_ADDRESS, api_examples, readme_examples


def test_the_readme_has_examples_of_every_action() -> None:
    text = " ".join(e.command for e in readme_examples())
    for name in ("accept", "check_in", "pause", "resume", "withdraw", "invite", "status"):
        assert f"--name {name}" in text or f"--update-name {name}" in text, name
    assert "workflow start --type Mentorship --task-queue mentorship" in text


def test_the_readme_walks_through_a_whole_mentorship() -> None:
    setup, blocks = api_examples()
    assert blocks, f'{API_README} has no "HTTP API" curl examples (<!-- api-example --> blocks)'
    text = " ".join(body for body, _ in blocks)
    assert README_ADDRESS in setup and DEV_API_KEY in setup
    assert '-X POST "$API/mentorships"' in text
    for action in ("accept", "check_in", "pause", "resume", "withdraw"):
        assert f'/{action}"' in text, action
    assert '"$API/mentorships/mentorship-' in text and '"$API/mentorships?' in text


ROOT = Path(__file__).resolve().parents[2]
# The packages whose every module the README's map names.
MAPPED = ("workflows", "activities", "api", "infra", "devtools")


def code_map() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Map of the code", 1)[1].split("```", 2)[1]


def test_the_readme_map_matches_the_tree() -> None:
    text = code_map()
    named = set(re.findall(r"[\w/]+\.py|[\w]+/", text))
    # Everything the map names exists.
    for name in named:
        assert list(ROOT.glob(f"**/{name.rstrip('/')}")), f"the README's map names {name}, which is not in the tree"
    # Every module of the mapped packages is named (by file or module name).
    for package in MAPPED:
        assert f"{package}/" in text, package
        for module in sorted((ROOT / package).rglob("*.py")):
            if module.name in ("__init__.py", "__main__.py"):
                continue
            assert module.stem in text, f"{module.relative_to(ROOT)} is missing from the README's map"
