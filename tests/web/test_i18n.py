"""German first, English second: the template catalogue, the Python-side texts,
the request locale and the catalogue upkeep script.

The catalogue test covers every template that uses ``_(``: any msgid without
an English translation fails it. Run ``python -m web.locale.update_catalog``
to add the missing msgids to the ``.po`` file, then fill in their msgstr.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy.engine import Engine
from sqlmodel import select

import web.offers.views as offers_ui
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import DocumentKind, EmailStatus, Party, User
from tenderdesk.states import TenderStatus
from web.core import i18n
from web.core.templating import make_environment
from web.locale.update_catalog import TEMPLATES_DIR, extract_messages, template_files, update

from .conftest import MAIN_BACKOFFICE, logged_in

#: A literal ``_("...")`` or ``_('...')`` call: a second, independent way to find msgids.
LITERAL_CALL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def english_catalogue() -> Catalog:
    with i18n.catalogue_path("en").open("rb") as po:
        return read_po(po, locale="en", domain=i18n.DOMAIN)


# ------------------------------------------------------------------ templates
def test_every_template_msgid_has_an_english_translation() -> None:
    found = extract_messages()
    assert found, "no _() in any template"
    catalog = english_catalogue()
    missing = []
    for entry in found.values():
        message = catalog.get(entry.message, entry.context)
        strings = () if message is None else (
            message.string if isinstance(message.string, tuple) else (message.string,)
        )
        if message is None or message.fuzzy or not strings or not all(strings):
            missing.append(f"{entry.locations[0][0]}: {entry.msgid!r}")
    assert not missing, (
        "untranslated template strings; run `python -m web.locale.update_catalog` and fill in "
        "web/locale/en/LC_MESSAGES/messages.po:\n" + "\n".join(missing)
    )


def test_extractor_sees_every_literal_call() -> None:
    """Guards the extractor: every ``_("…")`` a plain regex finds in a template
    is among the extracted msgids (a template it could not parse would fail here)."""
    extracted = {entry.msgid for entry in extract_messages().values()}
    for path in template_files():
        text = path.read_text("utf-8")
        if "_(" not in text:
            continue
        for match in LITERAL_CALL.finditer(text):
            literal = match.group(1) if match.group(1) is not None else match.group(2)
            assert literal in extracted, f"{path.relative_to(TEMPLATES_DIR)}: {literal!r}"


def test_catalogue_is_consistent() -> None:
    """Placeholders match (``%(n)s`` in both), nothing fuzzy, no compiled file committed."""
    catalog = english_catalogue()
    problems = [(message.id, [str(e) for e in errors]) for message, errors in catalog.check()]
    assert problems == []
    assert not any(m.fuzzy for m in catalog if m.id)
    for message in catalog:
        if message.id and isinstance(message.id, str):
            assert set(re.findall(r"%\(\w+\)s", message.id)) == set(re.findall(r"%\(\w+\)s", str(message.string)))
    assert not list(i18n.LOCALE_DIR.rglob("*.mo"))


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
def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_key_has_english_with_the_same_placeholders() -> None:
    german, english = i18n.MESSAGES["de"], i18n.MESSAGES["en"]
    assert set(english) == set(german), set(english) ^ set(german)
    for key, text in german.items():
        assert english[key].strip(), key
        assert _fields(english[key]) == _fields(text), key


#: Feature modules whose flashes and errors used to be German-only dicts; their
#: texts now live in :data:`web.core.i18n.MESSAGES` under these key prefixes.
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
    german, english = i18n.MESSAGES["de"], i18n.MESSAGES["en"]
    keys = [key for key in german if key.startswith(prefix)]
    assert keys, prefix
    for key in keys:
        assert english.get(key, "").strip(), key
        assert english[key] != german[key], f"{key} is not translated"
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


def test_label_tables_cover_every_value_in_both_languages() -> None:
    for tables, values in (
        (i18n.EMAIL_STATUS_LABELS, list(EmailStatus)),
        (i18n.DOCUMENT_KIND_LABELS, list(DocumentKind)),
        (i18n.PARTY_LABELS, list(Party)),
        (i18n.TENDER_STATUS_LABELS, list(TenderStatus)),
    ):
        for locale in i18n.LOCALES:
            assert set(tables[locale]) == set(values), (locale, values)  # type: ignore[index]


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


# ------------------------------------------------------------------ update script
def test_update_adds_missing_msgids_with_empty_msgstr(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "x").mkdir(parents=True)
    (templates / "x" / "page.html").write_text(
        '<p>{{ _("Alt") }}</p>\n<p>{{ _("Neu %(n)s", n=1) }}</p>\n'
        '<p>{{ ngettext("ein Tag", "%(num)s Tage", d) }}</p>\n',
        "utf-8",
    )
    catalog = Catalog(locale="en", domain="messages", fuzzy=False)
    catalog.add("Alt", "Old")
    catalog.add("Weg", "Gone")
    found = extract_messages(templates)
    assert {entry.msgid for entry in found.values()} == {"Alt", "Neu %(n)s", "ein Tag"}

    report = update(catalog, found)

    assert sorted(report.added) == ["Neu %(n)s", "ein Tag"]
    assert sorted(report.untranslated) == ["Neu %(n)s", "ein Tag"]
    assert report.unused == ["Weg"]
    assert catalog.get("Alt").string == "Old"  # type: ignore[union-attr]
    assert catalog.get("Neu %(n)s").string == ""  # type: ignore[union-attr]
    assert catalog.get(("ein Tag", "%(num)s Tage")).string == ("", "")  # type: ignore[union-attr]
    assert catalog.get("Weg") is not None  # kept unless --prune
    assert update(catalog, found, prune=True).unused == ["Weg"] and catalog.get("Weg") is None


@pytest.mark.parametrize("locale", [code for code in i18n.LOCALES if code != i18n.DEFAULT_LOCALE])
def test_update_script_check_mode_passes(locale: str, capsys: pytest.CaptureFixture[str]) -> None:
    from web.locale.update_catalog import main

    before = i18n.catalogue_path(locale).read_bytes()
    assert main(["--check", "--locale", locale]) == 0
    assert "0 untranslated" in capsys.readouterr().out
    assert i18n.catalogue_path(locale).read_bytes() == before  # --check writes nothing
