"""Checks of the settings: the client's constructor arguments and the per-call options
(``timeout=``, ``deadline=``, ``organization_id=``, ``allow_duplicate=``, ``exactly_once=``).

A setting must be a real number (``int`` or ``float``; not a ``bool``, not a numeric string),
finite and in range:

* *infinite* values overflow the timers under the SDK: aiohttp schedules a timeout with
  ``loop.call_at(ceil(now + timeout))`` and ``ceil(inf)`` raises ``OverflowError``, so
  ``timeout=float("inf")`` (or ``deadline=inf`` with ``timeout=None``, which makes the attempt
  timeout the remaining budget) would fail every call; an infinite ``rate_limit`` has no
  interval between grants. "No limit" is ``None`` wherever the setting allows it.
* *NaN* compares false with everything, so range checks written as ``not value > 0`` are the only
  ones that catch it; every check here tests finiteness first.

Every other option is checked for its type the same way (:func:`check_kind`, :func:`check_choice`,
:func:`call_flag_problem`): a flag is a ``bool`` (not ``1``, not ``"yes"``), a count an ``int``
(not ``True``), a callable callable.

Constructor arguments raise :class:`~scaledmail_async.errors.ConfigurationError`; per-call
arguments raise :class:`~scaledmail_async.errors.RequestValidationError` (bad input of one call),
both before any request. A message names the option, what it accepts and what was given: a number
as given, a short lowercase word for a choice quoted (``'later'``), any other value by its type
only (it could be anything, a key pasted into the wrong argument included).
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable

from scaledmail_async.errors import ConfigurationError, RequestValidationError

__all__ = [
    "call_flag_problem",
    "call_seconds_problem",
    "check_call_seconds",
    "check_choice",
    "check_kind",
    "check_setting",
    "shown",
]

_WORD = frozenset(string.ascii_lowercase + "_-")


def _shown(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return type(value).__name__
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    text = repr(value)
    return text if len(text) <= 24 else f"an int of {len(text)} digits"


def _problem(value: object, *, zero_ok: bool, integer: bool) -> bool:
    """Whether ``value`` is *not* acceptable (the message is built by the caller)."""
    if isinstance(value, bool):
        return True
    if integer:
        if not isinstance(value, int):
            return True
        return not (value > 0 or (zero_ok and value == 0))
    if not isinstance(value, (int, float)):
        return True
    try:
        number = float(value)
    except OverflowError:  # an int beyond the float range: not a usable number of seconds
        return True
    if not math.isfinite(number):
        return True
    return not (number > 0 or (zero_ok and number == 0))


def check_setting(
    name: str,
    value: object,
    *,
    what: str,
    none: str | None = None,
    zero_ok: bool = False,
    integer: bool = False,
) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is an acceptable setting ``name``.

    ``what`` describes the accepted values (``"a finite number of seconds > 0"``); ``none``, when
    ``None`` is accepted, what it means (``"for no timeout"``). ``zero_ok`` accepts 0; ``integer``
    asks for an ``int``.
    """
    if value is None and none is not None:
        return
    if _problem(value, zero_ok=zero_ok, integer=integer):
        alternative = f", or None {none}" if none is not None else ""
        raise ConfigurationError(f"{name} must be {what}{alternative}; got {_shown(value)}")


def call_seconds_problem(value: object) -> str | None:
    """Why a per-call ``timeout``/``deadline`` value is refused, or ``None`` when it is fine."""
    if type(value) is float:
        if 0.0 < value < math.inf:
            return None
    elif not _problem(value, zero_ok=False, integer=False):
        return None
    return (
        "must be a finite number of seconds > 0 (or None for the client's setting); "
        f"got {_shown(value)}"
    )


def check_call_seconds(name: str, value: object, operation: str | None) -> None:
    """Raise :class:`RequestValidationError` (``field=name``) for a bad per-call ``timeout``
    or ``deadline``; ``None`` and ``UNSET`` are the caller's to handle before."""
    problem = call_seconds_problem(value)
    if problem is not None:
        raise RequestValidationError(problem, field=name, operation=operation)


def shown(value: object, *, word: bool = False) -> str:
    """What was given, for a message: its type, with a number as given (``int 5``); with
    ``word`` (the options whose values are a few words) a short lowercase word quoted too
    (``str 'later'``: a choice misspelt). Any other value by its type only (never a key's
    text)."""
    if value is None:
        return "None"
    kind = type(value).__name__
    if word and isinstance(value, str) and 0 < len(value) <= 16 and _WORD.issuperset(value):
        return f"{kind} {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return kind
    return f"{kind} {_shown(value)}"


def _refuse(
    name: str, what: str, none: str | None, value: object, *, word: bool = False
) -> ConfigurationError:
    alternative = f", or None {none}" if none is not None else ""
    return ConfigurationError(f"{name} must be {what}{alternative}; got {shown(value, word=word)}")


def check_kind(
    name: str,
    value: object,
    ok: Callable[[object], bool],
    *,
    what: str,
    none: str | None = None,
) -> None:
    """Raise :class:`ConfigurationError` unless ``ok(value)`` (or ``value`` is ``None`` where
    ``none`` says what ``None`` means). ``what`` describes the accepted values (``"a str"``)."""
    if value is None and none is not None:
        return
    if not ok(value):
        raise _refuse(name, what, none, value)


def check_choice(
    name: str, value: object, choices: tuple[str, ...], *, none: str | None = None
) -> None:
    """Raise :class:`ConfigurationError` unless ``value`` is one of ``choices``."""
    if value is None and none is not None:
        return
    if not (isinstance(value, str) and value in choices):
        what = " or ".join(repr(c) for c in choices)
        raise _refuse(name, what, none, value, word=True)


def call_flag_problem(value: object) -> str | None:
    """Why a per-call flag (``allow_duplicate=``, ``exactly_once=``) is refused, or ``None``."""
    if value is True or value is False:
        return None
    return f"must be a bool (True or False); got {shown(value)}"
