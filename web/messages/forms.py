"""Reading a message form under the upload limit, with the session's CSRF check."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request as HttpRequest

from tenderdesk.config import Settings
from web.core import csrf, i18n
from web.core.uploads import UploadIncomplete, UploadTooLarge, body_limit, read_limited_form
from web.messages.common import (
    Attachment,
    _mb,
)

#: Form fields of the write form besides the file (csrf, action id, thread, body).
MAX_FIELDS = 8

# ---------------------------------------------------------------- form reading


class FormProblem(Exception):
    """The write form could not be taken as it is; ``str(err)`` is German."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(text)
        self.status_code = status_code


@dataclass
class MessageInput:
    csrf_token: str
    action_id: str
    thread: str
    body: str
    attachment: Attachment | None
    #: The file could not be taken (too large); the text fields are still here to show again.
    problem: FormProblem | None = None


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def read_message_form(http: HttpRequest, settings: Settings) -> MessageInput:
    """Parse a message form (text and at most one file) under the upload limit.

    The body is cut off while it streams at the upload limit plus room for the
    text fields (nothing larger reaches memory or disk); the file itself may
    then have at most ``max_upload_bytes``. Raises :class:`FormProblem` if the form
    could not be read at all; a file that is too large is reported in
    :attr:`MessageInput.problem`, with the text fields kept."""
    too_large = i18n.t("messages.file.too_large", max_mb=_mb(settings.max_upload_bytes))
    try:
        form = await read_limited_form(http, body_limit(settings), max_fields=MAX_FIELDS, max_files=1)
    except UploadTooLarge:
        raise FormProblem(413, too_large) from None
    except UploadIncomplete:
        raise FormProblem(400, i18n.t("messages.form.incomplete")) from None
    try:
        result = MessageInput(
            csrf_token=_text(form, csrf.FIELD),
            action_id=_text(form, "action_id"),
            thread=_text(form, "thread"),
            body=_text(form, "body"),
            attachment=None,
        )
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(settings.max_upload_bytes + 1)
            if len(data) > settings.max_upload_bytes:
                result.problem = FormProblem(413, too_large)
            else:
                result.attachment = (upload.filename, data, upload.content_type or "")
        return result
    finally:
        await form.close()
