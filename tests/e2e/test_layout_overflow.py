"""The main pages at 1280 and 1920 px in real Chromium: a screenshot of each,
and no text that overflows its box, no word broken in the middle (status
badges and names may wrap between words, never inside one), no page wider
than the window. (The walk-through found "Ausgeschrieb|en" and an
email address sticking out of the "Ihr Kontakt" card.)

The data is the product's own demo: the seed plus the expired-offer showcase
(tenders, offers, releases), so every section of a request page has rows."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page

from tenderdesk.db.models import utcnow
from tenderdesk.demo.history import seed_history
from web.demo import expired_offer_showcase

from .conftest import BACKOFFICE, BROKER, Live, log_in

WIDTHS = (1280, 1920)

#: Text elements whose content is wider than their box, words broken inside,
#: and the page's own horizontal overflow. Scroll containers (the tables' wrappers)
#: and deliberate ellipses are allowed to hold more than they show.
FIND_OVERFLOW = r"""
() => {
  const found = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) found.push(`page ${root.scrollWidth}px > ${window.innerWidth}px`);
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden' || cs.display.startsWith('inline')) continue;
    const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!text || el.clientWidth === 0 || cs.textOverflow === 'ellipsis' || el.closest('.visually-hidden')) continue;
    if (['auto', 'scroll'].includes(cs.overflowX) || clipped(el)) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      found.push(`${el.tagName.toLowerCase()}.${el.className}: "${el.textContent.trim().slice(0, 60)}" ` +
                 `${el.scrollWidth}px in ${el.clientWidth}px`);
    }
  }
  // A word broken over two lines ("Ausgeschrieb|en"): its characters sit on two
  // line boxes. Long tokens (addresses, links) may break; words may not.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const host = node.parentElement;
    if (!host || host.closest('.visually-hidden, script, style, textarea, option')) continue;
    if (!host.getClientRects().length) continue;
    for (const match of node.textContent.matchAll(/[\p{L}\p{N}][\p{L}\p{N}.-]{2,29}/gu)) {
      // A soft hyphen (&shy;) is a break the page offers on purpose.
      const end = match.index + match[0].length;
      if (node.textContent[match.index - 1] === '\u00ad' || node.textContent[end] === '\u00ad') continue;
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = [...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top));
      if (new Set(tops).size > 1 && !match[0].includes('-')) {
        found.push(`word broken: "${match[0]}" in ${host.tagName.toLowerCase()}.${host.className}`);
      }
    }
  }
  return found;
}
"""


async def _check(page: Page, url: str, name: str, shots: Path) -> list[str]:
    problems = []
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 1000})
        await page.goto(url)
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=shots / f"{name}-{width}.png", full_page=True)
        problems += [f"{name} @{width}px: {p}" for p in await page.evaluate(FIND_OVERFLOW)]
    return problems


async def test_main_pages_fit_at_1280_and_1920(live_server: Live, browser: Browser, tmp_path: Path) -> None:
    live = live_server
    number = await expired_offer_showcase(live.run.settings, live.run.client, live.run.engine)
    assert number is not None
    # A year of finished tenders, so the Auswertung shows its charts and tables.
    seed_history(live.run.engine, requests=12, now=utcnow())
    from sqlmodel import Session, select

    from tenderdesk.db.models import Request, Tender
    with Session(live.run.engine) as s:
        request = s.exec(select(Request).where(Request.number == number)).one()
        tender = s.exec(select(Tender).where(Tender.request_id == request.id)).first()
    assert tender is not None
    link = live.links_to(tender.contact_email)[-1]
    shots = tmp_path / "screens"
    shots.mkdir()
    problems: list[str] = []

    context = await browser.new_context(locale="de-DE")
    try:
        page = await context.new_page()
        await log_in(page, live, BACKOFFICE)
        for name, path in (("dashboard", "/"), ("archiv", "/?tab=gesamt"), ("nachrichten", "/?tab=nachrichten"),
                           ("anfrage", f"/requests/{request.id}"),
                           ("wizard", f"/requests/{request.id}/tenders/new"), ("hilfe", "/help"),
                           ("auswertung", "/auswertung"), ("api-schluessel", "/api-schluessel")):
            problems += await _check(page, f"{live.base_url}{path}", name, shots)
        broker = await context.new_page()
        await broker.context.clear_cookies()
        await log_in(broker, live, BROKER)
        for name, path in (("vermittler-dashboard", "/"), ("vermittler-anfrage", f"/requests/{request.id}")):
            problems += await _check(broker, f"{live.base_url}{path}", name, shots)
        await broker.context.clear_cookies()
        problems += await _check(broker, link, "gesellschaft", shots)
        problems += await _check(broker, f"{live.base_url}/login", "login", shots)
    finally:
        await context.close()
    assert len(list(shots.glob("*.png"))) == 2 * 12
    assert not problems, "\n".join(problems)
