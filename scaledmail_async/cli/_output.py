"""Output of the ``scaledmail`` CLI: the wire JSON for machines, rich tables for people.

Tables are built from the *unstructured wire JSON* (the same data ``--json`` prints), so they show
the API's own field names and never depend on how a model spells an attribute; fields the server
adds later still appear in ``--json``. Operations with a list a person would rather scan (orders,
domains, purchased domains, mailboxes, packages, search and suggestion results, ...) have a chosen
set of columns; anything else gets a generic table (a list of objects, or key/value pairs).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from rich import box
from rich.console import Console
from rich.table import Table

__all__ = ["TABLE_OPERATIONS", "dump_json", "render_table", "stdout_console", "table_for"]

#: Width of tables written to a pipe or file (a terminal's own width is used otherwise).
_PIPE_WIDTH: Final = 160


def stdout_console() -> Console:
    """A console on stdout; tables piped to a file are not squeezed into 80 columns."""
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(soft_wrap=False, width=_PIPE_WIDTH)
    return console


_AVAILABILITY: Final = ("domain", "status", "price", "renewPrice")
#: Columns never wrapped (ids and names a person copies).
_NO_WRAP: Final = frozenset({"id", "uuid", "domain", "email", "name", "status"})

#: Operation -> (path to the list of rows, columns). A path of ``()`` means the data is the list.
_ROW_SPECS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "get_organizations": (("organizations",), ("id", "name")),
    "get_domains": (
        ("domains",),
        (
            "id",
            "domain",
            "status",
            "order_type",
            "total_mailboxes",
            "redirect",
            "tag",
            "payment_id",
        ),
    ),
    "get_purchased_domains": (
        ("domains",),
        ("domain", "domain_id", "created_at", "renewal_at", "renewal_price"),
    ),
    "search_domains": ((), _AVAILABILITY),
    "suggest_domains": (("domains",), _AVAILABILITY),
    "get_packages": (
        ("packages",),
        ("id", "name", "tier", "price", "domains", "frequency", "mode"),
    ),
    "get_orders": (("payments",), ("id", "status", "amount", "created_at", "description")),
    "get_pending_forms": (
        ("forms",),
        ("uuid", "payment_id", "description", "amount", "created_at", "type"),
    ),
    "get_mailboxes_by_domain_id": (
        ("mailboxes",),
        ("email", "first_name", "last_name", "status"),
    ),
}

#: Operations with a purpose-built table (the rest get the generic one).
TABLE_OPERATIONS: Final = frozenset(
    {*_ROW_SPECS, "get_pre_warm_inboxes", "get_order_details", "calculate_package"}
)


def dump_json(data: Any) -> str:
    """The wire JSON, indented by 2 (the CLI's default output)."""
    return json.dumps(data, indent=2, ensure_ascii=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _dig(data: Any, path: Sequence[str]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data


def _rows_table(title: str, rows: Sequence[Any], columns: Sequence[str]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left")
    for column in columns:
        key = column.rsplit(".", 1)[-1]
        if key in _NO_WRAP or key.endswith("_id"):
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, overflow="fold")
    for row in rows:
        mapping = row if isinstance(row, Mapping) else {}
        table.add_row(*(_cell(_dig(mapping, column.split("."))) for column in columns))
    table.caption = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    return table


def _key_value_table(title: str, data: Mapping[str, Any]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(str(key), _cell(value))
    return table


def _scalar_columns(rows: Sequence[Any]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        if isinstance(row, Mapping):
            for key, value in row.items():
                if key not in columns and not isinstance(value, Mapping | list):
                    columns.append(str(key))
    return columns


def _generic(title: str, data: Any) -> Table:
    if isinstance(data, list):
        return _rows_table(title, data, _scalar_columns(data) or ["value"])
    if isinstance(data, Mapping):
        lists = [
            k for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], Mapping)
        ]
        if len(lists) == 1:
            rows = data[lists[0]]
            return _rows_table(f"{title}: {lists[0]}", rows, _scalar_columns(rows))
        return _key_value_table(title, data)
    table = Table(title=title, box=box.SIMPLE_HEAVY, show_header=False)
    table.add_column("value")
    table.add_row(_cell(data))
    return table


def _pre_warm(title: str, data: Any) -> Table:
    rows: list[dict[str, Any]] = []
    for provider in ("google", "outlook"):
        for item in _dig(data, (provider,)) or []:
            if isinstance(item, Mapping):
                rows.append({"provider": provider, **item})
    columns = (
        "provider",
        "id",
        "domain",
        "warmup_age",
        "emailMailboxCount",
        "pricing.oneTimePrice",
        "pricing.monthlyPrice",
    )
    return _rows_table(title, rows, columns)


def _order_details(title: str, data: Any) -> Table:
    rows: list[dict[str, Any]] = []
    for package in _dig(data, ("packages",)) or []:
        if not isinstance(package, Mapping):
            continue
        for domain in package.get("domains") or [None]:
            domain_map = domain if isinstance(domain, Mapping) else {}
            rows.append(
                {
                    "package": package.get("type"),
                    "package_id": package.get("id"),
                    "package_status": package.get("status"),
                    "domain_id": domain_map.get("id"),
                    "domain": domain_map.get("name"),
                    "domain_status": domain_map.get("status"),
                }
            )
    head = " ".join(
        f"{key}={_cell(_dig(data, (key,)))}"
        for key in ("id", "status", "tag", "amount", "total_domains")
        if _dig(data, (key,)) not in (None, "")
    )
    columns = ("package", "package_id", "package_status", "domain_id", "domain", "domain_status")
    table = _rows_table(f"{title}  {head}", rows, columns)
    return table


def _calculation(title: str, data: Any) -> Table:
    calc = _dig(data, ("data",))
    if not isinstance(calc, Mapping):
        return _generic(title, data)
    columns = (
        "provider",
        "requiredDomains",
        "requiredMailboxes",
        "pricePerUnit",
        "pricingBasis",
        "totalPrice",
        "percentage",
    )
    table = _rows_table(title, calc.get("providerBreakdown") or [], columns)
    totals = " ".join(
        f"{key}={_cell(calc.get(key))}"
        for key in ("monthlyVolume", "dailyVolume", "totalDomains", "totalMailboxes", "totalPrice")
        if calc.get(key) not in (None, "")
    )
    table.caption = totals
    return table


_SPECIAL: Final[dict[str, Callable[[str, Any], Table]]] = {
    "get_pre_warm_inboxes": _pre_warm,
    "get_order_details": _order_details,
    "calculate_package": _calculation,
}


def table_for(operation_id: str, data: Any) -> Table:
    """The rich table for ``operation_id``'s wire JSON ``data``."""
    title = operation_id.replace("_", "-")
    special = _SPECIAL.get(operation_id)
    if special is not None:
        return special(title, data)
    spec = _ROW_SPECS.get(operation_id)
    if spec is not None:
        path, columns = spec
        rows = _dig(data, path)
        if isinstance(rows, list):
            table = _rows_table(title, rows, columns)
            if operation_id == "suggest_domains" and isinstance(data, Mapping):
                table.caption = (
                    f"page {_cell(data.get('page'))} of {_cell(data.get('total_pages'))}, "
                    f"{_cell(data.get('total'))} suggestions in all"
                )
            return table
    return _generic(title, data)


def render_table(operation_id: str, data: Any, console: Console) -> None:
    """Print ``table_for(operation_id, data)`` on ``console``."""
    console.print(table_for(operation_id, data))
