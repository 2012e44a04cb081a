"""Email replies of insurers: the inbound SMTP endpoint that puts them into their tender's thread."""
