"""UI strings that Python code produces (errors, flash messages, labels).

Page texts live in the templates; everything the routes say themselves lives
here, keyed by locale, so an English locale is one more dict (or a Babel
catalogue) instead of a hunt through the code. Tender status labels come from
:mod:`tenderdesk.states`, which owns them for the workflow as well.
"""

from __future__ import annotations

from tenderdesk.models import DocumentKind, EmailStatus, Party
from tenderdesk.states import LABELS_DE, LABELS_EN, TenderStatus

DEFAULT_LOCALE = "de"

MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        # login, sessions, security
        "login.failed": "E-Mail-Adresse oder Passwort ist falsch.",
        "login.throttled": (
            "Zu viele fehlgeschlagene Anmeldeversuche. "
            "Bitte versuchen Sie es in {minutes} Minuten erneut."
        ),
        "login.cookie_missing": (
            "Die Sicherheitsprüfung ist fehlgeschlagen. Bitte laden Sie die Seite neu; "
            "Cookies müssen für diese Seite erlaubt sein."
        ),
        "login.required": "Bitte melden Sie sich an.",
        "logout.done": "Sie wurden abgemeldet.",
        "csrf.failed": (
            "Die Sicherheitsprüfung des Formulars ist fehlgeschlagen. "
            "Bitte laden Sie die Seite neu und versuchen Sie es erneut."
        ),
        "password.current_wrong": "Das aktuelle Passwort ist nicht korrekt.",
        "password.too_short": "Das neue Passwort muss mindestens {min} Zeichen lang sein.",
        "password.mismatch": "Die beiden neuen Passwörter stimmen nicht überein.",
        "password.same": "Das neue Passwort muss sich vom aktuellen unterscheiden.",
        "password.changed": (
            "Ihr Passwort wurde geändert. Alle anderen Anmeldungen wurden beendet."
        ),
        # errors
        "error.forbidden": "Sie haben keine Berechtigung für diese Seite.",
        "error.not_found": "Die Seite wurde nicht gefunden.",
        "error.request_not_found": "Die Anfrage wurde nicht gefunden.",
        "error.document_not_found": "Das Dokument wurde nicht gefunden.",
        "error.internal": (
            "Es ist ein unerwarteter Fehler aufgetreten. Bitte versuchen Sie es später erneut."
        ),
        "error.method": "Diese Aktion ist so nicht möglich.",
        "error.temporal_unavailable": (
            "Der Dienst für Ausschreibungen ist gerade nicht erreichbar. "
            "Bitte versuchen Sie es in einem Moment erneut."
        ),
        "error.action_id": "Das Formular ist veraltet. Bitte laden Sie die Seite neu.",
        # page titles, tabs, columns, actions
        "title.login": "Anmelden",
        "title.password": "Passwort ändern",
        "title.contact": "Hilfe & Kontakt",
        "title.dashboard": "Manuelle Anfragen",
        "title.error": "Fehler",
        "title.request": "Anfrage {number}",
        "title.add_tenders": "Ausschreibung hinzufügen – {number}",
        "title.tender": "Ausschreibung {number}",
        "tab.alle": "Alle",
        "tab.vermittleraktion": "Vermittleraktion erforderlich",
        "column.id": "ID",
        "column.vermittler": "Vermittler",
        "column.bearbeiter": "Bearbeiter",
        "column.produkt": "Produkt",
        "column.gewerbe": "Gewerbe",
        "column.status": "Status",
        "column.datum": "Datum",
        "action.remind_now": "Erinnerung schicken",
        "action.mark_in_progress": "In Bearbeitung",
        "action.withdraw": "Anfrage nicht erfolgreich",
        "answer.yes": "Ja",
        "answer.no": "Nein",
        "error.body_too_large": "Die Anfrage ist zu groß.",
        "error.length_required": "Die Anfrage hat keine Längenangabe (Content-Length).",
        # request page
        "request.assigned": "Sie sind jetzt Bearbeiter dieser Anfrage.",
        "request.not_open": "Die Anfrage ist nicht mehr offen.",
        "tenders.none_selected": "Bitte wählen Sie mindestens eine Gesellschaft aus.",
        "tenders.started": "{count} Ausschreibung(en) gestartet.",
        "tenders.refused": "{insurer}: {reason}",
        "tenders.note_too_long": "Der Hinweis darf höchstens {max} Zeichen lang sein.",
        "tender.unknown_action": "Diese Aktion gibt es nicht.",
        # insurer link
        "link.invalid": "Dieser Link ist ungültig.",
        "link.invalid_hint": (
            "Bitte prüfen Sie, ob Sie den Link vollständig aus der E-Mail übernommen haben, "
            "oder wenden Sie sich an den Absender der E-Mail."
        ),
        "link.expired": "Dieser Link ist abgelaufen.",
        "link.revoked": "Dieser Link ist nicht mehr gültig.",
        "link.ended": "Diese Ausschreibung ist beendet.",
        "question.empty": "Bitte geben Sie Ihre Rückfrage ein.",
        "question.too_long": "Die Rückfrage darf höchstens {max} Zeichen lang sein.",
        "decline.empty": "Bitte geben Sie einen Grund für die Absage an.",
        "decline.too_long": "Der Grund darf höchstens {max} Zeichen lang sein.",
        "offer.premium_missing": "Bitte geben Sie die Jahresprämie an.",
        "offer.premium_invalid": (
            "Die Prämie ist kein gültiger Betrag (Beispiel: 1.234,56)."
        ),
        "offer.premium_positive": "Die Prämie muss größer als 0 sein.",
        "offer.sum_invalid": (
            "Die Versicherungssumme ist kein gültiger Betrag (Beispiel: 3.000.000)."
        ),
        "offer.valid_missing": "Bitte geben Sie an, bis wann das Angebot gültig ist.",
        "offer.valid_invalid": (
            "Das Gültigkeitsdatum ist ungültig (Format TT.MM.JJJJ, z. B. 31.12.2026)."
        ),
        "offer.valid_past": "Das Gültigkeitsdatum muss in der Zukunft liegen.",
        "offer.notes_too_long": "Die Anmerkungen dürfen höchstens {max} Zeichen lang sein.",
        "offer.file_missing": "Bitte laden Sie das Angebot als PDF-Datei hoch.",
        "offer.file_not_pdf": (
            "Die Datei ist kein PDF. Bitte laden Sie das Angebot als PDF-Datei hoch."
        ),
        "offer.file_broken": (
            "Die PDF-Datei ist beschädigt oder kann nicht gelesen werden."
        ),
        "offer.file_too_large": (
            "Die Datei ist zu groß. Erlaubt sind höchstens {max_mb} MB."
        ),
        "offer.upload_incomplete": (
            "Das Formular konnte nicht vollständig gelesen werden. Bitte versuchen Sie es erneut."
        ),
    },
}

