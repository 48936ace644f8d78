"""Checking spatial query arguments, and the geometry the planner does in numpy.

Boxes are (xmin, ymin, xmax, ymax), borders included; a geographic box with
xmin > xmax crosses the antimeridian and becomes two boxes for the C kernels.
Polygons come as GeoJSON-like mappings, lists of rings or objects with
``__geo_interface__`` and become flat ring arrays for the C point-in-polygon
test. Distances are haversine metres on a sphere of EARTH_RADIUS_M for
EPSG:4326 and Euclidean otherwise.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from chronotope._query import Polygon
from chronotope.errors import InvalidArgumentError

__all__ = ["EARTH_RADIUS_M", "parse_bbox", "parse_polygon", "parse_point", "boxes_of", "in_boxes", "distances",
           "radius_box"]

EARTH_RADIUS_M = 6_371_008.8


def _finite(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgumentError(f"{what} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise InvalidArgumentError(f"{what} must be finite, got {v}")
    return v


def parse_point(x, y) -> tuple[float, float]:
    return _finite(x, "x"), _finite(y, "y")


def parse_bbox(bbox) -> tuple[float, float, float, float] | None:
    """A checked (xmin, ymin, xmax, ymax), or None.

    >>> parse_bbox((170, -10, -170, 10))
    (170.0, -10.0, -170.0, 10.0)
    """
    if bbox is None:
        return None
    try:
        values = list(bbox)
    except TypeError:
        raise InvalidArgumentError(f"bbox must be (xmin, ymin, xmax, ymax), got {bbox!r}") from None
    if len(values) != 4:
        raise InvalidArgumentError(f"bbox must be (xmin, ymin, xmax, ymax), got {len(values)} values")
    xmin, ymin, xmax, ymax = (_finite(v, f"bbox {n}") for v, n in zip(values, ("xmin", "ymin", "xmax", "ymax")))
    if ymin > ymax:
        raise InvalidArgumentError(f"bbox ymin {ymin} is above ymax {ymax}")
    return xmin, ymin, xmax, ymax


def boxes_of(bbox) -> list[tuple[float, float, float, float]]:
    """The box as one or two boxes with xmin <= xmax (split at the antimeridian)."""
    if bbox is None:
        return []
    xmin, ymin, xmax, ymax = bbox
    if xmin <= xmax:
        return [bbox]
    return [(xmin, ymin, math.inf, ymax), (-math.inf, ymin, xmax, ymax)]


def in_boxes(x: np.ndarray, y: np.ndarray, bbox) -> np.ndarray:
    """Mask of the points inside the box (the C filter's rule, in numpy)."""
    if bbox is None:
        return np.ones(len(x), dtype=bool)
    xmin, ymin, xmax, ymax = bbox
    inside_x = (x >= xmin) & (x <= xmax) if xmin <= xmax else (x >= xmin) | (x <= xmax)
    return inside_x & (y >= ymin) & (y <= ymax)


def _ring(coords, what: str) -> np.ndarray:
    try:
        ring = np.asarray(coords, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be a list of (x, y) positions") from None
    if ring.ndim != 2 or ring.shape[1] < 2:
        raise InvalidArgumentError(f"{what} must be a list of (x, y) positions, got shape {ring.shape}")
    ring = ring[:, :2]
    if not np.isfinite(ring).all():
        raise InvalidArgumentError(f"{what} has a NaN or infinite coordinate")
    if len(ring) > 1 and (ring[0] == ring[-1]).all():
        ring = ring[:-1]  # closed rings repeat the first position
    if len(np.unique(ring, axis=0)) < 3:
        raise InvalidArgumentError(f"{what} needs at least 3 distinct positions, got {len(ring)}")
    return ring


def parse_polygon(polygon) -> tuple[Polygon, tuple[float, float, float, float]] | None:
    """The polygon for the C test and its bounding box, or None.

    >>> poly, box = parse_polygon([[(0, 0), (4, 0), (4, 4), (0, 4)], [(1, 1), (2, 1), (2, 2)]])
    >>> box, poly.contains(np.array([0.5, 1.8]), np.array([0.5, 1.2])).tolist()
    ((0.0, 0.0, 4.0, 4.0), [True, False])
    """
    if polygon is None:
        return None
    geo = getattr(polygon, "__geo_interface__", polygon)
    if isinstance(geo, dict):
        kind, coords = geo.get("type"), geo.get("coordinates")
        if kind == "Polygon":
            parts = [coords]
        elif kind == "MultiPolygon":
            parts = coords
        else:
            raise InvalidArgumentError(f"polygon must be a Polygon or MultiPolygon, got type {kind!r}")
    elif isinstance(geo, (list, tuple)):
        parts = [geo]
    else:
        raise InvalidArgumentError(f"polygon must be GeoJSON-like, a list of rings or a shapely geometry, got {polygon!r}")
    if not isinstance(parts, (list, tuple)) or not parts:
        raise InvalidArgumentError("polygon has no rings")
    rings, part_ring0 = [], [0]
    for p, part in enumerate(parts):
        if not isinstance(part, (list, tuple)) or not part:
            raise InvalidArgumentError(f"polygon part {p} must be a non-empty list of rings")
        for r, ring in enumerate(part):
            rings.append(_ring(ring, f"polygon ring {r}" + (f" of part {p}" if len(parts) > 1 else "")))
        part_ring0.append(len(rings))
    ring_v0 = np.concatenate([[0], np.cumsum([len(r) for r in rings])])
    allv = np.concatenate(rings)
    box = (float(allv[:, 0].min()), float(allv[:, 1].min()), float(allv[:, 0].max()), float(allv[:, 1].max()))
    return Polygon(part_ring0, ring_v0, allv[:, 0], allv[:, 1]), box


def intersect(a, b):
    """Intersection of a box with a plain (xmin <= xmax) box b; None if they do not meet."""
    if a is None:
        return b
    boxes = []
    for xmin, ymin, xmax, ymax in boxes_of(a):
        box = (max(xmin, b[0]), max(ymin, b[1]), min(xmax, b[2]), min(ymax, b[3]))
        if box[0] <= box[2] and box[1] <= box[3]:
            boxes.append(box)
    return boxes


def distances(x: np.ndarray, y: np.ndarray, qx: float, qy: float, geographic: bool) -> np.ndarray:
    """Distances from (qx, qy): haversine metres when geographic, else Euclidean."""
    if not geographic:
        return np.hypot(x - qx, y - qy)
    lat1, lat2 = math.radians(qy), np.radians(y)
    # at a pole every longitude is one point: cos(lat) exactly 0 there, not 6e-17
    cos1 = 0.0 if abs(qy) == 90 else math.cos(lat1)
    cos2 = np.where(np.abs(y) == 90, 0.0, np.cos(lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + cos1 * cos2 * np.sin(np.radians(x - qx) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def radius_box(qx: float, qy: float, r: float, geographic: bool):
    """A box holding every point within r of (qx, qy), or None when that is everything.

    Geographic: the spherical cap's latitude span and, unless it holds a pole,
    its widest longitude span asin(sin(d) / cos(lat)).
    """
    if not geographic:
        return (qx - r, qy - r, qx + r, qy + r)
    d = r / EARTH_RADIUS_M * (1 + 1e-9) + 1e-12
    if d >= math.pi:
        return None
    dlat = math.degrees(d)
    ymin, ymax = qy - dlat, qy + dlat
    if ymax >= 90 or ymin <= -90:
        return (-180.0, max(ymin, -90.0), 180.0, min(ymax, 90.0))
    s = math.sin(d) / math.cos(math.radians(qy))
    if s >= 1:
        return (-180.0, ymin, 180.0, ymax)
    dlon = math.degrees(math.asin(s)) * (1 + 1e-9) + 1e-12
    if dlon >= 180:
        return (-180.0, ymin, 180.0, ymax)
    xmin, xmax = qx - dlon, qx + dlon
    if xmin < -180:
        xmin += 360
    if xmax > 180:
        xmax -= 360
    return (xmin, ymin, xmax, ymax)
