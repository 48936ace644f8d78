"""A brute-force numpy oracle for the queries of docs/queries.md.

Nothing here uses chronotope's query code: every answer is computed from the
full rows of ``Collection.scan()`` (already checked against a model by
test_store_model.py), with plain numpy and the formulas of the spec. The
``check_*`` functions compare a query's answer with the oracle's.

Where the spec lets an answer go either way (a point exactly on a polygon
edge, an interpolated position within rounding of a box border, near-equal
distances), the oracle says which rows are certain and which may be present,
and the checks accept both.
"""

from __future__ import annotations

import datetime as _dt
import math
import re

import numpy as np

__all__ = [
    "R_EARTH",
    "Oracle",
    "to_ns",
    "duration_ns",
    "haversine",
    "bearing",
    "in_box",
    "points_in_polygon",
    "check_query",
    "check_nearest",
    "check_snapshot",
    "check_track",
    "check_simplified",
    "check_derived",
    "check_aggregate",
]

R_EARTH = 6_371_008.8
RTOL, ATOL = 1e-12, 1e-9  # floats computed by the formulas of the spec
DIST_RTOL, DIST_ATOL = 1e-10, 1e-6  # distances: asin vs atan2 haversine variants differ near antipodes
TIE_RTOL, TIE_ATOL = 1e-9, 1e-6  # distances this close are a tie (mathematically equal, computed differently)
_I64_MIN, _I64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max
_UNITS = {"D": 86_400 * 10**9, "h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9}


# ---------------------------------------------------------------- conversions


def to_ns(value) -> int:
    """An instant as int64 UTC nanoseconds (datetime64 of any unit, ISO string or int ns)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return int(np.datetime64(value, "ns").astype(np.int64))


def duration_ns(value) -> int:
    """A duration in nanoseconds: int ns, timedelta64, datetime.timedelta or '10m'-style string."""
    if isinstance(value, str):
        m = re.fullmatch(r"(\d+)([Dhms])", value)
        if not m:
            raise ValueError(f"oracle: unsupported duration string {value!r}")
        return int(m.group(1)) * _UNITS[m.group(2)]
    if isinstance(value, _dt.timedelta):
        return (value.days * 86_400 + value.seconds) * 10**9 + value.microseconds * 1000
    if isinstance(value, np.timedelta64):
        return int(value.astype("timedelta64[ns]").astype(np.int64))
    return int(value)


def _time_range(time) -> tuple[int, int]:
    if time is None:
        return _I64_MIN, _I64_MAX
    t0, t1 = time
    return (_I64_MIN if t0 is None else to_ns(t0)), (_I64_MAX if t1 is None else to_ns(t1))


# ---------------------------------------------------------------- geometry


def haversine(x1, y1, x2, y2):
    """Great-circle distance in metres on the sphere of radius R_EARTH (degrees in)."""
    p1, p2 = np.radians(y1), np.radians(y2)
    dp = p2 - p1
    dl = np.radians(np.asarray(x2, dtype=np.float64) - x1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def bearing(x1, y1, x2, y2):
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = np.radians(y1), np.radians(y2)
    dl = np.radians(np.asarray(x2, dtype=np.float64) - x1)
    b = np.degrees(np.arctan2(np.sin(dl) * np.cos(p2), np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)))
    b = np.mod(b, 360.0)
    return np.where(b >= 360.0, 0.0, b)


def _distance(geographic, x1, y1, x2, y2):
    if geographic:
        return haversine(x1, y1, x2, y2)
    return np.sqrt((np.asarray(x2, dtype=np.float64) - x1) ** 2 + (np.asarray(y2, dtype=np.float64) - y1) ** 2)


def in_box(x, y, bbox) -> np.ndarray:
    """The spec's box test: borders included; xmin > xmax holds x >= xmin or x <= xmax."""
    xmin, ymin, xmax, ymax = (float(v) for v in bbox)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    iny = (y >= ymin) & (y <= ymax)
    if xmin <= xmax:
        return iny & (x >= xmin) & (x <= xmax)
    return iny & ((x >= xmin) | (x <= xmax))


def _box_maybe(x, y, bbox, geographic, eps) -> np.ndarray:
    """Points whose membership could change within ``eps`` of (x, y) (or at x -/+ 360 when |x| ~ 180)."""
    out = np.zeros(len(x), dtype=bool)
    base = in_box(x, y, bbox)
    shifts = [(dx, dy) for dx in (-eps, 0.0, eps) for dy in (-eps, 0.0, eps)]
    for dx, dy in shifts:
        out |= in_box(x + dx, y + dy, bbox) != base
    if geographic:
        near = np.abs(np.abs(x) - 180.0) <= eps
        alt = np.where(x > 0, x - 360.0, x + 360.0)
        out |= near & (in_box(alt, y, bbox) != base)
    return out


def _polygon_parts(polygon) -> list[list[np.ndarray]]:
    """Polygon argument -> list of parts, each a list of rings (n x 2 float arrays)."""
    if hasattr(polygon, "__geo_interface__"):
        polygon = polygon.__geo_interface__
    if isinstance(polygon, dict):
        kind = polygon["type"]
        if kind == "Polygon":
            parts = [polygon["coordinates"]]
        elif kind == "MultiPolygon":
            parts = list(polygon["coordinates"])
        else:
            raise ValueError(f"oracle: unknown polygon type {kind!r}")
    else:
        parts = [polygon]
    return [[np.asarray(ring, dtype=np.float64).reshape(-1, 2) for ring in part] for part in parts]


def _ring_crossings(px, py, ring) -> np.ndarray:
    """Even-odd crossing test of many points against one ring (closed implicitly)."""
    inside = np.zeros(len(px), dtype=bool)
    n = len(ring)
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[i - 1]
        straddle = (yi > py) != (yj > py)
        if not straddle.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            xcross = (xj - xi) * (py - yi) / (yj - yi) + xi
        inside ^= straddle & (px < xcross)
    return inside


def _on_ring(px, py, ring, eps) -> np.ndarray:
    """Points within ``eps`` (relative to the edge) of one of the ring's edges."""
    on = np.zeros(len(px), dtype=bool)
    n = len(ring)
    for i in range(n):
        ax, ay = ring[i - 1]
        bx, by = ring[i]
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy
        if ll == 0:
            on |= (np.abs(px - ax) <= eps) & (np.abs(py - ay) <= eps)
            continue
        u = np.clip(((px - ax) * dx + (py - ay) * dy) / ll, 0.0, 1.0)
        d = np.hypot(px - (ax + u * dx), py - (ay + u * dy))
        on |= d <= eps * max(1.0, math.sqrt(ll))
    return on


def points_in_polygon(px, py, polygon) -> tuple[np.ndarray, np.ndarray]:
    """(inside, on_edge): even-odd inside any part; on_edge marks the points that may fall either way."""
    px, py = np.asarray(px, dtype=np.float64), np.asarray(py, dtype=np.float64)
    inside = np.zeros(len(px), dtype=bool)
    on = np.zeros(len(px), dtype=bool)
    for part in _polygon_parts(polygon):
        odd = np.zeros(len(px), dtype=bool)
        for ring in part:
            odd ^= _ring_crossings(px, py, ring)
            on |= _on_ring(px, py, ring, 1e-9)
        inside |= odd
    return inside, on


# ---------------------------------------------------------------- the oracle


class Oracle:
    """Every query of docs/queries.md, by brute force over the rows of ``scan()``.

    ``rows``: the dict of ``scan().to_dict()`` (sorted by (object, t), objects in
    object order); ``crs``: the collection's CRS; ``max_gap``: the collection's
    default gap (ns or a duration); ``schema``: property name -> dtype.
    """

    def __init__(self, rows: dict, crs: str = "EPSG:4326", max_gap=600 * 10**9, schema: dict | None = None):
        self.geographic = crs == "EPSG:4326"
        self.max_gap = duration_ns(max_gap)
        self.columns = list(rows)
        self.rows = {k: np.asarray(v) for k, v in rows.items()}
        self.t = self.rows["t"].astype("datetime64[ns]").view(np.int64) if len(self.rows["t"]) else np.empty(0, np.int64)
        self.x = self.rows["x"].astype(np.float64)
        self.y = self.rows["y"].astype(np.float64)
        self.n = len(self.t)
        oid = self.rows["object_id"]
        change = np.ones(self.n, dtype=bool)
        if self.n:
            change[1:] = oid[1:] != oid[:-1]
        self.starts = np.flatnonzero(change)
        self.ends = np.append(self.starts[1:], self.n).astype(np.int64)
        self.objects = oid[self.starts].tolist()
        self.rank = np.cumsum(change) - 1
        self._rank_of = {o: i for i, o in enumerate(self.objects)}
        self._key_index = None
        # float columns are interpolated (x, y, z and float properties), the others taken from the earlier sample
        self.props = [c for c in self.columns if c not in ("object_id", "t", "x", "y")]
        self.schema = dict(schema) if schema is not None else {c: self.rows[c].dtype.str for c in self.props if c != "z"}
        for a, b in zip(self.starts, self.ends):
            assert np.all(np.diff(self.t[a:b]) > 0), "scan() rows must be sorted by (object, t), unique"

    @classmethod
    def of(cls, coll, max_gap=600 * 10**9) -> "Oracle":
        """The oracle of a collection, from its ``scan()``."""
        return cls(coll.scan().to_dict(), crs=coll.crs, max_gap=max_gap, schema=coll.schema)

    # ---- helpers ----

    def rank_of(self, object_id):
        """Object order of an id (None if the object has no rows)."""
        key = object_id.item() if isinstance(object_id, np.generic) else object_id
        return self._rank_of.get(key)

    def index_of_rows(self, object_ids, times) -> np.ndarray:
        """Row indices of (object, t) keys (-1 where no such row)."""
        if self._key_index is None:
            self._key_index = {(o, t): i for i, (o, t) in enumerate(zip(self.rows["object_id"].tolist(), self.t.tolist()))}
        ids = np.asarray(object_ids).tolist()
        ts = np.asarray(times).astype("datetime64[ns]").view(np.int64).tolist()
        return np.array([self._key_index.get((o, t), -1) for o, t in zip(ids, ts)], dtype=np.int64)

    def default_columns(self) -> list[str]:
        return list(self.columns)

    def _ids_mask(self, ids) -> np.ndarray:
        if isinstance(ids, (str, int, np.integer)):
            ids = [ids]
        mask = np.zeros(self.n, dtype=bool)
        for i in ids:
            r = self.rank_of(i)
            if r is not None:
                mask[self.starts[r] : self.ends[r]] = True
        return mask

    # ---- query ----

    def query_masks(self, bbox=None, time=None, polygon=None, ids=None) -> tuple[np.ndarray, np.ndarray]:
        """(sure, maybe) row masks of ``query``: maybe holds points on a polygon's edge."""
        sure = np.ones(self.n, dtype=bool)
        maybe = np.zeros(self.n, dtype=bool)
        if bbox is not None:
            sure &= in_box(self.x, self.y, bbox)
        if time is not None:
            lo, hi = _time_range(time)
            sure &= (self.t >= lo) & (self.t <= hi)
        if ids is not None:
            sure &= self._ids_mask(ids)
        if polygon is not None:
            inside, on = points_in_polygon(self.x, self.y, polygon)
            maybe = sure & on
            sure &= inside & ~on
        return sure, maybe

    def query(self, bbox=None, time=None, polygon=None, ids=None, columns=None) -> dict:
        """The rows of ``query``; points on a polygon's edge decided by the crossing rule alone."""
        sure, maybe = self.query_masks(bbox, time, polygon, ids)
        if polygon is not None:
            inside, _ = points_in_polygon(self.x, self.y, polygon)
            sure = sure | (maybe & inside)
        cols = self.default_columns() if columns is None else list(columns)
        return {c: self._column(c)[sure] for c in cols}

    def _column(self, name):
        return self.t.view("datetime64[ns]") if name == "t" else self.rows[name]

    # ---- positions at an instant ----

    def positions_at(self, at, max_gap=None) -> dict:
        """Every object's position at ``at`` (objects without one left out), by object.

        Keys: the row columns (t = at), ``rank`` (object order), ``exact``
        (True where the object has a sample at ``at``).
        """
        at = to_ns(at)
        gap = self.max_gap if max_gap is None else duration_ns(max_gap)
        i0, i1, w_list, ranks, exact = [], [], [], [], []
        for r, (a, b) in enumerate(zip(self.starts, self.ends)):
            ts = self.t[a:b]
            j = int(np.searchsorted(ts, at, side="left"))
            if j < len(ts) and ts[j] == at:
                i0.append(a + j), i1.append(a + j), w_list.append(0.0), ranks.append(r), exact.append(True)
                continue
            if j == 0 or j == len(ts):
                continue
            t0, t1 = int(ts[j - 1]), int(ts[j])
            if t1 - t0 > gap:
                continue
            w = float(at - t0) / float(t1 - t0)  # int64 ns differences as float64
            i0.append(a + j - 1), i1.append(a + j), w_list.append(w), ranks.append(r), exact.append(False)
        i0 = np.array(i0, dtype=np.int64)
        i1 = np.array(i1, dtype=np.int64)
        w = np.array(w_list, dtype=np.float64)
        exact = np.array(exact, dtype=bool)
        out = {"object_id": self.rows["object_id"][i0], "t": np.full(len(i0), at, dtype=np.int64).view("datetime64[ns]")}
        for c in ["x", "y", *self.props]:
            v0, v1 = self.rows[c][i0], self.rows[c][i1]
            if v0.dtype.kind != "f":
                out[c] = v0  # integer properties: the earlier sample's value
                continue
            f0, f1 = v0.astype(np.float64), v1.astype(np.float64)
            if c == "x" and self.geographic:
                d = f1 - f0
                if np.any(np.abs(d[~exact]) == 180.0):
                    raise AssertionError("oracle: a half-turn in longitude has no short way; keep generators off it")
                d = np.where(d > 180.0, d - 360.0, np.where(d < -180.0, d + 360.0, d))
                v = f0 + d * w
                v = np.where(v > 180.0, v - 360.0, np.where(v < -180.0, v + 360.0, v))
            else:
                v = f0 + (f1 - f0) * w
            v = np.where(exact, f0, v)
            out[c] = v.astype(v0.dtype)
        out["rank"] = np.array(ranks, dtype=np.int64)
        out["exact"] = exact
        return out

    # ---- nearest ----

    def _ordered(self, dist, rank, t) -> tuple[np.ndarray, np.ndarray]:
        """(order, tie group): by (distance, object, t); distances within TIE_RTOL / TIE_ATOL of each other tie."""
        if not len(dist):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        o = np.lexsort((t, rank, dist))
        d = dist[o]
        gap = np.diff(d) > np.maximum(TIE_RTOL * np.abs(d[1:]), TIE_ATOL)
        group = np.empty(len(d), dtype=np.int64)
        group[0] = 0
        group[1:] = np.cumsum(gap)
        again = np.lexsort((t[o], rank[o], group))
        return o[again], group[again]

    def nearest(self, x, y, k=10, at=None, time=None, max_gap=None) -> dict:
        """All candidates of ``nearest`` in the spec's order, with ``distance``, ``rank``, ``exact`` and ``tie``.

        The answer is the first k rows, up to the order among near-equal
        distances (``tie`` numbers the groups of those; see ``check_nearest``).
        """
        if (at is None) == (time is None):
            raise ValueError("oracle: give exactly one of at and time")
        if at is not None:
            pos = self.positions_at(at, max_gap)
            dist = _distance(self.geographic, float(x), float(y), pos["x"].astype(np.float64), pos["y"].astype(np.float64))
            order, tie = self._ordered(dist, pos["rank"], np.zeros(len(dist), dtype=np.int64))
            out = {c: v[order] for c, v in pos.items()}
        else:
            lo, hi = _time_range(time)
            idx = np.flatnonzero((self.t >= lo) & (self.t <= hi))
            dist = _distance(self.geographic, float(x), float(y), self.x[idx], self.y[idx])
            order, tie = self._ordered(dist, self.rank[idx], self.t[idx])
            out = {c: self._column(c)[idx[order]] for c in self.columns}
            out["rank"] = self.rank[idx[order]]
            out["exact"] = np.ones(len(idx), dtype=bool)
        out["distance"] = dist[order]
        out["tie"] = tie
        return out

    # ---- snapshot ----

    def snapshot(self, at, bbox=None, max_gap=None) -> tuple[dict, np.ndarray, np.ndarray]:
        """(positions, sure, maybe): positions by object; masks of the ones inside ``bbox``."""
        pos = self.positions_at(at, max_gap)
        n = len(pos["rank"])
        if bbox is None:
            return pos, np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        x, y = pos["x"].astype(np.float64), pos["y"].astype(np.float64)
        inside = in_box(x, y, bbox)
        maybe = _box_maybe(x, y, bbox, self.geographic, 1e-9) & ~pos["exact"]
        return pos, inside & ~maybe, maybe

    # ---- track ----

    def track(self, object_id, time=None, derive=False) -> dict:
        """One object's samples in ``time``, by t; with ``derive``, ``speed`` and ``heading``."""
        r = self.rank_of(object_id)
        idx = np.empty(0, dtype=np.int64)
        if r is not None:
            lo, hi = _time_range(time)
            a, b = self.starts[r], self.ends[r]
            ts = self.t[a:b]
            idx = a + np.flatnonzero((ts >= lo) & (ts <= hi))
        out = {c: self._column(c)[idx] for c in self.columns}
        if derive:
            x, y, t = self.x[idx], self.y[idx], self.t[idx]
            speed = np.full(len(idx), np.nan)
            heading = np.full(len(idx), np.nan)
            if len(idx) > 1:
                dt = (t[1:] - t[:-1]).astype(np.float64) / 1e9
                if self.geographic:
                    d = haversine(x[:-1], y[:-1], x[1:], y[1:])
                    h = bearing(x[:-1], y[:-1], x[1:], y[1:])
                else:
                    d = np.hypot(x[1:] - x[:-1], y[1:] - y[:-1])
                    h = np.mod(np.degrees(np.arctan2(x[1:] - x[:-1], y[1:] - y[:-1])), 360.0)
                    h = np.where(h >= 360.0, 0.0, h)
                speed[1:] = d / dt
                heading[1:] = h
            out["speed"] = speed
            out["heading"] = heading
        return out

    # ---- aggregate ----

    def aggregate(self, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count") -> dict:
        """The spec's grid: count, values, x, y, t (None where an axis is dropped).

        ``extent_defined`` is False when the grid's extent would come from rows
        that do not exist (no rows, no bbox / open time): the spec leaves the
        shape open then.
        """
        mask = self.query_masks(bbox=bbox, time=time)[0]
        x, y, t = self.x[mask], self.y[mask], self.t[mask]
        out = {"extent_defined": True, "too_many": False}
        shape = []
        index = []
        if bucket is not None:
            b = duration_ns(bucket)
            lo, hi = _time_range(time)
            if (time is None or time[0] is None) and not len(t):
                out["extent_defined"] = False
            if (time is None or time[1] is None) and not len(t):
                out["extent_defined"] = False
            if time is None or time[0] is None:
                lo = int(t.min()) if len(t) else 0
            if time is None or time[1] is None:
                hi = int(t.max()) if len(t) else 0
            k0 = lo // b
            nt = hi // b - k0 + 1
            shape.append(nt)
            index.append(t // b - k0)
            out["t"] = ((k0 + np.arange(nt, dtype=np.int64)) * b).view("datetime64[ns]")
        else:
            out["t"] = None
        if cell is not None:
            cx, cy = (float(cell), float(cell)) if np.ndim(cell) == 0 else (float(cell[0]), float(cell[1]))
            if bbox is not None:
                xmin, ymin, xmax, ymax = (float(v) for v in bbox)
            elif len(x):
                xmin, ymin, xmax, ymax = x.min(), y.min(), x.max(), y.max()
            else:
                out["extent_defined"] = False
                xmin = ymin = xmax = ymax = 0.0
            if xmin > xmax:  # across the antimeridian
                xmax = xmax + 360.0
                x = np.where(x < xmin, x + 360.0, x)
            i0, j0 = math.floor(xmin / cx), math.floor(ymin / cy)
            nx, ny = math.floor(xmax / cx) - i0 + 1, math.floor(ymax / cy) - j0 + 1
            shape += [ny, nx]
            index += [np.floor(y / cy).astype(np.int64) - j0, np.floor(x / cx).astype(np.int64) - i0]
            out["x"] = (i0 + np.arange(nx + 1)) * cx
            out["y"] = (j0 + np.arange(ny + 1)) * cy
        else:
            out["x"] = out["y"] = None
        if not out["extent_defined"]:
            out["count"] = np.zeros(0, dtype=np.int64)
            out["values"] = np.zeros(0, dtype=np.int64 if stat == "count" else np.float64)
            return out
        ncells = int(np.prod(shape, dtype=object)) if shape else 1
        if ncells > 100_000_000:
            out["too_many"] = True
            return out
        flat = np.zeros(len(x), dtype=np.int64)
        for size, ix in zip(shape, index):
            assert np.all((ix >= 0) & (ix < size)), "oracle: a row falls outside the grid"
            flat = flat * size + ix
        count = np.bincount(flat, minlength=ncells).astype(np.int64)
        out["count"] = count.reshape(shape)
        if stat == "count":
            out["values"] = out["count"].copy()
            out["count_nonnan"] = out["count"]
            return out
        v = self.rows[value][mask].astype(np.float64)
        ok = ~np.isnan(v)
        f, v = flat[ok], v[ok]
        nn = np.bincount(f, minlength=ncells)
        out["count_nonnan"] = nn.astype(np.int64).reshape(shape)
        res = np.full(ncells, np.nan)
        has = nn > 0
        if stat in ("sum", "mean"):
            s = np.zeros(ncells)
            np.add.at(s, f, v)
            res[has] = s[has] if stat == "sum" else s[has] / nn[has]
        elif stat == "min":
            m = np.full(ncells, np.inf)
            np.minimum.at(m, f, v)
            res[has] = m[has]
        elif stat == "max":
            m = np.full(ncells, -np.inf)
            np.maximum.at(m, f, v)
            res[has] = m[has]
        else:
            raise ValueError(f"oracle: unknown stat {stat!r}")
        out["values"] = res.reshape(shape)
        return out


# ---------------------------------------------------------------- checks


def _names(result) -> list[str]:
    return list(result.columns) if hasattr(result, "columns") else list(result)


def _col(result, name) -> np.ndarray:
    return np.asarray(result[name])


def _times(a) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "M":
        return a.astype("datetime64[ns]").view(np.int64)
    return a.astype(np.int64)


def _float_tol(dtype) -> dict:
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-6, "atol": 1e-6}
    return {"rtol": RTOL, "atol": ATOL}


def _same_exact(got, want, name):
    got, want = np.asarray(got), np.asarray(want)
    assert len(got) == len(want), f"{name}: {len(got)} rows != {len(want)}"
    if want.dtype.kind in "US" or got.dtype.kind in "USO":
        assert got.tolist() == want.tolist(), f"{name}: {got.tolist()[:20]} != {want.tolist()[:20]}"
    elif want.dtype.kind == "M" or got.dtype.kind == "M":
        np.testing.assert_array_equal(_times(got), _times(want), err_msg=name)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"


def _same_close(got, want, name, geographic_x=False, **tol):
    got, want = np.asarray(got), np.asarray(want)
    assert len(got) == len(want), f"{name}: {len(got)} rows != {len(want)}"
    if want.dtype.kind != "f":
        return _same_exact(got, want, name)
    tol = tol or _float_tol(want.dtype)
    g, w = got.astype(np.float64), want.astype(np.float64)
    if geographic_x:
        # -180 and 180 are one meridian: compare the angle between
        d = np.mod(g - w + 180.0, 360.0) - 180.0
        np.testing.assert_allclose(d, 0.0, rtol=0, atol=tol["atol"] + tol["rtol"] * 180.0, err_msg=name)
        assert np.all((g >= -180.0) & (g <= 180.0)), f"{name}: longitudes outside [-180, 180]: {g}"
    else:
        np.testing.assert_allclose(g, w, err_msg=name, equal_nan=True, **tol)


def _check_columns(got_names, want_names, optional=(), extra=()):
    """The answer's columns: the wanted ones in order, optional ones may be left out, extra ones added."""
    core = [c for c in got_names if c not in extra]
    expected = [c for c in want_names if c in core or c not in optional]
    assert core == expected, f"columns {got_names} != {want_names} (optional {list(optional)}, extra {list(extra)})"


def check_query(result, oracle: Oracle, bbox=None, time=None, polygon=None, ids=None, columns=None) -> None:
    """A ``query`` answer: the certain rows, maybe-rows (polygon edges) or not, exact values, by (object, t)."""
    want_cols = oracle.default_columns() if columns is None else list(columns)
    _check_columns(_names(result), want_cols)
    sure, maybe = oracle.query_masks(bbox, time, polygon, ids)
    n = len(result)
    if "object_id" in want_cols and "t" in want_cols:
        got_idx = oracle.index_of_rows(_col(result, "object_id"), _col(result, "t"))
        assert np.all(got_idx >= 0), f"rows that scan() does not have: {np.flatnonzero(got_idx < 0)[:10]}"
        assert np.all(np.diff(got_idx) > 0), "rows not sorted by (object, t) or repeated"
        chosen = np.zeros(oracle.n, dtype=bool)
        chosen[got_idx] = True
        missing = np.flatnonzero(sure & ~chosen)
        extra = np.flatnonzero(chosen & ~sure & ~maybe)
        assert not len(missing), f"{len(missing)} rows missing, e.g. {_describe(oracle, missing[:5])}"
        assert not len(extra), f"{len(extra)} rows too many, e.g. {_describe(oracle, extra[:5])}"
        idx = got_idx
    else:  # without the keys the rows cannot be told apart: check the count, and the values where nothing is ambiguous
        lo, hi = int(sure.sum()), int((sure | maybe).sum())
        assert lo <= n <= hi, f"{n} rows, expected {lo}..{hi}"
        if lo != hi:
            return
        idx = np.flatnonzero(sure)
    for c in want_cols:
        _same_exact(_col(result, c), oracle._column(c)[idx], c)


def _describe(oracle, idx):
    return [(oracle.rows["object_id"][i].item(), int(oracle.t[i]), float(oracle.x[i]), float(oracle.y[i])) for i in idx]


def check_nearest(result, oracle: Oracle, x, y, k=10, at=None, time=None, max_gap=None, columns=None) -> None:
    """A ``nearest`` answer: the k first candidates by (distance, object, t), values close.

    Distances that differ by less than TIE_RTOL / TIE_ATOL (rounding of mathematically
    equal distances, e.g. two longitudes of a pole) may come in either order;
    rows with exactly equal distances in the answer must be by (object, t).
    """
    cand = oracle.nearest(x, y, k, at=at, time=time, max_gap=max_gap)
    n_cand = len(cand["distance"])
    row_cols = ["object_id", "t", "x", "y", *oracle.props] if at is not None else oracle.default_columns()
    want_cols = (row_cols + ["distance"]) if columns is None else list(columns)
    optional = ("z",) if (at is not None and columns is None) else ()
    extra = ("distance",) if columns is not None and "distance" not in columns else ()
    names = _names(result)
    _check_columns(names, want_cols, optional=optional, extra=extra)
    n_want = min(k, n_cand)
    assert len(result) == n_want, f"{len(result)} rows != {n_want} (k={k}, {n_cand} candidates)"
    if not n_want:
        return
    # which candidate each answer row is: by object (at=) or by (object, t) (time=)
    got_ranks = [oracle.rank_of(o) for o in _col(result, "object_id").tolist()]
    assert None not in got_ranks, f"unknown objects in the answer: {_col(result, 'object_id').tolist()}"
    if at is not None:
        where = {r: i for i, r in enumerate(cand["rank"].tolist())}
        sel = [where.get(r, -1) for r in got_ranks]
    else:
        where = {(r, t): i for i, (r, t) in enumerate(zip(cand["rank"].tolist(), _times(cand["t"]).tolist()))}
        sel = [where.get((r, t), -1) for r, t in zip(got_ranks, _times(_col(result, "t")).tolist())]
    sel = np.array(sel, dtype=np.int64)
    assert np.all(sel >= 0), f"answer rows that are not candidates: {np.flatnonzero(sel < 0)[:5]}"
    assert len(np.unique(sel)) == len(sel), "a candidate appears twice"
    tie = cand["tie"][sel]
    assert np.all(np.diff(tie) >= 0), (
        f"not sorted by distance: candidates {sel.tolist()}, distances {cand['distance'][sel].tolist()}"
    )
    last = tie[-1]
    before = np.flatnonzero(cand["tie"] < last)
    left_out = np.setdiff1d(before, sel)
    assert not len(left_out), (
        f"nearer candidates left out: {[(cand['object_id'][i].item(), float(cand['distance'][i])) for i in left_out[:5]]}"
    )
    got_d = _col(result, "distance").astype(np.float64) if "distance" in names else None
    if got_d is not None:
        same = np.flatnonzero(got_d[1:] == got_d[:-1])
        r, tt = cand["rank"][sel], _times(cand["t"][sel])
        bad = same[(r[same + 1] < r[same]) | ((r[same + 1] == r[same]) & (tt[same + 1] < tt[same]))]
        assert not len(bad), f"equal distances not ordered by (object, t) at rows {bad[:5]}"
    want = {c: v[sel] for c, v in cand.items()}
    for c in names:
        if c == "distance":
            _same_close(_col(result, c), want["distance"], c, rtol=DIST_RTOL, atol=DIST_ATOL)
        elif c in ("x", "y", "z") or (c in oracle.props and want[c].dtype.kind == "f"):
            if at is None:
                _same_exact(_col(result, c), want[c], c)
            else:
                _same_close(_col(result, c), want[c], c, geographic_x=(c == "x" and oracle.geographic))
        else:
            _same_exact(_col(result, c), want[c], c)


def check_snapshot(result, oracle: Oracle, at, bbox=None, max_gap=None, columns=None) -> None:
    """A ``snapshot`` answer: one row per object with a position (inside bbox), by object."""
    pos, sure, maybe = oracle.snapshot(at, bbox, max_gap)
    row_cols = ["object_id", "t", "x", "y", *oracle.props]
    want_cols = row_cols if columns is None else list(columns)
    _check_columns(_names(result), want_cols, optional=("z",) if columns is None else ())
    if "object_id" in _names(result):
        got_ids = _col(result, "object_id").tolist()
        ranks = [oracle.rank_of(o) for o in got_ids]
        assert None not in ranks, f"unknown objects in {got_ids}"
        assert ranks == sorted(set(ranks)), f"objects not in object order / repeated: {got_ids}"
        pos_rank = pos["rank"].tolist()
        where = {r: i for i, r in enumerate(pos_rank)}
        missing = [o for o, r, s in zip(pos["object_id"].tolist(), pos_rank, sure) if s and r not in ranks]
        assert not missing, f"objects missing: {missing}"
        bad = [o for o, r in zip(got_ids, ranks) if r not in where or not (sure[where[r]] or maybe[where[r]])]
        assert not bad, f"objects that should not be there: {bad}"
        sel = np.array([where[r] for r in ranks], dtype=np.int64)
    else:
        sel = np.flatnonzero(sure)
        assert len(result) == len(sel)
    for c in _names(result):
        w = pos[c][sel]
        if w.dtype.kind == "f":
            _same_close(_col(result, c), w, c, geographic_x=(c == "x" and oracle.geographic))
        else:
            _same_exact(_col(result, c), w, c)


def _angle_close(got, want, atol):
    d = np.mod(np.asarray(got, dtype=np.float64) - want + 180.0, 360.0) - 180.0
    return np.abs(d) <= atol


def check_track(result, oracle: Oracle, object_id, time=None, derive=False, columns=None) -> None:
    """A ``track`` answer (no simplify): the object's rows by t, exact; speed and heading close."""
    want = oracle.track(object_id, time, derive)
    base = oracle.default_columns() if columns is None else list(columns)
    names = _names(result)
    _check_columns(names, base + ["speed", "heading"] if derive else base)
    assert len(result) == len(want["t"]), f"{len(result)} rows != {len(want['t'])}"
    for c in base:
        _same_exact(_col(result, c), want[c], c)
    if derive:
        check_derived(result, oracle.geographic)


def check_derived(result, geographic: bool) -> None:
    """``speed`` and ``heading`` of a track answer: of the step from the previous row of the answer.

    The first row has NaN for both. A step of no length has no direction, and
    at a pole 'north' means nothing: any heading (or NaN) is accepted there.
    """
    x, y = _col(result, "x").astype(np.float64), _col(result, "y").astype(np.float64)
    t = _times(_col(result, "t"))
    sp, hd = _col(result, "speed").astype(np.float64), _col(result, "heading").astype(np.float64)
    if not len(sp):
        return
    assert np.isnan(sp[0]) and np.isnan(hd[0]), "the first row's speed and heading must be NaN"
    dt = (t[1:] - t[:-1]).astype(np.float64) / 1e9
    if geographic:
        ws, wh = haversine(x[:-1], y[:-1], x[1:], y[1:]) / dt, bearing(x[:-1], y[:-1], x[1:], y[1:])
        defined = (ws > 0) & (np.abs(y[:-1]) < 90.0 - 1e-9) & (np.abs(y[1:]) < 90.0 - 1e-9)
    else:
        ws = np.hypot(x[1:] - x[:-1], y[1:] - y[:-1]) / dt
        wh = np.mod(np.degrees(np.arctan2(x[1:] - x[:-1], y[1:] - y[:-1])), 360.0)
        defined = ws > 0
    np.testing.assert_allclose(sp[1:], ws, rtol=1e-9, atol=1e-9, err_msg="speed")
    gh = hd[1:]
    in_range = (gh >= 0) & (gh < 360)
    assert np.all(in_range | (~defined & np.isnan(gh))), f"heading outside [0, 360): {gh[~in_range][:5]}"
    ok = _angle_close(gh, wh, 1e-6) | ~defined
    assert ok.all(), f"heading differs at rows {np.flatnonzero(~ok)[:10] + 1}: {gh[~ok][:5]} != {wh[~ok][:5]}"


def _plane(geographic, lat_ref, lon0, lat0, lon, lat):
    """Local tangent plane coordinates (metres) of (lon, lat) around (lon0, lat0), scaled at lat_ref."""
    if not geographic:
        return lon - lon0, lat - lat0
    dlon = np.mod(lon - lon0 + 180.0, 360.0) - 180.0
    return np.radians(dlon) * np.cos(np.radians(lat_ref)) * R_EARTH, np.radians(lat - lat0) * R_EARTH


def _seg_dist(geographic, lat_refs, ax, ay, bx, by, px, py):
    """min over the plane variants of the distance of p to segment ab (arrays broadcast)."""
    best = None
    for ref in lat_refs:
        qx, qy = _plane(geographic, ref, ax, ay, px, py)
        ux, uy = _plane(geographic, ref, ax, ay, bx, by)
        ll = ux * ux + uy * uy
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(ll > 0, np.clip((qx * ux + qy * uy) / np.where(ll > 0, ll, 1.0), 0.0, 1.0), 0.0)
        d = np.hypot(qx - s * ux, qy - s * uy)
        best = d if best is None else np.minimum(best, d)
    return best


def check_simplified(result, oracle: Oracle, object_id, tolerance, time=None) -> None:
    """A ``track(simplify=tolerance)`` answer: Douglas-Peucker's guarantees.

    The kept rows are rows of the track, in order, including the first and
    the last; every dropped sample lies within ``tolerance`` of the kept
    polyline. "Local tangent plane" is not pinned down by the spec, so the
    distance is taken as the smallest over a few natural reference latitudes
    (the segment's ends and middle, the point's, the track's first, mean and
    middle latitude).
    """
    full = oracle.track(object_id, time)
    names = _names(result)
    _check_columns(names, oracle.default_columns())
    n = len(full["t"])
    full_t = _times(full["t"])
    got_t = _times(_col(result, "t"))
    pos = np.searchsorted(full_t, got_t)
    assert np.all(pos < n) and np.array_equal(full_t[pos], got_t), "kept rows are not samples of the track"
    assert np.all(np.diff(pos) > 0), "kept rows not sorted by t or repeated"
    for c in names:
        _same_exact(_col(result, c), full[c][pos], c)
    if n == 0:
        assert len(got_t) == 0
        return
    assert pos[0] == 0 and pos[-1] == n - 1, f"first and last samples must be kept (kept {pos[:3]}...{pos[-3:]} of {n})"
    if n == 1:
        return
    x, y = full["x"].astype(np.float64), full["y"].astype(np.float64)
    dropped = np.setdiff1d(np.arange(n), pos)
    if not len(dropped):
        return
    slack = tolerance * (1 + 1e-6) + 1e-6 + 1e-9 * tolerance
    geo = oracle.geographic
    track_refs = [y[0], y.mean(), (y.min() + y.max()) / 2]
    # first the bracketing segment (what Douglas-Peucker guarantees), then the whole polyline for the rest
    seg = np.searchsorted(pos, dropped) - 1
    a, b = pos[seg], pos[seg + 1]
    refs = [y[a], y[b], (y[a] + y[b]) / 2, y[dropped], *track_refs]
    d = _seg_dist(geo, refs, x[a], y[a], x[b], y[b], x[dropped], y[dropped])
    far = dropped[d > slack]
    if len(far):
        A, B = pos[:-1], pos[1:]
        P = far[:, None]
        refs = [y[A][None, :], y[B][None, :], ((y[A] + y[B]) / 2)[None, :], y[P], *track_refs]
        d2 = _seg_dist(geo, refs, x[A][None, :], y[A][None, :], x[B][None, :], y[B][None, :], x[P], y[P]).min(axis=1)
        bad = far[d2 > slack]
        assert not len(bad), (
            f"{len(bad)} dropped samples farther than {tolerance} from the kept polyline, e.g. rows {bad[:5]} "
            f"at {d2[d2 > slack][:5]}"
        )


def check_aggregate(agg, oracle: Oracle, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count") -> None:
    """An ``Aggregate``: shapes, edges, bucket starts, count and the stat."""
    want = oracle.aggregate(cell, bucket, bbox, time, value, stat)
    assert not want["too_many"], "the oracle says this grid is too large: the query should have failed"
    count = np.asarray(agg.count)
    values = np.asarray(agg.values)
    d = agg.to_dict()
    for name in ("count", "values", "x", "y", "t"):
        assert name in d, f"to_dict() lacks {name!r}"
    assert count.dtype == np.int64, f"count dtype {count.dtype}"
    assert values.dtype == (np.int64 if stat == "count" else np.float64), f"values dtype {values.dtype}"
    if not want["extent_defined"]:
        assert int(count.sum()) == 0 and count.size == values.size
        return
    assert count.shape == want["count"].shape, f"shape {count.shape} != {want['count'].shape}"
    for axis in ("x", "y", "t"):
        got = getattr(agg, axis)
        if want[axis] is None:
            assert got is None, f"{axis} should be None"
        elif axis == "t":
            assert np.asarray(got).dtype == np.dtype("datetime64[ns]"), f"t dtype {np.asarray(got).dtype}"
            np.testing.assert_array_equal(_times(got), _times(want["t"]), err_msg="t")
        else:
            np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want[axis], rtol=RTOL, atol=ATOL, err_msg=axis)
    if stat == "count":
        np.testing.assert_array_equal(count, want["count"], err_msg="count")
        np.testing.assert_array_equal(values, want["values"], err_msg="values")
    else:
        # count: the rows of the cell, or (a reading of the spec) the non-NaN values the stat saw
        assert np.array_equal(count, want["count"]) or np.array_equal(count, want["count_nonnan"]), "count"
        np.testing.assert_allclose(values, want["values"], rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=stat)
