"""A store over REST with the embedded store's interface: ``chronotope.connect(url, ...)``.

:class:`RemoteStore` and :class:`RemoteCollection` have the methods, arguments,
defaults, result types and exceptions of :class:`chronotope.Store` and
:class:`chronotope.Collection`; code written against one runs against the other.
Arguments are checked here with the package's own parsers (a bad one raises
before any request, as embedded), times of any accepted form travel as RFC 3339,
samples as the compressed binary batch with a fresh ``Idempotency-Key`` per batch
(so the transport's retries store each batch once), and rows come back as Arrow
IPC streams assembled column-wise (:mod:`chronotope.client.wire`).

>>> import chronotope as ct                                   # doctest: +SKIP
>>> db = ct.connect("http://127.0.0.1:8000", username="demo", password="...")  # doctest: +SKIP
>>> db.collection("ais").snapshot(at="2020-12-03T12:00:00Z")   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from chronotope.client import calls as _calls
from chronotope.client import wire
from chronotope.client.calls import Call, Described, Description
from chronotope.results import Result

__all__ = ["connect", "Client", "RemoteStore", "RemoteCollection"]


def connect(url: str, username: str | None = None, password: str | None = None, api_key: str | None = None,
            **options) -> "Client":
    """A :class:`Client` (a :class:`RemoteStore`) on the server at ``url``, logged in with a password or an API key.

    ``options``: ``batch_rows`` (rows per ingest request, 1,000,000 by default: a longer
    append goes as several) and those of :class:`chronotope.client.transport.Transport`
    (``timeout``, ``retry``, ``breaker``, ``max_connections``, ``max_keepalive``,
    ``keepalive_expiry``, ``on_request``, ``on_response``).
    """
    return Client(url, username=username, password=password, api_key=api_key, **options)


def _send(transport, call: Call, timeout: float | None = None):
    try:
        if call.rows:  # a short answer decoded whole, a long one as its record batches arrive
            with transport.stream(call.method, call.path, **call.kwargs(timeout)) as resp:
                # read to the end of the body either way: unread, it would cost the pooled connection
                return wire.decode_arrow_chunks(resp.iter_bytes())
        resp = transport.request(call.method, call.path, **call.kwargs(timeout))
    except Exception as exc:
        if call.on_error is None:
            raise
        return call.on_error(exc)
    return call.decode(resp)


class RemoteStore:
    """The store a server serves, with the interface of :class:`chronotope.Store`.

    One store holds one pooled :class:`~chronotope.client.transport.Transport`;
    it is safe to share between threads. ``close()`` (or leaving a ``with``
    block) closes its connections.
    """

    def __init__(self, transport, batch_rows: int = _calls.BATCH_ROWS):
        self._transport = transport
        self.batch_rows = _calls.check_batch_rows(batch_rows)  # rows per ingest request (longer appends: several)

    @property
    def transport(self):
        """The HTTP transport (its circuit breaker, retry policy and pool)."""
        return self._transport

    def _do(self, call: Call):
        return _send(self._transport, call)

    # ---- collections ----

    def collections(self) -> list[str]:
        """Names of the collections the credentials can read, sorted."""
        return self._do(_calls.store_calls.collections())

    def collection(self, name: str) -> "RemoteCollection":
        """An existing collection (InvalidArgumentError if there is none by that name)."""
        return RemoteCollection(self, Description(self._do(_calls.store_calls.describe(name))))

    def create_collection(self, name: str, properties: dict | None = None, crs: str = "EPSG:4326",
                          partition="1D", has_z: bool = False, max_gap="10m") -> "RemoteCollection":
        """Create a collection (admin); the arguments of :meth:`chronotope.Store.create_collection`."""
        doc = self._do(_calls.store_calls.create_collection(name, properties, crs, partition, has_z, max_gap))
        return RemoteCollection(self, Description(doc))

    def drop_collection(self, name: str) -> None:
        """Delete a collection and all its data (admin)."""
        self._do(_calls.store_calls.drop_collection(name))

    # ---- maintenance ----

    def flush(self) -> None:
        """Nothing to do: the server made every acknowledged write durable on its own terms (its log)."""

    def compact(self) -> dict:
        """Merge segments and rewrite document chains on the server (admin); what was done."""
        return self._do(_calls.store_calls.compact())

    def prune(self, older_than, keep_every=None) -> dict:
        """Retention on the server (admin): drop samples older than ``older_than`` or thin them."""
        return self._do(_calls.store_calls.prune(older_than, keep_every))

    def verify(self) -> list[str]:
        """Check every checksum on the server (admin); one message per problem (empty: all sound)."""
        return self._do(_calls.store_calls.verify())

    def stats(self) -> dict:
        """The server store's statistics (admin)."""
        return self._do(_calls.store_calls.stats())

    def close(self) -> None:
        """Close the connections (the server's store stays open)."""
        self._transport.close()

    def __enter__(self) -> "RemoteStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self._transport, 'url', '?')!r})"


