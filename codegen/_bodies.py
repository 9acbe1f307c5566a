"""Generate ``scaledmail_async/models/bodies.py``: a ``TypedDict`` for every request body.

Every operation with a body accepts its attrs model or a plain dict literal; the TypedDicts make
the dict form checked too (the editor completes keys, a type checker reports a misspelt key, a
value of the wrong type, a missing required key and an unknown enum value). Names: a body schema
``XRequest`` gives ``XBody`` (``BuyDomainsBody``); a schema nested in a body gives ``XDict``
(``HostingDict``). Keys are the wire names; ``Required``/``NotRequired`` follow the schema's
``required``; a nested object also accepts its attrs model (the request encoder takes both);
an enumerated value is the enum's ``<Enum>Value`` alias (the enum, its literal strings, or an
explicit :class:`~scaledmail_async.Unlisted`).

Written here rather than by datamodel-code-generator: its ``typing.TypedDict`` output names the
classes after the schemas (clashing with the attrs models) and types enum fields as the enum
class only, so both the names and the enum rule would need post-processing of its output; the
request bodies use a small subset of JSON Schema (objects, arrays, scalars, ``$ref``, maps), which
this module maps directly.

Also here: which component schemas are reachable from request bodies only (their attrs models
type enumerated fields strictly, see :mod:`codegen._models`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codegen._spec import OperationSpec, SpecError

__all__ = [
    "body_dict_name",
    "enum_value_alias",
    "reachable_schemas",
    "render_bodies",
    "request_only_schemas",
    "typed_dict_names",
]

_TRIPLE = '"' * 3

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def enum_value_alias(enum_class: str) -> str:
    """The alias of an enum's accepted request values: ``MailProvider`` -> ``MailProviderValue``."""
    return f"{enum_class}Value"


def body_dict_name(schema_name: str, body_schemas: Iterable[str]) -> str:
    """The TypedDict name of a component schema (see the module docstring)."""
    if schema_name in set(body_schemas):
        stem = schema_name.removesuffix("Request")
        return f"{stem}Body"
    return f"{schema_name}Dict"


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    if ref is None:
        return None
    prefix = "#/components/schemas/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        raise SpecError(f"unsupported $ref {ref!r}")
    return ref[len(prefix) :]


def reachable_schemas(spec: dict[str, Any], roots: Iterable[str]) -> set[str]:
    """Component schemas reachable from ``roots`` (the roots included) through ``$ref``s."""
    schemas = (spec.get("components") or {}).get("schemas") or {}
    seen: set[str] = set()
    stack = list(roots)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            name = _ref_name(node) if "$ref" in node else None
            if name is not None:
                stack.append(name)
            for key, value in node.items():
                if key != "$ref":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in schemas:
            raise SpecError(f"$ref to missing components/schemas/{name}")
        seen.add(name)
        walk(schemas[name])
    return seen


def _response_roots(spec: dict[str, Any]) -> set[str]:
    roots: set[str] = set()

    def refs(node: Any) -> None:
        if isinstance(node, dict):
            name = node.get("$ref")
            if isinstance(name, str) and name.startswith("#/components/schemas/"):
                roots.add(name.rsplit("/", 1)[1])
            elif isinstance(name, str) and name.startswith("#/components/responses/"):
                response = (spec.get("components") or {}).get("responses", {})
                refs(response.get(name.rsplit("/", 1)[1]))
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    for item in (spec.get("paths") or {}).values():
        for op in item.values():
            if isinstance(op, dict):
                refs(op.get("responses"))
    return roots


def request_only_schemas(spec: dict[str, Any], ops: list[OperationSpec]) -> set[str]:
    """Schemas reachable from a request body and from no response."""
    bodies = [op.body_schema_name for op in ops if op.body_schema_name is not None]
    in_requests = reachable_schemas(spec, bodies)
    in_responses = reachable_schemas(spec, _response_roots(spec))
    return in_requests - in_responses


