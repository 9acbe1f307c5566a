"""The ``scaledmail fake-server`` command: run the embedded fake Scaledmail API
(:mod:`scaledmail_async.testing`) until Ctrl-C, printing the base URL and the test key to use.

Everything a test in another process (or language) needs is a flag: the seeded data
(``--seed``), the rate limits and their algorithm (``--rate-limit 2/s``,
``--rate-limit-algorithm token_bucket``, ``--burst``), faults (``--fault``, repeatable), the
order lifecycle, read-after-write lag and clock skew. While it runs, the fake's admin routes
(``/_fake/state``, ``/_fake/faults``, ``/_fake/rate-limits``) change faults and limits.

A command module: it imports the plumbing (:mod:`._plumbing`) and is imported by :mod:`._app`
only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from scaledmail_async._env import API_KEY_ENV, BASE_URL_ENV, ORGANIZATION_ENV
from scaledmail_async.cli._errors import EXIT_FAILURE, EXIT_USAGE
from scaledmail_async.cli._plumbing import fail

if TYPE_CHECKING:
    from scaledmail_async.testing import FakeScaledmail, FaultSpec

    _ParamType = click.ParamType[Any]
else:  # click < 8.2 has no generic ParamType
    _ParamType = click.ParamType

__all__ = ["FaultParam", "RateLimitParam", "fake_server_command"]

#: The fake's rate-limit algorithms (``scaledmail_async.testing.ALGORITHMS``; repeated here so
#: that building the CLI does not import the fake).
_ALGORITHMS = ("sliding_window", "fixed_window", "token_bucket")
_RETRY_AFTER = {"seconds": "seconds", "http-date": "http-date", "none": False}


class RateLimitParam(_ParamType):
    """``N`` (per ``default_window`` seconds), ``N/PERIOD`` (``2/s``, ``15/min``, ``100/10s``)
    or ``off``: ``(limit, window)`` or ``None``."""

    name = "N[/PERIOD]"

    def __init__(self, default_window: float) -> None:
        self.default_window = default_window

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, float] | None:
        """Parse the flag's text (a default already parsed passes through)."""
        if value is None or isinstance(value, tuple):
            return value
        from scaledmail_async.testing import parse_rate_limit

        try:
            return parse_rate_limit(str(value), default_window=self.default_window)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class FaultParam(_ParamType):
    """A fault in the text form ``KIND[:PARAM=VALUE,...]`` (see ``--fault``)."""

    name = "KIND[:SPEC]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> FaultSpec:
        """Parse the flag's text into a :class:`~scaledmail_async.testing.FaultSpec`."""
        from scaledmail_async.testing import FaultSpec, parse_fault_spec

        if isinstance(value, FaultSpec):
            return value
        try:
            return parse_fault_spec(str(value))
        except ValueError as exc:
            self.fail(f"{value!r}: {exc}", param, ctx)


class _AlgorithmParam(_ParamType):
    """A rate-limit algorithm; ``token-bucket`` and ``token_bucket`` alike."""

    name = "algorithm"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        name = str(value).strip().lower().replace("-", "_")
        if name not in _ALGORITHMS:
            self.fail(f"{value!r} is not one of {', '.join(_ALGORITHMS)}.", param, ctx)
        return name


def _fault_text(spec: FaultSpec) -> str:
    """A fault as the announcement shows it (the text form, with its defaults spelt out)."""
    is_status = spec.kind == "status"
    parts = [f"{k}={v}" for k, v in spec.params.items() if not (is_status and k == "status")]
    if spec.operations is not None:
        parts.append("operation=" + "+".join(spec.operations))
    parts.append(f"rate={spec.rate:g}" if spec.rate is not None else f"count={spec.count}")
    head = str(spec.params["status"]) if is_status else spec.kind
    return head + ":" + ",".join(parts)


