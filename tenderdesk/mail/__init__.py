"""The one mail path: render (:mod:`.render`), record (:mod:`.outbox`), send (:mod:`.smtp`).

Every email is rendered from ``templates/email/`` here, recorded as one System
Email row per key and delivered by the email activity of the worker. Workflows
never import this package (it does IO); the web and the activities do.
"""
