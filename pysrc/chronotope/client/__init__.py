"""The chronotope client SDK: the store interface over the REST API (needs the ``client`` extra, httpx)."""

from .breaker import CircuitBreaker, CircuitOpenError
from .problems import (AuthenticationError, ConnectionFailedError, PermissionDeniedError, RateLimitedError,
                       RequestTimeoutError, ServerError)
from .transport import AsyncTransport, RetryPolicy, Transport

__all__ = ["Transport", "AsyncTransport", "RetryPolicy", "CircuitBreaker", "CircuitOpenError",
           "AuthenticationError", "PermissionDeniedError", "RateLimitedError", "ServerError",
           "ConnectionFailedError", "RequestTimeoutError"]

# the store interface over REST (chronotope.connect)
from .aio import AsyncRemoteCollection, AsyncRemoteStore, connect_async  # noqa: E402
from .remote import RemoteCollection, RemoteStore, connect  # noqa: E402
from .wire import from_mfjson, to_geojson, to_mfjson  # noqa: E402

__all__ += ["connect", "connect_async", "RemoteStore", "RemoteCollection", "AsyncRemoteStore",
            "AsyncRemoteCollection", "to_mfjson", "from_mfjson", "to_geojson"]
