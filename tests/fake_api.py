"""Raw HTTP access to the embedded fake, as a user's code would send it (no SDK), and a manual
clock: shared by the fake-server tests. A plain module, imported by the tests that need it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from scaledmail_async.testing import FakeScaledmail

_UNSET: Any = object()


@dataclass
class Resp:
    status: int
    text: str
    headers: dict[str, str]

    @property
    def body(self) -> Any:
        return json.loads(self.text)


class Api:
    """A tiny raw client for the fake (what a user's code would send)."""

    def __init__(self, fake: FakeScaledmail, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = _UNSET,
        key: str | None = _UNSET,
        org: str | None = _UNSET,
        client_timeout: float | None = None,
    ) -> Resp:
        query = dict(params or {})
        org_id = self.fake.organization_id if org is _UNSET else org
        if org_id is not None:
            query.setdefault("organization_id", org_id)
        api_key = self.fake.api_key if key is _UNSET else key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key is not None else {}
        kwargs: dict[str, Any] = {"params": query, "headers": headers}
        if body is not _UNSET:
            kwargs["json"] = body
        if client_timeout is not None:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=client_timeout)
        async with self.session.request(method, self.fake.base_url + path, **kwargs) as response:
            text = await response.text()
            return Resp(response.status, text, dict(response.headers))

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = await self.call(method, path, **kwargs)
        assert resp.status == 200, resp.text
        return resp.body

    async def error(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        resp = await self.call(method, path, **kwargs)
        assert resp.status == status, resp.text
        return resp.body


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
