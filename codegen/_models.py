"""Generate ``scaledmail_async/models`` with datamodel-code-generator (DCG) and our attrs templates.

DCG has no attrs output type (its issue 2480), so its ``dataclasses.dataclass`` output is driven
through ``codegen/templates/dataclass.jinja2`` (attrs classes, ``UNSET`` defaults,
``additional_properties``) and ``codegen/templates/Enum.jinja2``. Three small deterministic steps
happen outside DCG, each because neither a DCG option nor a template can express it:

1. the input is a derived copy of the spec in which each component schema's description gains a
   line naming its ``x-source`` (templates only see the description, not vendor extensions);
2. enum-typed annotations are widened from ``TheEnum`` to ``TheEnum | str`` (unknown values are kept
   as strings). A Jinja template only has the rendered type hint string, in which an enum can sit
   anywhere (``list[TheEnum] | None``), so this is done on the module's syntax tree: every enum
   name inside a class attribute annotation is rewritten in place. In the models only requests
   use (``CalculatePackageRequest``), an enum becomes ``TheEnumValue`` instead: the enum, its
   literal strings or an explicit ``Unlisted`` (so a type checker reports ``tier="maxx"``); one
   such alias per enum is appended to the module, with the re-export of the request bodies'
   TypedDicts (:mod:`codegen._bodies`);
3. ``--emit-model-metadata`` writes the wire names that ``--snake-case-field`` replaces; they are
   written to ``scaledmail_async/models/_wire_names.py`` for the converter.

Unused imports DCG adds (``from dataclasses import dataclass``) are removed by ``ruff check --fix``,
which also formats, in :mod:`codegen._output`.
"""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codegen._bodies import enum_value_alias
from codegen._spec import SpecError

__all__ = ["GeneratedModels", "generate_models"]

TEMPLATE_DIR = Path(__file__).parent / "templates"

_MODELS_DOC = '''"""The Scaledmail API's models (attrs classes), generated from the OpenAPI spec.

Attributes are the snake_case of the wire names (``email_mailbox_count`` for ``emailMailboxCount``);
:mod:`scaledmail_async._converter` renames them. Optional attributes default to ``UNSET`` (absent on
the wire); ``None`` means JSON ``null``. Enum-typed attributes also accept any string, so a value
the spec does not list is kept as a plain ``str``. Keys a model does not declare are kept in its
``additional_properties`` and written back when it is sent.
"""'''

_DCG_OPTIONS = [
    "--input-file-type",
    "openapi",
    "--openapi-scopes",
    "schemas",
    "--output-model-type",
    "dataclasses.dataclass",
    "--target-python-version",
    "3.11",
    "--snake-case-field",
    "--disable-timestamp",
    "--use-standard-collections",
    "--use-union-operator",
    "--output-datetime-class",
    "datetime",
    "--output-date-class",
    "date",
    "--strict-nullable",
    "--use-subclass-enum",
    "--capitalize-enum-members",
    "--use-schema-description",
    "--use-field-description",
    "--collapse-root-models",
    "--naming-strategy",
    "parent-prefixed",
    "--no-formatters",
    "--disable-warnings",
    "--additional-imports",
    "attrs,typing.Any,typing.Literal,typing.TypeAlias,scaledmail_async._types.UNSET,"
    "scaledmail_async._types.Unlisted,scaledmail_async._types.Unset,"
    "scaledmail_async._model_base.ScaledmailModel",
]


@dataclass(frozen=True)
class GeneratedModels:
    """The models module's source and what the other generators need to know about it."""

    source: str
    wire_names_source: str
    schema_classes: dict[str, str]
    """Component schema name -> generated class name."""
    model_classes: tuple[str, ...]
    enum_classes: tuple[str, ...]


