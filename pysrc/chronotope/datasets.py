"""Small real trajectory samples shipped inside the package.

The files live in ``chronotope/data/`` (see the ``README.md`` there for their
source, Sandia National Laboratories' ``tracktable-data``, BSD-2-Clause) and
are parsed with :mod:`chronotope.loaders`.  Parsed samples are cached in
memory; callers get read-only arrays (or private copies on request), so the
cache cannot be corrupted.

Samples
-------
``nyharbor_week``
    ``NYHarbor_2020_12_first_week.traj``: 172,679 AIS positions of 140
    vessels in 513 trajectories, New York harbor, 2020-12-01 to 2020-12-07.
``nyharbor_hour``
    ``NYHarbor_2020_06_30_first_hour.csv``: 8,689 AIS reports of 295 vessels,
    2020-06-30 00:00-01:00 UTC, with speed, course, heading, vessel name,
    type and dimensions.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Callable, Dict, Tuple

import numpy as np

from . import loaders

__all__ = ["available_samples", "load_sample"]

_SAMPLES: Dict[str, Tuple[str, Callable]] = {
    "nyharbor_week": ("NYHarbor_2020_12_first_week.traj.gz",
                      loaders.read_traj),
    "nyharbor_hour": ("NYHarbor_2020_06_30_first_hour.csv.gz",
                      loaders.read_ais_csv),
}

_PACKAGE = __name__.rpartition(".")[0] or "chronotope"


def available_samples() -> Tuple[str, ...]:
    """Names accepted by :func:`load_sample`.

    Returns
    -------
    tuple of str
        The sample names, sorted.

    Examples
    --------
    >>> available_samples()
    ('nyharbor_hour', 'nyharbor_week')
    """
    return tuple(sorted(_SAMPLES))


@functools.lru_cache(maxsize=None)
def _parsed(name: str) -> Dict[str, np.ndarray]:
    filename, reader = _SAMPLES[name]
    resource = resources.files(_PACKAGE) / "data" / filename
    with resource.open("rb") as handle:
        columns = reader(handle)
    for array in columns.values():
        array.setflags(write=False)
    return columns


def load_sample(name: str = "nyharbor_week", *,
                copy: bool = False) -> Dict[str, np.ndarray]:
    """Load a bundled sample as columns (see :mod:`chronotope.loaders`).

    Parameters
    ----------
    name : str, default "nyharbor_week"
        One of :func:`available_samples`.
    copy : bool, default False
        If False, the arrays are read-only views of an in-memory cache
        (cheap; writing to them raises ``ValueError``).  If True, they are
        fresh writable copies.

    Returns
    -------
    dict of str to numpy.ndarray
        A new dict on every call with ``object_id`` (MMSI, ``int64``), ``t``
        (``int64`` UTC nanoseconds), ``x`` (longitude), ``y`` (latitude) and
        the sample's other columns, sorted by ``(object_id, t)``.

    Raises
    ------
    ValueError
        If ``name`` is not a bundled sample.

    Examples
    --------
    >>> cols = load_sample("nyharbor_hour")
    >>> len(cols["t"]), len(set(cols["object_id"].tolist()))
    (8689, 295)
    >>> cols["x"].flags.writeable
    False
    >>> load_sample("nyharbor_hour", copy=True)["x"].flags.writeable
    True
    """
    if name not in _SAMPLES:
        raise ValueError(
            f"unknown sample {name!r}; valid names are "
            f"{', '.join(repr(n) for n in available_samples())}")
    cached = _parsed(name)
    if copy:
        return {key: array.copy() for key, array in cached.items()}
    return {key: array.view() for key, array in cached.items()}
