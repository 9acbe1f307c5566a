"""The generation step: drift, the operation scope, and the generated surface's exact signatures.

Each operation is defined once (its ``api/<tag>.py`` function); the client methods and the
``with_raw_response`` methods are derived from it, and are checked here against the spec too.

The expectations are read from the spec with pyyaml here (not through ``codegen._spec``), so a
generator bug cannot hide behind the same bug in its reader.
"""

from __future__ import annotations

import enum
import inspect
import shutil
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import yaml

import scaledmail_async.api as api_package
from codegen import DEFAULT_SPEC, REPO_ROOT, generate
from codegen.__main__ import main as codegen_main
from codegen._output import GENERATED_FOLDERS, GENERATED_MARKER
from scaledmail_async import models
from scaledmail_async._generated.client_methods import OperationsMixin, RawResponseOperations
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async._generated.schemas import (
    COMPONENT_SCHEMAS,
    QUERY_PARAMETER_SCHEMAS,
    REQUEST_BODY_SCHEMAS,
)
from scaledmail_async._operation import Operation
from scaledmail_async._response import APIResponse
from scaledmail_async._types import UNSET, Unlisted, Unset
from scaledmail_async.models._wire_names import WIRE_NAMES

FIXTURE_SPEC = Path(__file__).parent / "fixtures" / "mini_spec.yaml"

#: The scope (docs/design.md, ../shared/scaledmail-api.md): operationId -> (method, path, tag).
#: The models only requests use that have enum attributes: those are typed strictly (the enum, its
#: literal values or an explicit Unlisted); every other enum attribute also takes any str.
REQUEST_ONLY = {"CalculatePackageRequest"}

SCOPE: dict[str, tuple[str, str, str]] = {
    "get_organizations": ("GET", "/organizations", "organizations"),
    "get_pre_warm_inboxes": ("GET", "/pre-warm-inboxes", "pre_warm_inboxes"),
    "buy_pre_warm_inboxes": ("POST", "/buy-pre-warm-inboxes", "pre_warm_inboxes"),
    "get_domains": ("GET", "/domains", "domains"),
    "get_purchased_domains": ("GET", "/purchased-domains", "domains"),
    "search_domains": ("POST", "/search-domains", "domains"),
    "buy_domains": ("POST", "/buy-domains", "domains"),
    "update_domain_name": ("POST", "/swap-domain/{domain}", "domains"),
    "update_domain_redirect": ("POST", "/swap-redirect/{domain}", "domains"),
    "suggest_domains": ("POST", "/suggest-domains", "domains"),
    "get_packages": ("GET", "/packages", "packages"),
    "calculate_package": ("POST", "/calculate-package", "packages"),
    "get_orders": ("GET", "/orders", "orders"),
    "get_order_details": ("GET", "/orders/{order_id}", "orders"),
    "cancel_order": ("DELETE", "/orders/{order_id}", "orders"),
    "create_order": ("POST", "/create-order/{price_id}", "orders"),
    "create_custom_order": ("POST", "/create-custom-order", "orders"),
    "get_pending_forms": ("GET", "/pending-forms", "orders"),
    "submit_form": ("POST", "/submit-form/{uuid}", "orders"),
    "get_mailboxes_by_domain_id": ("GET", "/mailboxes/{domain_id}", "mailboxes"),
}

SPENDS_MONEY = {"buy_pre_warm_inboxes", "buy_domains", "create_order", "create_custom_order"}
CRITICAL = {"search_domains", "suggest_domains", "buy_domains"}


# ---------------------------------------------------------------------------------- spec reading


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


SPEC = _load(DEFAULT_SPEC)


def _deref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _spec_operations() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                op = item[method]
                yield op["operationId"], method.upper(), path, op


@attrs.frozen
class _Expected:
    path_params: list[str]
    required_query: list[str]
    optional_query: list[str]
    enum_query: dict[str, type[enum.Enum]]
    body: str | None
    body_required: bool