EMAIL_STATUS_LABELS: dict[str, dict[EmailStatus, str]] = {
    "de": {
        EmailStatus.PENDING: "Wird versendet",
        EmailStatus.RETRYING: "Wird erneut versucht",
        EmailStatus.SENT: "Versendet",
        EmailStatus.FAILED: "Zustellung fehlgeschlagen",
    },
}

DOCUMENT_KIND_LABELS: dict[str, dict[DocumentKind, str]] = {
    "de": {
        DocumentKind.REQUEST: "Anfrageunterlage",
        DocumentKind.OFFER: "Angebot",
        DocumentKind.ATTACHMENT: "Anhang",
        DocumentKind.COVER_NOTE: "Deckungsnote",
    },
}

PARTY_LABELS: dict[str, dict[Party, str]] = {
    "de": {
        Party.BACKOFFICE: "Backoffice",
        Party.BROKER: "Vermittler",
        Party.INSURER: "Gesellschaft",
        Party.SYSTEM: "System",
    },
}

TENDER_STATUS_LABELS: dict[str, dict[TenderStatus, str]] = {"de": LABELS_DE, "en": LABELS_EN}


def t(key: str, locale: str = DEFAULT_LOCALE, **params: object) -> str:
    """The text for ``key``; falls back to German so a missing translation
    degrades to the original wording instead of an error page."""
    table = MESSAGES.get(locale) or MESSAGES[DEFAULT_LOCALE]
    text = table.get(key) or MESSAGES[DEFAULT_LOCALE][key]
    return text.format(**params) if params else text


def _label(tables: dict[str, dict[object, str]], value: object, locale: str) -> str:
    table = tables.get(locale) or tables[DEFAULT_LOCALE]
    return table.get(value) or tables[DEFAULT_LOCALE].get(value, str(value))


def tender_status_label(status: TenderStatus, locale: str = DEFAULT_LOCALE) -> str:
    return _label(TENDER_STATUS_LABELS, status, locale)  # type: ignore[arg-type]


def email_status_label(status: EmailStatus, locale: str = DEFAULT_LOCALE) -> str:
    return _label(EMAIL_STATUS_LABELS, status, locale)  # type: ignore[arg-type]


def document_kind_label(kind: DocumentKind, locale: str = DEFAULT_LOCALE) -> str:
    return _label(DOCUMENT_KIND_LABELS, kind, locale)  # type: ignore[arg-type]


def party_label(party: Party, locale: str = DEFAULT_LOCALE) -> str:
    return _label(PARTY_LABELS, party, locale)  # type: ignore[arg-type]
