"""Temporal workflows. Only leaf constants live here."""

from temporalio.common import SearchAttributeKey

REQUEST_ID = SearchAttributeKey.for_keyword("RequestId")
INSURER_ID = SearchAttributeKey.for_keyword("InsurerId")
TENDER_STATUS = SearchAttributeKey.for_keyword("TenderStatus")
#: The number people see ("MA-2026-00003"), so ops can search the Temporal UI by it.
REQUEST_NUMBER = SearchAttributeKey.for_keyword("RequestNumber")
#: How a tender closed: "won" (Beauftragt) or "lost" (nicht zum Zuge gekommen).
TENDER_OUTCOME = SearchAttributeKey.for_keyword("TenderOutcome")
#: The UTC day ("2026-12-04") an email of the tender last failed for good, so ops
#: can list "all failed deliveries today".
DELIVERY_FAILED_ON = SearchAttributeKey.for_keyword("DeliveryFailedOn")

#: Every custom search attribute the tender workflow uses; the dev server and
#: test servers register exactly these at start.
SEARCH_ATTRIBUTES = (REQUEST_ID, INSURER_ID, TENDER_STATUS, REQUEST_NUMBER, TENDER_OUTCOME, DELIVERY_FAILED_ON)