def _dcg_input(spec: dict[str, Any]) -> dict[str, Any]:
    derived = copy.deepcopy(spec)
    schemas = (derived.get("components") or {}).get("schemas") or {}
    for schema in schemas.values():
        source = schema.get("x-source")
        if isinstance(source, str):
            text = str(schema.get("description") or "").strip()
            note = f"Shape source (``x-source``): ``{source}``."
            schema["description"] = f"{text}\n\n{note}" if text else note
    return derived


def _run_dcg(spec: dict[str, Any], header: str, work: Path) -> tuple[str, dict[str, Any]]:
    spec_file = work / "dcg-input.json"
    spec_file.write_text(json.dumps(spec, indent=1, sort_keys=False), encoding="utf-8")
    output = work / "dcg-models.py"
    metadata = work / "dcg-metadata.json"
    command = [
        sys.executable,
        "-m",
        "datamodel_code_generator",
        "--input",
        str(spec_file),
        "--output",
        str(output),
        "--emit-model-metadata",
        str(metadata),
        "--custom-template-dir",
        str(TEMPLATE_DIR),
        "--custom-file-header",
        header,
        *_DCG_OPTIONS,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SpecError(f"datamodel-code-generator failed:\n{result.stderr}{result.stdout}")
    meta = json.loads(metadata.read_text(encoding="utf-8"))
    return output.read_text(encoding="utf-8"), meta


def _class_kinds(tree: ast.Module) -> tuple[list[str], list[str]]:
    models: list[str] = []
    enums: list[str] = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
        if bases & {"StrEnum", "Enum", "IntEnum"}:
            enums.append(node.name)
        elif any(ast.unparse(d).startswith("attrs.define") for d in node.decorator_list):
            models.append(node.name)
        else:
            raise SpecError(f"DCG produced an unexpected class {node.name!r}")
    return models, enums


def _widen_enums(source: str, enums: set[str], strict_classes: set[str]) -> str:
    """Rewrite ``TheEnum`` to ``TheEnum | str`` in every class attribute annotation, and to
    ``TheEnumValue`` (the enum, its literal strings or an explicit ``Unlisted``) in the models
    only requests use (``strict_classes``)."""
    tree = ast.parse(source)
    edits: list[tuple[int, int, int, bool]] = []
    for node in tree.body:
        if not isinstance(node, ast.ClassDef) or node.name in enums:
            continue
        strict = node.name in strict_classes
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign):
                target = stmt.target.id if isinstance(stmt.target, ast.Name) else ""
                for sub in ast.walk(stmt.annotation):
                    if (
                        isinstance(sub, ast.Name)
                        and sub.id == "Any"
                        and target != "additional_properties"
                    ):
                        # A value the spec gives no type: ``object`` (narrow it), not ``Any``.
                        if sub.end_col_offset is None or sub.lineno != sub.end_lineno:
                            raise SpecError(f"cannot locate annotation in {node.name}")
                        edits.append((sub.lineno, sub.col_offset, sub.end_col_offset, False))
                        continue
                    if isinstance(sub, ast.Name) and sub.id in enums:
                        if sub.end_col_offset is None or sub.lineno != sub.end_lineno:
                            raise SpecError(f"cannot locate annotation in {node.name}")
                        edits.append((sub.lineno, sub.col_offset, sub.end_col_offset, strict))
    lines = source.splitlines(keepends=True)
    for lineno, start, end, strict in sorted(edits, reverse=True):
        # col offsets are UTF-8 byte offsets; annotations are ASCII, so they equal str indexes.
        line = lines[lineno - 1]
        name = line[start:end]
        if name == "Any":
            widened = "object"
        else:
            widened = enum_value_alias(name) if strict else f"{name} | str"
        lines[lineno - 1] = f"{line[:start]}{widened}{line[end:]}"
    return "".join(lines)


def _enum_values(source: str, enums: list[str]) -> dict[str, list[str]]:
    """Each generated enum's values, read from its members (``GOOGLE = "google"``): inline
    enums of the spec get a class too, with no component schema to read them from."""
    values: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name in enums:
            values[node.name] = [
                stmt.value.value
                for stmt in node.body
                if isinstance(stmt, ast.Assign)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ]
    return {e: values[e] for e in enums}


