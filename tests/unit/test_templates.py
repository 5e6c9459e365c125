"""The email templates (activities/templating.py): overrides, the start-up check, translations, both parts in step."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mailer import Mailer
from activities.messages import facts, prepare, render, sample_notifications
from activities.templating import (
    SHIPPED_DIR,
    SOURCE_LANGUAGE,
    TemplateProblem,
    catalog_path,
    load_templates,
    shipped_names,
)
from tests.support.builders import invitation, make_notification, settings
from workflows.contract import PERMANENT_EMAIL_FAILURE, Audience, Notice, Person, Role
from workflows.zones import SHIPPED_LANGUAGES

LINK = "https://mentorships.example.org/links/{}?t=a&b=<c>"


def _link(action: str) -> str:
    return LINK.format(action)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- Overrides --------------------------------------------------------------------------------------------------


def test_a_deployment_template_changes_one_notice(tmp_path: Path) -> None:
    write(
        tmp_path,
        "invitation.subject.txt",
        "{% trans name=initiator.name %}{{ name }} invites you to our mentoring programme{% endtrans %}\n",
    )
    custom = settings(mentorship_templates_dir=str(tmp_path))
    shipped = settings()
    invited = make_notification(Notice.INVITATION)
    assert render(invited, custom).subject == "Ben Okafor invites you to our mentoring programme"
    assert render(invited, shipped).subject == "Ben Okafor would like you to be their mentor"
    # Only that file: the bodies, and every other notice, are as shipped.
    assert render(invited, custom).text == render(invited, shipped).text
    due = make_notification(Notice.CHECK_IN_DUE, to=Audience.MENTOR)
    assert render(due, custom) == render(due, shipped)
    # The mailer renders through the same overrides.
    message = Mailer(custom).build_message(invited)
    assert message["Subject"] == "Ben Okafor invites you to our mentoring programme"


def test_an_html_layout_override_changes_the_look_not_the_words(tmp_path: Path) -> None:
    shipped = (SHIPPED_DIR / "_layout.html").read_text(encoding="utf-8")
    write(tmp_path, "_layout.html", shipped.replace("max-width:560px", "max-width:640px;background:#fef3c7"))
    email = render(make_notification(Notice.INVITATION), settings(mentorship_templates_dir=str(tmp_path)))
    assert "max-width:640px" in email.html and "would like you to be their mentor" in email.html


def test_a_broken_override_stops_the_worker_at_start_with_file_and_line(tmp_path: Path) -> None:
    broken = write(
        tmp_path,
        "check_in_due.body.jinja",
        "{% import blocks as b %}\n{% call b.para() %}Time to meet{% endcall %}\n{% if when %}\n{{ b.links([]) }\n",
    )
    with pytest.raises(TemplateProblem) as refused:
        Mailer(settings(mentorship_templates_dir=str(tmp_path)))
    assert f"{broken}, line 4" in str(refused.value) and "TemplateSyntaxError" in str(refused.value)


def test_an_override_that_fails_to_render_stops_the_worker_at_start_with_file_and_line(tmp_path: Path) -> None:
    # Compiles, but names a fact no notice has: found by rendering sample notices at start, not by the first send.
    broken = write(tmp_path, "paused.subject.txt", "{% if role %}\nPaused: {{ recipient.nickname }}\n{% endif %}\n")
    with pytest.raises(TemplateProblem) as refused:
        prepare(str(tmp_path))
    assert f"{broken}, line 2" in str(refused.value) and "nickname" in str(refused.value)


def test_an_unknown_or_missing_override_is_refused_at_start(tmp_path: Path) -> None:
    typo = write(tmp_path, "invitation.subjet.txt", "Hello\n")
    with pytest.raises(TemplateProblem, match="unknown template") as refused:
        load_templates(tmp_path)
    assert str(typo) in str(refused.value)
    typo.unlink()
    write(tmp_path, ".gitkeep", "")  # hidden files are not templates
    load_templates(tmp_path)
    with pytest.raises(TemplateProblem, match="is not a folder"):
        Mailer(settings(mentorship_templates_dir=str(tmp_path / "missing")))


def test_an_override_may_import_only_what_exists(tmp_path: Path) -> None:
    write(tmp_path, "withdrawn.body.jinja", '{% import "_nowhere.jinja" as p %}\n')
    with pytest.raises(TemplateProblem, match=r"_nowhere\.jinja"):
        prepare(str(tmp_path))


# --- Bad input: header injection through a subject --------------------------------------------------------------


def test_a_subject_override_with_a_line_break_is_refused_at_start(tmp_path: Path) -> None:
    write(tmp_path, "paused.subject.txt", 'Paused{{ "\\r\\n" }}Bcc: everyone@example.com\n')
    with pytest.raises(TemplateProblem, match="line break"):
        Mailer(settings(mentorship_templates_dir=str(tmp_path)))


async def test_a_subject_that_breaks_a_line_at_send_time_fails_the_send_for_good(tmp_path: Path) -> None:
    # Only for one note, so the start-up check passes; the send then refuses it: no header is ever built from it.
    write(
        tmp_path,
        "paused.subject.txt",
        '{% if note == "inject" %}Paused\nBcc: everyone@example.com{% else %}Paused{% endif %}\n',
    )
    mailer = Mailer(settings(mentorship_templates_dir=str(tmp_path)))
    assert mailer.build_message(make_notification(Notice.PAUSED, to=Audience.MENTOR))["Subject"] == "Paused"
    injected = make_notification(Notice.PAUSED, to=Audience.MENTOR, text="inject")
    with pytest.raises(ValueError, match="line break"):
        mailer.build_message(injected)
    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(mailer.send_notification, injected)
    assert failed.value.non_retryable and failed.value.type == PERMANENT_EMAIL_FAILURE
    assert "line break" in str(failed.value)


def test_names_in_a_subject_cannot_break_it() -> None:
    # The contract refuses line breaks in names; the subject template output is checked all the same.
    email = render(make_notification(Notice.INVITATION), settings())
    assert "\n" not in email.subject and "\r" not in email.subject


# --- Translations -----------------------------------------------------------------------------------------------

METHODS = [("**.jinja", "jinja2"), ("**.txt", "jinja2"), ("**.html", "jinja2")]


def template_messages() -> set[str | tuple[str, ...]]:
    """Every message of every template, extracted as `make catalogs` extracts them."""
    options = {pattern: {"trimmed": "true"} for pattern, _ in METHODS}
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(str(SHIPPED_DIR), METHODS, options):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.mark.parametrize("language", [code for code in SHIPPED_LANGUAGES if code != SOURCE_LANGUAGE])
def test_every_message_of_every_template_is_translated(language: str) -> None:
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    messages = template_messages()
    assert len(messages) > 100
    untranslated = []
    for message in messages:
        entry = catalog.get(message if isinstance(message, str) else message[0])
        strings = () if entry is None else (entry.string if isinstance(entry.string, tuple) else (entry.string,))
        if entry is None or entry.fuzzy or not strings or not all(strings):
            untranslated.append(message)
    assert not untranslated, f"untranslated in {language} (make catalogs, then translate): {untranslated}"


def paragraphs(text: str) -> list[str]:
    return [block for block in text.split("\n\n") if block.strip()]


def worded(block: str) -> bool:
    """A paragraph of our wording, not only a person's text (quotes, focus areas) or a link."""
    lines = [line for line in block.splitlines() if not line.startswith((">", "  - "))]
    return any(not re.fullmatch(r"[^:]+: https?://\S+", line) for line in lines)


