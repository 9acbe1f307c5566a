"""Request validation: what the client calls, per part of a request, before anything is sent.

:func:`prepare_body`, and for ``request(json=...)`` :func:`check_json` (path and query
parameters: :mod:`scaledmail_async._params`), each return the value to
put on the wire or raise :class:`~scaledmail_async.errors.RequestValidationError` naming the
offending field as a path (``"body.providers.outlook.domains[2].aliases"``, ``"provider"``,
``"order_id"``); :func:`encode_json` makes the body's bytes. Nothing is sent for an invalid call.

A body flows one way through four stages, each in its own module:

1. **plain JSON, once** (:mod:`scaledmail_async._wire`): a model through its generated encoder
   (checked by the attributes' declared types), a mapping by its ``to_plain`` walk; anything
   JSON cannot carry is refused at its path;
2. **the spec's JSON schema** (:mod:`scaledmail_async._schema_check`, schemas from
   ``openapi/scaledmail.yaml`` via ``scaledmail_async._generated.schemas``), compiled once, at
   import;
   a mapping is checked as given (``{"domains": [1]}`` fails rather than being coerced to
   ``"1"``), then put in its model's wire form (:mod:`scaledmail_async._conform`: key order,
   ``2.0`` as ``2`` for an integer);
3. **the documented cross-field rules** (:mod:`scaledmail_async._rules`, each citing its docs
   page);
4. **bytes** (:func:`encode_json`, ``allow_nan=False``, a string UTF-8 cannot encode named).

A mapping with a value that is not exactly of its attribute's JSON type (a ``str`` subclass, a
missing required key, a request class that is not generated) is put in wire form by the
converter instead (``structure`` then ``unstructure``), whose result and errors the conformer
reproduces for everything else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import cattrs

from scaledmail_async._conform import conformer
from scaledmail_async._converter import structure, unstructure
from scaledmail_async._generated.schemas import COMPONENT_SCHEMAS, REQUEST_BODY_SCHEMAS
from scaledmail_async._operation import Operation

# Re-exported for callers that check a whole call here (the client uses _params directly).
from scaledmail_async._params import prepare_path_params, prepare_query
from scaledmail_async._rules import check_rules
from scaledmail_async._schema_check import Check, Invalid, SchemaCompiler, accept
from scaledmail_async._types import UNSET
from scaledmail_async._urls import LONE_SURROGATE
from scaledmail_async._wire import MAX_BODY_DEPTH, TooDeep, model_encoder, to_plain, too_deep
from scaledmail_async.errors import RequestValidationError

__all__ = [
    "MAX_BODY_DEPTH",
    "body_property_schema",
    "check_json",
    "encode_json",
    "prepare_body",
    "prepare_path_params",
    "prepare_query",
]

_COMPILER: Final = SchemaCompiler(COMPONENT_SCHEMAS)

#: Each operation's request body schema, compiled (operation id -> check).
_BODY_CHECKS: Final[dict[str, Check]] = {
    op_id: _COMPILER.compile(schema) for op_id, schema in REQUEST_BODY_SCHEMAS.items()
}

_EMPTY: Final[Mapping[str, Any]] = {}


def body_property_schema(operation_id: str, name: str) -> Mapping[str, Any]:
    """The spec's schema of request-body property ``name`` of an operation (``$ref`` resolved).

    Lets other modules read a limit from the spec (e.g. ``maxItems`` of ``search_domains``'
    ``domains``) instead of repeating it. Raises ``KeyError`` when the spec has no such property.
    """
    body = _COMPILER.resolve(REQUEST_BODY_SCHEMAS[operation_id])
    return _COMPILER.resolve(body["properties"][name])


def _fail(message: str, field: str, op: Operation) -> RequestValidationError:
    return RequestValidationError(message, field=field, operation=op.operation_id)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", repr(tp))


def prepare_body(op: Operation, body: Any, query: Mapping[str, Any] | None = None) -> Any:
    """Check a request body and return the JSON value to send, or ``UNSET`` for no body.

    ``body`` is an instance of ``op.request_type`` (an attrs model) or a mapping with the wire
    keys. A model becomes its wire form by its checked encoder, a mapping its plain JSON form;
    that form is checked against the spec's schema (a mapping as given, then put in its model's
    wire form), then the cross-field rules run. ``query`` is the call's raw query mapping, needed
    by the rules that depend on ``provider`` (``hosting`` with ``provider='other'``).

    Raises :class:`RequestValidationError` with ``field`` naming the path (``"body"`` for the
    body as a whole: a list, a string, a model of the wrong class, a missing required body, or a
    body given to an operation that takes none).
    """
    request_type = op.request_type
    if request_type is None:
        if body is UNSET or body is None:
            return UNSET
        raise _fail("this operation takes no request body", "body", op)
    if body is UNSET or body is None:
        if op.body_required:
            raise _fail(f"is required (a {_type_name(request_type)} or a mapping)", "body", op)
        return UNSET
    check = _BODY_CHECKS.get(op.operation_id, accept)
    try:
        if isinstance(body, request_type):
            # Checked by the attributes' declared types in the walk that builds the wire form.
            try:
                wire = model_encoder(request_type)(body, 0)
            except Invalid:
                raise
            except Exception as exc:  # e.g. a property of a subclass that raises
                raise _fail(f"cannot be encoded: {type(exc).__name__}: {exc}", "body", op) from exc
            check(wire)
        elif isinstance(body, Mapping):
            plain = to_plain(body)
            check(plain)
            wire = _in_model_form(op, request_type, plain)
        else:
            raise _fail(
                f"must be a {_type_name(request_type)} or a mapping, got {type(body).__name__}",
                "body",
                op,
            )
        if isinstance(wire, dict):
            check_rules(op.operation_id, wire, query if query is not None else _EMPTY)
    except Invalid as e:
        if isinstance(e, TooDeep):
            e = too_deep(body)
        raise _fail(e.message, e.path("body"), op) from None
    return wire


def _in_model_form(op: Operation, request_type: type[Any], plain: Any) -> Any:
    """A checked mapping body in the wire form of ``request_type``: by its conformer in one pass,
    or, for a value the conformer does not handle exactly, through the converter (the reference:
    same result, or the converter's error at its path)."""
    conform = conformer(request_type)
    if conform is not None:
        try:
            return conform(plain)
        except Exception:
            pass  # not exactly the model's JSON types: the converter decides
    try:
        model = structure(plain, request_type)
    except Exception as exc:
        message, field = _structure_error(exc)
        raise _fail(message, field, op) from exc
    return unstructure(model)


def _structure_error(exc: Exception) -> tuple[str, str]:
    """(message, field path) of a converter error, via cattrs' own path rendering."""
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        messages = cattrs.transform_error(exc, path="body")
        if messages:
            message, sep, path = messages[0].rpartition(" @ ")
            if sep:
                return message, path
            return messages[0], "body"
    return str(exc) or type(exc).__name__, "body"


def _unencodable_path(value: Any) -> list[str] | None:
    """The path (outermost first) to a string or key UTF-8 cannot encode (a lone surrogate)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return []
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(k, str) and _unencodable_path(k) is not None:
                return [f"[{k!a}]"]
            found = _unencodable_path(v)
            if found is not None:
                return [f".{k}", *found]
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _unencodable_path(v)
            if found is not None:
                return [f"[{i}]", *found]
    return None


def check_json(value: Any, *, field: str, operation: str | None = None) -> Any:
    """``value`` as plain JSON data (the walk of :func:`scaledmail_async._wire.to_plain`), for
    ``request(json=...)``.

    Raises :class:`RequestValidationError` naming the path (``json.items[2]``) for anything JSON
    cannot carry, NaN/Infinity, nesting past :data:`MAX_BODY_DEPTH` and a value that contains
    itself.
    """
    try:
        return to_plain(value)
    except Invalid as e:
        if isinstance(e, TooDeep):
            e = too_deep(value)
        raise RequestValidationError(e.message, field=e.path(field), operation=operation) from None


def encode_json(value: Any, *, field: str, operation: str | None = None) -> bytes:
    """The compact UTF-8 JSON text of a checked body (``allow_nan=False``: never ``NaN``).

    A string UTF-8 cannot encode (a lone surrogate) raises :class:`RequestValidationError` at its
    path, found on this error path only; anything else ``json.dumps`` refuses (which the checks
    before should have caught) raises it for ``field`` as a whole.
    """
    try:
        return json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except UnicodeEncodeError:
        segments = _unencodable_path(value) or []
        path = field + "".join(segments)
        raise RequestValidationError(LONE_SURROGATE, field=path, operation=operation) from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise RequestValidationError(
            f"cannot be encoded as JSON ({type(exc).__name__}: {exc})",
            field=field,
            operation=operation,
        ) from None
