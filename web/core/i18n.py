"""UI texts in German (first) and English (second), and which one a request uses.

Two kinds of text:
- Page texts live in the templates as ``{{ _("Deutscher Text") }}``: the msgid
  is the German source, so anything untranslated simply shows German. The
  English catalogue is ``web/locale/en/LC_MESSAGES/messages.po``; it is compiled
  in memory when the app starts (:func:`load_translations`), so no compiled
  ``.mo`` file is committed and there is no build step.
  ``python -m web.locale.update_catalog`` adds new msgids to it.
- Everything the Python code says itself (errors, flash messages, labels)
  comes from :func:`t` and the label tables here, keyed by locale. Tender
  status labels come from :mod:`tenderdesk.states`, which owns them for the
  workflow as well.

The language of a request is the logged-in user's ``User.locale`` ("de" if
nobody is logged in). :class:`LocaleMiddleware` gives every request a fresh
holder in a context variable; resolving the session fills it in
(:func:`use_locale`), and :func:`t`, the labels and the templates' gettext
read it. A mutable holder rather than the plain value, because FastAPI runs
sync dependencies and routes in worker threads, each in a *copy* of the
request's context: setting the variable there would not reach the route,
changing the shared holder does.
"""

from __future__ import annotations

import contextvars
import gettext as gettext_module
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.types import ASGIApp, Receive, Scope, Send

from tenderdesk.db.models import DocumentKind, EmailStatus, Party
from tenderdesk.states import LABELS_DE, LABELS_EN, TenderStatus

log = logging.getLogger(__name__)