class Client(RemoteStore):
    """The synchronous client: a :class:`RemoteStore` over its own pooled :class:`Transport`.

    ``Client(url, username=..., password=...)`` or ``Client(url, api_key=...)``, with the
    transport options of :func:`connect` (which returns one) and ``batch_rows`` (rows per
    ingest request, 1,000,000 by default). One long-lived pool of keep-alive connections,
    shared by every thread using the client; ``close()`` or a ``with`` block closes it.
    """

    def __init__(self, url: str, username: str | None = None, password: str | None = None,
                 api_key: str | None = None, batch_rows: int = _calls.BATCH_ROWS, **transport_options):
        from chronotope.client.transport import Transport  # httpx: only when a remote store is wanted

        super().__init__(Transport(url, username=username, password=password, api_key=api_key,
                                   **transport_options), batch_rows)


class RemoteCollection(Described):
    """A collection on the server, with the interface of :class:`chronotope.Collection`.

    Every query and write method also takes ``timeout=`` (seconds, this call only).
    """

    def __init__(self, store: RemoteStore, description: Description):
        self._store = store
        self._desc = description
        self._calls = _calls.collection_calls(description, store.batch_rows)
        self.name = description.name

    def _do(self, call: Call, timeout: float | None = None):
        return _send(self._store._transport, call, timeout)

    # ---- description (schema, crs, has_z, max_gap, partition: from calls.Described) ----

    def _describe(self) -> dict:
        """The collection's document, now; the handle's description follows it."""
        doc = self._do(self._calls.describe())
        self._desc = Description(doc)
        return doc

    def extent(self) -> dict:
        """Bounding box ``[xmin, ymin, xmax, ymax]`` and time interval ``[t0, t1]`` (datetime64[ns])."""
        return _calls.extent_of(self._describe())

    @property
    def id_kind(self) -> str | None:
        """"int" or "str": the kind of object ids the first append fixed; None while the collection is empty."""
        if self._desc.id_kind is None:  # the first append, perhaps another client's, fixes it
            self._describe()
        return self._desc.id_kind

    @property
    def metadata(self) -> dict:
        """Descriptive metadata (title, description, ...), as the server has it now; {} when never set."""
        self._describe()
        return self._desc.metadata

    def set_metadata(self, metadata: dict) -> None:
        """Replace the descriptive metadata with ``metadata``, a JSON object (admin)."""
        self._do(self._calls.set_metadata(metadata))

    def __repr__(self) -> str:
        return f"RemoteCollection({self.name!r}, properties={self.schema}, crs={self.crs!r})"

    # ---- writes ----

    def append(self, object_id, t, x, y, z=None, *, idempotency_key: str | None = None,
               format: str = "batch", timeout: float | None = None, **columns) -> int:  # noqa: A002
        """Append samples (numpy arrays of one length; ``object_id`` may be a scalar); the rows appended.

        ``format``: ``"batch"`` (the compressed binary batch, default), ``"arrow"``
        or ``"json"``. The batch carries ``idempotency_key`` (a UUID when not
        given), so a retry after a lost answer is stored once. An append longer than
        the store's ``batch_rows`` goes as several requests in order, all checked
        before the first is sent; each is stored whole or not at all.
        """
        calls = self._calls.append_parts(object_id, t, x, y, z, idempotency_key=idempotency_key, format=format,
                                         columns=columns)
        return sum(self._do(call, timeout) for call in calls)

    def append_once(self, key: str, /, object_id, t, x, y, z=None, *, format: str = "batch",  # noqa: A002
                    timeout: float | None = None, **columns):
        """Append under the idempotency ``key``: a :class:`chronotope.collection.AppendReceipt` (rows, and
        whether the server had stored this batch before)."""
        calls = self._calls.append_parts(object_id, t, x, y, z, idempotency_key=key, format=format, columns=columns,
                                         once=True)
        return _calls.receipt_of([self._do(call, timeout) for call in calls])

    def append_arrow(self, table, **options) -> int:
        """Append a ``pyarrow.Table`` with columns object_id, t, x, y[, z] and properties."""
        args, cols = _calls.mapping_columns(_calls.arrow_columns(table))
        return self.append(*args, **cols, **options)

    def append_pandas(self, df, **options) -> int:
        """Append a ``pandas.DataFrame`` with columns object_id, t, x, y[, z] and properties."""
        args, cols = _calls.mapping_columns(_calls.pandas_columns(df))
        return self.append(*args, **cols, **options)

    def delete(self, object_id, time=None) -> None:
        """Delete an object's samples, all of them or those in ``time`` = (start, end) inclusive."""
        self._do(self._calls.delete(object_id, time))

    def set_properties(self, object_id, doc: dict, at=None) -> None:
        """Record a new version of an object's JSON document, valid from ``at`` (default: the server's now)."""
        self._do(self._calls.set_properties(object_id, doc, at))

    def properties(self, object_id, as_of=None) -> dict | None:
        """The object's document as it was at ``as_of`` (default: the latest); None if none."""
        return self._do(self._calls.properties(object_id, as_of))

    def history(self, object_id) -> list[tuple[np.datetime64, dict]]:
        """Every version of the object's document: (valid from, document), oldest first."""
        return self._do(self._calls.history(object_id))

    # ---- reads ----

    def scan(self, time=None, ids=None, columns=None, *, timeout: float | None = None) -> Result:
        """All stored samples (optionally in ``time`` and of ``ids``), sorted by (object, t)."""
        return self._do(self._calls.query(time=time, ids=ids, columns=columns), timeout)

    def query(self, bbox=None, time=None, polygon=None, ids=None, columns=None, *,
              timeout: float | None = None) -> Result:
        """Samples inside ``bbox``, ``time``, ``polygon`` and of ``ids``, sorted by (object, t)."""
        return self._do(self._calls.query(bbox, time, polygon, ids, columns), timeout)

    def explain(self, bbox=None, time=None, polygon=None, ids=None, columns=None, *, timeout: float | None = None):
        """The server's plan of ``query`` with these arguments (a :class:`chronotope.planner.Plan`)."""
        return self._do(self._calls.explain(bbox, time, polygon, ids, columns), timeout)

    def nearest(self, x, y, k=10, at=None, time=None, max_gap=None, columns=None, *,
                timeout: float | None = None) -> Result:
        """The k objects nearest to (x, y) at ``at``, or the k nearest samples in ``time``."""
        return self._do(self._calls.nearest(x, y, k, at, time, max_gap, columns), timeout)

    def snapshot(self, at, bbox=None, max_gap=None, columns=None, *, timeout: float | None = None) -> Result:
        """Every object's position at ``at``, interpolated between samples at most ``max_gap`` apart."""
        return self._do(self._calls.snapshot(at, bbox, max_gap, columns), timeout)

    def track(self, object_id, time=None, simplify=None, derive=False, columns=None, *,
              timeout: float | None = None) -> Result:
        """One object's samples in ``time``, optionally simplified and with ``speed``/``heading``."""
        return self._do(self._calls.track(object_id, time, simplify, derive, columns), timeout)

    def aggregate(self, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count", *,
                  timeout: float | None = None):
        """Counts (or sum/mean/min/max of ``value``) per time bucket x grid cell (a
        :class:`chronotope.queries.Aggregate`)."""
        return self._do(self._calls.aggregate(cell, bucket, bbox, time, value, stat), timeout)

    def ids(self, bbox=None, time=None, polygon=None) -> np.ndarray:
        """The distinct ids of the features with samples in ``bbox`` x ``time`` (and ``polygon``)."""
        col = self.query(bbox=bbox, time=time, polygon=polygon, columns=["object_id"])["object_id"]
        return col if len(col) < 2 else col[np.r_[True, col[1:] != col[:-1]]]

    def features(self, bbox=None, time=None, limit: int = 100, sub_trajectory: bool = False):
        """Iterate over the moving features (MF-JSON Feature dicts, by id) of ``GET .../items``, page by
        page (``limit`` a page), following the ``rel=next`` links."""
        call = self._calls.features(bbox, time, limit, sub_trajectory)
        while call is not None:
            page = self._do(call)
            yield from page.get("features", [])
            call = _calls.next_page(page)

    def count(self) -> int:
        """The number of stored samples (what ``len()`` answers)."""
        return self._do(self._calls.count())

    def __len__(self) -> int:
        """The number of stored samples (one request: ``GET /collections/{id}/count``)."""
        return self.count()
