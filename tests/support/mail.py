"""What every notification's headers are, and reading them off a message as sent."""

from __future__ import annotations

# The headers every notification carries, and no other: user text never adds one.
HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "X-Mentorship-Workflow-Id",
    "X-Mentorship-Step",
    "Auto-Submitted",
    "MIME-Version",
    "Content-Type",
}


def headers_of(raw: bytes) -> list[str]:
    """The header names of a message as sent, in order, checking that every header line is a header or a fold."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t"):
            continue  # folded continuation of the previous header
        name, colon, _ = line.partition(":")
        assert colon and name and " " not in name, f"not a header line: {line!r}"
        names.append(name)
    return names
