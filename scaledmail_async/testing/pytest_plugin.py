"""pytest plugin (entry point ``scaledmail``): fixtures users get with the package.

* ``scaledmail_fake``: a running :class:`~scaledmail_async.testing.FakeScaledmail`. Options come
  from the ``scaledmail_fake_options`` fixture (override it in a ``conftest.py``) updated by
  ``@pytest.mark.scaledmail_fake(**options)`` on the test.
* ``scaledmail_client``: a ``ScaledmailClient`` pointed at ``scaledmail_fake`` (the SDK client is
  imported only when this fixture is used, never at plugin import).

The async fixtures use ``pytest_asyncio.fixture`` when pytest-asyncio is installed, else plain
``pytest.fixture`` (which anyio's pytest plugin runs).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar, cast

import pytest

from scaledmail_async.testing._app import FakeScaledmail

__all__ = ["scaledmail_client", "scaledmail_fake", "scaledmail_fake_options"]

_F = TypeVar("_F", bound=Callable[..., Any])
try:
    import pytest_asyncio

    _async_fixture = cast(Callable[[_F], _F], pytest_asyncio.fixture)
except ImportError:  # pragma: no cover - depends on the user's environment
    _async_fixture = cast(Callable[[_F], _F], pytest.fixture)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``scaledmail_fake`` marker."""
    config.addinivalue_line(
        "markers",
        "scaledmail_fake(**options): options for the scaledmail_fake fixture "
        "(FakeScaledmail keyword arguments)",
    )


@pytest.fixture
def scaledmail_fake_options() -> dict[str, Any]:
    """Base options of ``scaledmail_fake`` (override in a conftest.py); empty = API defaults."""
    return {}


@_async_fixture
async def scaledmail_fake(
    request: pytest.FixtureRequest, scaledmail_fake_options: dict[str, Any]
) -> AsyncIterator[FakeScaledmail]:
    """A started fake Scaledmail server, closed after the test."""
    options = dict(scaledmail_fake_options)
    marker = request.node.get_closest_marker("scaledmail_fake")
    if marker is not None:
        options.update(marker.kwargs)
    async with FakeScaledmail(**options) as fake:
        yield fake


@_async_fixture
async def scaledmail_client(scaledmail_fake: FakeScaledmail) -> AsyncIterator[Any]:
    """A ``ScaledmailClient`` for ``scaledmail_fake`` (its key, first organization, base URL)."""
    # Imported here, not at module level: the plugin loads in every pytest run of a project that
    # installs the package, and must not pull the client in (nor fail if it is broken).
    module = importlib.import_module("scaledmail_async._client")
    client = module.ScaledmailClient(
        scaledmail_fake.api_key,
        organization_id=scaledmail_fake.organization_id,
        base_url=scaledmail_fake.base_url,
    )
    try:
        yield client
    finally:
        await client.aclose()
