"""What the generated operation functions need from a client: its ``_execute`` method.

``scaledmail_async.api.<tag>`` functions take any object with this method: the client itself
(``client.<op>(...)`` is the function bound to the client), the raw-response proxy of
:mod:`scaledmail_async._wrappers` (``client.with_raw_response.<op>(...)``), or a recording test
double. ``ScaledmailClient`` implements it (``scaledmail_async._client``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scaledmail_async._operation import Operation
    from scaledmail_async._types import QueryValue, Unset

__all__ = ["ExecuteClient"]


class ExecuteClient(Protocol):
    """An object that can execute an operation of the operation table."""

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
        extra_query: Mapping[str, QueryValue] | None = None,
        allow_duplicate: bool = False,
        exactly_once: bool = False,
        raw: bool,
    ) -> Any:
        """Validate, send (with retries and rate limiting) and decode one call of ``op``.

        ``body`` is the caller's value (a model, a mapping or ``UNSET``). ``organization_id``,
        ``timeout`` (per attempt) and ``deadline`` (whole call): ``UNSET`` means the client's
        setting, ``None`` none. With ``raw=True`` the result is an ``APIResponse`` wrapping the
        parsed value. ``allow_duplicate`` and ``exactly_once`` are given for spends only (the
        purchase journal's duplicate guard and exactly-once call). ``extra_headers`` /
        ``extra_query``: sent besides the call's own headers and parameters (never replacing
        them), checked before anything is sent.
        """
        ...
