"""One worker process of the multi-process Redis limiter tests (and benchmark).

Run as ``python tests/redis_worker.py '<json config>'``: makes ``calls`` requests of ``operation``
with a ``ScaledmailClient`` whose limiter is a ``RedisRateLimiter`` at ``redis_url`` (or, with
``"env": true``, the one ``SCALEDMAIL_REDIS_URL`` configures), ``concurrency`` at a time, and
prints one JSON line: ``{"ok", "errors", "retries", "limiter_wait", "sent"}``. ``sent`` holds the
wall-clock time each call's request was granted.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from scaledmail_async import RedisRateLimiter, ScaledmailClient


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    limiter = None
    if not cfg.get("env"):
        limiter = RedisRateLimiter.from_url(cfg["redis_url"], **cfg.get("options", {}))
    result: dict[str, Any] = {"ok": 0, "errors": [], "retries": 0, "limiter_wait": [], "sent": []}
    sem = asyncio.Semaphore(cfg.get("concurrency", 4))
    async with ScaledmailClient(
        cfg["api_key"],
        base_url=cfg["base_url"],
        organization_id=cfg["organization_id"],
        rate_limit=cfg.get("rate", 5.0),
        critical_rate_limit=cfg.get("critical", 15),
        limiter=limiter,
        max_retries=cfg.get("max_retries", 3),
    ) as client:

        async def one(i: int) -> None:
            async with sem:
                try:
                    if cfg.get("operation", "get_orders") == "search_domains":
                        raw: Any = await client.with_raw_response.search_domains(
                            body={"domains": [f"w{i}-{time.time_ns()}.com"]}
                        )
                    else:
                        raw = await client.with_raw_response.get_orders()
                    result["ok"] += 1
                    result["retries"] += raw.retries_taken
                    result["limiter_wait"].append(raw.limiter_wait)
                    result["sent"].append(time.time())
                except Exception as exc:
                    result["errors"].append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(one(i) for i in range(cfg["calls"])))
    if limiter is not None:
        await limiter.aclose()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
