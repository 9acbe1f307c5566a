"""Decode: bytes of a Get Order Details body -> typed object, SDK vs pydantic v2 vs msgspec.

The SDK's path is exactly what the client runs on a 2xx body (``ScaledmailClient._decode``:
``json.loads`` then the lenient cattrs converter into ``OrderDetails``). It is compared with
``json.loads`` alone (the floor of any stdlib-JSON SDK), pydantic v2 ``model_validate_json`` on
equivalent models (``extra="allow"`` to keep unknown keys, like the SDK; datetimes parsed; the
open enum as ``OrderStatus | str``), and msgspec ``json.decode`` into equivalent Structs (which
*drop* unknown keys and cannot express ``Enum | str``, so they do less work than the SDK).

Variants run interleaved, several rounds, garbage collector on (the SDK allocates one Python
object per domain, and collection is part of its real cost); medians are reported.

    .venv/bin/python bench/decode.py [--quick]
"""

from __future__ import annotations

import argparse
import enum
import gc
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
import pydantic
from _common import machine_summary, median, order_body, ratio_line

from scaledmail_async._client import ScaledmailClient
from scaledmail_async._converter import converter
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._transport import RawResult
from scaledmail_async.models import OrderDetails

# ----------------------------------------------------------------- equivalent pydantic models


class PdOrderStatus(enum.StrEnum):
    """The open enum of the order status (``Active``, ``Cancelled``)."""

    ACTIVE = "Active"
    CANCELLED = "Cancelled"


_PD_CONFIG = pydantic.ConfigDict(extra="allow")


class PdOrderDomain(pydantic.BaseModel):
    """``packages[].domains[]``."""

    model_config = _PD_CONFIG
    id: str
    name: str
    status: str | None = None


class PdOrderPackage(pydantic.BaseModel):
    """``packages[]``."""

    model_config = _PD_CONFIG
    id: str
    type: str | None = None
    note: str | None = None
    payment_id: str | None = None
    created_at: datetime | None = None
    total_domains: int | None = None
    status: str | None = None
    domains: list[PdOrderDomain] | None = None


class PdOrderDetails(pydantic.BaseModel):
    """The order (wire names are snake_case here, so no aliases are needed)."""

    model_config = _PD_CONFIG
    id: str
    created_at: datetime | None = None
    amount: float | None = None
    tag: str | None = None
    status: PdOrderStatus | str | None = None
    description: str | None = None
    invoices: list[Any] | None = None
    total_domains: int | None = None
    packages: list[PdOrderPackage] | None = None
    addons: list[Any] | None = None
    current_items: list[Any] | None = None


# ----------------------------------------------------------------- equivalent msgspec structs


class MsOrderDomain(msgspec.Struct, kw_only=True):
    """``packages[].domains[]``."""

    id: str
    name: str
    status: str | msgspec.UnsetType = msgspec.UNSET


class MsOrderPackage(msgspec.Struct, kw_only=True):
    """``packages[]``."""

    id: str
    type: str | msgspec.UnsetType = msgspec.UNSET
    note: str | msgspec.UnsetType = msgspec.UNSET
    payment_id: str | msgspec.UnsetType = msgspec.UNSET
    created_at: datetime | msgspec.UnsetType = msgspec.UNSET
    total_domains: int | msgspec.UnsetType = msgspec.UNSET
    status: str | msgspec.UnsetType = msgspec.UNSET
    domains: list[MsOrderDomain] | msgspec.UnsetType = msgspec.UNSET


class MsOrderDetails(msgspec.Struct, kw_only=True):
    """The order; ``status`` is ``str`` (msgspec rejects ``Enum | str`` unions)."""

    id: str
    created_at: datetime | msgspec.UnsetType = msgspec.UNSET
    amount: float | msgspec.UnsetType = msgspec.UNSET
    tag: str | msgspec.UnsetType | None = msgspec.UNSET
    status: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    invoices: list[Any] | msgspec.UnsetType = msgspec.UNSET
    total_domains: int | msgspec.UnsetType = msgspec.UNSET
    packages: list[MsOrderPackage] | msgspec.UnsetType = msgspec.UNSET
    addons: list[Any] | msgspec.UnsetType = msgspec.UNSET
    current_items: list[Any] | msgspec.UnsetType = msgspec.UNSET


