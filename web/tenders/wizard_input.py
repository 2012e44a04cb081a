"""What the wizard's forms send, read and checked once for every step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session
from starlette.datastructures import FormData

from tenderdesk.db.models import (
    Product,
    Request,
    RequestStatus,
)
from web.core import i18n
from web.core.ids import parse_id
from web.tenders.picker import InsurerPicker, request_documents
from web.tenders.start import tender_refusal

MAX_NOTE_CHARS = 2000

#: Stands in for the personal link in the preview; the real one is minted per email.
PREVIEW_LINK = "[persönlicher Link]"

# ------------------------------------------------------------------ what the forms send


@dataclass
class WizardInput:
    insurer_ids: list[int] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)
    #: The documents step was on the form; without it every request document is attached.
    documents_chosen: bool = False
    notes: dict[int, str] = field(default_factory=dict)
    common_note: str = ""
    malformed: bool = False


def _ids(values: Sequence[object], into: list[int]) -> bool:
    """Append the integer values; ``False`` if one was not an ID (a forged form)."""
    ok = True
    for value in values:
        text = value.strip() if isinstance(value, str) else ""
        number = parse_id(text)
        if number is not None:
            if number not in into:
                into.append(number)
        else:
            ok = False
    return ok


def read_wizard(form: FormData) -> WizardInput:
    inp = WizardInput()
    ok = _ids(form.getlist("insurer_id"), inp.insurer_ids)
    ok = _ids(form.getlist("document_id"), inp.document_ids) and ok
    inp.documents_chosen = form.get("documents_chosen") == "1"
    for key, value in form.multi_items():
        if key.startswith("note_") and isinstance(value, str):
            suffix = key.removeprefix("note_")
            insurer_id = parse_id(suffix)
            if insurer_id is not None:
                inp.notes[insurer_id] = value.replace("\r\n", "\n").strip()
            else:
                ok = False
    common = form.get("email_note")
    inp.common_note = common.replace("\r\n", "\n").strip() if isinstance(common, str) else ""
    inp.malformed = not ok
    return inp


def note_for(inp: WizardInput, insurer_id: int) -> str:
    return inp.notes.get(insurer_id, inp.common_note)


def check_input(
    db: Session, request: Request, picker: InsurerPicker, inp: WizardInput, *, new_documents: int = 0
) -> list[str]:
    """Every German reason the wizard's input cannot be used; empty if it can."""
    if inp.malformed:
        return [i18n.t("error.action_id")]
    errors: list[str] = []
    if request.status != RequestStatus.OPEN:
        errors.append(i18n.t("request.not_open"))
    if not inp.insurer_ids:
        errors.append(i18n.t("tenders.none_selected"))
    product = db.get(Product, request.product_id)
    product_name = product.name if product else ""
    choices = picker.by_id
    for insurer_id in inp.insurer_ids:
        choice = choices.get(insurer_id)
        refusal = tender_refusal(
            insurer_id,
            choice.insurer if choice else None,
            choice.contact if choice else None,
            product_name,
            bool(choice and choice.open_status is not None),
        )
        if refusal:
            errors.append(refusal)
        elif len(note_for(inp, insurer_id)) > MAX_NOTE_CHARS:
            name = choice.insurer.name if choice else str(insurer_id)
            errors.append(i18n.t("add_tenders.note.too_long", insurer=name, max=MAX_NOTE_CHARS))
    if len(inp.common_note) > MAX_NOTE_CHARS:
        errors.append(i18n.t("tenders.note_too_long", max=MAX_NOTE_CHARS))
    available = {d.id for d in request_documents(db, request.id, inp.document_ids)} if request.id else set()
    if any(doc_id not in available for doc_id in inp.document_ids):
        errors.append(i18n.t("add_tenders.documents.foreign"))
    elif inp.documents_chosen and available and not inp.document_ids and not new_documents:
        errors.append(i18n.t("add_tenders.documents.none"))
    return errors
