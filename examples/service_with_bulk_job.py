"""A small aiohttp web service that answers users while a bulk job refreshes every order.

One ``ScaledmailClient`` is shared by the whole process, so both share the key's rate limit
(5 requests/s). The handlers' calls run in the ``"interactive"`` lane and are served first; the
background refresh (``map_concurrent`` over ``get_order_details``) runs in the ``"bulk"`` lane
and takes every slot the users leave, so a user never waits behind a queue of 500 refreshes.

Routes::

    GET /organizations         live: the organizations of the key (interactive)
    GET /orders/{order_id}     live: one order's details, as the API's JSON (interactive)
    GET /orders                the last refresh of every order (no API call)
    GET /status                what the bulk job has done so far

Run it against the API (the client reads ``SCALEDMAIL_API_KEY``, ``SCALEDMAIL_ORGANIZATION_ID``
and, when set, ``SCALEDMAIL_BASE_URL``), or against the embedded fake server::

    python examples/service_with_bulk_job.py --port 8000
    python examples/service_with_bulk_job.py --fake --port 8000 --refresh-interval 5
    curl http://127.0.0.1:8000/orders

Ctrl-C (or SIGTERM) stops it: a refresh cut off mid-way reports how far it got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from scaledmail_async import (
    UNSET,
    NotFoundError,
    RequestValidationError,
    ScaledmailClient,
    ScaledmailError,
    map_concurrent,
    priority,
)
from scaledmail_async.bulk import Result, partial_results
from scaledmail_async.models import OrderDetails

CLIENT = web.AppKey("client", ScaledmailClient)
#: The last refresh of each order, by id.
CACHE: web.AppKey[dict[str, OrderDetails]] = web.AppKey("cache")
#: What the bulk job did (answered by GET /status).
STATS: web.AppKey[dict[str, Any]] = web.AppKey("stats")


@contextlib.asynccontextmanager
async def open_client(fake: bool, **options: Any) -> AsyncIterator[ScaledmailClient]:
    """A client for the API (settings from the environment), or for an embedded fake server."""
    if not fake:
        async with ScaledmailClient(**options) as client:
            yield client
        return
    from scaledmail_async.testing import FakeScaledmail  # only needed with --fake

    async with FakeScaledmail() as server:
        print(f"using the embedded fake server at {server.base_url}", flush=True)
        async with ScaledmailClient(
            server.api_key,
            base_url=server.base_url,
            organization_id=server.organization_id,
            **options,
        ) as client:
            yield client


# -- the handlers: users' requests, served first -------------------------------------------------


async def organizations(request: web.Request) -> web.Response:
    orgs = await request.app[CLIENT].get_organizations()
    return web.json_response(orgs.to_dict())  # the API's own JSON (wire names)


async def order_details(request: web.Request) -> web.Response:
    try:
        details = await request.app[CLIENT].get_order_details(request.match_info["order_id"])
    except NotFoundError:
        return web.json_response({"error": "no such order"}, status=404)
    except RequestValidationError as exc:  # a malformed id: nothing was sent
        return web.json_response({"error": exc.message}, status=400)
    return web.json_response(details.to_dict())


async def cached_orders(request: web.Request) -> web.Response:
    rows = []
    for order_id, details in request.app[CACHE].items():
        domains = [d for p in details.packages or [] for d in p.domains or []]
        rows.append(
            {
                "id": order_id,
                "status": None if details.status is UNSET else str(details.status),
                "tag": details.tag or None,
                "domains": len(domains),
            }
        )
    return web.json_response({"orders": rows, "refresh": request.app[STATS]})


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS])


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer an SDK error that a handler let through (a timeout, a 5xx...) as a 502."""
    try:
        return await handler(request)
    except ScaledmailError as exc:
        return web.json_response({"error": str(exc)}, status=502)


# -- the bulk job: refreshes every order in the background, in the bulk lane ---------------------


async def refresh_forever(app: web.Application, interval: float) -> None:
    client, cache, stats = app[CLIENT], app[CACHE], app[STATS]
    while True:
        started = time.monotonic()
        try:
            with priority("bulk"):  # the listing too waits behind the users' calls
                orders = await client.get_orders()
            ids = [p.id for p in orders.payments]

            def keep(result: Result[str, OrderDetails]) -> None:  # as each order finishes
                if result.value is not None:
                    cache[result.item] = result.value

            results = await map_concurrent(
                client.get_order_details, ids, concurrency=4, on_result=keep, priority="bulk"
            )
        except asyncio.CancelledError as exc:
            done = partial_results(exc) or []
            print(f"refresh stopped: {len(done)} order(s) refreshed before the stop", flush=True)
            raise
        except ScaledmailError as exc:  # the service keeps running; the next refresh retries
            stats["errors"] += 1
            print(f"refresh failed: {exc}", flush=True)
        else:
            failed = sum(1 for r in results if r.error is not None)
            stats["refreshes"] += 1
            stats["last_refresh_seconds"] = round(time.monotonic() - started, 3)
            stats["orders"] = len(ids)
            stats["errors"] += failed
            print(
                f"refresh {stats['refreshes']}: {len(ids) - failed}/{len(ids)} orders "
                f"in {stats['last_refresh_seconds']:.1f} s",
                flush=True,
            )
        await asyncio.sleep(interval)


def make_app(client: ScaledmailClient, refresh_interval: float) -> web.Application:
    app = web.Application(middlewares=[errors_as_json])
    app[CLIENT] = client
    app[CACHE] = {}
    app[STATS] = {"refreshes": 0, "orders": 0, "errors": 0, "last_refresh_seconds": None}
    app.router.add_get("/organizations", organizations)
    app.router.add_get("/orders", cached_orders)
    app.router.add_get("/orders/{order_id}", order_details)
    app.router.add_get("/status", status)

    async def bulk_job(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(refresh_forever(app, refresh_interval))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(bulk_job)
    return app


async def serve(args: argparse.Namespace) -> None:
    # priority="interactive" is the default lane of this client's calls: the handlers' calls.
    async with open_client(args.fake, priority="interactive") as client:
        runner = web.AppRunner(make_app(client, args.refresh_interval))
        await runner.setup()
        try:
            site = web.TCPSite(runner, args.host, args.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            print(f"listening on http://{host}:{port}", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still works
                    loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            print("stopping", flush=True)
        finally:
            await runner.cleanup()  # stops the bulk job (cleanup_ctx) before the client closes
    print("stopped", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fake", action="store_true", help="run against an embedded fake server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port")
    parser.add_argument(
        "--refresh-interval", type=float, default=60.0, help="seconds between two refreshes"
    )
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    except ScaledmailError as exc:  # e.g. no API key
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
