"""The email templates: Jinja2 files worded through gettext catalogs, loaded, compiled and checked once per worker.

``activities/templates/`` holds, for every notice (``workflows.contract.Notice``'s values):

- ``{notice}.subject.txt``: the subject line. Plain text; a subject that renders with a line break in it is refused
  (it becomes a header).
- ``{notice}.body.jinja``: what the notice says, as blocks (``b.para``, ``b.quote``, ``b.bullets``, ``b.links``).
  Compiled twice: once for the text part, once, autoescaped, for the HTML part, each with its own ``blocks`` file;
  so the two parts say the same things by construction.

and the shared files: ``_layout.txt`` and ``_layout.html`` (greeting, body, signature, footer), ``_blocks.txt`` and
``_blocks.html`` (how a paragraph, a quoted note, a list and links look in each part), ``_phrases.jinja`` (wording
several notices share: durations, "your mentorship with Ben", a proposed change).

Every sentence is wrapped in ``{% trans %}`` or ``_()``. English is the templates' own language; any other shipped
language (``workflows.zones.SHIPPED_LANGUAGES``) has its catalog in ``activities/locale/{language}/LC_MESSAGES/
messages.po``, compiled in memory when the templates load (no ``.mo`` file to go stale). ``make catalogs`` extracts
the messages and updates the catalogs.

A deployment overrides templates file by file with ``MENTORSHIP_TEMPLATES_DIR``: a file there with a shipped
template's name is used instead of it. Every template of every language is compiled when the worker starts (and the
messages module renders sample notices through them), so a missing folder, a file with no shipped name, a syntax
error or a template that fails to render stop the worker there, naming the file and the line; never at send time.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from gettext import NullTranslations
from pathlib import Path
from types import TracebackType
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, Template, TemplateSyntaxError
from markupsafe import Markup

from workflows.contract import Notice
from workflows.zones import SHIPPED_LANGUAGES

SHIPPED_DIR = Path(__file__).with_name("templates")
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
# The language the templates are written in: it needs no catalog.
SOURCE_LANGUAGE = "en"
TEMPLATE_SUFFIXES = (".jinja", ".txt", ".html")

# Everything str.splitlines() breaks at: none of it may reach a header (activities/mailer.py).
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


class TemplateProblem(ValueError):
    """A template that cannot be used, with the file and line to look at: stops the worker at start."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def subject_name(kind: Notice) -> str:
    return f"{kind.value}.subject.txt"


def body_name(kind: Notice) -> str:
    return f"{kind.value}.body.jinja"


@functools.cache
def shipped_names() -> frozenset[str]:
    """Every shipped template's name (its path under activities/templates/): the names an override may use."""
    return frozenset(
        path.relative_to(SHIPPED_DIR).as_posix()
        for path in SHIPPED_DIR.rglob("*")
        if path.is_file() and path.suffix in TEMPLATE_SUFFIXES
    )


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def translations(language: str) -> NullTranslations:
    """The language's catalog, compiled in memory from its .po file (fuzzy entries left out, as msgfmt does)."""
    if language == SOURCE_LANGUAGE:
        return NullTranslations()
    path = catalog_path(language)
    if not path.is_file():
        raise TemplateProblem(f"{path}: no catalog for the shipped language {language!r} (make catalogs)")
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def language_of(locale: str | None) -> str:
    """'es-MX' -> 'es'; no locale: the source language."""
    if not locale:
        return SOURCE_LANGUAGE
    return locale.replace("_", "-").split("-", 1)[0].lower()


# --- Filters ----------------------------------------------------------------------------------------------------


def _squash(value: str) -> str:
    """A paragraph's words on one line, whatever the template's line breaks and indentation."""
    squashed = " ".join(str(value).split())
    return Markup(squashed) if isinstance(value, Markup) else squashed


def _upper_first(value: str) -> str:
    """The first letter capitalized and nothing else touched (Jinja's ``capitalize`` lowers the rest: names)."""
    if isinstance(value, Markup):
        plain = value.unescape()
        return Markup.escape(plain[:1].upper() + plain[1:])
    return value[:1].upper() + value[1:]


