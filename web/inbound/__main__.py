"""``python -m web.inbound``: the inbound SMTP endpoint as a process of its own
(``make run`` starts it beside the mail capture; in production the MX of
``REPLY_DOMAIN`` points at it)."""

from __future__ import annotations

import asyncio
import signal

from tenderdesk.config import get_settings
from tenderdesk.db.engine import get_engine
from tenderdesk.logs import configure_logging
from tenderdesk.temporal_client import connect
from web.inbound.server import serve


async def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    client = await connect(settings)
    server = await serve(get_engine(settings.database_url), settings, client,
                         host=settings.inbound_smtp_host, port=settings.inbound_smtp_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
