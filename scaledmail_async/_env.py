"""The settings that have an environment variable, and the one rule that resolves them.

Used by :class:`~scaledmail_async.ScaledmailClient` and by the CLI alike, so the two cannot
drift. For each setting: an argument wins (a constructor argument, a CLI option); else the
environment variable when it is set and not blank (surrounding whitespace is ignored); else the
default. A value from the environment gets exactly the checks an argument gets, and its errors
name the variable.

=================  ==========================  ====================================  ==========
setting            argument                    environment variable                  default
=================  ==========================  ====================================  ==========
API key            ``api_key=``                ``SCALEDMAIL_API_KEY``                (required)
organization       ``organization_id=``        ``SCALEDMAIL_ORGANIZATION_ID``        none
base URL           ``base_url=``               ``SCALEDMAIL_BASE_URL``               production
shared limiter     ``limiter=``                ``SCALEDMAIL_REDIS_URL``              in-process
purchase journal   ``journal=``                ``SCALEDMAIL_JOURNAL`` (path / URL)   none
log output         (logging config)            ``SCALEDMAIL_LOG``                    none
=================  ==========================  ====================================  ==========
"""

from __future__ import annotations

import os
from typing import Final

import attrs

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "JOURNAL_ENV",
    "LOG_ENV",
    "ORGANIZATION_ENV",
    "REDIS_URL_ENV",
    "Resolved",
    "env_value",
    "resolve",
]

API_KEY_ENV: Final = "SCALEDMAIL_API_KEY"
ORGANIZATION_ENV: Final = "SCALEDMAIL_ORGANIZATION_ID"
BASE_URL_ENV: Final = "SCALEDMAIL_BASE_URL"
REDIS_URL_ENV: Final = "SCALEDMAIL_REDIS_URL"
JOURNAL_ENV: Final = "SCALEDMAIL_JOURNAL"
LOG_ENV: Final = "SCALEDMAIL_LOG"

#: The production API root.
DEFAULT_BASE_URL: Final = "https://server.scaledmail.com/api/v1"


@attrs.frozen
class Resolved:
    """A setting's value and where it came from (``source`` names it for error messages:
    ``"base_url"``, ``"the SCALEDMAIL_BASE_URL environment variable"``, ``"the default"``)."""

    value: str | None
    source: str


def env_value(name: str) -> str | None:
    """The environment variable ``name`` stripped, or ``None`` when unset or blank."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    value = raw.strip()
    return value or None


def resolve(
    argument: str | None, *, argument_name: str, env: str, default: str | None = None
) -> Resolved:
    """Argument (when not ``None``), else ``$env`` (when not blank), else ``default``."""
    if argument is not None:
        return Resolved(argument, argument_name)
    value = env_value(env)
    if value is not None:
        return Resolved(value, f"the {env} environment variable")
    return Resolved(default, "the default")