_MS_DECODER = msgspec.json.Decoder(MsOrderDetails)


def _sdk_decoder() -> Callable[[bytes], Any]:
    """The client's own 2xx decode step for ``get_order_details``."""
    client = ScaledmailClient("bench-key", base_url="http://127.0.0.1:9/api/v1", rate_limit=None)
    op = OPERATIONS["get_order_details"]
    shown = "http://127.0.0.1:9/api/v1/orders/recPay0000000000A"

    def decode(body: bytes) -> Any:
        return client._decode(op, RawResult(200, {}, body, 0, 0.0, 0.0), shown)

    return decode


def _variants() -> dict[str, Callable[[bytes], Any]]:
    return {
        "sdk": _sdk_decoder(),
        "json.loads": json.loads,
        "pydantic": PdOrderDetails.model_validate_json,
        "msgspec": _MS_DECODER.decode,
    }


def _check(variants: dict[str, Callable[[bytes], Any]], body: bytes, domains: int) -> None:
    """Every variant really decodes the whole body (no benchmark of a failing call)."""
    sdk = variants["sdk"](body)
    assert isinstance(sdk, OrderDetails)
    # the SDK's (fast-path) result is what the cattrs converter itself builds
    assert sdk == converter.structure(json.loads(body), OrderDetails)
    assert isinstance(sdk.created_at, datetime)
    packages = sdk.packages
    assert isinstance(packages, list)
    assert sum(len(p.domains) for p in packages if isinstance(p.domains, list)) == domains
    pd = variants["pydantic"](body)
    assert sum(len(p.domains or []) for p in pd.packages) == domains
    ms = variants["msgspec"](body)
    assert sum(len(p.domains) for p in ms.packages) == domains


def _time(fn: Callable[[bytes], Any], body: bytes, loops: int) -> float:
    """Seconds per call over ``loops`` calls."""
    start = time.perf_counter()
    for _ in range(loops):
        fn(body)
    return (time.perf_counter() - start) / loops


def measure(body: bytes, domains: int, *, rounds: int, loops: int) -> dict[str, float]:
    """Median seconds per call of each variant, rounds interleaved (order rotated)."""
    variants = _variants()
    _check(variants, body, domains)
    names = list(variants)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            samples[name].append(_time(variants[name], body, loops))
    return {n: median(v) for n, v in samples.items()}


def _report(title: str, result: dict[str, float], unit: str, scale: float) -> None:
    print(f"-- {title}")
    for name, seconds in result.items():
        print(f"   {name:<11} {seconds * scale:10.1f} {unit}/call")


def main(argv: list[str] | None = None) -> None:
    """Run the decode benchmark and print its figures and ratio lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny configuration (smoke test)")
    args = parser.parse_args(argv)
    print(f"decode benchmark: {machine_summary()}", flush=True)
    gc.collect()

    big_domains = 1_000 if args.quick else 10_000
    big = order_body(big_domains, 10)
    rounds, loops = (3, 2) if args.quick else (9, 15)
    result = measure(big, big_domains, rounds=rounds, loops=loops)
    _report(
        f"order with {big_domains} domains in 10 packages ({len(big):,} bytes), "
        f"median of {rounds} rounds x {loops} calls",
        result,
        "ms",
        1e3,
    )
    sdk, pd, ms, js = result["sdk"], result["pydantic"], result["msgspec"], result["json.loads"]
    ratio_line("decode.sdk_vs_pydantic", sdk / pd, "<= 1.0", sdk / pd <= 1.0)
    ratio_line("decode.sdk_vs_msgspec", sdk / ms, "<= 6.0", sdk / ms <= 6.0)
    ratio_line("decode.sdk_vs_json_loads", sdk / js)

    small = order_body(20, 1)
    rounds, loops = (3, 50) if args.quick else (9, 2_000)
    result = measure(small, 20, rounds=rounds, loops=loops)
    _report(
        f"typical order with 20 domains ({len(small):,} bytes), "
        f"median of {rounds} rounds x {loops} calls",
        result,
        "us",
        1e6,
    )
    sdk, pd, ms = result["sdk"], result["pydantic"], result["msgspec"]
    ratio_line("decode20.sdk_vs_pydantic", sdk / pd)
    ratio_line("decode20.sdk_vs_msgspec", sdk / ms)


if __name__ == "__main__":
    main()
