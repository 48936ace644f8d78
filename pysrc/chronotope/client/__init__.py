"""The chronotope client SDK: the store interface over the REST API (needs the ``client`` extra: httpx, pyarrow).

``chronotope.connect(url, ...)`` / :func:`connect_async` give a :class:`Client` / :class:`AsyncClient`
(a :class:`RemoteStore` / :class:`AsyncRemoteStore`) with the embedded store's methods;
:class:`Transport` and :class:`AsyncTransport` carry the requests (pooling, login, retries,
deadlines, the circuit breaker).
Reference: docs/sdk-reference.md (generated from these docstrings); guide: docs/sdk.md.
"""

from .aio import AsyncClient, AsyncRemoteCollection, AsyncRemoteStore, connect_async
from .breaker import CircuitBreaker, CircuitOpenError
from .problems import (AuthenticationError, ConnectionFailedError, PermissionDeniedError, RateLimitedError,
                       RequestTimeoutError, ServerError)
from .remote import Client, RemoteCollection, RemoteStore, connect
from .transport import AsyncTransport, RetryPolicy, Transport
from .wire import from_mfjson, to_geojson, to_mfjson

__all__ = ["connect", "connect_async", "Client", "AsyncClient", "RemoteStore", "RemoteCollection", "AsyncRemoteStore",
           "AsyncRemoteCollection", "Transport", "AsyncTransport", "RetryPolicy", "CircuitBreaker",
           "CircuitOpenError", "AuthenticationError", "PermissionDeniedError", "RateLimitedError", "ServerError",
           "ConnectionFailedError", "RequestTimeoutError", "to_mfjson", "from_mfjson", "to_geojson"]
