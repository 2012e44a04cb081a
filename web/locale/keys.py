"""Message keys that no ``t("…")`` call spells out, marked for ``pybabel extract``.

The code builds these at run time (``t(f"column.{key}")``, the label
functions) or hands them around as values (``PageError(403, "csrf.failed")``,
a workflow's refusal code). Nothing imports this module: it exists so the
extractor sees every key, and ``pybabel update`` keeps their translations.
A test fails if a key the code uses is missing from the catalogues.
"""

from __future__ import annotations

from web.core.i18n import N_

LABELS = (
    N_("status.queued"), N_("status.sent"), N_("status.in_progress"), N_("status.offered"),
    N_("status.declined"), N_("status.withdrawn"), N_("status.expired"), N_("status.offer_expired"),
    N_("status.closed"),
    N_("email_status.pending"), N_("email_status.retrying"), N_("email_status.sent"), N_("email_status.failed"),
    N_("document_kind.request"), N_("document_kind.offer"), N_("document_kind.attachment"),
    N_("document_kind.cover_note"), N_("document_kind.staged"), N_("document_kind.removed"),
    N_("party.backoffice"), N_("party.broker"), N_("party.insurer"), N_("party.system"),
)

#: Dashboard tabs and columns, tender actions (``t(f"column.{key}")`` and alike).
BUILT = (
    N_("tab.alle"), N_("tab.vermittleraktion"), N_("tab.abgeschlossen"), N_("tab.gesamt"),
    N_("column.id"), N_("column.vermittler"), N_("column.bearbeiter"), N_("column.produkt"),
    N_("column.gewerbe"), N_("column.status"), N_("column.datum"),
    N_("analytics.chart.answer_rate"), N_("analytics.chart.days_to_offer"), N_("analytics.chart.hit_rate"),
    N_("analytics.chart.spread"),
    N_("api.unauthorized"), N_("api.bad_request"), N_("api.unknown_parameter"),
    N_("action.remind_now"), N_("action.mark_in_progress"), N_("action.withdraw"),
    N_("tender_actions.offer.not_possible"), N_("tender_actions.schedule.not_possible"),
    N_("offers.bind.done"), N_("offers.extension.again"), N_("offers.extension.not_possible"),
    N_("offers.extension.sent"), N_("offers.offer.edited_again"), N_("offers.offer.edited_release"),
    N_("offers.offer.edited_visible"), N_("offers.offer.not_editable"), N_("offers.offer.not_found"),
    N_("offers.offer.superseded"), N_("offers.release.none"), N_("offers.release.not_needed"),
    N_("offers.release.all_done"), N_("bulk.assign.none"), N_("bulk.assign.invalid"),
)

#: Error pages and refusals that carry their key (``PageError``, ``LinkProblem``, form checks).
PASSED = (
    N_("csrf.failed"), N_("login.required"), N_("language.unknown"),
    N_("tenders.update_pending"), N_("tender_actions.contact_edit.not_possible"),
    N_("error.forbidden"), N_("error.method"), N_("error.request_not_found"), N_("error.document_not_found"),
    N_("link.invalid"), N_("link.expired"), N_("link.revoked"), N_("link.ended"),
    N_("question.empty"), N_("question.too_long"), N_("offer.file_broken"), N_("offer.file_not_pdf"),
    N_("reset.unknown"), N_("reset.expired"), N_("reset.used"),
    N_("tender.unknown_action"), N_("tenders.refused"),
)

#: A tender workflow's answers and refusals (``ActionResult.code``, ``TransitionError``).
WORKFLOW = (
    N_("workflow.ended"), N_("workflow.not_allowed"), N_("workflow.offer_exists"), N_("workflow.edit_not_allowed"),
    N_("workflow.validity_past"), N_("workflow.reschedule_not_allowed"), N_("workflow.date_past"),
    N_("workflow.reminder_after_deadline"), N_("workflow.request_bound"), N_("email_status.cancelled"),
    N_("workflow.action.open_link"), N_("workflow.action.question"), N_("workflow.action.mark_in_progress"),
    N_("workflow.action.submit_offer"), N_("workflow.action.decline"), N_("workflow.action.withdraw"),
    N_("workflow.action.close"), N_("workflow.action.notify"), N_("workflow.action.remind"),
    N_("why_ended.declined"), N_("why_ended.withdrawn"), N_("why_ended.expired"), N_("why_ended.closed"),
    N_("workflow.done.link_opened"), N_("workflow.done.question_sent"), N_("workflow.done.marked_in_progress"),
    N_("workflow.done.offer_submitted"), N_("workflow.done.offer_edited"), N_("workflow.done.declined"),
    N_("workflow.done.withdrawn"), N_("workflow.done.resent"), N_("workflow.done.reminder_sent"),
    N_("workflow.done.insurer_notified"), N_("workflow.done.rescheduled"), N_("workflow.done.closed"),
)
