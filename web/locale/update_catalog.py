"""Bring the template catalogues up to date: ``python -m web.locale.update_catalog``.

Finds every ``_("…")`` (and ``gettext``/``ngettext``/``pgettext``, ``{% trans %}``)
in ``templates/`` with Babel's Jinja2 extractor and adds each msgid that the
``.po`` file lacks, with an empty msgstr, so the gap is easy to see and fill.
Existing translations are never touched; their source locations are refreshed.
Entries no template uses any more are listed, and removed only with
``--prune`` (a string may be gone from one branch and back in the next).

``--check`` changes nothing and exits 1 if a msgid is missing or untranslated,
which is what ``tests/web/test_i18n.py`` asserts as well.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from tenderdesk.config import ROOT
from web.core.i18n import DEFAULT_LOCALE, DOMAIN, LOCALES, catalogue_path

TEMPLATES_DIR = ROOT / "templates"
TEMPLATE_SUFFIXES = (".html", ".txt")
#: Must match the page environment (web/templating.py), or line numbers and
#: whitespace in ``{% trans %}`` blocks would differ from what is rendered.
EXTRACT_OPTIONS = {
    "trim_blocks": "true",
    "lstrip_blocks": "true",
    "newstyle_gettext": "true",
    "silent": "false",
}

MsgKey = tuple[str | tuple[str, ...], str | None]  # (msgid or (singular, plural), context)


@dataclass
class Found:
    """One msgid (or singular/plural pair) and where the templates use it."""

    message: str | tuple[str, ...]
    context: str | None
    locations: list[tuple[str, int]] = field(default_factory=list)

    @property
    def msgid(self) -> str:
        return self.message if isinstance(self.message, str) else self.message[0]


def template_files(templates_dir: Path = TEMPLATES_DIR) -> Iterator[Path]:
    for path in sorted(templates_dir.rglob("*")):
        if path.is_file() and path.suffix in TEMPLATE_SUFFIXES:
            yield path


def extract_messages(templates_dir: Path = TEMPLATES_DIR) -> dict[MsgKey, Found]:
    """Every translatable string in the templates, in file order."""
    found: dict[MsgKey, Found] = {}
    for path in template_files(templates_dir):
        relative = path.relative_to(templates_dir.parent).as_posix()
        with path.open("rb") as fileobj:
            for lineno, message, _comments, context in extract(
                babel_extract, fileobj, options=EXTRACT_OPTIONS  # type: ignore[arg-type]
            ):
                key: MsgKey = (message, context)
                entry = found.setdefault(key, Found(message, context))
                entry.locations.append((relative, lineno))
    return found


def load_catalogue(locale: str) -> Catalog:
    path = catalogue_path(locale)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="Tenderdesk", fuzzy=False)
    with path.open("rb") as po:
        return read_po(po, locale=locale, domain=DOMAIN)


def save_catalogue(catalog: Catalog, locale: str) -> None:
    path = catalogue_path(locale)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=120, include_lineno=False, ignore_obsolete=True)


@dataclass
class Report:
    added: list[str] = field(default_factory=list)
    untranslated: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def update(catalog: Catalog, found: dict[MsgKey, Found], *, prune: bool = False) -> Report:
    """Add missing msgids (empty msgstr) to ``catalog``; report gaps and leftovers."""
    report = Report()
    for entry in found.values():
        existing = catalog.get(entry.message, entry.context)
        if existing is None:
            empty: str | tuple[str, ...] = "" if isinstance(entry.message, str) else ("", "")
            catalog.add(entry.message, empty, locations=entry.locations, context=entry.context)
            report.added.append(entry.msgid)
        else:
            existing.locations = list(entry.locations)
    wanted = {(f.msgid, f.context) for f in found.values()}
    for message in list(catalog):
        if not message.id:
            continue  # the header
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        if (msgid, message.context) not in wanted:
            report.unused.append(msgid)
            if prune:
                catalog.delete(message.id, message.context)
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            report.untranslated.append(msgid)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web.locale.update_catalog", description=__doc__.split("\n")[0])
    parser.add_argument("--locale", action="append", choices=[code for code in LOCALES if code != DEFAULT_LOCALE],
                        help="only this locale (repeatable); default: every locale but German")
    parser.add_argument("--prune", action="store_true", help="remove entries no template uses any more")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is untranslated")
    args = parser.parse_args(argv)
    found = extract_messages()
    failed = False
    for locale in args.locale or [code for code in LOCALES if code != DEFAULT_LOCALE]:
        catalog = load_catalogue(locale)
        report = update(catalog, found, prune=args.prune)
        if not args.check:
            save_catalogue(catalog, locale)
        out = sys.stdout
        out.write(f"{catalogue_path(locale).relative_to(ROOT)}: {len(found)} msgids, "
                  f"{len(report.added)} added, {len(report.untranslated)} untranslated, "
                  f"{len(report.unused)} unused{' (removed)' if args.prune else ''}\n")
        for msgid in report.untranslated:
            out.write(f"  untranslated: {msgid!r}\n")
        for msgid in report.unused:
            out.write(f"  unused: {msgid!r}\n")
        failed = failed or bool(report.untranslated)
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
