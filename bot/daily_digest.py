"""Post the daily digest once per day, however many workers run."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.digest import build_digest, digest_chart, digest_text
from bot.errors import SlackError
from bot.store import Store

log = logging.getLogger(__name__)


def post_daily_digest(store: Store, gateway, *, channel: str, timezone: str, now: float) -> bool:
    """Post the digest of the last 24 hours in `channel`; return False when today's was already posted."""
    day = datetime.fromtimestamp(now, tz=ZoneInfo(timezone)).strftime("%Y-%m-%d")
    if not store.claim_once(f"digest:{day}", ttl=2 * 86400):
        log.info("digest for %s was already posted by another worker", day)
        return False

    digest = build_digest(store, end=now)
    text = digest_text(digest)
    try:
        posted_channel, ts = gateway.post(channel, {"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]})
        gateway.upload_file(posted_channel, thread_ts=ts, filename=f"digest-{day}.png", content=digest_chart(digest),
                            title=f"Incidents per hour, {day}", alt_text="Bar chart of incidents per hour")
    except SlackError as error:
        # Release the claim so the next run (or another worker) posts it.
        store.redis.delete(store.key("once", f"digest:{day}"))
        log.error("digest for %s not posted in %s: %s", day, channel, error)
        return False
    log.info("digest for %s posted in %s", day, channel)
    return True