DEFAULT_LOCALE = "de"
#: Offered languages in menu order, each named in its own language.
LOCALES: dict[str, str] = {"de": "Deutsch", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"


def normalise_locale(locale: str | None) -> str:
    """A supported locale for a stored or submitted value; anything else is German."""
    value = (locale or "").strip().lower()[:2]
    return value if value in LOCALES else DEFAULT_LOCALE


# ---------------------------------------------------------------- request locale
class _LocaleHolder:
    """The locale of one request; shared by the thread-pool copies of its context."""

    __slots__ = ("locale",)

    def __init__(self, locale: str = DEFAULT_LOCALE) -> None:
        self.locale = locale


_current: contextvars.ContextVar[_LocaleHolder] = contextvars.ContextVar("tenderdesk_locale")


def current_locale() -> str:
    holder = _current.get(None)
    return holder.locale if holder is not None else DEFAULT_LOCALE


def use_locale(locale: str | None) -> None:
    """Set the current request's locale (for the rest of the request)."""
    holder = _current.get(None)
    if holder is None:
        _current.set(_LocaleHolder(normalise_locale(locale)))
    else:
        holder.locale = normalise_locale(locale)


@contextmanager
def locale_scope(locale: str | None) -> Iterator[None]:
    """Texts in another locale for a moment (an email in the recipient's
    language) without changing the language of the page being answered."""
    token = _current.set(_LocaleHolder(normalise_locale(locale)))
    try:
        yield
    finally:
        _current.reset(token)


class LocaleMiddleware:
    """Gives each HTTP request its own locale holder, German until the session says otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(_LocaleHolder())
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


# ---------------------------------------------------------------- Python-side texts
MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        # login, sessions, security
        "login.failed": "E-Mail-Adresse oder Passwort ist falsch.",
        "login.throttled": (
            "Zu viele fehlgeschlagene Anmeldeversuche. Bitte versuchen Sie es in {wait} erneut."
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
        "unit.minute": "1 Minute",
        "unit.minutes": "{n} Minuten",
        # password reset by email, language
        "forgot.sent": "Falls ein Konto zu dieser Adresse besteht, haben wir Ihnen einen Link gesendet.",
        "forgot.sent_hint": (
            "Der Link ist {minutes} Minuten gültig und funktioniert einmal. "
            "Bitte sehen Sie auch im Spam-Ordner nach."
        ),
        "forgot.email_missing": "Bitte geben Sie Ihre E-Mail-Adresse ein.",
        "forgot.throttled": (
            "Zu viele Anfragen zum Zurücksetzen des Passworts. Bitte versuchen Sie es in {wait} erneut."
        ),
        "reset.unknown": "Dieser Link zum Zurücksetzen des Passworts ist ungültig.",
        "reset.expired": "Dieser Link zum Zurücksetzen des Passworts ist abgelaufen.",
        "reset.used": "Dieser Link zum Zurücksetzen des Passworts wurde bereits verwendet.",
        "reset.done": (
            "Ihr Passwort wurde geändert und alle Anmeldungen wurden beendet. "
            "Bitte melden Sie sich mit dem neuen Passwort an."
        ),
        "reset.email_subject": "Tenderdesk: Passwort zurücksetzen",
        "language.unknown": "Diese Sprache wird nicht angeboten.",
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
        "title.forgot": "Passwort vergessen",
        "title.reset": "Neues Passwort festlegen",
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
        # request page: assignee (web/requests.py)
        "requests.assign.other": "{name} ist jetzt Bearbeiter dieser Anfrage.",
        "requests.assign.same": "{name} ist bereits Bearbeiter dieser Anfrage.",
        "requests.assign.invalid": (
            "Bitte wählen Sie einen aktiven Backoffice-Mitarbeiter Ihres Accounts als Bearbeiter."
        ),
        # dashboard filters (web/dashboard.py)
        "dashboard.bad_tab": "Diese Ansicht gibt es nicht. Es werden alle offenen Anfragen angezeigt.",
        "dashboard.bad_sort": "Nach dieser Spalte kann nicht sortiert werden.",
        "dashboard.bad_page": "Die Seitenzahl muss eine ganze Zahl ab 1 sein.",
        "dashboard.bad_query": "Der Suchbegriff darf höchstens {max} Zeichen lang sein.",
        "dashboard.bad_assignee": "Diesen Bearbeiter gibt es in Ihrem Account nicht.",
        "dashboard.bad_product": "Dieses Produkt gibt es nicht.",
        "dashboard.bad_status": "Diesen Status gibt es nicht.",
        # add tenders (web/add_tenders.py)
        "add_tenders.documents.none": (
            "Bitte wählen Sie mindestens ein Dokument als Anhang aus "
            "(ohne Auswahl würden alle Anfrageunterlagen angehängt)."
        ),
        "add_tenders.documents.foreign": "Mindestens ein gewähltes Dokument gehört nicht zu dieser Anfrage.",
        "add_tenders.note.too_long": "Der Hinweis für {insurer} darf höchstens {max} Zeichen lang sein.",
        "add_tenders.files.too_large": (
            "Die Dateien sind zu groß. Erlaubt sind zusammen höchstens {max_mb} MB je Hochladen."
        ),
        "add_tenders.files.unreadable": (
            "Das Formular konnte nicht gelesen werden. Bitte laden Sie höchstens {max} Dateien auf einmal hoch."
        ),
        "add_tenders.files.again": "Bitte wählen Sie die Dateien erneut aus; sie wurden nicht gespeichert.",
        "add_tenders.files.stored": "{count} Dokument(e) hochgeladen und zur Anfrage hinzugefügt.",
        # tender page: schedule and manual offer (web/tender_actions.py)
        "tender_actions.schedule.not_possible": "Termine können im Status „{status}“ nicht geändert werden.",
        "tender_actions.schedule.nothing": (
            "Bitte geben Sie eine neue Antwortfrist oder einen neuen Termin für die nächste Erinnerung an."
        ),
        "tender_actions.schedule.deadline_invalid": (
            "Die Antwortfrist ist kein gültiges Datum (Format TT.MM.JJJJ, z. B. 31.12.2026)."
        ),
        "tender_actions.schedule.reminder_invalid": (
            "Der Termin der nächsten Erinnerung ist kein gültiges Datum (Format TT.MM.JJJJ, z. B. 31.12.2026)."
        ),
        "tender_actions.schedule.deadline_past": "Die Antwortfrist darf nicht in der Vergangenheit liegen.",
        "tender_actions.schedule.reminder_past": (
            "Die nächste Erinnerung muss frühestens morgen sein. "
            "Für eine sofortige Erinnerung nutzen Sie „Erinnerung schicken“."
        ),
        "tender_actions.schedule.too_far": "Termine können höchstens ein Jahr im Voraus gesetzt werden.",
        "tender_actions.schedule.reminder_after_deadline": (
            "Die nächste Erinnerung muss vor der Antwortfrist ({deadline}) liegen."
        ),
        "tender_actions.offer.not_possible": "Ein Angebot kann im Status „{status}“ nicht hinzugefügt werden.",
        "tender_actions.offer.already": "Dieses Angebot wurde bereits übermittelt.",
        # offers: edit, release, extension, binding (web/offers_ui.py)
        "offers.offer.not_found": "Das Angebot wurde nicht gefunden.",
        "offers.offer.superseded": (
            "Das Angebot wurde inzwischen geändert oder ersetzt. Bitte öffnen Sie das aktuelle Angebot."
        ),
        "offers.offer.not_editable": "Ein Angebot kann im Status „{status}“ nicht bearbeitet werden.",
        "offers.offer.edited_release": (
            "Das Angebot wurde geändert. Bitte geben Sie es wieder frei, damit der Vermittler es sieht."
        ),
        "offers.offer.edited_visible": (
            "Das Angebot wurde geändert und ist für den Vermittler sofort sichtbar; er wird per E-Mail informiert."
        ),
        "offers.offer.edited_again": "Diese Änderung wurde bereits gespeichert.",
        "offers.release.none": "Bitte wählen Sie mindestens ein Angebot zur Freigabe aus.",
        "offers.release.not_needed": (
            "Angebote sind für den Vermittler sofort sichtbar; eine Freigabe ist nicht nötig."
        ),
        "offers.extension.sent": (
            "Die Verlängerung wurde bei {insurer} angefragt. Die Antwort erscheint im Nachrichtenmodul."
        ),
        "offers.extension.again": "Die Verlängerung wurde bei {insurer} bereits angefragt.",
        "offers.extension.not_possible": "Für dieses Angebot kann keine Verlängerung mehr angefragt werden.",
        "offers.bind.done": "Abschluss erfolgt.",
        # messages module (web/messages_ui.py)
        "messages.opened": (
            "Die Kommunikation mit dem Vermittler ist eröffnet. Der Vermittler kann jetzt Nachrichten schreiben."
        ),
        "messages.processed": "Die Nachricht ist als bearbeitet markiert.",
        "messages.processed.already": "Die Nachricht war bereits als bearbeitet markiert.",
        "messages.forward.target": (
            "Bitte wählen Sie den Verlauf, in den die Nachricht weitergeleitet werden soll."
        ),
        "messages.file.too_large": "Die Datei ist zu groß. Erlaubt sind höchstens {max_mb} MB.",
        "messages.form.incomplete": (
            "Das Formular konnte nicht vollständig gelesen werden. Bitte versuchen Sie es erneut."
        ),
        "messages.thread.missing": "Bitte wählen Sie den Verlauf, in dem Sie schreiben möchten.",
        "messages.staff.not_opened": (
            "Die Kommunikation mit dem Vermittler ist noch nicht eröffnet. Der Vermittler kann erst schreiben, "
            "nachdem Sie sie eröffnet haben."
        ),
        # insurer link: correcting an offer (web/insurer_link.py)
        "insurer_link.edit.released": (
            "Ihr Angebot wurde bereits an den Vermittler weitergegeben und kann hier nicht mehr geändert werden. "
            "Bitte schreiben Sie uns eine Nachricht, wenn etwas zu korrigieren ist."
        ),
        "insurer_link.edit.none": "Es liegt kein Angebot vor, das Sie korrigieren könnten.",
        "insurer_link.edit.done": "Ihr Angebot wurde korrigiert.",
    },
    "en": {
        # login, sessions, security
        "login.failed": "Email address or password is incorrect.",
        "login.throttled": "Too many failed login attempts. Please try again in {wait}.",
        "login.cookie_missing": (
            "The security check failed. Please reload the page; cookies must be allowed for this site."
        ),
        "login.required": "Please log in.",
        "logout.done": "You have been logged out.",
        "csrf.failed": "The form's security check failed. Please reload the page and try again.",
        "password.current_wrong": "The current password is not correct.",
        "password.too_short": "The new password must be at least {min} characters long.",
        "password.mismatch": "The two new passwords do not match.",
        "password.same": "The new password must differ from the current one.",
        "password.changed": "Your password has been changed. All other sessions have been ended.",
        "unit.minute": "1 minute",
        "unit.minutes": "{n} minutes",
        # password reset by email, language
        "forgot.sent": "If an account exists for this address, we have sent you a link.",
        "forgot.sent_hint": (
            "The link is valid for {minutes} minutes and works once. Please also check your spam folder."
        ),
        "forgot.email_missing": "Please enter your email address.",
        "forgot.throttled": "Too many password reset requests. Please try again in {wait}.",
        "reset.unknown": "This password reset link is not valid.",
        "reset.expired": "This password reset link has expired.",
        "reset.used": "This password reset link has already been used.",
        "reset.done": (
            "Your password has been changed and all sessions have been ended. "
            "Please log in with your new password."
        ),
        "reset.email_subject": "Tenderdesk: reset your password",
        "language.unknown": "This language is not available.",
        # errors
        "error.forbidden": "You are not allowed to open this page.",
        "error.not_found": "The page was not found.",
        "error.request_not_found": "The request was not found.",
        "error.document_not_found": "The document was not found.",
        "error.internal": "An unexpected error occurred. Please try again later.",
        "error.method": "This action is not possible this way.",
        "error.temporal_unavailable": (
            "The tender service is not reachable right now. Please try again in a moment."
        ),
        "error.action_id": "The form is out of date. Please reload the page.",
        # page titles, tabs, columns, actions
        "title.login": "Log in",
        "title.password": "Change password",
        "title.forgot": "Forgot password",
        "title.reset": "Set a new password",
        "title.contact": "Help & contact",
        "title.dashboard": "Manual requests",
        "title.error": "Error",
        "title.request": "Request {number}",
        "title.add_tenders": "Add tender – {number}",
        "title.tender": "Tender {number}",
        "tab.alle": "All",
        "tab.vermittleraktion": "Broker action required",
        "column.id": "ID",
        "column.vermittler": "Broker",
        "column.bearbeiter": "Assignee",
        "column.produkt": "Product",
        "column.gewerbe": "Trade",
        "column.status": "Status",
        "column.datum": "Date",
        "action.remind_now": "Send reminder",
        "action.mark_in_progress": "In progress",
        "action.withdraw": "Request unsuccessful",
        "answer.yes": "Yes",
        "answer.no": "No",
        "error.body_too_large": "The request is too large.",
        "error.length_required": "The request has no length (Content-Length).",
        # request page
        "request.assigned": "You are now the assignee of this request.",
        "request.not_open": "The request is no longer open.",
        "tenders.none_selected": "Please select at least one insurer.",
        "tenders.started": "{count} tender(s) started.",
        "tenders.refused": "{insurer}: {reason}",
        "tenders.note_too_long": "The note may be at most {max} characters long.",
        "tender.unknown_action": "This action does not exist.",
        # insurer link
        "link.invalid": "This link is not valid.",
        "link.invalid_hint": (
            "Please check that you copied the whole link from the email, "
            "or contact the sender of the email."
        ),
        "link.expired": "This link has expired.",
        "link.revoked": "This link is no longer valid.",
        "link.ended": "This tender has ended.",
        "question.empty": "Please enter your question.",
        "question.too_long": "The question may be at most {max} characters long.",
        "decline.empty": "Please give a reason for declining.",
        "decline.too_long": "The reason may be at most {max} characters long.",
        "offer.premium_missing": "Please enter the annual premium.",
        "offer.premium_invalid": "The premium is not a valid amount (example: 1.234,56).",
        "offer.premium_positive": "The premium must be greater than 0.",
        "offer.sum_invalid": "The sum insured is not a valid amount (example: 3.000.000).",
        "offer.valid_missing": "Please state until when the offer is valid.",
        "offer.valid_invalid": "The validity date is not valid (format DD.MM.YYYY, e.g. 31.12.2026).",
        "offer.valid_past": "The validity date must be in the future.",
        "offer.notes_too_long": "The notes may be at most {max} characters long.",
        "offer.file_missing": "Please upload the offer as a PDF file.",
        "offer.file_not_pdf": "The file is not a PDF. Please upload the offer as a PDF file.",
        "offer.file_broken": "The PDF file is damaged or cannot be read.",
        "offer.file_too_large": "The file is too large. At most {max_mb} MB are allowed.",
        "offer.upload_incomplete": "The form could not be read completely. Please try again.",
        # request page: assignee (web/requests.py)
        "requests.assign.other": "{name} is now the assignee of this request.",
        "requests.assign.same": "{name} is already the assignee of this request.",
        "requests.assign.invalid": "Please choose an active backoffice employee of your account as assignee.",
        # dashboard filters (web/dashboard.py)
        "dashboard.bad_tab": "This view does not exist. All open requests are shown.",
        "dashboard.bad_sort": "This column cannot be sorted by.",
        "dashboard.bad_page": "The page number must be a whole number from 1.",
        "dashboard.bad_query": "The search term may be at most {max} characters long.",
        "dashboard.bad_assignee": "This assignee does not exist in your account.",
        "dashboard.bad_product": "This product does not exist.",
        "dashboard.bad_status": "This status does not exist.",
        # add tenders (web/add_tenders.py)
        "add_tenders.documents.none": (
            "Please select at least one document to attach "
            "(without a selection all request documents would be attached)."
        ),
        "add_tenders.documents.foreign": "At least one selected document does not belong to this request.",
        "add_tenders.note.too_long": "The note for {insurer} may be at most {max} characters long.",
        "add_tenders.files.too_large": "The files are too large. At most {max_mb} MB in total are allowed per upload.",
        "add_tenders.files.unreadable": (
            "The form could not be read. Please upload at most {max} files at once."
        ),
        "add_tenders.files.again": "Please select the files again; they were not saved.",
        "add_tenders.files.stored": "{count} document(s) uploaded and added to the request.",
        # tender page: schedule and manual offer (web/tender_actions.py)
        "tender_actions.schedule.not_possible": "Dates cannot be changed in status “{status}”.",
        "tender_actions.schedule.nothing": "Please enter a new response deadline or a new date for the next reminder.",
        "tender_actions.schedule.deadline_invalid": (
            "The response deadline is not a valid date (format DD.MM.YYYY, e.g. 31.12.2026)."
        ),
        "tender_actions.schedule.reminder_invalid": (
            "The date of the next reminder is not a valid date (format DD.MM.YYYY, e.g. 31.12.2026)."
        ),
        "tender_actions.schedule.deadline_past": "The response deadline must not be in the past.",
        "tender_actions.schedule.reminder_past": (
            "The next reminder must be tomorrow at the earliest. "
            "For an immediate reminder use “Send reminder”."
        ),
        "tender_actions.schedule.too_far": "Dates can be set at most one year in advance.",
        "tender_actions.schedule.reminder_after_deadline": (
            "The next reminder must be before the response deadline ({deadline})."
        ),
        "tender_actions.offer.not_possible": "An offer cannot be added in status “{status}”.",
        "tender_actions.offer.already": "This offer has already been submitted.",
        # offers: edit, release, extension, binding (web/offers_ui.py)
        "offers.offer.not_found": "The offer was not found.",
        "offers.offer.superseded": "The offer has since been changed or replaced. Please open the current offer.",
        "offers.offer.not_editable": "An offer cannot be edited in status “{status}”.",
        "offers.offer.edited_release": "The offer has been changed. Please release it again so the broker sees it.",
        "offers.offer.edited_visible": (
            "The offer has been changed and is visible to the broker immediately; they are informed by email."
        ),
        "offers.offer.edited_again": "This change has already been saved.",
        "offers.release.none": "Please select at least one offer to release.",
        "offers.release.not_needed": "Offers are visible to the broker immediately; no release is needed.",
        "offers.extension.sent": (
            "The extension has been requested from {insurer}. The answer will appear in the messages module."
        ),
        "offers.extension.again": "The extension has already been requested from {insurer}.",
        "offers.extension.not_possible": "An extension can no longer be requested for this offer.",
        "offers.bind.done": "Binding completed.",
        # messages module (web/messages_ui.py)
        "messages.opened": "Communication with the broker is open. The broker can now write messages.",
        "messages.processed": "The message is marked as processed.",
        "messages.processed.already": "The message was already marked as processed.",
        "messages.forward.target": "Please choose the thread to forward the message to.",
        "messages.file.too_large": "The file is too large. At most {max_mb} MB are allowed.",
        "messages.form.incomplete": "The form could not be read completely. Please try again.",
        "messages.thread.missing": "Please choose the thread you want to write in.",
        "messages.staff.not_opened": (
            "Communication with the broker is not open yet. The broker can only write after you have opened it."
        ),
        # insurer link: correcting an offer (web/insurer_link.py)
        "insurer_link.edit.released": (
            "Your offer has already been passed on to the broker and can no longer be changed here. "
            "Please send us a message if something needs correcting."
        ),
        "insurer_link.edit.none": "There is no offer that you could correct.",
        "insurer_link.edit.done": "Your offer has been corrected.",
    },
}

EMAIL_STATUS_LABELS: dict[str, dict[EmailStatus, str]] = {
    "de": {
        EmailStatus.PENDING: "Wird versendet",
        EmailStatus.RETRYING: "Wird erneut versucht",
        EmailStatus.SENT: "Versendet",
        EmailStatus.FAILED: "Zustellung fehlgeschlagen",
    },
    "en": {
        EmailStatus.PENDING: "Sending",
        EmailStatus.RETRYING: "Retrying",
        EmailStatus.SENT: "Sent",
        EmailStatus.FAILED: "Delivery failed",
    },
}

DOCUMENT_KIND_LABELS: dict[str, dict[DocumentKind, str]] = {
    "de": {
        DocumentKind.REQUEST: "Anfrageunterlage",
        DocumentKind.OFFER: "Angebot",
        DocumentKind.ATTACHMENT: "Anhang",
        DocumentKind.COVER_NOTE: "Deckungsnote",
    },
    "en": {
        DocumentKind.REQUEST: "Request document",
        DocumentKind.OFFER: "Offer",
        DocumentKind.ATTACHMENT: "Attachment",
        DocumentKind.COVER_NOTE: "Cover note",
    },
}

PARTY_LABELS: dict[str, dict[Party, str]] = {
    "de": {
        Party.BACKOFFICE: "Backoffice",
        Party.BROKER: "Vermittler",
        Party.INSURER: "Gesellschaft",
        Party.SYSTEM: "System",
    },
    "en": {
        Party.BACKOFFICE: "Backoffice",
        Party.BROKER: "Broker",
        Party.INSURER: "Insurer",
        Party.SYSTEM: "System",
    },
}

TENDER_STATUS_LABELS: dict[str, dict[TenderStatus, str]] = {"de": LABELS_DE, "en": LABELS_EN}


def t(key: str, locale: str | None = None, **params: object) -> str:
    """The text for ``key`` in ``locale`` (default: the current request's).
    Falls back to German, so a missing translation degrades to the original
    wording instead of an error page."""
    table = MESSAGES.get(locale or current_locale()) or MESSAGES[DEFAULT_LOCALE]
    text = table.get(key) or MESSAGES[DEFAULT_LOCALE][key]
    return text.format(**params) if params else text


def minutes_text(minutes: int, locale: str | None = None) -> str:
    """``1 Minute`` / ``15 Minuten`` (``1 minute`` / ``15 minutes``)."""
    return t("unit.minute", locale) if minutes == 1 else t("unit.minutes", locale, n=minutes)


def _label(tables: dict[str, dict[object, str]], value: object, locale: str | None) -> str:
    table = tables.get(locale or current_locale()) or tables[DEFAULT_LOCALE]
    return table.get(value) or tables[DEFAULT_LOCALE].get(value, str(value))


def tender_status_label(status: TenderStatus, locale: str | None = None) -> str:
    return _label(TENDER_STATUS_LABELS, status, locale)  # type: ignore[arg-type]


def email_status_label(status: EmailStatus, locale: str | None = None) -> str:
    return _label(EMAIL_STATUS_LABELS, status, locale)  # type: ignore[arg-type]


def document_kind_label(kind: DocumentKind, locale: str | None = None) -> str:
    return _label(DOCUMENT_KIND_LABELS, kind, locale)  # type: ignore[arg-type]


def party_label(party: Party, locale: str | None = None) -> str:
    return _label(PARTY_LABELS, party, locale)  # type: ignore[arg-type]


# ---------------------------------------------------------------- template catalogues
def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogue(po_path: Path, locale: str) -> Translations:
    """Read a ``.po`` file and compile it in memory; fuzzy and empty entries are
    left out, so their German msgid shows."""
    with po_path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=1)
def load_translations() -> dict[str, gettext_module.NullTranslations]:
    """Every locale's compiled catalogue, once per process (at app start).
    German needs none: its msgids are the texts."""
    loaded: dict[str, gettext_module.NullTranslations] = {DEFAULT_LOCALE: gettext_module.NullTranslations()}
    for locale in LOCALES:
        if locale == DEFAULT_LOCALE:
            continue
        path = catalogue_path(locale)
        if path.exists():
            loaded[locale] = compile_catalogue(path, locale)
        else:
            log.warning("no catalogue for locale %s at %s; pages stay German", locale, path)
            loaded[locale] = gettext_module.NullTranslations()
    return loaded


def translations(locale: str | None = None) -> gettext_module.NullTranslations:
    catalogues = load_translations()
    return catalogues.get(locale or current_locale()) or catalogues[DEFAULT_LOCALE]


def gettext(message: str) -> str:
    """The template ``_()`` / ``gettext()``: the current request's translation."""
    return translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations().pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations().npgettext(context, singular, plural, n)
