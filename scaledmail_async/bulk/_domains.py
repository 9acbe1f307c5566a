"""Domain search and suggestions beyond one request: :func:`search_domains_all` (any number of
names, in batches of the documented 10) and :func:`iter_suggested_domains` (every page of
suggest-domains as one async iterator)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Final

from scaledmail_async._lanes import Priority, check_priority
from scaledmail_async._lanes import priority as lane_scope
from scaledmail_async._types import UNSET, Unset
from scaledmail_async._validation import body_property_schema
from scaledmail_async.bulk._common import Client, ProgressHook, keep_partial, org_kwargs
from scaledmail_async.errors import RequestValidationError

if TYPE_CHECKING:
    from scaledmail_async.models import DomainAvailability, SuggestDomainsBody

__all__ = ["DomainSearchResults", "iter_suggested_domains", "search_domains_all"]


def _domain_key(name: str) -> str:
    return name.strip().rstrip(".").casefold()


class DomainSearchResults(list["DomainAvailability"]):
    """The results of :func:`search_domains_all`: a list in input order, plus what did not match.

    ``missing``: input names the server returned no result for (they are not in the list).
    ``extra``: results the server returned for names that were not asked (kept, not dropped).
    ``not_searched``: names whose batch had not been answered when the search was stopped (only
    in the ``exc.partial`` of an interrupted :func:`search_domains_all`; empty otherwise).
    """

    def __init__(
        self,
        found: Iterable[DomainAvailability] = (),
        *,
        missing: Sequence[str] = (),
        extra: Sequence[DomainAvailability] = (),
        not_searched: Sequence[str] = (),
    ) -> None:
        super().__init__(found)
        self.missing: list[str] = list(missing)
        self.extra: list[DomainAvailability] = list(extra)
        self.not_searched: list[str] = list(not_searched)


def _search_batch_cap() -> int:
    """The spec's ``maxItems`` of ``search_domains``' ``domains`` (10, documented:
    ``openapi/scaledmail.yaml``, operation ``search_domains``)."""
    cap = body_property_schema("search_domains", "domains").get("maxItems")
    return cap if isinstance(cap, int) and cap > 0 else 10


_SEARCH_BATCH_CAP: Final = _search_batch_cap()


async def search_domains_all(
    client: Client,
    names: Iterable[str],
    *,
    batch_size: int = _SEARCH_BATCH_CAP,
    on_progress: ProgressHook | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> DomainSearchResults:
    """Availability and price of any number of domain names.

    Names are de-duplicated (case-insensitively, surrounding spaces and a trailing dot ignored;
    the first spelling is sent), split into batches of ``batch_size`` (at most the documented 10
    per request) and searched one batch after the other through ``client.search_domains``: the
    client's limiter enforces the 15-per-minute "critical" group, so 25 names make 3 requests.

    Returns the results in input order, matched by domain name case-insensitively. Names the
    server returned nothing for are listed in ``result.missing`` (and absent from the list);
    results for names that were not asked are kept in ``result.extra``. A failing batch raises
    (after the client's own retries); blank names raise :class:`RequestValidationError` before any
    request. ``on_progress(names_done, names_total)`` is called after each batch.
    Stopped by a cancellation or an exception (a failing batch, ``on_progress``), the exception
    is re-raised with ``exc.partial``: the :class:`DomainSearchResults` of the batches answered,
    ``missing`` among their names only, the others in ``not_searched``.
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    """
    lane = check_priority(priority)
    if not 1 <= batch_size <= _SEARCH_BATCH_CAP:
        raise ValueError(f"batch_size must be between 1 and {_SEARCH_BATCH_CAP}, got {batch_size}")
    unique: dict[str, str] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise RequestValidationError(
                "must be a non-blank domain name", field=f"names[{i}]", operation="search_domains"
            )
        unique.setdefault(_domain_key(name), name.strip())
    wanted = list(unique.values())
    total = len(wanted)
    found: dict[str, DomainAvailability] = {}
    extra: list[DomainAvailability] = []
    kwargs = org_kwargs(organization_id)
    keys = list(unique)
    searched = 0  # names whose batch was answered

    def results() -> DomainSearchResults:
        asked = keys[:searched]
        return DomainSearchResults(
            [found[k] for k in asked if k in found],
            missing=[unique[k] for k in asked if k not in found],
            extra=extra,
            not_searched=[unique[k] for k in keys[searched:]],
        )

    try:
        for start in range(0, total, batch_size):
            batch = wanted[start : start + batch_size]
            with lane_scope(lane):
                response = await client.search_domains(body={"domains": batch}, **kwargs)
            for result in response:
                key = _domain_key(result.domain)
                if key in unique and key not in found:
                    found[key] = result
                else:
                    extra.append(result)
            searched = min(start + batch_size, total)
            if on_progress is not None:
                on_progress(searched, total)
    except BaseException as exc:
        keep_partial(exc, results())
        raise
    return results()


async def iter_suggested_domains(
    client: Client,
    keyword: str,
    *,
    tlds: Sequence[str] | Unset = UNSET,
    limit: int = 50,
    max_pages: int | None = None,
    on_progress: ProgressHook | None = None,
    organization_id: str | Unset | None = UNSET,
    priority: Priority = "bulk",
) -> AsyncIterator[DomainAvailability]:
    """Every suggestion for ``keyword``, walking the pages of ``client.suggest_domains``.

    Requests page 1, 2, ... with ``limit`` results per page (the server caps it at 50) and yields
    each item, stopping after page ``total_pages``, on an empty page, on a short page when the
    server gives no ``total_pages``, or after ``max_pages`` pages. Each page is one "critical"
    request (15 per minute, paced by the client's limiter). ``on_progress(pages_done,
    pages_total)`` is called after each page is fetched (``pages_total`` is the server's
    ``total_pages``, capped by ``max_pages``; the pages done so far when the server gives none).
    ``priority`` is the lane of the calls made (default ``"bulk"``: the key's interactive calls,
    e.g. a web handler's, are served first; see :func:`scaledmail_async.priority`).
    The lane is set around each request only: the caller's own calls between pages keep theirs.

    Every item of a page is yielded before the next page is requested, so a cancellation (which
    can only arrive during a request) never drops a fetched item. Stopped by a cancellation or
    an exception (a failing page, ``on_progress``), the exception is re-raised with
    ``exc.partial``: the list of every item yielded so far.
    """
    lane = check_priority(priority)
    if max_pages is not None and max_pages < 1:
        raise ValueError(f"max_pages must be >= 1, got {max_pages}")
    body: SuggestDomainsBody = {"domain": keyword}
    if tlds is not UNSET:
        body["tlds"] = list(tlds)
    kwargs = org_kwargs(organization_id)
    page = 1
    delivered: list[DomainAvailability] = []
    while True:
        try:
            with lane_scope(lane):
                response = await client.suggest_domains(body=body, page=page, limit=limit, **kwargs)
        except BaseException as exc:
            keep_partial(exc, list(delivered))
            raise
        items = list(response.domains)
        total_pages = None if response.total_pages is UNSET else response.total_pages
        if on_progress is not None:
            pages_total = page if total_pages is None else max(total_pages, page)
            if max_pages is not None:
                pages_total = min(pages_total, max_pages)
            try:
                on_progress(page, pages_total)
            except BaseException as exc:
                keep_partial(exc, list(delivered))
                raise
        for item in items:
            delivered.append(item)
            yield item
        if not items:
            return
        if total_pages is not None:
            if page >= total_pages:
                return
        else:
            per_page = response.limit
            if len(items) < (per_page if per_page is not UNSET and per_page > 0 else limit):
                return
        if max_pages is not None and page >= max_pages:
            return
        page += 1
