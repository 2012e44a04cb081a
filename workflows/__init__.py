"""Temporal workflows. Only leaf constants live here."""

from temporalio.common import SearchAttributeKey

REQUEST_ID = SearchAttributeKey.for_keyword("RequestId")
INSURER_ID = SearchAttributeKey.for_keyword("InsurerId")
TENDER_STATUS = SearchAttributeKey.for_keyword("TenderStatus")

#: Every custom search attribute the tender workflow uses; the dev server and
#: test servers register exactly these at start.
SEARCH_ATTRIBUTES = (REQUEST_ID, INSURER_ID, TENDER_STATUS)