class _Renderer:
    def __init__(
        self,
        spec: dict[str, Any],
        ops: list[OperationSpec],
        schema_classes: dict[str, str],
        enum_classes: Iterable[str],
    ) -> None:
        self.schemas: dict[str, Any] = (spec.get("components") or {}).get("schemas") or {}
        self.body_names = sorted(
            {op.body_schema_name for op in ops if op.body_schema_name is not None}
        )
        self.classes = schema_classes
        self.enums = frozenset(enum_classes)
        self.used_models: set[str] = set()
        self.used_aliases: set[str] = set()
        #: Inline objects met while rendering: TypedDict name -> schema.
        self.inline: dict[str, dict[str, Any]] = {}

    def cls(self, schema_name: str) -> str:
        try:
            return self.classes[schema_name]
        except KeyError:
            raise SpecError(f"no generated model for components/schemas/{schema_name}") from None

    def type_of(self, node: dict[str, Any], where: str) -> str:
        name = _ref_name(node)
        if name is not None:
            cls = self.cls(name)
            if cls in self.enums:
                alias = enum_value_alias(cls)
                self.used_aliases.add(alias)
                return alias
            self.used_models.add(cls)
            return f"{body_dict_name(name, self.body_names)} | {cls}"
        alternatives = node.get("anyOf") or node.get("oneOf")
        if isinstance(alternatives, list):
            parts = [
                "None" if alt == {"type": "null"} else self.type_of(alt, where)
                for alt in alternatives
            ]
            return " | ".join(dict.fromkeys(parts))
        kind = node.get("type")
        nullable = False
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            nullable = len(kinds) != len(kind)
            if len(kinds) != 1:
                raise SpecError(f"{where}: a request value of several types is not supported")
            kind = kinds[0]
        if kind in _SCALARS:
            text = _SCALARS[kind]
        elif kind == "array":
            items = node.get("items")
            if not isinstance(items, dict):
                raise SpecError(f"{where}: an array needs items")
            inner = self.type_of(items, f"{where}[]")
            # A list of plain scalars stays ``list[str]`` (a bare string is then an error, not
            # a sequence of characters); items that are a union (an object's dict form or
            # model, an enum's values) take a ``Sequence``, because ``list`` is invariant: a
            # ``list[DomainSpecDict]`` the user built is not a ``list[DomainSpecDict |
            # DomainSpec]``.
            text = f"list[{inner}]" if inner in _SCALARS.values() else f"Sequence[{inner}]"
        elif kind == "object":
            if node.get("properties"):
                # An inline object: a TypedDict of its own, named after where it sits.
                inline = "".join(
                    part[:1].upper() + part[1:]
                    for part in where.replace("[]", ".").replace("{}", ".").split(".")
                    if part
                )
                self.inline[f"{inline}Dict"] = node
                return f"{inline}Dict"
            values = node.get("additionalProperties")
            inner = self.type_of(values, f"{where}{{}}") if isinstance(values, dict) else "object"
            text = f"Mapping[str, {inner}]"
        else:
            raise SpecError(f"{where}: no request type for {node!r}")
        return f"{text} | None" if nullable else text

    def typed_dict(self, schema_name: str) -> list[str]:
        cls = self.cls(schema_name)
        return self._typed_dict(
            body_dict_name(schema_name, self.body_names),
            self.schemas[schema_name],
            f"The dict form of :class:`~scaledmail_async.models.{cls}` (wire names).",
            schema_name,
        )

    def _typed_dict(
        self, name: str, schema: dict[str, Any], title: str, schema_name: str
    ) -> list[str]:
        required = set(schema.get("required") or [])
        about = " ".join(str(schema.get("description") or "").split())
        about = about.replace(_TRIPLE, "'" * 3)
        lines = [
            f"class {name}(TypedDict):",
            f'    """{title}',
            "",
            *([f"    {about}", ""] if about else []),
            "    Keys the spec does not declare are not accepted here; send them through the"
            " model's",
            '    ``additional_properties``."""',
            "",
        ]
        properties = schema.get("properties") or {}
        if not properties:
            raise SpecError(f"components/schemas/{schema_name}: a request body needs properties")
        for key, node in properties.items():
            if not key.isidentifier():
                raise SpecError(f"components/schemas/{schema_name}.{key}: not an identifier")
            hint = self.type_of(node, f"{schema_name}.{key}")
            wrapped = f"Required[{hint}]" if key in required else f"NotRequired[{hint}]"
            lines.append(f"    {key}: {wrapped}")
            text = str(node.get("description") or "").strip().replace('"""', "'''")
            if text:
                lines.append(f'    """{text}"""' if "\n" not in text else f'    """{text}\n    """')
        return lines

    def render(self, header: str, request_schemas: Iterable[str]) -> str:
        order = [n for n in self.schemas if n in set(request_schemas)]
        blocks = [self.typed_dict(n) for n in order if self.cls(n) not in self.enums]
        names = [body_dict_name(n, self.body_names) for n in order if self.cls(n) not in self.enums]
        done: set[str] = set()
        while set(self.inline) - done:
            name = sorted(set(self.inline) - done)[0]
            done.add(name)
            blocks.append(
                self._typed_dict(name, self.inline[name], "An object inside a request body.", name)
            )
            names.append(name)
        lines = [
            header,
            '"""Request bodies as ``TypedDict``\'s: the dict form of every request model.',
            "",
            '``await client.buy_domains(body={"domains": ["a.com"]})`` is checked like',
            '``body=BuyDomainsRequest(domains=["a.com"])``: keys are the wire names,',
            "``Required``/``NotRequired`` follow the spec, nested objects take their dict form or",
            "their model, enumerated values their ``<Enum>Value`` alias (an explicit ``Unlisted``",
            "for a value the spec does not list yet). Also importable from",
            "``scaledmail_async.models``.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from collections.abc import Mapping, Sequence",
            "from typing import NotRequired, Required, TypedDict",
            "",
        ]
        imports = sorted(self.used_models | self.used_aliases)
        lines.append(f"from scaledmail_async.models import {', '.join(imports)}")
        lines.append("")
        lines.append(f"__all__ = [{', '.join(repr(n) for n in sorted(names))}]")
        for block in blocks:
            lines.extend(["", "", *block])
        lines.append("")
        return "\n".join(lines)


def typed_dict_names(spec: dict[str, Any], ops: list[OperationSpec]) -> list[str]:
    """The names of the TypedDicts :func:`render_bodies` writes (schemas with ``enum`` are
    enums, which get no TypedDict)."""
    schemas = (spec.get("components") or {}).get("schemas") or {}
    bodies = sorted({op.body_schema_name for op in ops if op.body_schema_name is not None})
    reachable = reachable_schemas(spec, bodies)
    return [
        body_dict_name(n, bodies) for n in schemas if n in reachable and "enum" not in schemas[n]
    ]


def render_bodies(
    *,
    header: str,
    spec: dict[str, Any],
    ops: list[OperationSpec],
    schema_classes: dict[str, str],
    enum_classes: Iterable[str],
) -> str:
    """The source of ``models/bodies.py``."""
    renderer = _Renderer(spec, ops, schema_classes, enum_classes)
    return renderer.render(header, reachable_schemas(spec, renderer.body_names))
