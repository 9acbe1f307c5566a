"""Request preparation: the stage between the client and the transport (httpx's
``build_request`` before ``send``).

One place resolves the organization, validates the call's values, encodes the body once and
builds the URL, so that the transport only sends bytes. Data flows one way: the caller's
values -> :func:`~scaledmail_async._validation.prepare_body` (model or mapping -> plain JSON,
schema check, documented rules) -> a minted tag for a spend that needs one -> JSON bytes ->
:class:`PreparedRequest`.

Two caches keep a fast local call fast (bulk jobs repeat the same few URLs): built URLs, and
for calls without query and body (the polling GETs) the whole prepared request, keyed only by
exact ``str`` values so that an equal key means the very same, already validated target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, unquote

import attrs
from yarl import URL

from scaledmail_async._operation import Operation
from scaledmail_async._params import prepare_path_params, prepare_query
from scaledmail_async._purchases import mint_tag
from scaledmail_async._types import UNSET, Unset
from scaledmail_async._urls import (
    LONE_SURROGATE,
    SENSITIVE_QUERY_PARAMS,
    build_query_string,
    display_url,
    encode_path_param,
)
from scaledmail_async._validation import check_json, encode_json, prepare_body
from scaledmail_async.errors import MissingOrganizationError, RequestValidationError

__all__ = ["URL_CACHE_SIZE", "PreparedRequest", "RequestBuilder", "check_extra_query"]

#: Entries kept in each cache before it is cleared.
URL_CACHE_SIZE: Final = 512

#: An HTTP method is a token (RFC 9110 section 9.1 and 5.6.2).
_HTTP_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@attrs.frozen(slots=True)
class PreparedRequest:
    """A validated call, ready to send: what the transport and the purchase journal need."""

    url: URL
    #: The URL without secrets, for errors and logs.
    shown_url: str
    #: The JSON body as bytes, or ``None``.
    data: bytes | None = None
    #: The order tag a spend carries (given or minted), for errors and reconciliation.
    tag: str | None = None
    #: The plain JSON body (for the journal's fingerprint and domain names), or ``UNSET``.
    wire: Any = UNSET


class RequestBuilder:
    """Builds :class:`PreparedRequest` objects against one ``base_url`` (one per client)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._url_cache: dict[object, tuple[URL, str]] = {}
        #: Prepared bodiless calls, by :meth:`_call_key`.
        self.call_cache: dict[tuple[Any, ...], tuple[Operation, PreparedRequest]] = {}

    # -- operations -----------------------------------------------------------------------------

    def prepare(
        self,
        op: Operation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body: Any,
        organization_id: str | Unset | None,
        default_organization: str | None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        """Validate one call of ``op`` and build it (:class:`RequestValidationError` for bad
        input: nothing is sent). ``organization_id``: ``UNSET`` = ``default_organization``,
        ``None`` = none. ``extra_query``: parameters the spec does not declare, sent as given
        (never one the operation declares, nor ``organization_id``)."""
        org = default_organization if organization_id is UNSET else organization_id
        if extra_query:
            return self._build(
                op, path_params, query, body, org, cache_url=False, extra_query=extra_query
            )
        key = None
        if not query and body is UNSET:
            key = self._call_key(op, path_params, org)
            if key is not None:
                cached = self.call_cache.get(key)
                if cached is not None and cached[0] is op:
                    return cached[1]
        prepared = self._build(op, path_params, query, body, org, cache_url=key is None)
        if key is not None:
            if len(self.call_cache) >= URL_CACHE_SIZE:
                self.call_cache.clear()
            self.call_cache[key] = (op, prepared)
        return prepared

    @staticmethod
    def _call_key(
        op: Operation, path_params: Mapping[str, Any], org: object
    ) -> tuple[Any, ...] | None:
        """The cache key of a bodiless call, or ``None``: the operation, the organization
        actually sent and the path values, only when all are exact ``str`` values (or ``None``)."""
        if not op.sends_organization_id:
            org = None
        elif org is not None and type(org) is not str:
            return None
        names = op.path_params
        if len(names) == 1:
            value = path_params.get(names[0])
            return (op.operation_id, org, value) if type(value) is str else None
        values = tuple(path_params.get(name) for name in names)
        if all(type(value) is str for value in values):
            return (op.operation_id, org, *values)
        return None

    def _build(
        self,
        op: Operation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any],
        body: Any,
        org: object,
        *,
        cache_url: bool,
        extra_query: Mapping[str, Any] | None = None,
    ) -> PreparedRequest:
        operation = op.operation_id
        # (0) a missing organization first: it is the client's setting, whatever the arguments.
        if org is None and op.requires_organization:
            raise MissingOrganizationError(operation)
        # (1) path parameters: present, strings, not blank; then one encoded segment each.
        path = op.path
        if op.path_params:
            checked = prepare_path_params(op, path_params)
            for name in op.path_params:
                path = path.replace(
                    "{" + name + "}", encode_path_param(name, checked[name], operation)
                )
        # (2) query and body.
        params = prepare_query(op, query) if (query or op.query_params) else {}
        wire = prepare_body(op, body, query)
        # (3) organization_id (a missing one was refused first).
        if op.sends_organization_id and org is not None:
            if not isinstance(org, str) or not org.strip():
                raise RequestValidationError(
                    "must be a non-blank string", field="organization_id", operation=operation
                )
            params["organization_id"] = org
        if extra_query:
            params.update(check_extra_query(op, extra_query))
        # (4) a tag for a spend reconciled by tag, then bytes.
        data: bytes | None = None
        tag: str | None = None
        if wire is not UNSET:
            how = op.reconcile
            if how is not None and how.by == "tag" and isinstance(wire, dict):
                if not wire.get(how.field):
                    # No tag: mint one, so that the order can always be found again.
                    wire[how.field] = mint_tag()
            if op.spends_money and isinstance(wire, dict):
                found = wire.get("tag")
                tag = found if isinstance(found, str) else None
            data = encode_json(wire, field="body", operation=operation)
        url, shown = self.url(path, params, cache=cache_url, operation=operation)
        return PreparedRequest(url, shown, data, tag, wire)

    # -- request(): endpoints the spec does not describe -----------------------------------------

    def prepare_raw(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        organization_id: str | Unset | None,
        default_organization: str | None,
    ) -> tuple[str, PreparedRequest]:
        """Validate a ``request()`` call; return ``(METHOD, prepared)``."""
        if not isinstance(method, str) or _HTTP_TOKEN.fullmatch(method) is None:
            raise RequestValidationError(
                "must be an HTTP method name such as 'GET' or 'POST' (an RFC 9110 token: "
                "letters, digits and !#$%&'*+-.^_`|~, no spaces)",
                field="method",
            )
        if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
            raise RequestValidationError(
                "must be a path relative to base_url starting with '/'", field="path"
            )
        if "#" in path or "?" in path or "://" in path:
            raise RequestValidationError(
                "must not contain '?', '#' or a scheme; pass query values in params=",
                field="path",
            )
        check_no_dot_segments(path)
        query: dict[str, str] = {}
        for key, value in (params or {}).items():
            if value is None or value is UNSET:
                continue
            if isinstance(value, bool):
                query[key] = "true" if value else "false"
            else:
                query[key] = str(value)
        if "organization_id" not in query:
            org = default_organization if organization_id is UNSET else organization_id
            if org is not None:
                query["organization_id"] = org
        # Percent-encode spaces, unicode and the like; keep '/' and existing %XX escapes.
        try:
            quoted = quote(path, safe="/%:@!$&'()*+,;=~")
        except UnicodeEncodeError:
            raise RequestValidationError(LONE_SURROGATE, field="path") from None
        url, shown = self.url(quoted, query)
        data = None
        if json is not None:
            data = encode_json(check_json(json, field="json"), field="json")
        return method.upper(), PreparedRequest(url, shown, data)

    # -- URLs -----------------------------------------------------------------------------------

    def url(
        self,
        path: str,
        query: Mapping[str, str],
        *,
        cache: bool = True,
        operation: str | None = None,
    ) -> tuple[URL, str]:
        """The encoded request URL and its secret-free display form (cached)."""
        cache_key = (path, tuple(query.items())) if query else path
        if cache:
            found = self._url_cache.get(cache_key)
            if found is not None:
                return found
        qs = build_query_string(query, operation)
        raw = self.base_url + path + ("?" + qs if qs else "")
        shown = raw
        if query and not SENSITIVE_QUERY_PARAMS.isdisjoint(k.lower() for k in query):
            shown = display_url(self.base_url, path, query)
        result = (URL(raw, encoded=True), shown)
        if cache:
            if len(self._url_cache) >= URL_CACHE_SIZE:
                self._url_cache.clear()
            self._url_cache[cache_key] = result
        return result