def _environment(loader: ChoiceLoader, *, html: bool, translated: NullTranslations) -> Environment:
    env = Environment(
        loader=loader,
        autoescape=html,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # A {% trans %} block's line breaks and indentation are not part of its message (pybabel extracts it so too).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translated, newstyle=True)  # type: ignore[attr-defined]
    env.filters["squash"] = _squash
    env.filters["upper_first"] = _upper_first
    env.globals["blocks"] = "_blocks.html" if html else "_blocks.txt"
    return env


@dataclass(frozen=True)
class Language:
    """One language's compiled templates, both parts."""

    code: str
    subjects: Mapping[Notice, Template]
    text_bodies: Mapping[Notice, Template]
    html_bodies: Mapping[Notice, Template]
    text_layout: Template
    html_layout: Template

    def render(self, kind: Notice, facts: Mapping[str, Any]) -> RenderedMessage:
        """The subject and both parts of one notice from its facts (activities/messages.py)."""
        template = self.subjects[kind]
        subject = template.render(facts).strip()
        if not LINE_BREAKS.isdisjoint(subject):
            raise ValueError(f"the subject ({template.filename}) has a line break in it, refused: {subject!r}")
        if not subject:
            raise ValueError(f"the subject ({template.filename}) is empty")
        text = self.text_layout.render(facts, subject=subject, body=self.text_bodies[kind].render(facts))
        html = self.html_layout.render(
            facts, subject=subject, body=Markup(self.html_bodies[kind].render(facts)), lang=self.code
        )
        return RenderedMessage(subject=subject, text=_tidy(text), html=html)


def _tidy(text: str) -> str:
    """Blocks one blank line apart, no trailing spaces, one final line break: templates need not count newlines."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Templates:
    """Every shipped language's compiled templates, overrides included."""

    languages: Mapping[str, Language]
    override_dir: Path | None

    def language(self, locale: str | None) -> Language:
        return self.languages.get(language_of(locale)) or self.languages[SOURCE_LANGUAGE]


def _where(exc: BaseException) -> str:
    """'path/to/file.jinja, line 3' of the innermost template frame of a render's traceback (Jinja rewrites the
    traceback so that template code shows as its file and line)."""
    if isinstance(exc, TemplateSyntaxError):
        return f"{exc.filename or exc.name}, line {exc.lineno}"
    found = ""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(TEMPLATE_SUFFIXES):
            found = f"{filename}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found or "a template"


def problem(exc: BaseException, doing: str = "") -> TemplateProblem:
    """``exc`` (from compiling or rendering a template) as a TemplateProblem naming the file and line."""
    message = exc.message if isinstance(exc, TemplateSyntaxError) else str(exc)
    return TemplateProblem(f"{_where(exc)}: {type(exc).__name__}: {message}{doing}")


def _check_override_dir(folder: Path) -> None:
    if not folder.is_dir():
        raise TemplateProblem(f"MENTORSHIP_TEMPLATES_DIR {str(folder)!r} is not a folder")
    known = shipped_names()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or any(part.startswith(".") for part in relative.parts):
            continue
        if relative.as_posix() not in known:
            raise TemplateProblem(
                f"{path}: unknown template: no shipped template is named {relative.as_posix()!r} (an override takes "
                "the name of a file in activities/templates/, e.g. 'invitation.subject.txt')"
            )


def load_templates(override_dir: str | Path | None = None) -> Templates:
    """Compile every template of every shipped language, the overrides in ``override_dir`` first; a TemplateProblem
    naming the file and line for anything that cannot be used."""
    folders = [str(SHIPPED_DIR)]
    folder = None
    if override_dir is not None:
        folder = Path(override_dir).resolve()
        _check_override_dir(folder)
        folders.insert(0, str(folder))
    loader = ChoiceLoader([FileSystemLoader(path, encoding="utf-8") for path in folders])
    languages: dict[str, Language] = {}
    for code in dict.fromkeys((SOURCE_LANGUAGE, *SHIPPED_LANGUAGES)):
        translated = translations(code)
        text = _environment(loader, html=False, translated=translated)
        html = _environment(loader, html=True, translated=translated)
        try:
            # Everything, whether a notice uses it or not: a broken file is found now.
            for name in sorted(shipped_names()):
                if not name.endswith(".html"):
                    text.get_template(name)
                if not name.endswith(".txt"):
                    html.get_template(name)
            languages[code] = Language(
                code=code,
                subjects={kind: text.get_template(subject_name(kind)) for kind in Notice},
                text_bodies={kind: text.get_template(body_name(kind)) for kind in Notice},
                html_bodies={kind: html.get_template(body_name(kind)) for kind in Notice},
                text_layout=text.get_template("_layout.txt"),
                html_layout=html.get_template("_layout.html"),
            )
        except TemplateProblem:
            raise
        except Exception as exc:
            raise problem(exc) from exc
    return Templates(languages=languages, override_dir=folder)
