"""One settings object for every process (web, worker, CLI).

Values come from the environment and an optional ``.env`` file. Defaults are
the embedded dev stack: SQLite under ``var/``, the Temporal dev server and the
local mail capture on loopback. Point the URLs elsewhere to use an external
Temporal cluster, PostgreSQL or SMTP server.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"


#: Fine on a developer's machine; refused once the app is served over https.
DEFAULT_SECRET_KEY = "dev-only-change-me"


class InsecureSettings(RuntimeError):
    """Settings that must not go live; the message says which and what to do."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = f"sqlite:///{VAR_DIR / 'tenderdesk.db'}"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "tenders"
    workflow_id_prefix: str = "tender"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    #: The reconciler (a Temporal Schedule) runs this often and leaves rows younger
    #: than the grace alone, since their web request may still be starting them.
    reconcile_every_s: float = 60.0
    reconcile_grace_s: float = 30.0
    #: A web request waits this long for a tender update, then answers
    #: "wird verarbeitet" (202); the update still happens, once.
    update_timeout_s: float = 20.0

    #: Threads for the web's plain ``def`` routes. Most of a thread's life is
    #: spent waiting for Temporal without a database connection, so this may be
    #: far above the database pool; it bounds concurrent requests per process.
    web_threads: int = 200
    #: Uploads (offers, questions with files) processed at once per web process.
    #: The rest wait their turn without a thread's database work, so a burst of
    #: insurers cannot take every connection from logins and page loads.
    upload_slots: int = 8

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 30.0
    mail_from: str = "Tenderdesk Backoffice <backoffice@tenderdesk.example>"
    #: Domain of the per-tender reply addresses (``antwort+t12.…@REPLY_DOMAIN``);
    #: its MX points at the inbound SMTP endpoint (``tenderdesk inbound``).
    reply_domain: str = "antwort.tenderdesk.example"
    #: Where ``tenderdesk inbound`` listens for insurers' email replies.
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int = 2525
    #: Largest inbound email accepted (the SMTP SIZE limit), in bytes.
    inbound_max_bytes: int = 25 * 1024 * 1024

    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEFAULT_SECRET_KEY
    storage_dir: Path = VAR_DIR / "documents"
    max_upload_bytes: int = 15 * 1024 * 1024
    session_max_age_s: int = 12 * 3600
    #: The worker's threads for database and file work (activities run their
    #: blocking part there). Matches the database pool (10 + 20 overflow,
    #: ``tenderdesk.db.engine``): more threads would only queue for a connection.
    worker_threads: int = 30
    #: Activities and local activities (projections) one worker runs at once.
    worker_max_activities: int = 50
    worker_max_local_activities: int = 100
    #: Workflows the worker keeps in memory between their tasks; one that is not
    #: cached replays its (short) history on its next task. Measured (B4,
    #: BENCHMARKS.md): 500 → 282–296 MiB worker RSS at 1k–10k open tenders, 100 →
    #: 189–192 MiB, and B1 throughput the same with either (12.3/s vs 11.6/s).
    worker_max_cached_workflows: int = 100
    #: If set, ``/metrics`` wants ``Authorization: Bearer <this>``.
    metrics_token: str = ""
    #: The worker's Temporal SDK metrics (Prometheus), e.g. ``127.0.0.1:9464``; empty: off.
    worker_metrics_address: str = ""
    #: ``json``: one JSON object per log line with request, tender and workflow
    #: IDs (for log shipping); ``text``: the same fields as ``key=value``.
    log_format: str = "json"


def refuse_insecure(settings: Settings) -> None:
    """Refuse to serve the public (an https ``BASE_URL``) with the published
    development secret: anyone could forge CSRF tokens and flash cookies."""
    if settings.base_url.startswith("https://") and settings.secret_key == DEFAULT_SECRET_KEY:
        raise InsecureSettings(
            "SECRET_KEY is the development default while BASE_URL is https. "
            "Set SECRET_KEY to a long random value, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
        )


@lru_cache
def get_settings() -> Settings:
    """Settings are read once per process; tests build their own ``Settings``."""
    return Settings()
