"""chronotope: a storage engine for moving objects and their history.

``chronotope.open(path)`` opens (or creates) a store — see
:mod:`chronotope.store` — and ``chronotope.connect(url, ...)`` a served one; the column codecs are :mod:`chronotope.codec`, the
tracktable loaders :mod:`chronotope.loaders`, the bundled real AIS sample
:mod:`chronotope.datasets`. See README.md and docs/.
"""

from importlib.metadata import PackageNotFoundError, version

from chronotope import batch, codec, datasets, errors, loaders
from chronotope.collection import Collection
from chronotope.errors import ChronotopeError, CorruptDataError
from chronotope.results import Result
from chronotope.store import Store
from chronotope.store import open_store as open  # noqa: A001 - the public contract: ct.open(path)



def connect(url: str, username: str | None = None, password: str | None = None, api_key: str | None = None,
            **options):
    """A store served by ``chronotope serve`` at ``url``, with the interface of :func:`open`'s (needs the
    ``client`` extra). ``options``: ``batch_rows`` (rows per ingest request) and those of
    :class:`chronotope.client.Transport` (timeouts, retries, breaker, pool)."""
    from chronotope.client.remote import connect as remote_connect  # httpx only when asked for

    return remote_connect(url, username=username, password=password, api_key=api_key, **options)


try:
    __version__ = version("chronotope")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"

__all__ = [
    "open",
    "connect",
    "Store",
    "Collection",
    "Result",
    "batch",
    "codec",
    "datasets",
    "errors",
    "loaders",
    "ChronotopeError",
    "CorruptDataError",
    "__version__",
]
