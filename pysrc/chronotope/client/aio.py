"""The remote store for asyncio: the methods of :mod:`chronotope.client.remote`, as coroutines.

>>> db = connect_async("http://127.0.0.1:8000", api_key="ct_...")   # doctest: +SKIP
>>> async with db:                                                   # doctest: +SKIP
...     ais = await db.collection("ais")
...     rows = await ais.query(bbox=(-74.05, 40.6, -74.0, 40.7))

``len()`` cannot wait, so an :class:`AsyncRemoteCollection` answers ``await count()``.
"""

from __future__ import annotations

import numpy as np

from chronotope.client import calls as _calls
from chronotope.client import wire
from chronotope.client.calls import Call, Described, Description
from chronotope.results import Result

__all__ = ["connect_async", "AsyncClient", "AsyncRemoteStore", "AsyncRemoteCollection"]


def connect_async(url: str, username: str | None = None, password: str | None = None, api_key: str | None = None,
                  **options) -> "AsyncClient":
    """An :class:`AsyncClient` (an :class:`AsyncRemoteStore`) on the server at ``url`` (the options of
    :func:`chronotope.connect`)."""
    return AsyncClient(url, username=username, password=password, api_key=api_key, **options)


async def _send(transport, call: Call, timeout: float | None = None):
    try:
        if call.rows:  # the chunks as they arrive, then one decode (pyarrow's reader cannot await)
            async with transport.stream(call.method, call.path, **call.kwargs(timeout)) as resp:
                chunks = [chunk async for chunk in resp.aiter_bytes()]
            return wire.decode_arrow(b"".join(chunks))
        resp = await transport.request(call.method, call.path, **call.kwargs(timeout))
    except Exception as exc:
        if call.on_error is None:
            raise
        return call.on_error(exc)
    return call.decode(resp)


class AsyncRemoteStore:
    """:class:`~chronotope.client.remote.RemoteStore` for asyncio; safe to share between tasks."""

    def __init__(self, transport, batch_rows: int = _calls.BATCH_ROWS):
        self._transport = transport
        self.batch_rows = _calls.check_batch_rows(batch_rows)  # rows per ingest request (longer appends: several)

    @property
    def transport(self):
        """The HTTP transport (its circuit breaker, retry policy and pool)."""
        return self._transport

    async def _do(self, call: Call):
        return await _send(self._transport, call)

    async def collections(self) -> list[str]:
        """Names of the collections the credentials can read, sorted."""
        return await self._do(_calls.store_calls.collections())

    async def collection(self, name: str) -> "AsyncRemoteCollection":
        """An existing collection (InvalidArgumentError if there is none by that name)."""
        return AsyncRemoteCollection(self, Description(await self._do(_calls.store_calls.describe(name))))

    async def create_collection(self, name: str, properties: dict | None = None, crs: str = "EPSG:4326",
                                partition="1D", has_z: bool = False, max_gap="10m") -> "AsyncRemoteCollection":
        """Create a collection (admin)."""
        doc = await self._do(_calls.store_calls.create_collection(name, properties, crs, partition, has_z, max_gap))
        return AsyncRemoteCollection(self, Description(doc))

    async def drop_collection(self, name: str) -> None:
        """Delete a collection and all its data (admin)."""
        await self._do(_calls.store_calls.drop_collection(name))

    async def flush(self) -> None:
        """Nothing to do: the server made every acknowledged write durable on its own terms."""

    async def compact(self) -> dict:
        return await self._do(_calls.store_calls.compact())

    async def prune(self, older_than, keep_every=None) -> dict:
        return await self._do(_calls.store_calls.prune(older_than, keep_every))

    async def verify(self) -> list[str]:
        return await self._do(_calls.store_calls.verify())

    async def stats(self) -> dict:
        return await self._do(_calls.store_calls.stats())

    async def close(self) -> None:
        """Close the connections."""
        close = getattr(self._transport, "aclose", None) or self._transport.close
        await close()

    async def __aenter__(self) -> "AsyncRemoteStore":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self._transport, 'url', '?')!r})"


class AsyncClient(AsyncRemoteStore):
    """The asynchronous client: an :class:`AsyncRemoteStore` over its own pooled :class:`AsyncTransport`.

    ``AsyncClient(url, username=..., password=...)`` or ``AsyncClient(url, api_key=...)``, with
    the options of :class:`~chronotope.client.remote.Client`; one pool shared by every task of
    the loop; ``await close()`` or ``async with`` closes it.
    """

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 api_key: str | None = None, batch_rows: int = _calls.BATCH_ROWS, **transport_options):
        from chronotope.client.transport import AsyncTransport  # httpx: only when a remote store is wanted

        super().__init__(AsyncTransport(url, username=username, password=password, api_key=api_key,
                                        **transport_options), batch_rows)


