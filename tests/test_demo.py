"""The demo job (``make demo``) end to end, in a shortened form: 9 domains, scaled-up fake limits
(200 requests/s, 100 critical/min) and a fast order lifecycle."""

from __future__ import annotations

import io

import attrs
import pytest
from rich.console import Console

from scaledmail_async.cli._demo import DemoCheckError, DemoConfig, DemoSummary, run_demo

SHORT = DemoConfig(
    domains=9,
    rate_limit=200,
    critical_limit=100,
    activate_after_polls=2,
    activate_after_seconds=None,
    poll_interval=0.05,
    poll_timeout=20.0,
)


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120), out


async def test_demo_provisions_everything_with_faults() -> None:
    console, out = _console()
    summary = await run_demo(SHORT, console=console)

    assert isinstance(summary, DemoSummary)
    assert summary.all_active
    assert sorted(o.provider for o in summary.orders) == ["google", "outlook", "smtp"]
    assert len({o.order_id for o in summary.orders}) == 3
    assert all(len(o.tag) <= 20 for o in summary.orders)
    ordered = [name for o in summary.orders for name in o.domains]
    assert len(ordered) == len(set(ordered)) == summary.domains_ordered == 9
    # Google and Outlook names are bought first (one batch of <= 10); SMTP ones by their order.
    google_outlook = sum(len(o.domains) for o in summary.orders if o.provider != "smtp")
    assert summary.domains_bought == google_outlook
    assert summary.redirects_updated == 9 and summary.redirects_failed == 0

    # The faults: two 503s, a reset before a redirect update, a 429 on a purchase, and an order
    # applied whose answer is lost (reset after): exactly_once finds it by its tag.
    assert summary.faults_injected == 5
    assert summary.faults_by_kind == {"status": 3, "reset_before": 1, "reset_after": 1}
    assert summary.retries >= 4
    assert summary.rate_limited >= 1
    # No spending call applied twice, although one purchase was retried after its 429.
    assert summary.purchases_made == 1 + 3
    assert summary.purchases_applied == summary.purchases_made
    assert summary.requests_by_operation["buy_domains"] == 2
    assert summary.requests_by_operation["create_custom_order"] == 3

    assert summary.requests == sum(summary.requests_by_operation.values())
    assert summary.critical_requests == sum(
        summary.requests_by_operation.get(op, 0)
        for op in ("suggest_domains", "search_domains", "buy_domains")
    )
    assert summary.floor == pytest.approx(summary.requests / 200)
    assert summary.ratio == pytest.approx(summary.elapsed / summary.floor)

    text = out.getvalue()
    assert "scaledmail demo: summary" in text
    assert "no duplicates" in text
    for order in summary.orders:
        assert order.tag in text


async def test_demo_without_faults_makes_no_retries() -> None:
    console, _ = _console()
    summary = await run_demo(
        attrs.evolve(SHORT, faults=False, show_progress=False), console=console
    )
    assert summary.all_active
    assert summary.faults_injected == 0
    assert summary.retries == 0
    assert summary.rate_limited == 0
    assert summary.purchases_applied == summary.purchases_made == 4


async def test_demo_stops_when_there_are_not_enough_names() -> None:
    console, _ = _console()
    # A keyword yields 80 suggestions with the default TLDs: fewer than 100 domains need.
    config = attrs.evolve(SHORT, domains=100, show_progress=False)
    with pytest.raises(DemoCheckError, match="available names"):
        await run_demo(config, console=console)


def test_summary_table_flags_duplicates() -> None:
    summary = DemoSummary(
        domains_requested=3,
        domains_suggested=5,
        domains_available=3,
        domains_bought=2,
        domains_ordered=3,
        orders=(),
        redirects_updated=3,
        redirects_failed=0,
        requests=10,
        requests_by_operation={},
        critical_requests=3,
        retries=0,
        rate_limited=0,
        faults_injected=0,
        faults_by_kind={},
        purchases_made=2,
        purchases_applied=3,
        elapsed=4.0,
        floor=2.0,
        rate_limit=5,
    )
    assert not summary.no_duplicate_purchases
    assert not summary.all_active
    assert summary.ratio == 2.0
    console, out = _console()
    console.print(summary.table())
    assert "DUPLICATES" in out.getvalue()