@pytest.mark.parametrize("language", [code for code in SHIPPED_LANGUAGES if code != SOURCE_LANGUAGE])
def test_every_notice_renders_in_every_locale_with_no_untranslated_string(language: str) -> None:
    templates = prepare()
    english, other = templates.language(SOURCE_LANGUAGE), templates.language(language)
    seen = set()
    for notification in sample_notifications():
        sample = facts(notification, _link)
        theirs, ours = other.render(notification.kind, sample), english.render(notification.kind, sample)
        seen.add(notification.kind)
        assert theirs.subject != ours.subject, (language, notification.kind, theirs.subject)
        assert f'<html lang="{language}">' in theirs.html
        english_paragraphs = set(paragraphs(ours.text))
        for block in paragraphs(theirs.text):
            if worded(block):
                assert block not in english_paragraphs, (language, notification.kind, notification.to, block)
    assert seen == set(Notice)


def test_a_spanish_reader_gets_spanish_words_and_dates() -> None:
    ana = Person(id="ada", name="Ada Lovelace", email="ada@example.com", time_zone="Europe/Madrid", locale="es-ES")
    email = render(
        make_notification(
            Notice.CHECK_IN_DUE, invitation=invitation(mentor=ana.model_dump()), to=Audience.MENTOR, check_in_number=4
        ),
        settings(),
    )
    assert email.subject == "Toca la sesión 4 con Ben Okafor"
    assert email.text.startswith(
        "Hola, Ada Lovelace:\n\nEs hora de la sesión 4 con Ben Okafor, prevista para mié, 9 dic"
    )
    assert "15:00 CET" in email.text and "Registrar la sesión" not in email.text  # no links configured
    # The other participant, without a locale, reads English.
    ben = render(
        make_notification(Notice.CHECK_IN_DUE, invitation=invitation(mentor=ana.model_dump()), to=Audience.MENTEE),
        settings(),
    )
    assert ben.subject == "Time for your next check-in with Ada Lovelace"


