"""Defect 13 of issue 8: after a hard bounce the backoffice corrects the
tender's contact address (and, if it wants, the insurer's), and sends again.

Real Temporal dev server, worker and loopback SMTP that answers 550 at RCPT for
the first delivery, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tenderdesk.db.models import AuditEvent, EmailStatus, InsurerContact, SystemEmail, Tender
from tenderdesk.states import TenderStatus

from ..conftest import Running, SmtpServer, eventually
from ..workflows.helpers import start
from .test_messages_ui import mails_to, one_form, open_portal, rows

NEW_ADDRESS = "angebote@richtig-versichert.example"


def _tender(run: Running, tender_id: int | None) -> Tender:
    with Session(run.engine) as s:
        row = s.get(Tender, tender_id)
        assert row is not None
        return row


def _failed_tender_email(run: Running, tender_id: int | None) -> SystemEmail | None:
    with Session(run.engine) as s:
        return s.exec(select(SystemEmail).where(SystemEmail.tender_id == tender_id)
                      .where(col(SystemEmail.status) == EmailStatus.FAILED)).first()


async def test_a_bounced_address_is_corrected_and_the_tender_sent_again(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        smtp_server.capture.script_rcpt("550 5.1.1 user unknown")
        [tender] = await start(dev, portal.cast.world, 1)
        failed = await eventually(lambda: _failed_tender_email(dev, tender.id), timeout=20)
        assert "550" in (failed.last_reply or failed.delivery_error or "")
        assert _tender(dev, tender.id).status == TenderStatus.QUEUED
        staff, _ = await portal.as_user(portal.cast.backoffice)
        url = f"/requests/{portal.request_id}/tenders/{tender.id}/contact"

        bad = one_form((await staff.get(url)).text, "/contact")
        refused = await staff.post(url, data={**bad.fields, "email": "kein-at-zeichen", "resend": "1"})
        assert refused.status_code == 422 and "keine gültige E-Mail-Adresse" in refused.text
        assert _tender(dev, tender.id).contact_email == tender.contact_email  # nothing changed

        form = one_form((await staff.get(url)).text, "/contact")
        data = {**form.fields, "email": f"  {NEW_ADDRESS} ", "also_insurer": "1", "resend": "1"}
        done = await staff.post(url, data=data)
        again = await staff.post(url, data=data)  # the same form twice: recorded once

        assert done.status_code == 303 and again.status_code == 303
        [mail] = await mails_to(smtp_server, NEW_ADDRESS, 1)
        assert "/t/" in str(mail.get_body(preferencelist=("plain",)))
        await eventually(lambda: _tender(dev, tender.id).status == TenderStatus.SENT or None, timeout=20)
        assert _tender(dev, tender.id).contact_email == NEW_ADDRESS
        with Session(dev.engine) as s:
            contact = s.exec(select(InsurerContact).where(InsurerContact.insurer_id == tender.insurer_id)).one()
            assert contact.email == NEW_ADDRESS
        [event] = rows(dev.engine, AuditEvent, col(AuditEvent.kind) == "contact_changed")
        assert event.detail == f"{tender.contact_email} → {NEW_ADDRESS}"
        page = await staff.get(f"/requests/{portal.request_id}")
        assert "Kontaktadresse geändert" in page.text
        assert len(smtp_server.capture.to(NEW_ADDRESS)) == 1


async def test_an_ended_tender_keeps_its_address(dev: Running, smtp_server: SmtpServer) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender] = await portal.tenders(1)
        staff, csrf = await portal.as_user(portal.cast.backoffice)
        form = one_form((await staff.get(f"/requests/{portal.request_id}")).text, "/actions/withdraw")
        assert (await staff.post(form.action, data=form.fields)).status_code == 303
        await eventually(lambda: _tender(dev, tender.id).status == TenderStatus.WITHDRAWN or None)

        url = f"/requests/{portal.request_id}/tenders/{tender.id}/contact"
        shown = await staff.get(url)
        posted = await staff.post(url, data={"csrf_token": csrf, "action_id": "a" * 32, "email": NEW_ADDRESS})

        assert shown.status_code == 409 and posted.status_code == 409
        assert _tender(dev, tender.id).contact_email == tender.contact_email