def _enum_aliases(enum_values: dict[str, list[str]]) -> str:
    """One ``<Enum>Value`` alias per enum: what a request may give for it."""
    out = [
        "",
        "",
        "# What a request may give for each enum: a member, its literal string, or an explicit",
        "# ``Unlisted(...)`` for a value the spec does not list yet (a type checker reports any",
        "# other string). Responses keep unknown values as plain ``str``.",
    ]
    for enum_class, values in enum_values.items():
        literal = ", ".join(repr(v) for v in values)
        out.append("")
        out.append(
            f"{enum_value_alias(enum_class)}: TypeAlias = "
            f"{enum_class} | Literal[{literal}] | Unlisted"
        )
        out.append(
            f'"""A :class:`{enum_class}`, one of its values, or an explicit ``Unlisted``."""'
        )
    return "\n".join(out) + "\n"


def _bodies_reexport(body_names: list[str]) -> str:
    names = "".join(f"    {n} as {n},\n" for n in sorted(body_names))
    return (
        "\n\n# The request bodies' TypedDicts (generated into ``bodies.py``, which imports this\n"
        "# module's names, hence at the end).\n"
        f"from scaledmail_async.models.bodies import (\n{names})\n"
    )


def _wire_names(meta: dict[str, Any], models: list[str], header: str) -> tuple[str, dict[str, str]]:
    by_class: dict[str, dict[str, str]] = {}
    schema_classes: dict[str, str] = {}
    for entry in meta.get("models", []):
        class_name = entry["class_name"]
        path = entry.get("source_path") or []
        if len(path) == 3 and path[:2] == ["components", "schemas"]:
            schema_classes[path[2]] = class_name
        if class_name not in models:
            continue
        names: dict[str, str] = {}
        for field in entry.get("fields", []):
            wire = field.get("alias") or field.get("original_name") or field["name"]
            names[field["name"]] = wire
        by_class[class_name] = names
    missing = [m for m in models if m not in by_class]
    if missing:
        raise SpecError(f"no model metadata for {missing}")
    body = [
        header,
        '"""Wire (JSON) names of every generated model attribute, from DCG\'s model metadata.',
        "",
        "``WIRE_NAMES[class name][attribute] == wire name``, read by the converter",
        "(``scaledmail_async._converter``).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Final",
        "",
        "WIRE_NAMES: Final[dict[str, dict[str, str]]] = {",
    ]
    for class_name in models:
        body.append(f"    {class_name!r}: {{")
        for attr, wire in by_class[class_name].items():
            body.append(f"        {attr!r}: {wire!r},")
        body.append("    },")
    body.append("}")
    body.append("")
    return "\n".join(body), schema_classes


def generate_models(
    spec: dict[str, Any],
    header: str,
    work: Path,
    *,
    strict_schemas: set[str],
    body_names: list[str],
) -> GeneratedModels:
    """Run DCG on ``spec`` and post-process its output (see the module docstring).

    ``strict_schemas``: the component schemas only requests use (their enum attributes take
    ``<Enum>Value``); ``body_names``: the TypedDicts of ``bodies.py``, re-exported here."""
    raw, meta = _run_dcg(_dcg_input(spec), f"{header}\n{_MODELS_DOC}", work)
    models, enums = _class_kinds(ast.parse(raw))
    wire_source, schema_classes = _wire_names(meta, models, header)
    strict_classes = {schema_classes[n] for n in strict_schemas if n in schema_classes}
    source = _widen_enums(raw, set(enums), strict_classes)
    enum_values = _enum_values(raw, enums)
    source = source + _enum_aliases(enum_values) + _bodies_reexport(body_names)
    return GeneratedModels(
        source=source,
        wire_names_source=wire_source,
        schema_classes=schema_classes,
        model_classes=tuple(models),
        enum_classes=tuple(enums),
    )
