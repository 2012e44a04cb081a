from datetime import timedelta
from ..conftest import Running, SmtpServer
from ..factories import make_world
from ..workflows.helpers import row, snapshot, start
from .test_email import poll, tender_emails

async def test_exhausted(ts: Running, smtp_server: SmtpServer) -> None:
    smtp_server.capture.script(*["451 4.3.0 Try again later"] * 61)
    world = make_world(ts.engine)
    [tender] = await start(ts, world)
    await poll(lambda: len(tender_emails(ts.engine)) == 1)
    for _ in range(40):
        await ts.env.sleep(timedelta(hours=1))
    async def failed() -> bool:
        return (await snapshot(ts, tender)).delivery_failed
    await poll(failed)
    print(tender_emails(ts.engine), row(ts, tender).status, row(ts, tender).delivery_failed)
    assert False
