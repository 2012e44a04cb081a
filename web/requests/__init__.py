"""The request page ("Anfrage"): overview, assignee, tenders, emails, documents."""
