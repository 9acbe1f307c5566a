"""One worker process of the purchase-journal tests: a provisioning job's spend.

``python tests/journal_worker.py '<json>'``: makes ``pre_calls`` reads (to fill the limiter's
window), then one ``create_custom_order`` with ``tag`` (``null``: let the SDK mint one) for
``domain``, through ``SQLitePurchaseJournal(journal)``; prints one JSON line: ``{"result":
"applied" | "duplicate" | "outcome_unknown" | "error", ...}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from scaledmail_async import (
    DuplicatePurchaseError,
    OutcomeUnknownError,
    ScaledmailClient,
    SQLitePurchaseJournal,
)
from scaledmail_async.models import CreateCustomOrderBody


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    journal = SQLitePurchaseJournal(cfg["journal"])
    body: CreateCustomOrderBody = {
        "providers": {
            "google": {
                "domains": [{"domain": cfg["domain"], "first_name": "Ada", "last_name": "Ng"}]
            }
        }
    }
    if cfg.get("tag") is not None:
        body["tag"] = cfg["tag"]
    async with ScaledmailClient(
        cfg["api_key"],
        base_url=cfg["base_url"],
        organization_id=cfg["organization_id"],
        journal=journal,
        rate_limit=cfg.get("rate", 50.0),
        max_retries=0,
    ) as client:
        for _ in range(cfg.get("pre_calls", 0)):
            await client.get_orders()
        print(json.dumps({"stage": "spending"}), flush=True)
        try:
            answer = await client.create_custom_order(provider="buy", body=body)
        except DuplicatePurchaseError as exc:
            return {"result": "duplicate", "entry": exc.entry.id}
        except OutcomeUnknownError as exc:
            return {"result": "outcome_unknown", "error": str(exc)}
        except Exception as exc:
            return {"result": "error", "error": f"{type(exc).__name__}: {exc}"}
        return {"result": "applied", "order_id": answer.id}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))), flush=True)