def test_durations_and_counts_are_worded_in_the_language() -> None:
    ana = Person(id="ada", name="Ada Lovelace", email="ada@example.com", locale="es")
    started = render(
        make_notification(
            Notice.MENTORSHIP_STARTED,
            invitation=invitation(mentor=ana.model_dump(), check_in_every="P1DT12H", term="P1Y2M"),
            to=Audience.MENTOR,
            mutual=True,
        ),
        settings(),
    )
    assert "Os reuniréis cada 1 día y 12 horas" in started.text
    assert "Está previsto que la mentoría dure 1 año y 2 meses." in started.text


# --- Text and HTML in step --------------------------------------------------------------------------------------


class _Chunks(HTMLParser):
    """The sentences, quoted lines, list items and links of an HTML part, as the text part writes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.current: list[str] = []
        self.href: str | None = None
        self.skip = False

    def flush(self) -> None:
        text = "".join(self.current).strip()
        if text:
            self.chunks.append(text)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "li", "blockquote", "br", "a"):
            self.flush()
        if tag == "a":
            self.href = dict(attrs)["href"]
        self.skip = self.skip or tag == "title"

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self.chunks.append(f"{''.join(self.current).strip()}: {self.href}")
            self.current, self.href = [], None
        elif tag == "title":
            self.skip = False
        elif tag in ("p", "li", "blockquote"):
            self.flush()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.current.append(data)


def html_chunks(html: str) -> list[str]:
    parser = _Chunks()
    parser.feed(html)
    parser.close()
    return sorted(parser.chunks)


def text_chunks(text: str) -> list[str]:
    chunks = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(">"):
            line = line[1:].strip()
        elif line.startswith("- "):
            line = line[2:]
        if line:
            chunks.append(line)
    return sorted(chunks)


@pytest.mark.parametrize("language", SHIPPED_LANGUAGES)
def test_text_and_html_carry_the_same_facts_and_links_in_every_language(language: str) -> None:
    lang = prepare().language(language)
    for notification in sample_notifications():
        quoted = notification.model_copy(
            update={"text": "Two <lines>\n& \"quotes\" 'here'", "invitation": invitation(message="Hi <b>&</b>")}
        )
        for sample_notification in (notification, quoted):
            email = lang.render(sample_notification.kind, facts(sample_notification, _link))
            assert text_chunks(email.text) == html_chunks(email.html), (language, sample_notification.kind)
            links = re.findall(r"https://\S+", email.text)
            assert links == [html.unescape(url) for url in re.findall(r'href="([^"]+)"', email.html)]
            assert "<lines>" not in email.html and "<b>" not in email.html


def test_every_shipped_template_has_a_name_an_override_can_use() -> None:
    names = shipped_names()
    for kind in Notice:
        assert f"{kind.value}.subject.txt" in names and f"{kind.value}.body.jinja" in names
    assert {"_layout.txt", "_layout.html", "_blocks.txt", "_blocks.html", "_phrases.jinja"} <= names


def test_templates_are_compiled_once_and_kept() -> None:
    assert prepare() is prepare(None)
    mailer = Mailer(settings())
    assert mailer.templates is prepare(None)
    # A role the notice has no template branch for still reads (every audience is a sample).
    assert {n.to for n in sample_notifications()} == set(Audience)
    assert {n.actor for n in sample_notifications()} >= {Role.MENTOR, None}
