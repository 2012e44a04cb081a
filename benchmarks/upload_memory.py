"""Benchmark: web process memory while an insurer uploads an offer PDF.

Serves the real app (uvicorn, separate process) on a temporary SQLite file,
with one tender and its link written directly (Temporal is not needed: the
upload is staged and checked before the workflow is asked, which here fails
fast with 503). Posts a valid PDF of ``--mib`` MiB, one of the same size whose
cross-reference table is wrong, and an oversized body of 4 x MAX_UPLOAD_BYTES,
samples the process's RSS from /proc every 5 ms, and prints the peak rise in
MiB and as a ratio of the file size. A 1 MiB upload first warms the process up
(imports, threads), so the figures are the upload's own.

    .venv/bin/python -m benchmarks.upload_memory [--mib 14]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
from fpdf import FPDF

from benchmarks.offer_burst import hidden_fields, web_env, web_process
from benchmarks.stack import free_port
from tenderdesk.db.engine import make_engine, migrate, session_scope
from tenderdesk.db.models import Tender, TenderLink, utcnow
from tenderdesk.security.tokens import hash_token, new_token
from tenderdesk.states import TenderStatus


def rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


def big_pdf(mib: float) -> bytes:
    """A well-formed PDF of about ``mib`` MiB: one page and an embedded,
    incompressible attachment (as a scanned offer with its conditions would
    be), with a correct cross-reference table."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Angebot")
    pdf.embed_file(bytes=os.urandom(int(mib * 1024 * 1024)), basename="bedingungen.bin", compress=False)
    return bytes(pdf.output())


def broken_xref_pdf(mib: float) -> bytes:
    """The same size, padded with a comment that shifts every object, so the
    cross-reference table is wrong and pypdf (non-strict, as for real-world
    files) rebuilds it by reading the whole file."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Angebot")
    body = bytes(pdf.output())
    padding = b"%" + b"0" * max(0, int(mib * 1024 * 1024) - len(body) - 2) + b"\n"
    head, tail = body.split(b"\n", 1)
    return head + b"\n" + padding + tail


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.005)


def measure(pid: int, post: object) -> tuple[float, int]:
    base = rss_mib(pid)
    sampler = Sampler(pid)
    sampler.start()
    status = post()  # type: ignore[operator]
    time.sleep(0.2)
    sampler.running = False
    sampler.join()
    return sampler.peak - base, status


def main(mib: float) -> None:
    from tests.factories import make_world

    tmp = Path(tempfile.mkdtemp(prefix="td-upload-"))
    url = f"sqlite:///{tmp / 'upload.db'}"
    migrate(url)
    engine = make_engine(url)
    world = make_world(engine, insurers=1, tag="upload")
    token = new_token()
    with session_scope(engine) as s:
        tender = Tender(request_id=world.request_id, insurer_id=world.insurer_ids[0], contact_email="a@b.example",
                        workflow_id="upload-bench", status=TenderStatus.SENT, sent_at=utcnow())
        s.add(tender)
        s.flush()
        s.add(TenderLink(tender_id=tender.id, token_hash=hash_token(token),  # type: ignore[arg-type]
                         expires_at=utcnow() + timedelta(days=1)))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = web_env(database_url=url, temporal_address=f"127.0.0.1:{free_port()}", task_queue="tenders",
                  id_prefix="tender", smtp_port=free_port(), storage_dir=tmp / "docs", base_url=base,
                  secret_key="benchmark-secret-key-0123456789")
    pdf = big_pdf(mib)
    with web_process(port, env, tmp / "web.log") as proc, httpx.Client(base_url=base, timeout=120) as client:
        client.get("/login")

        def post(content: bytes) -> int:
            fields = hidden_fields(client.get(f"/t/{token}").text, "/offer", mode="new")
            return client.post(f"/t/{token}/offer", data={**fields, "premium": "1.000,00", "valid_until": "31.12.2099"},
                               files={"file": ("angebot.pdf", content, "application/pdf")}).status_code

        # Warm-up: the first upload imports pypdf, renders the form and starts
        # the threads (and their malloc arenas) every later upload reuses; that
        # is a one-off cost of the process, not of the file.
        post(big_pdf(1))
        cases = (("valid PDF", pdf), ("PDF with a wrong xref table", broken_xref_pdf(mib)),
                 ("oversized body", b"%PDF-1.4\n" + b"0" * (60 * 1024 * 1024)))
        for label, content in cases:
            rise, status = measure(proc.pid, lambda c=content: post(c))
            size = len(content) / 1024 / 1024
            print(f"{label}: {size:.1f} MiB -> HTTP {status}, web RSS rise {rise:.1f} MiB "
                  f"({rise / size:.2f}x the file)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--mib", type=float, default=14.0)
    main(parser.parse_args().mib)
