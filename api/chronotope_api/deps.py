"""What every route depends on: the principal's access to the store, as a FastAPI dependency.

A route declares the role it needs, ``access: Access = Depends(require("reader"))``;
the dependency authenticates the request (401), checks the role for the route's
``{collectionId}`` or globally (403), checks that the collection exists (404),
and hands over the store and the :class:`Scope` the grant allows. Reads narrow
their window with ``scope.window(...)`` and drop what is left over with
``scope.filter(...)``; writes call ``scope.check_write(...)`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from chronotope import Result, spatial
from chronotope.ingest import time_range
from chronotope_api.problems import Problem

__all__ = ["Access", "Scope", "OutsideScope", "ROLES", "require"]

#: Roles from least to most: a writer can read, an admin can write.
ROLES = ("reader", "writer", "admin")


class OutsideScope(Exception):
    """The request's window does not meet the grant's: the answer is empty."""


@dataclass(frozen=True)
class Scope:
    """The region and time window a grant limits a principal to (None: unlimited)."""

    bbox: tuple[float, float, float, float] | None = None  # the region's bounding box (of the polygon, if one)
    polygon: dict | None = None  # GeoJSON Polygon/MultiPolygon
    time: tuple[int, int] | None = None  # inclusive int64 ns

    @property
    def limited(self) -> bool:
        return self.bbox is not None or self.time is not None

    @cached_property
    def _polygon(self):
        """The grant's polygon for the C test, built once per request (a scope lives as long as one)."""
        return spatial.parse_polygon(self.polygon)[0]

    def window(self, bbox, time) -> tuple:
        """A read's (bbox, time) narrowed to the grant: no bbox becomes the region's box, the time interval
        is intersected (int64 ns pair); raises OutsideScope when the intervals do not meet."""
        if self.bbox is not None and bbox is None:
            bbox = self.bbox
        if self.time is not None:
            lo, hi = time_range(time)
            lo, hi = max(lo, self.time[0]), min(hi, self.time[1])
            if lo > hi:
                raise OutsideScope()
            time = (lo, hi)
        return bbox, time

    def mask(self, t, x, y) -> np.ndarray:
        """Rows (int64 ns t, x, y) the grant lets the principal see or write."""
        keep = np.ones(len(t), dtype=bool)
        if self.time is not None:
            t = np.asarray(t)
            t = t.view(np.int64) if t.dtype.kind == "M" else t
            keep &= (t >= self.time[0]) & (t <= self.time[1])
        if self.polygon is not None:
            keep &= self._polygon.contains(np.ascontiguousarray(x, dtype=np.float64),
                                           np.ascontiguousarray(y, dtype=np.float64))
        elif self.bbox is not None:
            keep &= spatial.in_boxes(np.asarray(x), np.asarray(y), self.bbox)
        return keep

    def filter(self, result: Result) -> Result:
        """The rows of ``result`` (which must hold t, x and y) inside the grant."""
        if not self.limited:
            return result
        cols = result.to_dict()
        keep = self.mask(cols["t"], cols["x"], cols["y"])
        return result if keep.all() else Result({k: v[keep] for k, v in cols.items()})

    def check_write(self, t, x, y) -> None:
        """403 unless every row (int64 ns t, x, y) lies inside the grant."""
        if not self.limited:
            return
        outside = ~self.mask(t, x, y)
        if outside.any():
            raise Problem(403, f"row {int(np.argmax(outside))} lies outside the region or time window of your grant")


@dataclass(frozen=True)
class Access:
    """What a request may touch: the store, who asks, the route's collection and the grant's scope."""

    db: object  # chronotope.Store
    user: str
    role: str  # the highest role the principal holds here
    collection: str | None
    scope: Scope
    grants: dict = field(default_factory=dict, repr=False)  # the principal's grants by collection ("*": global)

    def can(self, role: str, collection: str | None = None) -> bool:
        """Whether the principal holds ``role`` (or a higher one) on ``collection`` (None: the whole store)."""
        from chronotope_api.security import effective_grant

        grant = effective_grant(self.grants, collection)
        return grant is not None and ROLES.index(grant.role) >= ROLES.index(role)


def require(role: str, anywhere: bool = False):
    """The dependency for a route needing ``role`` on its ``{collectionId}`` (or globally without one);
    ``anywhere=True``: on at least one collection (a listing then shows only what ``access.can`` allows)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    from chronotope_api import security  # the authentication half lives there

    return security.dependency(role, anywhere)