def _expected(op: dict[str, Any], path: str) -> _Expected:
    params = [_deref(p) for p in op.get("parameters", [])]
    path_names = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
    query = [p for p in params if p["in"] == "query" and p["name"] != "organization_id"]
    enum_query: dict[str, type[enum.Enum]] = {}
    for p in query:
        schema = p.get("schema", {})
        if "$ref" in schema and "enum" in _deref(schema):
            enum_query[p["name"]] = getattr(models, schema["$ref"].rsplit("/", 1)[1])
    body = None
    body_required = False
    if "requestBody" in op:
        request = _deref(op["requestBody"])
        body = request["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        body_required = bool(request.get("required", False))
    return _Expected(
        path_params=path_names,
        required_query=[p["name"] for p in query if p.get("required")],
        optional_query=[p["name"] for p in query if not p.get("required")],
        enum_query=enum_query,
        body=body,
        body_required=body_required,
    )


# --------------------------------------------------------------------------------------- drift


def test_generated_files_are_up_to_date() -> None:
    generated = generate()
    assert "scaledmail_async/models/__init__.py" in generated
    assert "scaledmail_async/api/orders.py" in generated
    differing = [
        rel
        for rel, text in generated.items()
        if not (REPO_ROOT / rel).is_file() or (REPO_ROOT / rel).read_text(encoding="utf-8") != text
    ]
    assert differing == [], f"run `make codegen`: {differing}"
    for rel, text in generated.items():
        assert text.startswith(GENERATED_MARKER), rel
        assert "from openapi/scaledmail.yaml. Do not edit." in text.splitlines()[0], rel


def test_generated_folders_hold_generated_files_only() -> None:
    generated = generate()
    for folder in GENERATED_FOLDERS:
        assert f"{folder}/README.md" in generated, folder
        files = [
            path.relative_to(REPO_ROOT).as_posix()
            for path in sorted((REPO_ROOT / folder).rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        ]
        assert files, folder
        assert [rel for rel in files if rel not in generated] == [], folder
    # The hand-written modules the generated code imports live outside generated folders.
    assert not (REPO_ROOT / "scaledmail_async" / "api" / "_protocol.py").exists()
    assert (REPO_ROOT / "scaledmail_async" / "_protocol.py").is_file()


def test_each_operation_is_defined_once() -> None:
    generated = generate()
    sources = {rel: text for rel, text in generated.items() if rel.endswith(".py")}
    for op_id, (_, _, tag) in SCOPE.items():
        defining = [rel for rel, text in sources.items() if f"async def {op_id}(" in text]
        assert defining == [f"scaledmail_async/api/{tag}.py"], op_id
    methods = sources["scaledmail_async/_generated/client_methods.py"]
    assert "def " not in methods
    for _, _, _, op in _spec_operations():
        assert op["summary"] not in methods  # no docstring written a second time


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    spec = tmp_path / "openapi" / "scaledmail.yaml"
    spec.parent.mkdir()
    shutil.copyfile(DEFAULT_SPEC, spec)
    argv = ["--root", str(tmp_path), "--spec", str(spec)]
    assert codegen_main(argv) == 0
    target = tmp_path / "scaledmail_async" / "api" / "orders.py"
    target.write_text(target.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    stale = tmp_path / "scaledmail_async" / "api" / "gone.py"
    stale.write_text(f"{GENERATED_MARKER} from x. Do not edit.\n", encoding="utf-8")
    capsys.readouterr()
    assert codegen_main([*argv, "--check"]) == 1
    err = capsys.readouterr().err
    assert "scaledmail_async/api/orders.py" in err
    assert "scaledmail_async/api/gone.py (stale" in err
    # A regular run repairs the tree deterministically.
    assert codegen_main(argv) == 0
    assert not stale.exists()
    assert codegen_main([*argv, "--check"]) == 0


def test_a_hand_written_file_in_a_generated_folder_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    argv = ["--root", str(tmp_path), "--spec", str(FIXTURE_SPEC)]
    assert codegen_main(argv) == 0
    readme = tmp_path / "scaledmail_async" / "api" / "README.md"
    assert readme.read_text(encoding="utf-8").startswith(GENERATED_MARKER)
    helper = tmp_path / "scaledmail_async" / "api" / "_helpers.py"
    helper.write_text('"""Hand-written."""\n', encoding="utf-8")
    capsys.readouterr()
    assert codegen_main([*argv, "--check"]) == 1
    assert "scaledmail_async/api/_helpers.py (not generated)" in capsys.readouterr().err
    # A regular run reports it too, and never removes it.
    assert codegen_main(argv) == 1
    assert helper.exists()
    helper.unlink()
    assert codegen_main([*argv, "--check"]) == 0


# ------------------------------------------------------------------------------ operation scope


def test_spec_has_exactly_the_scope() -> None:
    found = {op_id: (method, path, op["tags"]) for op_id, method, path, op in _spec_operations()}
    assert {k: (m, p) for k, (m, p, _) in found.items()} == {
        k: (m, p) for k, (m, p, _) in SCOPE.items()
    }
    for op_id, (_, _, tags) in found.items():
        assert tags == [SCOPE[op_id][2]], op_id


def test_operation_table_matches_the_spec() -> None:
    assert set(OPERATIONS) == set(SCOPE)
    for op_id, method, path, op in _spec_operations():
        record = OPERATIONS[op_id]
        assert isinstance(record, Operation)
        expected = _expected(op, path)
        assert (record.operation_id, record.method, record.path) == (op_id, method, path)
        assert record.tag == SCOPE[op_id][2]
        assert list(record.path_params) == expected.path_params
        assert [q.name for q in record.query_params] == (
            expected.required_query + expected.optional_query
        )
        for q in record.query_params:
            assert q.required == (q.name in expected.required_query)
            if q.name in expected.enum_query:
                enum_cls = expected.enum_query[q.name]
                assert q.enum == tuple(m.value for m in enum_cls)
        assert record.retry == op["x-retry"]
        assert record.spends_money is op["x-spends-money"]
        assert record.spends_money == (op_id in SPENDS_MONEY)
        assert record.retry == ("pre-send-only" if op_id in SPENDS_MONEY else "safe")
        assert record.rate_limit_group == ("critical" if op_id in CRITICAL else None)
        assert record.sends_organization_id == (op_id != "get_organizations")
        expected_rule = {"get_organizations": "none", "get_packages": "optional"}
        assert record.organization == expected_rule.get(op_id, "required")
        assert record.requires_organization == (record.organization == "required")
        if expected.body is None:
            assert record.request_type is None
            assert op_id not in REQUEST_BODY_SCHEMAS
        else:
            assert record.request_type is getattr(models, expected.body)
            assert record.body_required == expected.body_required
            assert REQUEST_BODY_SCHEMAS[op_id] == {"$ref": f"#/components/schemas/{expected.body}"}
        assert set(QUERY_PARAMETER_SCHEMAS[op_id]) == set(
            expected.required_query + expected.optional_query
        )
        # (path parameters: PATH_PARAMETER_SCHEMAS was never read and is gone; the record has them)
        assert list(record.path_params) == expected.path_params
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        if op_id == "search_domains":
            assert record.response_type == list[models.DomainAvailability]
        else:
            assert record.response_type is getattr(models, schema["$ref"].rsplit("/", 1)[1])


def test_component_schemas_are_copied_verbatim() -> None:
    assert COMPONENT_SCHEMAS == SPEC["components"]["schemas"]


def test_every_component_schema_has_its_model_or_enum() -> None:
    for name, schema in SPEC["components"]["schemas"].items():
        cls = getattr(models, name)
        if "enum" in schema:
            assert [m.value for m in cls] == schema["enum"]
            continue
        assert attrs.has(cls), name
        fields = attrs.fields_dict(cls)
        assert fields["additional_properties"].default == attrs.Factory(dict)
        assert all(f.kw_only for f in attrs.fields(cls)), name
        hints = typing.get_type_hints(cls)
        required = set(schema.get("required", []))
        for wire, prop in schema.get("properties", {}).items():
            attr = next(a for a, w in WIRE_NAMES[name].items() if w == wire)
            args = typing.get_args(hints[attr])
            if wire in required:
                assert fields[attr].default is attrs.NOTHING, (name, wire)
                assert Unset not in args, (name, wire)
            else:
                assert fields[attr].default is UNSET, (name, wire)
                assert Unset in args, (name, wire)
            prop_type = prop.get("type")
            nullable = isinstance(prop_type, list) and "null" in prop_type
            assert (type(None) in args) == nullable, (name, wire)
            if "$ref" in prop and "enum" in _deref(prop):
                if name in REQUEST_ONLY:
                    # The enum, its literal values or an explicit Unlisted: not any str.
                    assert str not in args and Unlisted in args, (name, wire)
                    literal = next(a for a in args if typing.get_origin(a) is typing.Literal)
                    assert list(typing.get_args(literal)) == _deref(prop)["enum"], (name, wire)
                else:
                    assert str in args, (name, wire)


# --------------------------------------------------------------------------- generated surface


def _api_function(op_id: str) -> Callable[..., Any]:
    module = getattr(api_package, SCOPE[op_id][2])
    assert isinstance(module, ModuleType)
    fn: Callable[..., Any] = getattr(module, op_id)
    return fn


def _check_parameters(params: list[inspect.Parameter], expected: _Expected, op_id: str) -> None:
    kinds = inspect.Parameter
    names = [p.name for p in params]
    tail = ["organization_id", "timeout", "deadline", "extra_headers", "extra_query"]
    if OPERATIONS[op_id].spends_money:
        # the purchase journal's options, on the four spends only
        tail += ["allow_duplicate", "exactly_once"]
    body = ["body"] if expected.body is not None else []
    assert names == (
        expected.path_params + expected.required_query + expected.optional_query + body + tail
    ), op_id
    by_name = {p.name: p for p in params}
    for name in expected.path_params:
        assert by_name[name].kind is kinds.POSITIONAL_OR_KEYWORD
        assert by_name[name].default is kinds.empty
    for name in names[len(expected.path_params) :]:
        assert by_name[name].kind is kinds.KEYWORD_ONLY, (op_id, name)
    for name in expected.required_query:
        assert by_name[name].default is kinds.empty, (op_id, name)
    for name in expected.optional_query:
        assert by_name[name].default is UNSET, (op_id, name)
    if expected.body is not None:
        assert (by_name["body"].default is kinds.empty) == expected.body_required
    # ``UNSET``: the client's setting; ``None``: none (no organization, timeout or deadline).
    assert by_name["organization_id"].default is UNSET
    assert by_name["timeout"].default is UNSET
    assert by_name["deadline"].default is UNSET


def _check_hints(fn: Callable[..., Any], expected: _Expected, op_id: str) -> None:
    hints = typing.get_type_hints(fn)
    for name, enum_cls in expected.enum_query.items():
        args = set(typing.get_args(hints[name]))
        assert args >= {enum_cls, Unlisted}, (op_id, name)
        assert str not in args, (op_id, name)
        literal = next(a for a in args if typing.get_origin(a) is typing.Literal)
        assert set(typing.get_args(literal)) == {m.value for m in enum_cls}, (op_id, name)
    if expected.body is not None:
        body_args = typing.get_args(hints["body"])
        assert getattr(models, expected.body) in body_args
        typed_dict = getattr(models, expected.body.removesuffix("Request") + "Body")
        assert typing.is_typeddict(typed_dict)
        assert set(body_args) == {getattr(models, expected.body), typed_dict}
    assert set(typing.get_args(hints["organization_id"])) == {str, type(None), Unset}
    assert set(typing.get_args(hints["timeout"])) == {float, type(None), Unset}
    assert set(typing.get_args(hints["deadline"])) == {float, type(None), Unset}


@pytest.mark.parametrize("op_id", sorted(SCOPE))
def test_function_and_methods_have_exactly_the_spec_parameters(op_id: str) -> None:
    _, _, path, op = next(o for o in _spec_operations() if o[0] == op_id)
    expected = _expected(op, path)

    fn = _api_function(op_id)
    assert inspect.iscoroutinefunction(fn)
    params = list(inspect.signature(fn).parameters.values())
    assert params[0].name == "client"
    _check_parameters(params[1:], expected, op_id)
    _check_hints(fn, expected, op_id)

    response = inspect.signature(fn).return_annotation
    returns = {OperationsMixin: response, RawResponseOperations: f"APIResponse[{response}]"}
    for owner in (OperationsMixin, RawResponseOperations):
        method = getattr(owner, op_id)
        assert inspect.iscoroutinefunction(method)
        signature = inspect.signature(method)
        method_params = list(signature.parameters.values())
        assert method_params[0].name == "self"
        assert method_params[0].annotation is inspect.Parameter.empty
        _check_parameters(method_params[1:], expected, op_id)
        _check_hints(method, expected, op_id)
        assert signature.return_annotation == returns[owner]
        # Derived from the api function, not defined again: its code, defaults and docstring.
        assert method.__wrapped__ is fn
        assert method.__code__ is fn.__code__
        assert method.__qualname__ == f"{owner.__name__}.{op_id}"
        assert method.__doc__ == fn.__doc__
    hints = typing.get_type_hints(getattr(RawResponseOperations, op_id))
    assert typing.get_origin(hints["return"]) is APIResponse

    doc = inspect.getdoc(fn) or ""
    assert doc.startswith(op["summary"])
    assert ("**Spends money.**" in doc) == (op_id in SPENDS_MONEY)
    assert f"Retry class ``{op['x-retry']}``" in doc
    returns_doc = " ".join(doc.split("Returns:")[1].split())
    assert "``client.with_raw_response``: an ``APIResponse``" in returns_doc


# ------------------------------------------------------------------- calls reach _execute right


class _Recorder:
    """A client double: records the ``_execute`` calls the generated code makes."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def _execute(
        self,
        op: Operation,
        *,
        path_params: dict[str, str],
        query: dict[str, Any],
        body: Any,
        organization_id: str | Unset | None,
        timeout: float | Unset | None,  # noqa: ASYNC109
        deadline: float | Unset | None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        allow_duplicate: bool = False,
        exactly_once: bool = False,
        raw: bool,
    ) -> Any:
        self.calls.append(
            {
                "op": op,
                "path_params": path_params,
                "query": query,
                "body": body,
                "organization_id": organization_id,
                "timeout": timeout,
                "deadline": deadline,
                "raw": raw,
            }
        )
        return ("result", op.operation_id)


class _MixinClient(OperationsMixin, _Recorder):
    """``OperationsMixin`` on top of a recording ``_execute``, like ScaledmailClient."""


def _arguments(op_id: str) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """Positional args, keyword args and the query expected on the wire."""
    _, _, path, op = next(o for o in _spec_operations() if o[0] == op_id)
    expected = _expected(op, path)
    positional = [f"{name}-value" for name in expected.path_params]
    keywords: dict[str, Any] = {}
    query: dict[str, Any] = {}
    for name in expected.required_query:
        keywords[name] = query[name] = f"{name}-value"
    if expected.optional_query:
        first = expected.optional_query[0]
        keywords[first] = query[first] = 7 if "page" in first or "limit" in first else "x"
    if expected.body is not None:
        keywords["body"] = {"any": "mapping"}
    return positional, keywords, query


@pytest.mark.parametrize("op_id", sorted(SCOPE))
async def test_each_call_passes_its_arguments_to_execute(op_id: str) -> None:
    positional, keywords, query = _arguments(op_id)
    record = OPERATIONS[op_id]
    path_params = dict(zip(record.path_params, positional, strict=True))
    extra = {"organization_id": None, "timeout": 2.5, "deadline": 9.0}

    recorder = _Recorder()
    result = await _api_function(op_id)(recorder, *positional, **keywords, **extra)
    client = _MixinClient()
    method_result = await getattr(client, op_id)(*positional, **keywords, **extra)
    raw_result = await getattr(RawResponseOperations(recorder), op_id)(*positional, **keywords)

    assert result == method_result == raw_result == ("result", op_id)
    expected_call = {
        "op": record,
        "path_params": path_params,
        "query": query,
        "body": keywords.get("body", UNSET),
        "raw": False,
        **extra,
    }
    assert recorder.calls[0] == expected_call
    assert client.calls == [expected_call]
    assert recorder.calls[1] == {
        **expected_call,
        "organization_id": UNSET,
        "timeout": UNSET,
        "deadline": UNSET,
        "raw": True,
    }


async def test_optional_query_parameters_are_left_out_when_unset() -> None:
    recorder = _Recorder()
    await api_package.domains.get_purchased_domains(recorder)
    await api_package.domains.get_purchased_domains(recorder, available=False)
    assert recorder.calls[0]["query"] == {}
    assert recorder.calls[1]["query"] == {"available": False}


# ------------------------------------------------------------------------- generator features


def test_fixture_spec_exercises_the_template(tmp_path: Path) -> None:
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    files = generate(FIXTURE_SPEC, tmp_path)
    assert files == generate(FIXTURE_SPEC, tmp_path), "generation is not deterministic"
    source = files["scaledmail_async/models/__init__.py"]
    assert "from dataclasses import" not in source
    # Without the re-export of the (fixture's) bodies.py at the end, which is not importable here.
    models_only, reexport = source.split("\n# The request bodies' TypedDicts", 1)
    assert "from scaledmail_async.models.bodies import" in reexport
    namespace: dict[str, Any] = {"__name__": "fixture_models"}
    exec(compile(models_only, "fixture_models", "exec"), namespace)
    request = namespace["UpdateDomainNameRequest"]
    hosting, status = namespace["Hosting"], namespace["OrderStatus"]
    hints = typing.get_type_hints(request, namespace)
    assert set(typing.get_args(hints["previous_hosting"])) == {hosting, type(None), Unset}

    def strict(enum_cls: Any) -> set[Any]:
        """A request-only model's enum: the enum, its literal values, an explicit Unlisted."""
        values = tuple(m.value for m in enum_cls)
        return {enum_cls, typing.Literal[values], Unlisted}

    assert set(typing.get_args(hints["status"])) == strict(status) | {type(None), Unset}
    period = namespace["UpdateDomainNameRequestPeriod"]
    assert set(typing.get_args(hints["period"])) == strict(period) | {Unset}
    assert attrs.fields_dict(request)["period"].default is UNSET  # spec default never applied
    sources = typing.get_args(hints["sources"])
    assert types.GenericAlias(list, namespace["DomainSourceValue"]) in sources
    assert type(None) in sources
    # A response model keeps any string for an enum.
    order = typing.get_type_hints(namespace["OrderDetails"], namespace)
    assert str in typing.get_args(order["status"])
    # The TypedDicts, an inline object included, compile against the models.
    bodies = files["scaledmail_async/models/bodies.py"]
    assert "class UpdateDomainNameBody(TypedDict):" in bodies
    assert "class BuyPreWarmInboxesRequestDomainsDict(TypedDict):" in bodies
    compile(bodies, "fixture_bodies", "exec")
    domain = namespace["PurchasedDomain"]
    domain_hints = typing.get_type_hints(domain, namespace)
    assert domain_hints["domain_id"] == str | None  # required and nullable
    assert attrs.fields_dict(domain)["domain_id"].default is attrs.NOTHING
    wire = files["scaledmail_async/models/_wire_names.py"]
    assert "'renew_price': 'renewPrice'" in wire.replace('"', "'")
    assert "'email_mailbox_count': 'emailMailboxCount'" in wire.replace('"', "'")
    assert "async def search_domains(" in files["scaledmail_async/api/domains.py"]
