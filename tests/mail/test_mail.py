"""The one mail path: templates and subjects per kind, locale, Message-IDs, SMTP outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tenderdesk.config import Settings
from tenderdesk.mail import smtp
from tenderdesk.mail.message_ids import message_id
from tenderdesk.mail.render import SUBJECTS, TEMPLATES_DIR, MailKind, render_email, subject_for

from ..conftest import SmtpServer, free_port


def test_every_kind_has_a_text_template_and_a_subject() -> None:
    for kind in MailKind:
        assert (TEMPLATES_DIR / f"{kind.value}.txt").is_file(), kind
        assert kind in SUBJECTS, kind


def test_html_is_escaped_and_text_is_not() -> None:
    request = SimpleNamespace(number="MA-1", trade="<b>Dach</b>", answers={})
    context = {
        "subject": {"number": "MA-1", "product": "BHV", "trade": "<b>Dach</b>"},
        "request": request, "account": SimpleNamespace(name="A & B", contact_email="a@b.example"),
        "product": SimpleNamespace(name="BHV"),
        "policyholder": SimpleNamespace(name="X", legal_form="", postcode="1", city="Y"),
        "broker": SimpleNamespace(company="Makler"), "respond_by": datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
        "note": "", "link": "http://l",
    }
    email = render_email(MailKind.TENDER, context)
    assert email.html is not None and "&lt;b&gt;Dach&lt;/b&gt;" in email.html and "A &amp; B" in email.html
    assert "<b>Dach</b>" in email.text
    assert email.subject == "Ausschreibung MA-1: BHV – <b>Dach</b>"


def test_locale_follows_the_catalogue_and_falls_back_to_german() -> None:
    context = {"name": "Anna & Co", "link": "http://l", "minutes": 30, "subject": {}}
    english = render_email(MailKind.PASSWORD_RESET, context, locale="en")
    german = render_email(MailKind.PASSWORD_RESET, context, locale="xx")
    assert english.subject == "Tenderdesk: reset your password"
    assert "Hello Anna & Co," in english.text  # text is not HTML-escaped
    assert german.subject == "Tenderdesk: Passwort zurücksetzen" and "Guten Tag Anna & Co," in german.text
    assert english.html is None


def test_plural_subjects() -> None:
    one = subject_for(MailKind.OFFERS_RELEASED, {"number": "MA-1", "product": "BHV", "n": 1})
    two = subject_for(MailKind.OFFERS_RELEASED, {"number": "MA-1", "product": "BHV", "n": 2})
    assert (one, two) == ("Neues Angebot zu Ihrer Anfrage MA-1: BHV", "Neue Angebote zu Ihrer Anfrage MA-1: BHV")


def test_message_id_derives_from_the_key() -> None:
    assert message_id("tender:4:reminder:2", "Backoffice <bo@makler.example>") == "<tender.4.reminder.2@makler.example>"
    assert message_id("password_reset:7", "Backoffice") == "<password_reset.7@tenderdesk.local>"


def _outgoing() -> smtp.Outgoing:
    return smtp.Outgoing(
        to_addr="x@makler.example", subject="Betreff", text="Hallo", message_id="<k.1@t.example>",
        date=datetime(2027, 1, 1, tzinfo=UTC), attachments=[smtp.Attachment("a.txt", "text/plain", b"a")],
    )


async def test_smtp_outcomes_are_classified(settings: Settings, smtp_server: SmtpServer) -> None:
    smtp_server.capture.script("451 4.7.1 greylisted", "550 5.1.1 unknown")
    transient = await smtp.send(settings, _outgoing())
    permanent = await smtp.send(settings, _outgoing())
    sent = await smtp.send(settings, _outgoing())
    down = await smtp.send(settings.model_copy(update={"smtp_port": free_port()}), _outgoing())
    assert (transient.delivery, transient.error_type, transient.reply) == (
        smtp.Delivery.TRANSIENT, "SmtpTransient", "451 4.7.1 greylisted")
    assert "x@makler.example" not in transient.error
    assert (permanent.delivery, permanent.reply) == (smtp.Delivery.PERMANENT, "550 5.1.1 unknown")
    assert sent.delivery == smtp.Delivery.SENT
    assert (down.delivery, down.error_type) == (smtp.Delivery.TRANSIENT, "SmtpUnavailable")
    [message] = smtp_server.capture.messages
    assert message["Message-ID"] == "<k.1@t.example>" and message["Auto-Submitted"] == "auto-generated"
    assert [a.get_filename() for a in message.iter_attachments()] == ["a.txt"]


def _tender_context() -> dict[str, object]:
    return {
        "subject": {"number": "MA-7", "product": "Cyber", "trade": "Bäckerei"},
        "request": SimpleNamespace(number="MA-7", trade="Bäckerei", answers={}),
        "account": SimpleNamespace(name="Pool", contact_email="bo@pool.example"),
        "product": SimpleNamespace(name="Cyber"), "broker": SimpleNamespace(company="Makler GmbH"),
        "policyholder": SimpleNamespace(name="X", legal_form="", postcode="1", city="Y"),
        "respond_by": datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "note": "", "link": "http://l", "offer": None,
    }


@pytest.mark.parametrize("kind", [MailKind.TENDER, MailKind.REMINDER, MailKind.NOT_SELECTED, MailKind.MESSAGE,
                                  MailKind.COVER_ORDER, MailKind.WITHDRAWN])
def test_insurer_emails_speak_the_contacts_language(kind: MailKind) -> None:
    english = render_email(kind, _tender_context(), locale="en")
    german = render_email(kind, _tender_context())
    assert english.text.startswith("Dear Sir or Madam,") and "Kind regards" in english.text
    assert german.text.startswith("Sehr geehrte Damen und Herren,")
    assert english.subject != german.subject and "MA-7" in english.subject
    # HTML only in the email's own language: never German markup under an English text.
    assert english.html is None or ("Kind regards" in english.html and "Grüßen" not in english.html)


def test_amounts_and_dates_follow_the_recipients_language() -> None:
    """As the pages show them (Babel), not "1234.56 EUR"; dates in Berlin time
    (23:30 UTC on New Year's Eve is already 1 January in Germany)."""
    context = {**_tender_context(), "offer": SimpleNamespace(premium_cents=123_456)}
    german = render_email(MailKind.COVER_ORDER, context)
    english = render_email(MailKind.COVER_ORDER, context, locale="en")
    assert "1.234,56\xa0€" in german.text and "1.234,56\xa0€" in (german.html or "")
    assert "€1,234.56" in english.text and "1234.56" not in german.text + english.text
    assert "01.01.2027" in render_email(MailKind.TENDER, context).text
    assert "01/01/2027" in render_email(MailKind.TENDER, context, locale="en").text


async def test_a_long_subject_arrives_exactly_as_rendered(settings: Settings, smtp_server: SmtpServer) -> None:
    """Issue 10, item 9: folding turned "Cyberversicherung – Online-Händler" into
    "Cyberversicherung  –Online-Händler" with a stray encoded word."""
    subject = subject_for(MailKind.REMINDER, {
        "number": "MA-2026-00003", "product": "Cyberversicherung",
        "trade": "Online-Händler für Büroausstattung, Möbel und Zubehör (Großhandel)",
    })
    assert "  " not in subject
    outgoing = smtp.Outgoing(to_addr="kontakt@versicherer.example", subject=subject, text="Text",
                             message_id=message_id("fold", settings.mail_from), date=datetime.now(UTC))
    smtp_server.capture.reset()
    outcome = await smtp.send(settings, outgoing)

    assert outcome.delivery == smtp.Delivery.SENT
    [received] = smtp_server.capture.messages
    assert str(received["Subject"]) == subject
    assert all(len(line) <= 998 for line in smtp.wire_bytes(settings.mail_from, outgoing).split(b"\r\n"))