def check_no_dot_segments(path: str) -> None:
    """Refuse a ``request()`` path with a ``.`` or ``..`` segment, also percent-encoded
    (``%2e%2e``): resolved by URL normalisation (RFC 3986 section 5.2.4), here, by a proxy or by
    the server, it would leave ``base_url``'s ``/api/v1`` (``/../admin``)."""
    if "." not in path and "%" not in path:
        return
    for segment in path.split("/"):
        if segment in (".", "..") or ("%" in segment and unquote(segment) in (".", "..")):
            raise RequestValidationError(
                f"must not contain the dot-segment {segment!r}: URL normalisation resolves "
                "dot-segments ('..' steps out of base_url's path); give the path from base_url "
                "without '.' or '..' segments",
                field="path",
            )


def check_extra_query(op: Operation, extra_query: object) -> dict[str, str]:
    """``extra_query=`` of a call: query parameters the spec does not declare (a newer API
    option), kept apart from the API's own: a name the operation declares, or
    ``organization_id``, is refused (pass those as the call's arguments)."""
    operation = op.operation_id
    if not isinstance(extra_query, Mapping):
        raise RequestValidationError(
            f"must be a mapping of parameter names to values, got {type(extra_query).__name__}",
            field="extra_query",
            operation=operation,
        )
    declared = {p.name for p in op.query_params} | {"organization_id"}
    out: dict[str, str] = {}
    for name, value in extra_query.items():
        if not isinstance(name, str) or not name:
            raise RequestValidationError(
                f"parameter names must be non-empty strings, got {name!r}",
                field="extra_query",
                operation=operation,
            )
        if name in declared:
            raise RequestValidationError(
                f"{name!r} is a parameter of {operation}: pass it as the call's "
                f"{'organization_id' if name == 'organization_id' else name}= argument",
                field=f"extra_query[{name!r}]",
                operation=operation,
            )
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (str, int)) or (isinstance(value, float) and math.isfinite(value)):
            out[name] = str(value)
        else:
            raise RequestValidationError(
                f"must be a string, an int, a finite float or a bool, got {type(value).__name__}",
                field=f"extra_query[{name!r}]",
                operation=operation,
            )
    return out