class AsyncRemoteCollection(Described):
    """:class:`~chronotope.client.remote.RemoteCollection` for asyncio."""

    def __init__(self, store: AsyncRemoteStore, description: Description):
        self._store = store
        self._desc = description
        self._calls = _calls.collection_calls(description, store.batch_rows)
        self.name = description.name

    async def _do(self, call: Call, timeout: float | None = None):
        return await _send(self._store._transport, call, timeout)

    async def _describe(self) -> dict:
        doc = await self._do(self._calls.describe())
        self._desc = Description(doc)
        return doc

    async def _learn_id_kind(self) -> None:
        """After an append: the kind of ids is fixed now (``id_kind`` cannot wait, so it is fetched here)."""
        if self._desc.id_kind is None:
            await self._describe()

    async def extent(self) -> dict:
        return _calls.extent_of(await self._describe())

    async def metadata(self) -> dict:
        """The descriptive metadata, as the server has it now (a coroutine: the embedded property cannot wait)."""
        await self._describe()
        return self._desc.metadata

    async def set_metadata(self, metadata: dict) -> None:
        await self._do(self._calls.set_metadata(metadata))

    async def append(self, object_id, t, x, y, z=None, *, idempotency_key: str | None = None,
                     format: str = "batch", timeout: float | None = None, **columns) -> int:  # noqa: A002
        calls = self._calls.append_parts(object_id, t, x, y, z, idempotency_key=idempotency_key, format=format,
                                         columns=columns)
        appended = 0
        for call in calls:  # in order: a later part may overwrite an (object, t) of an earlier one
            appended += await self._do(call, timeout)
        await self._learn_id_kind()
        return appended

    async def append_once(self, key: str, /, object_id, t, x, y, z=None, *, format: str = "batch",  # noqa: A002
                          timeout: float | None = None, **columns):
        calls = self._calls.append_parts(object_id, t, x, y, z, idempotency_key=key, format=format, columns=columns,
                                         once=True)
        receipts = [await self._do(call, timeout) for call in calls]
        await self._learn_id_kind()
        return _calls.receipt_of(receipts)

    async def append_arrow(self, table, **options) -> int:
        args, cols = _calls.mapping_columns(_calls.arrow_columns(table))
        return await self.append(*args, **cols, **options)

    async def append_pandas(self, df, **options) -> int:
        args, cols = _calls.mapping_columns(_calls.pandas_columns(df))
        return await self.append(*args, **cols, **options)

    async def delete(self, object_id, time=None) -> None:
        await self._do(self._calls.delete(object_id, time))

    async def set_properties(self, object_id, doc: dict, at=None) -> None:
        await self._do(self._calls.set_properties(object_id, doc, at))

    async def properties(self, object_id, as_of=None) -> dict | None:
        return await self._do(self._calls.properties(object_id, as_of))

    async def history(self, object_id) -> list[tuple[np.datetime64, dict]]:
        return await self._do(self._calls.history(object_id))

    async def scan(self, time=None, ids=None, columns=None, *, timeout: float | None = None) -> Result:
        return await self._do(self._calls.query(time=time, ids=ids, columns=columns), timeout)

    async def query(self, bbox=None, time=None, polygon=None, ids=None, columns=None, *,
                    timeout: float | None = None) -> Result:
        return await self._do(self._calls.query(bbox, time, polygon, ids, columns), timeout)

    async def explain(self, bbox=None, time=None, polygon=None, ids=None, columns=None, *,
                      timeout: float | None = None):
        return await self._do(self._calls.explain(bbox, time, polygon, ids, columns), timeout)

    async def nearest(self, x, y, k=10, at=None, time=None, max_gap=None, columns=None, *,
                      timeout: float | None = None) -> Result:
        return await self._do(self._calls.nearest(x, y, k, at, time, max_gap, columns), timeout)

    async def snapshot(self, at, bbox=None, max_gap=None, columns=None, *, timeout: float | None = None) -> Result:
        return await self._do(self._calls.snapshot(at, bbox, max_gap, columns), timeout)

    async def track(self, object_id, time=None, simplify=None, derive=False, columns=None, *,
                    timeout: float | None = None) -> Result:
        return await self._do(self._calls.track(object_id, time, simplify, derive, columns), timeout)

    async def aggregate(self, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count", *,
                        timeout: float | None = None):
        return await self._do(self._calls.aggregate(cell, bucket, bbox, time, value, stat), timeout)

    async def ids(self, bbox=None, time=None, polygon=None) -> np.ndarray:
        col = (await self.query(bbox=bbox, time=time, polygon=polygon, columns=["object_id"]))["object_id"]
        return col if len(col) < 2 else col[np.r_[True, col[1:] != col[:-1]]]

    async def features(self, bbox=None, time=None, limit: int = 100, sub_trajectory: bool = False):
        """An async iterator over the moving features of ``GET .../items``, following ``rel=next`` links."""
        call = self._calls.features(bbox, time, limit, sub_trajectory)
        while call is not None:
            page = await self._do(call)
            for feature in page.get("features", []):
                yield feature
            call = _calls.next_page(page)

    async def count(self) -> int:
        """The number of stored samples."""
        return await self._do(self._calls.count())
