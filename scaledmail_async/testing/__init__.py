"""``scaledmail_async.testing``: an embedded fake of the Scaledmail API for tests and demos.

Three ways to use it:

* in-process::

      async with FakeScaledmail(rate_limit=50) as fake:
          client = ScaledmailClient(fake.api_key, organization_id=fake.organization_id,
                                    base_url=fake.base_url)

* as pytest fixtures (installed with the package: ``scaledmail_fake``, ``scaledmail_client``;
  configure with ``@pytest.mark.scaledmail_fake(**options)``);
* standalone: ``run_fake_server(port=8080)`` (``scaledmail fake-server --port 8080``, or
  ``python -m scaledmail_async.testing --port 8080``), with faults, rate limits and the seed
  from flags (``--fault 429:operation=get_orders``, ``--rate-limit 2/s``, ``--seed 7``) and
  steered while it runs through its admin routes (``GET /_fake/state``, ``POST /_fake/faults``,
  ``POST /_fake/rate-limits``), from any process or language.

It implements the 20 operations with in-memory, seeded state, the documented validation rules,
an order lifecycle, rate limits (several algorithms) and fault injection, and counts what it
receives. It uses aiohttp only and imports nothing else from the SDK.
"""

from __future__ import annotations

from scaledmail_async.testing._admin import ADMIN_PREFIX
from scaledmail_async.testing._app import (
    API_PREFIX,
    FakeScaledmail,
    RequestRecord,
    create_app,
    run_fake_server,
)
from scaledmail_async.testing._fault_spec import (
    FaultSpec,
    fault_spec_from_json,
    parse_fault_spec,
)
from scaledmail_async.testing._faults import (
    FAULT_KINDS,
    Fault,
    FaultHit,
    FaultQueue,
    RandomFaults,
)
from scaledmail_async.testing._handlers import OPERATIONS, FakeOperation
from scaledmail_async.testing._options import DEFAULT_API_KEY, FakeOptions
from scaledmail_async.testing._ratelimit import (
    ALGORITHMS,
    FakeRateLimiter,
    RateLimitRule,
    parse_rate_limit,
)
from scaledmail_async.testing._state import DomainPlan, FakeState, Mailbox

#: The fake's routes by operation id (``OPERATIONS`` is kept as an alias for one release: the
#: name collides with the SDK's own operation table).
FAKE_OPERATIONS = OPERATIONS
#: Deprecated alias of :class:`FakeRateLimiter` (the SDK's ``RateLimiter`` is the client-side
#: interface); kept for one release.
RateLimiter = FakeRateLimiter

__all__ = [
    "ADMIN_PREFIX",
    "ALGORITHMS",
    "API_PREFIX",
    "DEFAULT_API_KEY",
    "FAKE_OPERATIONS",
    "FAULT_KINDS",
    "OPERATIONS",
    "DomainPlan",
    "FakeOperation",
    "FakeOptions",
    "FakeRateLimiter",
    "FakeScaledmail",
    "FakeState",
    "Fault",
    "FaultHit",
    "FaultQueue",
    "FaultSpec",
    "Mailbox",
    "RandomFaults",
    "RateLimitRule",
    "RateLimiter",
    "RequestRecord",
    "create_app",
    "fault_spec_from_json",
    "parse_fault_spec",
    "parse_rate_limit",
    "run_fake_server",
]
