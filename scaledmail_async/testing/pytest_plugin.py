"""pytest plugin (entry point ``scaledmail``): fixtures users get with the package.

* ``scaledmail_fake``: a running :class:`~scaledmail_async.testing.FakeScaledmail`. Options come
  from the ``scaledmail_fake_options`` fixture (override it in a ``conftest.py``) updated by
  ``@pytest.mark.scaledmail_fake(**options)`` on the test.
* ``scaledmail_client``: a ``ScaledmailClient`` pointed at ``scaledmail_fake`` (the SDK client is
  imported only when this fixture is used, never at plugin import).

The async fixtures use ``pytest_asyncio.fixture`` when pytest-asyncio is installed, else plain
``pytest.fixture`` (which anyio's pytest plugin runs). Being pytest-asyncio fixtures, they work
in its default *strict* mode: mark the tests ``@pytest.mark.asyncio``; ``asyncio_mode = "auto"``
is not needed. They run in the event loop that ``asyncio_default_fixture_loop_scope`` chooses
(``function`` unless set), so tests run in a wider loop (``loop_scope="module"``...) need that
option set to the same scope.

Installed, the plugin loads by itself. It can also be named explicitly, by its entry point
(``-p scaledmail``, e.g. with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``) or by its module
(``-p scaledmail_async.testing.pytest_plugin``, ``pytest_plugins = [...]`` in a
``conftest.py``). Named by its module while the entry point loads it too, it is loaded once
(pytest would otherwise refuse the same module under a second name); only two ``-p`` flags
naming it both ways still conflict, as pytest unblocks whatever ``-p`` names.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, Final, TypeVar, cast

import pytest

from scaledmail_async.testing._app import FakeScaledmail

__all__ = [
    "pytest_configure",
    "pytest_plugin_registered",
    "scaledmail_client",
    "scaledmail_fake",
    "scaledmail_fake_options",
]

#: The names pytest may register this module under: its entry point's and its own.
_PLUGIN_NAMES: Final = ("scaledmail", __name__)

_F = TypeVar("_F", bound=Callable[..., Any])
try:
    import pytest_asyncio

    _async_fixture = cast(Callable[[_F], _F], pytest_asyncio.fixture)
except ImportError:  # pragma: no cover - depends on the user's environment
    _async_fixture = cast(Callable[[_F], _F], pytest.fixture)


def pytest_plugin_registered(
    plugin: object, plugin_name: str, manager: pytest.PytestPluginManager
) -> None:
    """Once this module is registered under one of its names, block the other, so that naming
    the plugin twice (the entry point plus ``-p`` or ``pytest_plugins`` with the module path)
    loads it once instead of failing with "Plugin already registered under a different
    name"."""
    if plugin is not sys.modules[__name__]:
        return
    for name in _PLUGIN_NAMES:
        if name != plugin_name and manager.get_plugin(name) is None:
            manager.set_blocked(name)


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
