"""chronotope: a storage engine for moving objects and their history.

This release provides the column codecs (:mod:`chronotope.codec`), the
tracktable loaders (:mod:`chronotope.loaders`) and the bundled real AIS
sample (:mod:`chronotope.datasets`). See README.md and docs/.
"""

from importlib.metadata import PackageNotFoundError, version

from chronotope import codec, datasets, errors, loaders
from chronotope.errors import ChronotopeError, CorruptDataError

try:
    __version__ = version("chronotope")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"

__all__ = ["codec", "datasets", "errors", "loaders", "ChronotopeError", "CorruptDataError", "__version__"]
