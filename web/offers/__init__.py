"""Offers: the offer form, release (Freigabe), comparison and binding (Abschluss)."""

from web.offers.forms import (
    MAX_NOTES_CHARS,
    OfferPdf,
    OfferRefused,
    check_offer_form,
    read_offer_form,
    read_offer_request,
    stage_offer_pdf,
    submit_uploaded_offer,
)
from web.offers.release import auto_release_quietly, insurer_may_edit, release_offers
from web.offers.terms import terms_values

__all__ = [
    "MAX_NOTES_CHARS", "OfferPdf", "OfferRefused", "auto_release_quietly", "check_offer_form",
    "insurer_may_edit", "read_offer_form", "read_offer_request", "release_offers", "stage_offer_pdf",
    "submit_uploaded_offer", "terms_values",
]
