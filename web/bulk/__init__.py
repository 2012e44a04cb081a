"""Bulk work ("Sammelaktionen"): remind every overdue tender, withdraw every open
tender of a request, assign several requests. Each is one confirmation, runs
through the same workflow updates as the single actions, reports per item what
happened, and a repeated click changes nothing. Which tenders they touch is
``web.tenders.overdue_tenders`` / ``open_tenders``."""
