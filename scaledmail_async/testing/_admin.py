"""The fake's own admin routes, under ``/_fake``: what a test in another process (or language)
needs to steer a running fake (``scaledmail fake-server``) without a runner of its own.

``GET /_fake/state``
    seed, organizations, rate limits, queued and random faults, request counters (never a key).
``GET /_fake/faults`` / ``POST /_fake/faults`` / ``DELETE /_fake/faults``
    the queued and random faults, with the injections so far; ``POST`` adds faults (a JSON
    object, the text form as a JSON string, or a list of them: :mod:`._fault_spec`), all or
    none; ``DELETE`` drops every queued and random fault (the log is kept).
``GET /_fake/rate-limits`` / ``POST /_fake/rate-limits``
    the limits; ``POST`` changes them like ``fake.configure_rate_limits`` (``rate_limit`` and
    ``critical_limit`` also take the ``"2/s"`` text form, ``"off"`` or ``null``), all or none.

These routes are not part of the Scaledmail API: they take no key, are not counted in
``fake.requests`` and are not rate limited or faulted. Bad input answers 400 ``{"error": ...}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from scaledmail_async.testing._fault_spec import FaultSpec, fault_spec_from_json
from scaledmail_async.testing._faults import Fault, RandomFaults
from scaledmail_async.testing._ratelimit import RateLimitRule, parse_rate_limit

if TYPE_CHECKING:
    from scaledmail_async.testing._app import FakeScaledmail

__all__ = ["ADMIN_PREFIX", "add_admin_routes"]

ADMIN_PREFIX: Final = "/_fake"


def _plain(value: Any) -> Any:
    """``value`` as strict JSON can carry it (``inf`` seconds as ``"inf"``, bytes as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(_plain(data), status=status, dumps=json.dumps)


def _bad(message: str) -> web.Response:
    return _json({"error": message}, status=400)


def _ops(operations: frozenset[str] | None) -> list[str] | None:
    return sorted(operations) if operations is not None else None


def _fault(fault: Fault) -> dict[str, Any]:
    return {
        "kind": fault.kind,
        "operation": _ops(fault.operations),
        "count": fault.count,
        "remaining": fault.remaining,
        "params": fault.params,
        "hits": len(fault.hits),
    }


def _random(source: RandomFaults) -> dict[str, Any]:
    return {
        "rate": source.rate,
        "operation": _ops(source.operations),
        "choices": [{"kind": kind, "params": params} for kind, params in source.choices],
        "drawn": source.drawn,
    }


def _rule(rule: RateLimitRule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {"limit": rule.limit, "window": rule.window, "label": rule.label}


def _rate_limits(fake: FakeScaledmail) -> dict[str, Any]:
    limiter = fake.limiter
    return {
        "enabled": limiter.enabled,
        "algorithm": limiter.algorithm,
        "burst": limiter.burst,
        "global": _rule(limiter.global_rule),
        "critical": _rule(limiter.critical_rule),
        "retry_after_header": fake.options.retry_after_header,
    }


def _faults(fake: FakeScaledmail) -> dict[str, Any]:
    return {
        "pending": [_fault(f) for f in fake.faults.pending],
        "random": [_random(s) for s in fake.faults.random_sources],
        "injected": [
            {
                "kind": hit.kind,
                "operation": hit.operation_id,
                "request_index": hit.request_index,
                "applied": hit.applied,
            }
            for hit in fake.faults.injected
        ],
    }


def _state(fake: FakeScaledmail) -> dict[str, Any]:
    opts = fake.options
    return {
        "base_url": fake.base_url,
        "seed": opts.seed,
        "organizations": [{"id": o.id, "name": o.name} for o in fake.state.organizations],
        "api_keys": len(opts.api_keys),
        "rate_limits": _rate_limits(fake),
        "faults": _faults(fake),
        "lifecycle": {
            "activate_after_polls": opts.activate_after_polls,
            "activate_after_seconds": opts.activate_after_seconds,
            "visibility_delay": opts.visibility_delay,
            "clock_skew": opts.clock_skew,
        },
        "stats": fake.stats(),
    }


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise ValueError("the request needs a JSON body")
    try:
        return json.loads(raw)
    except ValueError:
        raise ValueError("the body is not valid JSON") from None


def _limit_change(name: str, value: Any, window_name: str, default_window: float) -> dict[str, Any]:
    """A ``rate_limit`` / ``critical_limit`` change; the text form also sets its window."""
    if isinstance(value, str):
        parsed = parse_rate_limit(value, default_window=default_window)
        if parsed is None:
            return {name: None}
        return {name: parsed[0], window_name: parsed[1]}
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be an integer >= 1, a text such as '2/s', 'off' or null")
    return {name: value}


def add_admin_routes(app: web.Application, fake: FakeScaledmail) -> None:
    """Add the ``/_fake`` routes steering ``fake`` to ``app``."""

    def guarded(
        handler: Callable[[web.Request], Any],
    ) -> Callable[[web.Request], Any]:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
            return response

        return run

    async def get_state(request: web.Request) -> web.StreamResponse:
        return _json(_state(fake))

    async def get_faults(request: web.Request) -> web.StreamResponse:
        return _json(_faults(fake))

    async def post_faults(request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        items = data if isinstance(data, list) else [data]
        specs: list[FaultSpec] = [fault_spec_from_json(item) for item in items]
        for spec in specs:  # every one checked above: all are added or none
            spec.add_to(fake.faults, seed=fake.options.seed)
        return _json({"queued": [spec.as_json() for spec in specs], **_faults(fake)})

    async def delete_faults(request: web.Request) -> web.StreamResponse:
        cleared = len(fake.faults.pending) + len(fake.faults.random_sources)
        fake.faults.clear()
        return _json({"cleared": cleared})

    async def get_rate_limits(request: web.Request) -> web.StreamResponse:
        return _json(_rate_limits(fake))

    async def post_rate_limits(request: web.Request) -> web.StreamResponse:
        data = await _body(request)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object of rate-limit options")
        changes = dict(data)
        opts = fake.options
        for name, window_name, default_window in (
            ("rate_limit", "rate_window", opts.rate_window),
            ("critical_limit", "critical_window", opts.critical_window),
        ):
            if name in changes:
                changes.update(_limit_change(name, changes.pop(name), window_name, default_window))
        fake.configure_rate_limits(**changes)
        return _json(_rate_limits(fake))

    prefix = ADMIN_PREFIX
    app.router.add_get(prefix + "/state", guarded(get_state))
    app.router.add_get(prefix + "/faults", guarded(get_faults))
    app.router.add_post(prefix + "/faults", guarded(post_faults))
    app.router.add_delete(prefix + "/faults", guarded(delete_faults))
    app.router.add_get(prefix + "/rate-limits", guarded(get_rate_limits))
    app.router.add_post(prefix + "/rate-limits", guarded(post_rate_limits))
