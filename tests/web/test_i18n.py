"""German first, English second: the catalogues, the message keys, the request locale.

The catalogue tests run the documented ``pybabel extract``/``update`` commands
(README, "Texts and languages") in check mode: a msgid the code or a template
uses but a catalogue lacks fails them, and so does a key without a German
text or any msgid without an English one.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import BaseError, CommandLineInterface
from babel.messages.pofile import read_po
from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlmodel import select

import web.offers.views as offers_ui
from tenderdesk.config import ROOT
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import DocumentKind, EmailStatus, Party, User
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.templating import make_environment

from .conftest import MAIN_BACKOFFICE, logged_in

#: A literal ``_("...")`` or ``_('...')`` call: a second, independent way to find msgids.
LITERAL_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
#: A message key (``login.failed``) as opposed to a German source text.
KEY = re.compile(r"[a-z_]+(\.[a-z_]+)+")
TEMPLATES_DIR = ROOT / "templates"
UPDATE_HINT = "run the pybabel commands of README, \"Texts and languages\", and fill in the empty msgstr"


def catalogue(locale: str) -> Catalog:
    with i18n.catalogue_path(locale).open("rb") as po:
        return read_po(po, locale=locale, domain=i18n.DOMAIN)


def pybabel(*args: str) -> None:
    """``pybabel`` as the README runs it: from the repository root, paths relative to it."""
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        CommandLineInterface().run(["pybabel", "-q", *args])
    finally:
        os.chdir(before)


def extract_to(pot: Path) -> None:
    pybabel("extract", "-F", "babel.cfg", "--add-location=file", "--no-wrap", "--sort-by-file",
            "--project=Tenderdesk", "-o", str(pot), ".")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What ``pybabel extract`` finds today."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    extract_to(pot)
    with pot.open("rb") as fileobj:
        return read_po(fileobj)


def _strings(message: object) -> tuple[str, ...]:
    value = getattr(message, "string", "")
    return value if isinstance(value, tuple) else (value,)


# ------------------------------------------------------------------ catalogues
@pytest.mark.parametrize("locale", list(i18n.LOCALES))
def test_catalogue_holds_every_extracted_msgid_and_nothing_else(locale: str, extracted: Catalog) -> None:
    wanted = {(m.id, m.context) for m in extracted if m.id}
    assert len(wanted) > 400, "the extractor found too little"
    held = {(m.id, m.context) for m in catalogue(locale) if m.id}
    assert not wanted - held, f"{locale}: missing msgids, {UPDATE_HINT}: {sorted(map(str, wanted - held))}"
    unused = sorted(map(str, held - wanted))
    assert not unused, f"{locale}: msgids nothing uses any more, {UPDATE_HINT}: {unused}"


def test_update_in_check_mode_changes_nothing(tmp_path: Path) -> None:
    """The committed files are exactly what ``pybabel update`` writes (no hand formatting drifts)."""
    pot = tmp_path / "messages.pot"
    extract_to(pot)
    try:
        pybabel("update", "-i", str(pot), "-d", "web/locale", "-N", "--ignore-obsolete", "--no-wrap",
                "--check", "--ignore-pot-creation-date")
    except BaseError as err:
        pytest.fail(f"{err}: {UPDATE_HINT}")


def test_every_msgid_has_an_english_text_and_every_key_a_german_one() -> None:
    missing = [str(m.id) for m in catalogue("en") if m.id and (m.fuzzy or not all(_strings(m)))]
    assert not missing, f"untranslated in en, {UPDATE_HINT}:\n" + "\n".join(missing)
    german = catalogue("de")
    keys = [m for m in german if isinstance(m.id, str) and KEY.fullmatch(m.id)]
    assert len(keys) > 100
    assert not [m.id for m in keys if m.fuzzy or not m.string], "keys without German text"
    assert not [m.id for m in german if m.id and not KEY.fullmatch(str(m.id)) and any(_strings(m))], (
        "German template msgids are their own text; their msgstr stays empty"
    )


def test_extractor_sees_every_literal_call(extracted: Catalog) -> None:
    """Guards the extractor: every ``_("…")`` a plain regex finds in a template
    is among the extracted msgids (a template it could not parse would fail here)."""
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extracted if m.id}
    for path in sorted(TEMPLATES_DIR.rglob("*")):
        if path.suffix not in (".html", ".txt"):
            continue
        text = path.read_text("utf-8")
        for match in LITERAL_CALL.finditer(text):
            literal = match.group(1) if match.group(1) is not None else match.group(2)
            assert literal in ids, f"{path.relative_to(TEMPLATES_DIR)}: {literal!r}"


@pytest.mark.parametrize("locale", list(i18n.LOCALES))
def test_catalogue_is_consistent(locale: str) -> None:
    """Placeholders match (``%(n)s`` in templates, ``{n}`` in keys), nothing fuzzy, no compiled file committed."""
    catalog = catalogue(locale)
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert problems == []
    assert not any(m.fuzzy for m in catalog if m.id)
    for message in catalog:
        if message.id and isinstance(message.id, str) and message.string:
            assert set(re.findall(r"%\(\w+\)s", message.id)) == set(re.findall(r"%\(\w+\)s", str(message.string)))
    assert not list(i18n.LOCALE_DIR.rglob("*.mo"))


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_has_the_same_fields_in_both_languages() -> None:
    english = {m.id: str(m.string) for m in catalogue("en") if isinstance(m.id, str) and KEY.fullmatch(m.id)}
    for message in catalogue("de"):
        if isinstance(message.id, str) and KEY.fullmatch(message.id):
            assert _fields(english[message.id]) == _fields(str(message.string)), message.id


def test_catalogue_is_compiled_in_memory() -> None:
    english = i18n.translations("en")
    assert english.gettext("Abmelden") == "Log out"
    assert english.gettext("Ein Satz, den es nicht gibt") == "Ein Satz, den es nicht gibt"  # German shows
    assert i18n.translations("de").gettext("Abmelden") == "Abmelden"


def test_untranslated_entries_fall_back_to_german(tmp_path: Path) -> None:
    po = tmp_path / "messages.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Abmelden"\nmsgstr "Log out"\n\nmsgid "Neu"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Unsicher"\nmsgstr "Unsure"\n',
        "utf-8",
    )
    compiled = i18n.compile_catalogue(po, "en")
    assert compiled.gettext("Abmelden") == "Log out"
    assert compiled.gettext("Neu") == "Neu"
    assert compiled.gettext("Unsicher") == "Unsicher"


def test_page_environment_translates_per_request_locale() -> None:
    env: Environment = make_environment()
    template = env.from_string('{{ _("Abmelden") }} {{ _("Telefon: %(phone)s", phone=p) }}')
    with i18n.locale_scope("en"):
        assert template.render(p="<b>1</b>") == "Log out Phone: &lt;b&gt;1&lt;/b&gt;"
    assert template.render(p="0") == "Abmelden Telefon: 0"
    assert isinstance(env.from_string('{{ _("Abmelden") }}').module.__html__(), str)  # type: ignore[attr-defined]


def test_translations_are_trusted_markup_and_values_are_escaped() -> None:
    env = make_environment()
    rendered = env.from_string('{{ _("Wenden Sie sich bei Fragen jederzeit an %(email)s.", email=e) }}')
    assert "&lt;script&gt;" in rendered.render(e="<script>")
    assert '<a href="x">' in rendered.render(e=Markup('<a href="x">'))


# ------------------------------------------------------------------ Python-side texts
#: Feature modules whose flashes and errors used to be German-only dicts; their
#: texts are catalogue keys under these prefixes.
FEATURE_NAMESPACES = {
    "tenders/wizard": "add_tenders.",
    "dashboard/routes": "dashboard.",
    "insurer/routes": "insurer_link.",
    "messages/routes": "messages.",
    "offers/routes": "offers.",
    "requests/routes": "requests.",
    "tenders/routes": "tender_actions.",
}
WEB_DIR = Path(i18n.__file__).resolve().parents[1]


@pytest.mark.parametrize("module", sorted(FEATURE_NAMESPACES))
def test_feature_module_texts_are_translated(module: str) -> None:
    """Every German key of a feature module has a real English text (not a copy
    of the German), and the module keeps no German-only message table of its own."""
    prefix = FEATURE_NAMESPACES[module]
    keys = [m.id for m in catalogue("de") if isinstance(m.id, str) and m.id.startswith(prefix)]
    assert keys, prefix
    for key in keys:
        assert i18n.t(key, "en") != i18n.t(key, "de"), f"{key} is not translated"
    source = (WEB_DIR / f"{module}.py").read_text("utf-8")
    assert not re.search(r"^(TEXTS|TEXT_DE|[A-Z_]+_DE)\s*=", source, re.M), f"{module}.py defines German-only texts"
    assert "TEXTS[" not in source


def test_feature_texts_follow_the_locale_and_keep_the_german_wording() -> None:
    assert offers_ui.text("bind.done") == "Abschluss erfolgt."
    assert offers_ui.text("extension.again", insurer="Allianz") == (
        "Die Verlängerung wurde bei Allianz bereits angefragt."
    )
    assert i18n.t("dashboard.bad_query", max=200) == "Der Suchbegriff darf höchstens 200 Zeichen lang sein."
    with i18n.locale_scope("en"):
        assert offers_ui.text("bind.done") == "Binding completed."
        assert offers_ui.text("extension.again", insurer="Allianz") == (
            "The extension has already been requested from Allianz."
        )
        assert i18n.t("requests.assign.same", name="Eva") == "Eva is already the assignee of this request."


async def test_english_users_get_english_feature_errors(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """End to end: a module message (the dashboard's bad query string) reaches an English user in English."""
    with session_scope(web_engine) as s:
        user = s.exec(select(User).where(User.email == MAIN_BACKOFFICE)).one()
        user.locale = "en"
        s.add(user)
    await logged_in(http, MAIN_BACKOFFICE)
    response = await http.get("/?tab=unknown")
    assert response.status_code == 400
    assert i18n.t("dashboard.bad_tab", "en") in response.text
    assert i18n.t("dashboard.bad_tab", "de") not in response.text


def test_labels_cover_every_value_in_both_languages() -> None:
    """A label that falls through to its key (``status.sent``) would show the key."""
    for label, values in (
        (i18n.email_status_label, list(EmailStatus)),
        (i18n.document_kind_label, list(DocumentKind)),
        (i18n.party_label, list(Party)),
        (i18n.tender_status_label, list(TenderStatus)),
    ):
        for value in values:
            for locale in i18n.LOCALES:
                text = label(value, locale)  # type: ignore[operator, arg-type]
                assert not KEY.fullmatch(text), (label, value, locale)
    assert i18n.tender_status_label(TenderStatus.QUEUED) == "Bereit ausgeschrieben zu werden"
    assert i18n.party_label(Party.BROKER, "en") == "Broker"


def test_t_follows_the_current_locale_and_falls_back() -> None:
    assert i18n.t("logout.done") == "Sie wurden abgemeldet."
    with i18n.locale_scope("en"):
        assert i18n.t("logout.done") == "You have been logged out."
        assert i18n.tender_status_label(TenderStatus.SENT) == "Tendered"
        assert i18n.minutes_text(1) == "1 minute" and i18n.minutes_text(15) == "15 minutes"
        assert i18n.t("logout.done", "de") == "Sie wurden abgemeldet."
    assert i18n.current_locale() == "de"  # the scope did not leak
    assert i18n.minutes_text(1) == "1 Minute" and i18n.minutes_text(15) == "15 Minuten"
    assert i18n.t("logout.done", "fr") == "Sie wurden abgemeldet."
    assert i18n.normalise_locale("EN") == "en" and i18n.normalise_locale("xx") == "de"
    assert i18n.normalise_locale(None) == "de"
