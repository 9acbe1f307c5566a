"""Generate the operation surface: the operation table, the schemas, ``api/`` and the client mixin.

Each operation is written once, as its ``api/<tag>.py`` function (signature, docstring, the call
of ``_execute``); ``_generated/client_methods.py`` only lists which function each method is
(``client_method`` / ``raw_response_method`` of :mod:`scaledmail_async._wrappers`).

Plain Python string building rather than Jinja: every file is a short list of similar functions,
and building them in Python keeps the type rules (enum parameters as ``TheEnum | str``, optional
ones ``= UNSET``) in one typed place that mypy checks. Output is formatted by ruff afterwards
(:mod:`codegen._output`), so the text here only has to be valid Python.
"""

from __future__ import annotations

import pprint
import textwrap
from collections.abc import Iterable
from typing import Any

from codegen._bodies import body_dict_name, enum_value_alias
from codegen._spec import OperationSpec, ParamSpec, SpecError

__all__ = ["render_surface"]

_PY_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}

_RETRY_TEXT = {
    "safe": "Retry class ``safe``: retried on any transient failure.",
    "pre-send-only": (
        "Retry class ``pre-send-only``: retried only when the request provably was not processed; "
        "never re-sent once it may have reached the server."
    ),
}

_DOC_WIDTH = 92


class _Names:
    """Maps component schema names to generated class names."""

    def __init__(
        self, schema_classes: dict[str, str], enum_classes: Iterable[str], body_schemas: list[str]
    ) -> None:
        self._schema_classes = schema_classes
        self.enums = frozenset(enum_classes)
        self._body_schemas = body_schemas

    def cls(self, schema_name: str) -> str:
        try:
            return self._schema_classes[schema_name]
        except KeyError:
            raise SpecError(f"no generated model for components/schemas/{schema_name}") from None

    def body_dict(self, schema_name: str) -> str:
        """The TypedDict of a request body schema."""
        return body_dict_name(schema_name, self._body_schemas)


def _response_type(op: OperationSpec, names: _Names) -> str:
    name = names.cls(op.response_schema_name)
    return f"list[{name}]" if op.response_is_list else name


def _param_type(param: ParamSpec, names: _Names) -> str:
    if param.enum_schema is not None:
        return enum_value_alias(names.cls(param.enum_schema))
    return _PY_TYPES[param.json_type]


def _models_used(op: OperationSpec, names: _Names) -> set[str]:
    used = {names.cls(op.response_schema_name)}
    if op.body_schema_name is not None:
        used.add(names.cls(op.body_schema_name))
        used.add(names.body_dict(op.body_schema_name))
    for param in (*op.path_params, *op.query_params):
        if param.enum_schema is not None:
            used.add(enum_value_alias(names.cls(param.enum_schema)))
    return used


