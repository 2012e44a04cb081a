"""The developer's tools: the CLI, the embedded dev stack and the mail capture."""
