"""The organization is checked before sending, for exactly the operations the spec marks
``x-organization-id: required`` (issue 17, item 3).

Against a local aiohttp server of the test's own making that records every request (so "nothing
was sent" is counted at the socket, not inferred), and the CLI against the embedded fake.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from conftest import StartServer
from threaded_fake import ThreadedFake

from scaledmail_async import (
    MissingOrganizationError,
    RequestValidationError,
    ScaledmailClient,
    api,
)
from scaledmail_async._generated.operations import OPERATIONS
from scaledmail_async.cli._app import build_cli
from scaledmail_async.cli._errors import EXIT_USAGE

#: What the API docs say (section 1.3 of the API notes): every operation needs it except these two.
NOT_REQUIRED = {"get_organizations": "none", "get_packages": "optional"}


class Recorder:
    """A server answering 200 ``{}``-ish bodies to everything, recording what arrived."""

    def __init__(self) -> None:
        self.requests: list[web.Request] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.path.endswith("/organizations"):
            return web.json_response({"organizations": [{"id": "recORG"}]})
        if request.path.endswith("/packages"):
            return web.json_response({"packages": []})
        return web.json_response({"payments": []})


async def call_operation(client: ScaledmailClient, op_id: str) -> Any:
    """Call ``op_id`` with placeholder values for every required parameter (an empty body)."""
    fn = getattr(getattr(api, OPERATIONS[op_id].tag), op_id)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, param in list(inspect.signature(fn).parameters.items())[1:]:
        if param.default is not inspect.Parameter.empty:
            continue
        value: Any = {} if name == "body" else "recPLACEHOLDER"
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return await fn(client, *args, **kwargs)


@pytest.fixture
def no_org_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCALEDMAIL_ORGANIZATION_ID", raising=False)


def test_the_spec_marks_every_operation_but_two_as_required() -> None:
    for op_id, op in OPERATIONS.items():
        assert op.organization == NOT_REQUIRED.get(op_id, "required"), op_id
        assert op.requires_organization == (op_id not in NOT_REQUIRED)


@pytest.mark.usefixtures("no_org_env")
async def test_a_required_organization_is_checked_before_sending(
    serve: StartServer, api_key: str
) -> None:
    recorder = Recorder()
    base_url = await serve(recorder.app)
    async with ScaledmailClient(api_key, base_url=base_url) as client:
        with pytest.raises(MissingOrganizationError) as info:
            await client.get_orders()
        # Explicitly none on an operation that requires one: refused too.
        with pytest.raises(MissingOrganizationError):
            await client.get_orders(organization_id=None)
        with pytest.raises(MissingOrganizationError):
            await client.with_raw_response.get_order_details("recORDER")
        with pytest.raises(MissingOrganizationError):
            await client.buy_domains(body={"domains": ["a-name.com"]})
        assert recorder.requests == []
        # The two that do not need one go out without it.
        await client.get_organizations()
        await client.get_packages()
    assert [r.path for r in recorder.requests] == ["/api/v1/organizations", "/api/v1/packages"]
    assert all("organization_id" not in r.query for r in recorder.requests)

    exc = info.value
    assert isinstance(exc, RequestValidationError) and isinstance(exc, ValueError)
    assert exc.field == "organization_id" and exc.operation == "get_orders"
    text = str(exc)
    assert "organization_id=" in text and "SCALEDMAIL_ORGANIZATION_ID" in text
    assert "get_orders" in text and "get_organizations" in text
    assert api_key not in text


@pytest.mark.usefixtures("no_org_env")
async def test_every_required_operation_refuses_without_sending(
    serve: StartServer, api_key: str
) -> None:
    recorder = Recorder()
    base_url = await serve(recorder.app)
    async with ScaledmailClient(api_key, base_url=base_url, max_retries=0) as client:
        for op_id, op in OPERATIONS.items():
            if not op.requires_organization:
                continue
            with pytest.raises(MissingOrganizationError) as info:
                await call_operation(client, op_id)
            assert info.value.operation == op_id
    assert recorder.requests == []


async def test_an_organization_from_anywhere_satisfies_it(
    serve: StartServer, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    base_url = await serve(recorder.app)
    monkeypatch.setenv("SCALEDMAIL_ORGANIZATION_ID", "recFROMENV")
    async with ScaledmailClient(api_key, base_url=base_url) as client:
        await client.get_orders()
        await client.get_orders(organization_id="recPERCALL")
    monkeypatch.delenv("SCALEDMAIL_ORGANIZATION_ID")
    async with ScaledmailClient(api_key, base_url=base_url, organization_id="recARG") as client:
        await client.get_orders()
        # get_packages is optional: None sends none, and it still goes out.
        await client.get_packages(organization_id=None)
    sent = [r.query.get("organization_id") for r in recorder.requests]
    assert sent == ["recFROMENV", "recPERCALL", "recARG", None]


@pytest.fixture(scope="module")
def fake() -> Iterator[ThreadedFake]:
    threaded = ThreadedFake(api_key=f"sk_test_org_{uuid.uuid4().hex}")
    try:
        yield threaded
    finally:
        threaded.close()


def test_the_cli_exits_2_without_an_organization(fake: ThreadedFake) -> None:
    env = {
        "SCALEDMAIL_API_KEY": fake.fake.api_key,
        "SCALEDMAIL_BASE_URL": fake.fake.base_url,
        "SCALEDMAIL_ORGANIZATION_ID": "",
        "SCALEDMAIL_LOG": "",
    }
    before: Any = fake.call(lambda: len(fake.fake.requests))
    result = CliRunner().invoke(build_cli(), ["orders", "get-orders"], env=env)
    assert result.exit_code == EXIT_USAGE, result.output
    assert "SCALEDMAIL_ORGANIZATION_ID" in result.stderr
    assert "--organization-id" in result.stderr or "organization_id=" in result.stderr
    assert fake.call(lambda: len(fake.fake.requests)) == before
    ok = CliRunner().invoke(
        build_cli(),
        ["--organization-id", fake.fake.organization_id, "orders", "get-orders"],
        env=env,
    )
    assert ok.exit_code == 0, ok.output