def _wrap(text: str, indent: str, hanging: str = "") -> list[str]:
    """Wrap prose to the docstring width, keeping paragraphs and list items."""
    out: list[str] = []
    width = max(40, _DOC_WIDTH - len(indent))
    for paragraph in text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').split("\n\n"):
        lines = [ln.strip() for ln in paragraph.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        items: list[str] = []
        for line in lines:
            if line.startswith(("- ", "* ")) or not items:
                items.append(line)
            else:
                items[-1] = f"{items[-1]} {line}"
        if out:
            out.append("")
        for item in items:
            bullet = item.startswith(("- ", "* "))
            out.extend(
                textwrap.wrap(
                    item,
                    width=width,
                    subsequent_indent="  " if bullet else hanging,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    return [f"{indent}{line}" if line else "" for line in out]


def _docstring(op: OperationSpec, names: _Names, indent: str) -> str:
    """The api function's docstring: also the docstring of both client methods derived from it."""
    lines: list[str] = []
    summary = op.summary or op.operation_id.replace("_", " ").capitalize()
    lines.append(summary if summary.endswith(".") else f"{summary}.")
    if op.description:
        lines.append("")
        lines.extend(_wrap(op.description, ""))
    lines.append("")
    facts = [
        f"``{op.method} {op.path}``.",
        "**Spends money.**" if op.spends_money else "Does not spend money.",
        _RETRY_TEXT[op.retry],
    ]
    if op.rate_limit_group is not None:
        facts.append(f"Rate-limit group ``{op.rate_limit_group}`` (on top of the global limit).")
    if op.source is not None:
        facts.append(f"Shape source: ``{op.source}``.")
    lines.extend(_wrap(" ".join(facts), ""))
    lines.append("")
    lines.append("Args:")
    lines.append("    client: The client (a ``ScaledmailClient``) that sends the request.")
    for param in (*op.path_params, *op.query_params):
        text = param.description or f"The ``{param.name}`` {param.location} parameter."
        if param.enum_values:
            values = ", ".join(f"``{v}``" for v in param.enum_values)
            text = (
                f"{text} One of {values}; a value the spec does not list is sent when given as "
                '``Unlisted("...")``.'
            )
        if not param.required:
            text = f"{text} Not sent when ``UNSET``."
        lines.extend(_wrap(f"{param.python_name}: {text}", "    ", "    "))
    if op.body_schema_name is not None:
        model = names.cls(op.body_schema_name)
        text = (
            f"body: The JSON body: a ``{model}`` or its dict form ``"
            f"{names.body_dict(op.body_schema_name)}`` (a TypedDict, wire names), validated "
            "before anything is sent."
        )
        if not op.body_required:
            text = f"{text} Not sent when ``UNSET``."
        lines.extend(_wrap(text, "    ", "    "))
    if op.organization == "required":
        org = (
            "organization_id: The organization to act on: ``UNSET`` uses the client's default "
            "(``SCALEDMAIL_ORGANIZATION_ID``). Required: without one the call raises "
            "``MissingOrganizationError`` before anything is sent."
        )
    elif op.organization == "optional":
        org = (
            "organization_id: The organization to act on (optional here): ``UNSET`` uses the "
            "client's default, ``None`` sends none."
        )
    else:
        org = (
            "organization_id: Accepted for uniformity; this operation never sends an organization."
        )
    lines.extend(_wrap(org, "    ", "    "))
    lines.extend(
        _wrap(
            "timeout: Seconds per attempt: ``UNSET`` uses the client's setting, ``None`` sets "
            "none.",
            "    ",
            "    ",
        )
    )
    lines.extend(
        _wrap(
            "deadline: Seconds allowed for the whole call, including rate-limiter waits and "
            "retries: ``UNSET`` uses the client's setting (no overall limit unless the client "
            "sets one), ``None`` sets no overall limit.",
            "    ",
            "    ",
        )
    )
    lines.extend(
        _wrap(
            "extra_headers: Headers sent besides the client's own (a header the API added "
            "later); the client's ``Authorization`` (the API key) and the headers aiohttp sets "
            "cannot be replaced: that raises ``RequestValidationError`` before sending.",
            "    ",
            "    ",
        )
    )
    lines.extend(
        _wrap(
            "extra_query: Query parameters the spec does not declare, sent as given; a "
            "parameter of this operation (or ``organization_id``) is refused: pass it as its "
            "argument.",
            "    ",
            "    ",
        )
    )
    if op.spends_money:
        lines.extend(
            _wrap(
                "allow_duplicate: With a purchase journal, buy even though the journal holds a "
                "live purchase with the same evidence (tag or domains); otherwise that raises "
                "``DuplicatePurchaseError`` before anything is sent.",
                "    ",
                "    ",
            )
        )
        lines.extend(
            _wrap(
                "exactly_once: On an ambiguous failure, reconcile (through the journal) and "
                "return the purchase found on the server, re-send only when it is provably "
                "absent, else raise ``OutcomeUnknownError`` with the journal entry.",
                "    ",
                "    ",
            )
        )
    lines.append("")
    lines.append("Returns:")
    response = _response_type(op, names)
    lines.extend(
        _wrap(
            f"The parsed ``{response}`` (through ``client.with_raw_response``: an "
            "``APIResponse`` around it, with the status, headers and timings).",
            "    ",
        )
    )
    body = "\n".join(f"{indent}{line}" if line else "" for line in lines)
    return f'{indent}"""{body.lstrip()}\n{indent}"""'


def _signature(op: OperationSpec, names: _Names, first: str, indent: str) -> str:
    """The parameter list, one per line (magic trailing comma keeps ruff from joining them)."""
    parts = [first]
    for param in op.path_params:
        parts.append(f"{param.python_name}: {_param_type(param, names)}")
    parts.append("*")
    for param in op.query_params:
        hint = _param_type(param, names)
        parts.append(
            f"{param.python_name}: {hint}"
            if param.required
            else f"{param.python_name}: {hint} | Unset = UNSET"
        )
    if op.body_schema_name is not None:
        body_type = f"{names.cls(op.body_schema_name)} | {names.body_dict(op.body_schema_name)}"
        parts.append(
            f"body: {body_type}" if op.body_required else f"body: {body_type} | Unset = UNSET"
        )
    parts.append("organization_id: str | Unset | None = UNSET")
    # The API contract names it ``timeout`` (per-attempt seconds), hence the noqa.
    parts.append("timeout: float | Unset | None = UNSET,  # noqa: ASYNC109")
    parts.append("deadline: float | Unset | None = UNSET")
    parts.append("extra_headers: Mapping[str, str] | None = None")
    parts.append("extra_query: Mapping[str, QueryValue] | None = None")
    if op.spends_money:
        parts.append("allow_duplicate: bool = False")
        parts.append("exactly_once: bool = False")
    inner = "".join(
        f"\n{indent}    {part}" if part.endswith("# noqa: ASYNC109") else f"\n{indent}    {part},"
        for part in parts
    )
    return f"{inner}\n{indent}"


def _execute_call(op: OperationSpec, indent: str) -> list[str]:
    lines: list[str] = []
    required = [p for p in op.query_params if p.required]
    optional = [p for p in op.query_params if not p.required]
    if op.query_params:
        entries = ", ".join(f"{p.name!r}: {p.python_name}" for p in required)
        lines.append(f"{indent}query: dict[str, Any] = {{{entries}}}")
        for param in optional:
            lines.append(f"{indent}if {param.python_name} is not UNSET:")
            lines.append(f"{indent}    query[{param.name!r}] = {param.python_name}")
        query = "query"
    else:
        query = "{}"
    path_params = ", ".join(
        f"{p.name!r}: {p.python_name}"
        if p.json_type == "string"
        else f"{p.name!r}: str({p.python_name})"
        for p in op.path_params
    )
    body = "body" if op.body_schema_name is not None else "UNSET"
    purchase = (
        "allow_duplicate=allow_duplicate, exactly_once=exactly_once, " if op.spends_money else ""
    )
    lines.append(
        f"{indent}result = await client._execute("
        f"OPERATIONS[{op.operation_id!r}], path_params={{{path_params}}}, query={query}, "
        f"body={body}, organization_id=organization_id, timeout=timeout, deadline=deadline, "
        f"extra_headers=extra_headers, extra_query=extra_query, {purchase}raw=False)"
    )
    return lines


def _module_doc(header: str, doc: str) -> list[str]:
    return [header, f'"""{doc}"""', "", "from __future__ import annotations", ""]


def _render_api_module(
    header: str, tag: str, ops: list[OperationSpec], names: _Names, tag_doc: str
) -> str:
    models: set[str] = set()
    for op in ops:
        models |= _models_used(op, names)
    doc = f"Operations tagged ``{tag}``"
    doc = f"{doc}: {tag_doc.rstrip('.')}." if tag_doc else f"{doc}."
    doc = "\n".join(_wrap(doc, ""))
    lines = _module_doc(
        header,
        f"{doc}\n\nOne coroutine function per operation; the first argument is the client. These\n"
        "functions are the only definition of the operations: ``client.<op>`` and\n"
        "``client.with_raw_response.<op>`` are derived from them\n"
        "(``_generated.client_methods``).\n",
    )
    lines.append("from collections.abc import Mapping")
    lines.append("from typing import Any, cast")
    lines.append("")
    lines.append("from scaledmail_async._generated.operations import OPERATIONS")
    lines.append("from scaledmail_async._protocol import ExecuteClient")
    # Not used by the code: the raw-response methods share these globals, and
    # typing.get_type_hints resolves their ``APIResponse[T]`` return annotation in them.
    lines.append(
        "from scaledmail_async._response import APIResponse as APIResponse  # raw methods' type"
    )
    lines.append("from scaledmail_async._types import UNSET, QueryValue, Unset")
    lines.append(f"from scaledmail_async.models import {', '.join(sorted(models))}")
    lines.append("")
    lines.append(f"__all__ = [{', '.join(repr(op.operation_id) for op in ops)}]")
    for op in ops:
        response = _response_type(op, names)
        lines.append("")
        lines.append("")
        lines.append(
            f"async def {op.operation_id}({_signature(op, names, 'client: ExecuteClient', '')}) "
            f"-> {response}:"
        )
        lines.append(_docstring(op, names, "    "))
        lines.extend(_execute_call(op, indent="    "))
        lines.append(f"    return cast({response!r}, result)")
    lines.append("")
    return "\n".join(lines)


def _render_api_init(header: str, tags: list[str]) -> str:
    lines = _module_doc(
        header,
        "The API's operations as coroutine functions, one module per tag.\n\n"
        '``await orders.get_order_details(client, "rec...")`` is the same call as\n'
        '``await client.get_order_details("rec...")``: the client method is this function.\n',
    )
    lines.append(f"from scaledmail_async.api import {', '.join(tags)}")
    lines.append("")
    lines.append(f"__all__ = [{', '.join(repr(t) for t in tags)}]")
    lines.append("")
    return "\n".join(lines)


def _render_client_methods(header: str, ops: list[OperationSpec]) -> str:
    lines = _module_doc(
        header,
        "Every operation as a method, derived from its ``api.<tag>`` function\n"
        "(:mod:`scaledmail_async._wrappers`): ``OperationsMixin`` (parsed models) and\n"
        "``RawResponseOperations`` (``client.with_raw_response``: ``APIResponse`` with status,\n"
        "headers and timings).\n",
    )
    lines.append("from scaledmail_async import api as _api")
    lines.append(
        "from scaledmail_async._wrappers import RawResponseProxy, client_method, "
        "raw_response_method"
    )
    lines.append("")
    lines.append('__all__ = ["OperationsMixin", "RawResponseOperations"]')
    lines.append("")
    lines.append("")
    lines.append("class OperationsMixin:")
    lines.append(
        '    """The API\'s operations as methods; ``ScaledmailClient`` provides ``_execute``."""'
    )
    lines.append("")
    lines.append("    __slots__ = ()")
    lines.append("")
    for op in ops:
        lines.append(
            f"    {op.operation_id} = client_method("
            f"_api.{op.tag}.{op.operation_id}, {'OperationsMixin'!r})"
        )
    lines.append("")
    lines.append("")
    lines.append("class RawResponseOperations(RawResponseProxy):")
    lines.append(
        '    """The same operations, returning ``APIResponse[T]``: ``client.with_raw_response``."""'
    )
    lines.append("")
    lines.append("    __slots__ = ()")
    lines.append("")
    for op in ops:
        lines.append(
            f"    {op.operation_id} = raw_response_method("
            f"_api.{op.tag}.{op.operation_id}, {'RawResponseOperations'!r})"
        )
    lines.append("")
    return "\n".join(lines)


def _query_param_literal(param: ParamSpec) -> str:
    fields = [
        f"name={param.name!r}",
        f"required={param.required!r}",
        f"type={param.json_type!r}",
    ]
    if param.enum_values is not None:
        fields.append(f"enum={param.enum_values!r}")
    if param.default is not None:
        fields.append(f"default={param.default!r}")
    if param.description:
        fields.append(f"description={_literal(param.description, width=64)}")
    return f"QueryParam({', '.join(fields)})"


def _render_operations(header: str, ops: list[OperationSpec], names: _Names) -> str:
    lines = _module_doc(
        header,
        "The table of the API's operations, read by the transport (``Operation`` records).\n",
    )
    lines.append("from scaledmail_async import models")
    lines.append("from scaledmail_async._operation import Operation, QueryParam, Reconcile")
    lines.append("")
    lines.append('__all__ = ["OPERATIONS"]')
    lines.append("")
    lines.append("OPERATIONS: dict[str, Operation] = {")
    for op in ops:
        response = f"models.{names.cls(op.response_schema_name)}"
        if op.response_is_list:
            response = f"list[{response}]"
        request = (
            f"models.{names.cls(op.body_schema_name)}"
            if op.body_schema_name is not None
            else "None"
        )
        query = ", ".join(_query_param_literal(p) for p in op.query_params)
        path_params = "".join(f"{p.name!r}, " for p in op.path_params)
        lines.append(f"    {op.operation_id!r}: Operation(")
        lines.append(f"        operation_id={op.operation_id!r},")
        lines.append(f"        tag={op.tag!r},")
        lines.append(f"        method={op.method!r},")
        lines.append(f"        path={op.path!r},")
        lines.append(f"        path_params=({path_params}),")
        lines.append(f"        query_params=({query}{',' if op.query_params else ''}),")
        lines.append(f"        request_type={request},")
        lines.append(f"        body_required={op.body_required!r},")
        lines.append(f"        response_type={response},")
        lines.append(f"        retry={op.retry!r},")
        lines.append(f"        spends_money={op.spends_money!r},")
        lines.append(f"        rate_limit_group={op.rate_limit_group!r},")
        lines.append(f"        organization={op.organization!r},")
        if op.reconcile is not None:
            by, field, max_length = op.reconcile
            lines.append(
                f"        reconcile=Reconcile(by={by!r}, field={field!r}, "
                f"max_length={max_length!r}),"
            )
        lines.append(f"        summary={_literal(op.summary, width=64)},")
        lines.append("    ),")
    lines.append("}")
    lines.append("")
    return "\n".join(lines)


def _literal(value: Any, width: int = 80) -> str:
    """A Python literal; pprint splits long strings into implicitly concatenated pieces."""
    return pprint.pformat(value, indent=1, width=width, sort_dicts=False)


def _render_schemas(header: str, spec: dict[str, Any], ops: list[OperationSpec]) -> str:
    components = (spec.get("components") or {}).get("schemas") or {}
    lines = _module_doc(
        header,
        "The spec's JSON schemas as plain data, for request validation.\n\n"
        '``$ref``s are left as written (``{"$ref": "#/components/schemas/X"}``); resolve them in\n'
        "``COMPONENT_SCHEMAS``.\n",
    )
    lines.append("from typing import Any, Final")
    lines.append("")
    lines.append(
        '__all__ = ["COMPONENT_SCHEMAS", "QUERY_PARAMETER_SCHEMAS", "REQUEST_BODY_SCHEMAS"]'
    )
    lines.append("")
    lines.append("#: Every ``components/schemas`` entry, by name.")
    lines.append(f"COMPONENT_SCHEMAS: Final[dict[str, dict[str, Any]]] = {_literal(components)}")
    lines.append("")
    lines.append("#: operationId -> the JSON schema of its request body (operations with a body).")
    bodies = {op.operation_id: op.body_schema for op in ops if op.body_schema is not None}
    lines.append(f"REQUEST_BODY_SCHEMAS: Final[dict[str, dict[str, Any]]] = {_literal(bodies)}")
    lines.append("")
    lines.append(
        "#: operationId -> declared query parameter name -> its schema (not ``organization_id``)."
    )
    query = {op.operation_id: {p.name: p.schema for p in op.query_params} for op in ops}
    lines.append(
        f"QUERY_PARAMETER_SCHEMAS: Final[dict[str, dict[str, dict[str, Any]]]] = {_literal(query)}"
    )
    lines.append("")
    return "\n".join(lines)


def render_surface(
    *,
    header: str,
    spec: dict[str, Any],
    ops: list[OperationSpec],
    schema_classes: dict[str, str],
    enum_classes: Iterable[str],
) -> dict[str, str]:
    """Render every surface file; returns repository-relative path -> source."""
    body_schemas = sorted({op.body_schema_name for op in ops if op.body_schema_name is not None})
    names = _Names(schema_classes, enum_classes, body_schemas)
    tag_docs = {
        str(t.get("name")): str(t.get("description") or "").strip() for t in spec.get("tags") or []
    }
    by_tag: dict[str, list[OperationSpec]] = {}
    for op in ops:
        by_tag.setdefault(op.tag, []).append(op)
    files: dict[str, str] = {
        "scaledmail_async/_generated/operations.py": _render_operations(header, ops, names),
        "scaledmail_async/_generated/schemas.py": _render_schemas(header, spec, ops),
        "scaledmail_async/_generated/client_methods.py": _render_client_methods(header, ops),
        "scaledmail_async/api/__init__.py": _render_api_init(header, sorted(by_tag)),
        "scaledmail_async/_generated/__init__.py": "\n".join(
            [
                header,
                '"""Generated from the spec: the operation table (``operations``), the JSON',
                "schemas the validation compiles (``schemas``) and the client's operation methods",
                '(``client_methods``, derived from the ``api`` functions)."""',
                "",
            ]
        ),
    }
    for tag, tag_ops in by_tag.items():
        if tag.startswith("_") or tag in ("models",):
            raise SpecError(f"tag {tag!r} cannot be a module name")
        files[f"scaledmail_async/api/{tag}.py"] = _render_api_module(
            header, tag, tag_ops, names, tag_docs.get(tag, "")
        )
    return files