def fake_server_command() -> click.Command:
    """``scaledmail fake-server``."""

    def callback(**params: Any) -> None:
        from scaledmail_async.testing import DEFAULT_API_KEY, run_fake_server

        host: str = params.pop("host")
        port: int = params.pop("port")
        rate: tuple[int, float] | None = params["rate_limit"]
        critical: tuple[int, float] | None = params["critical_limit"]
        algorithm: str = params["algorithm"]
        burst: int | None = params["burst"]
        faults: tuple[FaultSpec, ...] = params["faults"]
        if burst is not None and algorithm != "token_bucket":
            raise click.UsageError(
                "--burst is the token bucket's capacity: use it with "
                "--rate-limit-algorithm token_bucket"
            )
        options: dict[str, Any] = {
            "seed": params["seed"],
            "rate_limit": rate[0] if rate is not None else None,
            "critical_limit": critical[0] if critical is not None else None,
            "rate_limit_algorithm": algorithm,
            "burst": burst,
            "retry_after_header": _RETRY_AFTER[params["retry_after_header"]],
            "rate_limits_enabled": not params["no_rate_limit"],
            "activate_after_polls": params["activate_after_polls"],
            "activate_after_seconds": params["activate_after_seconds"],
            "visibility_delay": params["visibility_delay"],
            "clock_skew": params["clock_skew"],
        }
        keys: tuple[str, ...] = params["api_keys"]
        if keys:
            options["api_keys"] = keys
        if rate is not None:
            options["rate_window"] = rate[1]
        if critical is not None:
            options["critical_window"] = critical[1]

        def announce(fake: FakeScaledmail) -> None:
            click.echo(f"Fake Scaledmail API listening at {fake.base_url}")
            click.echo(f"Organizations: {', '.join(fake.organization_ids)}")
            if keys:  # never print a key the caller chose
                click.echo("Use it from another shell (with a key you gave as --api-key):")
                shown_key = "<your --api-key>"
            else:
                click.echo("Use it from another shell (the key is the fake's public test key):")
                shown_key = DEFAULT_API_KEY
            click.echo(f"  export {BASE_URL_ENV}={fake.base_url}")
            click.echo(f"  export {API_KEY_ENV}={shown_key}")
            click.echo(f"  export {ORGANIZATION_ENV}={fake.organization_id}")
            limiter = fake.limiter
            if not limiter.enabled:
                click.echo("Rate limits: off")
            else:
                rules = [
                    f"{name} {rule.label}"
                    for name, rule in (
                        ("all requests", limiter.global_rule),
                        ("critical", limiter.critical_rule),
                    )
                    if rule is not None
                ]
                click.echo(f"Rate limits ({limiter.algorithm}): {'; '.join(rules) or 'none'}")
            click.echo(f"Seed: {fake.options.seed}")
            for spec in faults:
                click.echo(f"Fault: {_fault_text(spec)}")
            click.echo(f"Admin: {fake.url}/_fake/state, {fake.url}/_fake/faults")
            click.echo("Ctrl-C to stop.", err=True)

        try:
            # ``faults`` only when given: the other keywords are all FakeOptions fields.
            extra: dict[str, Any] = {"faults": faults} if faults else {}
            run_fake_server(host, port, on_ready=announce, **extra, **options)
        except ValueError as exc:  # an option FakeOptions refuses (a NaN skew...)
            fail(f"error: {exc}", EXIT_USAGE, kind="UsageError")
        except OSError as exc:
            fail(
                f"error: cannot listen on {host}:{port}: {exc.strerror or exc}. "
                "Choose another --port.",
                EXIT_FAILURE,
                kind="OSError",
            )

    params: list[click.Parameter] = [
        click.Option(["--host"], default="127.0.0.1", show_default=True),
        click.Option(
            ["--port"],
            type=click.IntRange(0, 65535),
            default=8080,
            show_default=True,
            help="0: a free port (the address is printed).",
        ),
        click.Option(["--seed"], type=int, default=0, show_default=True, help="Seeded data."),
        click.Option(
            ["--api-key", "api_keys"],
            multiple=True,
            metavar="TEST_KEY",
            help="A key the fake accepts (repeatable; each has its own rate limits); default: "
            "the public test key it prints. Made-up test keys only: a flag shows in `ps`.",
        ),
        click.Option(
            ["--rate-limit", "rate_limit"],
            type=RateLimitParam(default_window=1.0),
            default="5/s",
            show_default=True,
            help="Requests per key: N per second, N/PERIOD (2/s, 300/min, 100/10s) or off.",
        ),
        click.Option(
            ["--critical-limit", "critical_limit"],
            type=RateLimitParam(default_window=60.0),
            default="15/min",
            show_default=True,
            help="Critical operations (search, suggest, buy domains) per key: N per minute, "
            "N/PERIOD or off.",
        ),
        click.Option(
            ["--rate-limit-algorithm", "--algorithm", "algorithm"],
            type=_AlgorithmParam(),
            metavar="[" + "|".join(_ALGORITHMS) + "]",
            default="sliding_window",
            show_default=True,
            help="How the limits count: at most N in any window (sliding_window), N per "
            "window aligned to the start (fixed_window: up to 2N across a boundary), or a "
            "bucket of --burst tokens refilled at the rate (token_bucket).",
        ),
        click.Option(
            ["--burst"],
            type=click.IntRange(min=1),
            default=None,
            help="The token bucket's capacity (default: the limit).",
        ),
        click.Option(
            ["--retry-after-header"],
            type=click.Choice(tuple(_RETRY_AFTER)),
            default="seconds",
            show_default=True,
            help="The Retry-After header of a 429: whole seconds, an HTTP date, or none "
            "(the body's retryAfter stays).",
        ),
        click.Option(["--no-rate-limit"], is_flag=True, help="Switch the rate limits off."),
        click.Option(
            ["--fault", "faults"],
            type=FaultParam(),
            multiple=True,
            metavar="KIND[:SPEC]",
            help="Inject a fault (repeatable; queued in order). KIND[:PARAM=VALUE,...]: KIND is "
            "a fault kind (status, reset_before, reset_after, delay, truncated_json, non_json, "
            "html_error, close_mid_body, trickle, unable_to_charge) or an HTTP status "
            "(503 = status:status=503); PARAM is operation=OP[+OP...], count=N (default 1) or "
            "rate=P (each request's chance, for as long as it runs; seeded by --seed), or a "
            "parameter of the kind (retry_after=2, seconds=1.5, after=true, keep=10...). "
            "E.g. --fault 429:operation=get_orders,count=2 --fault reset_before:rate=0.1.",
        ),
        click.Option(
            ["--activate-after-polls"],
            type=click.IntRange(min=0),
            default=3,
            show_default=True,
            help="New orders are Active after this many polls of their details.",
        ),
        click.Option(
            ["--activate-after-seconds"],
            type=click.FloatRange(min=0),
            default=None,
            help="... or this many seconds after creation.",
        ),
        click.Option(
            ["--visibility-delay"],
            type=click.FloatRange(min=0),
            default=0.0,
            show_default=True,
            help="Seconds before what a purchase creates shows in reads (orders, order details, "
            "domains, purchased domains): reads lag writes, as reconciliation must expect.",
        ),
        click.Option(
            ["--clock-skew"],
            type=float,
            default=0.0,
            show_default=True,
            help="Seconds the server's clock is ahead of the real time (negative: behind); "
            "shifts created_at of new orders and the Date header.",
        ),
    ]
    return click.Command(
        "fake-server",
        callback=callback,
        params=params,
        short_help="Run the embedded fake Scaledmail API.",
        help=(
            "Run the embedded fake Scaledmail API (in-memory seeded state, documented rules, "
            "rate limits, order lifecycle, faults) until Ctrl-C. Prints its base URL and the "
            "test key to use with SCALEDMAIL_BASE_URL and SCALEDMAIL_API_KEY.\n\n"
            "While it runs, its admin routes steer it from any process: GET /_fake/state; "
            "GET, POST (a fault as JSON, or the --fault text as a JSON string) and DELETE "
            "/_fake/faults; GET and POST /_fake/rate-limits. They take no key."
        ),
    )
