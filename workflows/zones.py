"""Which time zones and locales a person may name: validation with a suggestion, nothing else.

Zone names come from the IANA database the ``tzdata`` package ships (a dependency, so every machine knows the
same names; IANA never removes a name, an old one becomes a link). Locales are language tags whose language the
project ships wording for (``SHIPPED_LANGUAGES``); any region Babel knows for it is accepted, and shapes how dates
and numbers read (``en-GB``: "Tue, 9 Dec 2026, 14:00"; ``en-US``: "Tue, Dec 9, 2026, 2:00 PM").

No zone rules are applied here: converting a moment to a person's local time happens in activities and the HTTP
API (infra/local_time.py), never in a workflow, whose decisions must not depend on the zone database of the
worker that replays them.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo

from babel import Locale, UnknownLocaleError

# The languages the emails are written in. Another language is added with its catalog (README, "Zones, quiet
# hours and languages").
SHIPPED_LANGUAGES = ("en", "es")


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every zone name, by its lower-case form (to suggest 'Europe/Berlin' for 'europe/berlin')."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def check_time_zone(name: str) -> str:
    """``name`` if it is an IANA time zone name; a ValueError suggesting the nearest names otherwise."""
    names = _zone_names()
    if name in names.values():
        return name
    exact = names.get(name.lower())
    if exact is not None:
        raise ValueError(f"{name!r} is not a time zone name; did you mean {exact!r}?")
    close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(repr(names[c]) for c in close)}?" if close else "e.g. 'Europe/Berlin'"
    raise ValueError(f"{name!r} is not an IANA time zone name; {hint}")


def check_locale(tag: str) -> str:
    """``tag`` in its canonical form ('en-gb' -> 'en-GB') if it names a shipped language; a ValueError saying
    which tags are possible otherwise."""
    shipped = ", ".join(repr(language) for language in SHIPPED_LANGUAGES)
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"{tag!r} is not a language tag this service knows; use one of {shipped}, with a region if you like "
            "(e.g. 'en-GB')"
        ) from None
    if locale.language not in SHIPPED_LANGUAGES:
        raise ValueError(
            f"{tag!r}: emails are not written in {locale.english_name or locale.language} yet; use one of {shipped}, "
            "with a region if you like (e.g. 'en-GB')"
        )
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)
