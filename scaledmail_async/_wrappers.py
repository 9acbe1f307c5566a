"""Client methods derived from the generated ``api`` functions, so each operation is defined once.

``scaledmail_async.api.<tag>.<op>(client, ...)`` is the only definition of an operation: its
signature, its docstring and its call of ``client._execute``. The generated
``scaledmail_async._generated.client_methods`` derives both method forms from it:

- :func:`client_method`: ``client.<op>(...)`` is the api function bound to the client;
- :func:`raw_response_method`: ``client.with_raw_response.<op>(...)`` is the api function bound
  to a :class:`RawResponseProxy`, whose ``_execute`` calls the client's with ``raw=True``, so the
  call returns ``APIResponse[T]``.

At run time a method is a copy of the api function object (the same code, globals, defaults and
docstring), not a wrapper that calls it. The class attribute is therefore a plain function and
``client.get_orders`` an ordinary bound method: attribute access and call cost what a hand-written
method costs, with no extra frame. The copy differs from the api function only in what
introspection shows: ``__qualname__`` (``OperationsMixin.get_orders``), ``__wrapped__`` (the api
function), a ``__signature__`` whose first parameter is ``self`` (as a method's is; bound, it is
dropped) and, for the raw form, the return annotation ``APIResponse[T]``.

For type checkers the helpers return ``ClientMethod`` / ``RawResponseMethod``, protocols that
exist for type checking only: the descriptor protocol of such a function, typed with the api
function's parameters after the client (``ParamSpec`` and ``Concatenate``), so that
``mypy --strict`` sees ``client.get_orders`` as ``Callable[P, Coroutine[Any, Any, OrderList]]``
with ``P`` exactly the api function's parameters (``tests/test_surface_typing.py``).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, cast

from scaledmail_async._response import APIResponse

if TYPE_CHECKING:
    from typing import Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

    from scaledmail_async._operation import Operation
    from scaledmail_async._protocol import ExecuteClient
    from scaledmail_async._types import QueryValue, Unset

    P = ParamSpec("P")
    R = TypeVar("R")
    R_co = TypeVar("R_co", covariant=True)

    #: What the generated api functions are: ``async def op(client, ...) -> T``.
    ApiFunction = Callable[Concatenate[ExecuteClient, P], Coroutine[Any, Any, R]]

    # Typing only (a method is a plain function at run time): the descriptor protocol of a
    # function made from an api function, with the api function's parameters after the client.

    class ClientMethod(Protocol[P, R_co]):
        """``client.<op>``: on the class the api function (client first), on an instance bound."""

        @overload
        def __get__(
            self, instance: None, owner: type[Any], /
        ) -> Callable[Concatenate[ExecuteClient, P], Coroutine[Any, Any, R_co]]: ...

        @overload
        def __get__(
            self, instance: ExecuteClient, owner: type[Any] | None = None, /
        ) -> Callable[P, Coroutine[Any, Any, R_co]]: ...

    class RawResponseMethod(Protocol, Generic[P, R]):
        """``client.with_raw_response.<op>``: the same parameters, returning ``APIResponse[T]``."""

        @overload
        def __get__(
            self, instance: None, owner: type[Any], /
        ) -> Callable[Concatenate[ExecuteClient, P], Coroutine[Any, Any, APIResponse[R]]]: ...

        @overload
        def __get__(
            self, instance: ExecuteClient, owner: type[Any] | None = None, /
        ) -> Callable[P, Coroutine[Any, Any, APIResponse[R]]]: ...


__all__ = ["RawResponseProxy", "client_method", "raw_response_method"]

#: api function -> its signature as a method's (``self`` first), computed once for both forms.
_SIGNATURES: dict[Callable[..., Any], inspect.Signature] = {}


def _method_signature(fn: Callable[..., Any]) -> inspect.Signature:
    found = _SIGNATURES.get(fn)
    if found is None:
        signature = inspect.signature(fn)
        first, *rest = signature.parameters.values()
        # A method's ``self`` carries no annotation.
        found = signature.replace(
            parameters=[first.replace(name="self", annotation=first.empty), *rest]
        )
        _SIGNATURES[fn] = found
    return found


def _method(fn: Callable[..., Any], owner: str, *, raw: bool) -> types.FunctionType:
    """A copy of the api function ``fn`` as a method of the class named ``owner``."""
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"{fn!r} is not a generated api function")
    method = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    method.__kwdefaults__ = fn.__kwdefaults__
    method.__doc__ = fn.__doc__
    method.__module__ = fn.__module__
    method.__qualname__ = f"{owner}.{fn.__name__}"
    signature = _method_signature(fn)
    client = fn.__code__.co_varnames[0]
    # Without the client's annotation, as typing.get_type_hints shows a method's ``self``.
    annotations = {k: v for k, v in fn.__annotations__.items() if k != client}
    if raw:
        returns: Any = signature.return_annotation
        # The api modules import APIResponse, so that typing.get_type_hints resolves the string.
        returns = f"APIResponse[{returns}]" if isinstance(returns, str) else APIResponse[returns]
        annotations["return"] = returns
        signature = signature.replace(return_annotation=returns)
    method.__annotations__ = annotations
    method.__wrapped__ = fn  # type: ignore[attr-defined]
    method.__signature__ = signature  # type: ignore[attr-defined]
    return method


def client_method(fn: ApiFunction[P, R], owner: str) -> ClientMethod[P, R]:
    """The api function ``fn`` as a method of class ``owner``: ``client.<op>(...)``."""
    return cast("ClientMethod[P, R]", _method(fn, owner, raw=False))


def raw_response_method(fn: ApiFunction[P, R], owner: str) -> RawResponseMethod[P, R]:
    """The api function ``fn`` as a method of a :class:`RawResponseProxy` subclass ``owner``."""
    return cast("RawResponseMethod[P, R]", _method(fn, owner, raw=True))


class RawResponseProxy:
    """A client whose calls return ``APIResponse[T]``: the base of ``client.with_raw_response``.

    The generated ``RawResponseOperations`` adds the operations (:func:`raw_response_method`);
    they call this object's ``_execute``, which asks the wrapped client for ``raw=True``.
    """

    __slots__ = ("_client",)

    def __init__(self, client: ExecuteClient) -> None:
        """Wrap ``client``; every operation calls its ``_execute`` with ``raw=True``."""
        self._client = client

    def _execute(
        self,
        op: Operation,
        *,
        path_params: dict[str, str],
        query: dict[str, Any],
        body: Any,
        organization_id: str | Unset | None,
        timeout: float | Unset | None,
        deadline: float | Unset | None,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue] | None = None,
        allow_duplicate: bool = False,
        exactly_once: bool = False,
        raw: bool = True,
    ) -> Coroutine[Any, Any, Any]:
        """The client's ``_execute`` coroutine for the same call, with ``raw=True``.

        A plain function returning the client's coroutine (the api function awaits it), so the
        raw form adds no coroutine of its own.
        """
        return self._client._execute(
            op,
            path_params=path_params,
            query=query,
            body=body,
            organization_id=organization_id,
            timeout=timeout,
            deadline=deadline,
            extra_headers=extra_headers,
            extra_query=extra_query,
            allow_duplicate=allow_duplicate,
            exactly_once=exactly_once,
            raw=True,
        )
