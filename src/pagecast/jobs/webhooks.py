"""Signed webhook deliveries with retries; each outcome is recorded on the job.

Signature: header ``Pagecast-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the HMAC
key is ``PAGECAST_WEBHOOK_SECRET`` and the message is ``f"{t}.{raw body}"``. A receiver
recomputes it over the raw bytes it received, compares in constant time and rejects old
timestamps (replays); see ``verify``. The same scheme as Stripe's, so tooling exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import httpx

from pagecast.jobs.store import JobStore, now_iso, public

log = logging.getLogger(__name__)
ATTEMPTS = 5
HEADER = "Pagecast-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: str, header: str, body: bytes, *, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    try:
        parts = dict(item.strip().split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"].encode("ascii")  # compare_digest raises on non-ASCII str
    except (KeyError, ValueError):  # UnicodeEncodeError is a ValueError
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1].encode()
    return hmac.compare_digest(expected, received)


class WebhookSender:
    def __init__(self, store: JobStore, *, secret: str = "", backoff_s: float = 1.0) -> None:
        self.store = store
        self.secret = secret
        self.backoff_s = backoff_s
        self._client = httpx.AsyncClient(timeout=10)
        self._tasks: set[asyncio.Task[None]] = set()
        # Recording an outcome is read-append-write on the job: without this, two deliveries of
        # one job (progress and completed) finishing together lost one outcome.
        self._record_lock = asyncio.Lock()

    def send(self, record: dict[str, Any], event: str) -> None:
        """Deliver in the background: a slow receiver never holds a render slot."""
        webhook = record.get("webhook")
        if not webhook or event not in webhook.get("events", []):
            return
        task = asyncio.create_task(self._deliver(webhook, record, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, webhook: dict[str, Any], record: dict[str, Any], event: str) -> None:
        body = json.dumps({"event": event, "job": public(record)}, separators=(",", ":")).encode()
        outcome: dict[str, Any] = {"event": event, "url": webhook["url"]}
        for attempt in range(1, ATTEMPTS + 1):
            headers = {
                **webhook.get("headers", {}),
                "Content-Type": "application/json",
                HEADER: sign(self.secret, int(time.time()), body),
            }
            try:
                response = await self._client.post(webhook["url"], content=body, headers=headers)
                outcome.update(status=response.status_code, error=None)
                if response.is_success:
                    break
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # InvalidURL is no HTTPError
                outcome.update(status=None, error=str(exc) or type(exc).__name__)
            if attempt < ATTEMPTS:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        outcome.update(
            attempts=attempt,
            delivered=outcome.get("status") is not None and 200 <= outcome["status"] < 300,
            at=now_iso(),
        )
        log.info("webhook %s for job %s: %s", event, record["id"], outcome)
        async with self._record_lock:
            current = await self.store.get(record["id"])
            if current is not None:
                deliveries = [*(current.get("webhookDeliveries") or []), outcome]
                await self.store.update(record["id"], webhookDeliveries=deliveries)

    async def flush(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the deliveries under way (their retries included)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    async def close(self) -> None:
        await self.flush(5)
        # Deliveries still retrying would otherwise die on the closed client with an error
        # nobody sees; cancel them plainly instead.
        late = set(self._tasks)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        await self._client.aclose()
