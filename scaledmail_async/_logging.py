"""The ``scaledmail_async`` logger and the ``SCALEDMAIL_LOG`` switch.

``SCALEDMAIL_LOG=debug`` (or ``info``) installs one stderr handler at that level the first time a
client is created, like ``OPENAI_LOG``/``STRIPE_LOG``. Nothing the SDK logs contains the API key:
it only ever travels in the ``Authorization`` header, which is never logged.
"""

from __future__ import annotations

import logging

from scaledmail_async._env import LOG_ENV, env_value

__all__ = ["logger", "setup_from_env"]

logger = logging.getLogger("scaledmail_async")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_installed = False


def setup_from_env() -> None:
    """Install a stderr handler if ``SCALEDMAIL_LOG`` asks for one (at most once per process)."""
    global _installed
    if _installed:
        return
    level = _LEVELS.get((env_value(LOG_ENV) or "").lower())
    if level is None:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    _installed = True
