"""The query kinds of a collection (docs/queries.md), on top of the planner.

Each function checks its arguments, asks :func:`chronotope.planner.select` for
the rows it needs and finishes with whole-array numpy or one C kernel
(interpolation brackets, Douglas-Peucker, grid binning): no Python loop over
rows or blocks.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from chronotope import _query
from chronotope.errors import InvalidArgumentError
from chronotope.ingest import duration_ns, time_range, to_ns
from chronotope.planner import Plan, Request, select
from chronotope.results import Result
from chronotope.spatial import EARTH_RADIUS_M, boxes_of, distances, in_boxes, intersect, parse_bbox, parse_point, parse_polygon, radius_box

__all__ = ["Aggregate", "Plan", "query", "explain", "nearest", "snapshot", "track", "aggregate"]

_I64 = np.iinfo(np.int64)
_MAX_CELLS = 100_000_000


def _request(coll, bbox=None, time=None, polygon=None, ids=None) -> Request:
    lo, hi = time_range(time)
    box = parse_bbox(bbox)
    poly = parse_polygon(polygon)
    req = Request(lo=lo, hi=hi, bbox=box, boxes=boxes_of(box))
    if poly is not None:
        req.polygon, pbox = poly
        req.boxes = intersect(box, pbox) if box is not None else [pbox]
        req.empty = not req.boxes
    if ids is not None:
        req.oids = coll._store._lookup_ids(coll.name, ids)
        req.empty |= not len(req.oids)
    return req


def _rows(coll, req: Request, stored: list[str], plan: Plan | None = None, around: int | None = None) -> dict[str, np.ndarray]:
    with coll._store._lock:
        coll._store._check_open()
        parts = select(coll, req, stored, plan if plan is not None else Plan(), around=around)
    return coll._merge(parts, stored)


def _stored(want: list[str]) -> list[str]:
    return [c for c in want if c not in ("object_id", "t")]


def query(coll, bbox=None, time=None, polygon=None, ids=None, columns=None, plan: Plan | None = None) -> Result:
    want = coll._columns(columns)
    req = _request(coll, bbox, time, polygon, ids)
    stored = _stored(want)
    return coll._result(_rows(coll, req, stored, plan), want)


def explain(coll, bbox=None, time=None, polygon=None, ids=None, columns=None) -> Plan:
    plan = Plan()
    query(coll, bbox, time, polygon, ids, columns, plan=plan)
    return plan


def _max_gap(coll, max_gap) -> int:
    if max_gap is None:
        return int(coll._meta.get("max_gap_ns", 600 * 10**9))
    try:
        return duration_ns(max_gap, "max_gap")
    except InvalidArgumentError:
        # zero is allowed here: positions only where a sample is exactly at the time
        zero = (isinstance(max_gap, str) and max_gap[:-1].isdigit() and int(max_gap[:-1]) == 0 and max_gap[-1] in "Dhms") \
            or (not isinstance(max_gap, (str, bool)) and _is_zero_duration(max_gap))
        if zero:
            return 0
        raise


def _is_zero_duration(value) -> bool:
    try:
        return int(np.timedelta64(value, "ns").astype(np.int64)) == 0
    except (ValueError, TypeError):
        return False


def _props(coll, want: list[str]) -> list[str]:
    return [c for c in want if c not in ("object_id", "t", "x", "y")]


def _interpolate(coll, rows: dict, i0: np.ndarray, i1: np.ndarray, w: np.ndarray, at: int, props: list[str]) -> dict:
    """Rows at ``at`` from the pairs (i0, i1) with weights w (i0 == i1: the sample itself)."""
    exact = i0 == i1
    out = {"oid": rows["oid"][i0], "t": np.full(len(i0), at, dtype=np.int64)}
    x0, x1 = rows["x"][i0], rows["x"][i1]
    dx = x1 - x0
    if coll.crs == "EPSG:4326":  # the short way round, then back into [-180, 180]
        dx = np.where(dx > 180, dx - 360, np.where(dx < -180, dx + 360, dx))
        x = x0 + dx * w
        x = np.where(x > 180, x - 360, np.where(x < -180, x + 360, x))
    else:
        x = x0 + dx * w
    out["x"] = np.where(exact, x0, x)
    for c in ["y", *props]:
        v0, v1 = rows[c][i0], rows[c][i1]
        if v0.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                out[c] = np.where(exact, v0, v0 + (v1 - v0) * w).astype(v0.dtype)
        else:
            out[c] = v0  # integers and flags: the earlier sample's value
    return out


def _positions(coll, at: int, gap: int, props: list[str], oids=None) -> dict[str, np.ndarray]:
    """Objects' rows at ``at``: the sample there, or interpolated between samples at most ``gap`` apart.

    All objects, or those of the sorted codes ``oids``.
    """
    lo, hi = max(int(_I64.min), at - gap), min(int(_I64.max), at + gap)
    rows = _rows(coll, Request(lo=lo, hi=hi, oids=oids, empty=oids is not None and not len(oids)), ["x", "y", *props],
                 around=at)
    i0, i1, w = _query.bracket(rows["oid"], rows["t"], at, gap)
    return _interpolate(coll, rows, i0, i1, w, at, props)


def _positions_in(coll, at: int, gap: int, props: list[str], box) -> dict[str, np.ndarray]:
    """The rows at ``at`` of (at least) every object whose position then lies in ``box``.

    The probe keeps the chunks whose paths may cross the box (a chunk's box
    covers the step to each object's next sample; chunks that start or end an
    object's run in a segment are always kept) and, where the path may go on
    there, the chunk after each, so every object whose position is in the box
    has its two samples around ``at`` among the rows read. A pair of rows that are consecutive in one segment, or that
    both come from one partition read in full, is such a pair; objects left with
    any other pair (across segments, or rows missing in between) are read again
    in full, by object.
    """
    lo, hi = max(int(_I64.min), at - gap), min(int(_I64.max), at + gap)
    req = Request(lo=lo, hi=hi, bbox=box, boxes=boxes_of(box))
    store = coll._store
    with store._lock:
        store._check_open()
        parts = select(coll, req, ["x", "y", *props], Plan(), spatial_rows=False, mode="paths", paths=True, around=at)
    rows = coll._merge(parts, ["x", "y", *props, "_seq"])
    i0, i1, w = _query.bracket(rows["oid"], rows["t"], at, gap)
    seq = rows["_seq"]
    part_ns = coll._meta["partition_ns"]
    full = (seq[i0] < 0) & (seq[i1] < 0) & (rows["t"][i0] // part_ns == rows["t"][i1] // part_ns)
    sure = (i0 == i1) | ((seq[i0] >= 0) & (seq[i1] == seq[i0] + 1)) | full
    out = _interpolate(coll, rows, i0[sure], i1[sure], w[sure], at, props)
    unsure = rows["oid"][i0[~sure]]  # one pair per object: distinct, in object order
    if len(unsure):
        more = _positions(coll, at, gap, props, unsure)
        out = {c: np.concatenate([out[c], more[c]]) for c in out}
        order = np.argsort(out["oid"], kind="stable")
        out = {c: v[order] for c, v in out.items()}
    return out


def snapshot(coll, at, bbox=None, max_gap=None, columns=None) -> Result:
    t = to_ns(at, "at")
    box = parse_bbox(bbox)
    want = coll._columns(columns)
    gap, props = _max_gap(coll, max_gap), _props(coll, want)
    rows = _positions(coll, t, gap, props) if box is None else _positions_in(coll, t, gap, props, box)
    if box is not None:
        keep = in_boxes(rows["x"], rows["y"], box)
        rows = {k: v[keep] for k, v in rows.items()}
    return coll._result(rows, want)


def _k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    if k <= 0:
        raise InvalidArgumentError(f"k must be a positive integer, got {k}")
    return int(k)


def _nearest_first(rows: dict, dist: np.ndarray, k: int) -> dict:
    """The k rows of smallest distance, ordered by (distance, object, t)."""
    if len(dist) > k:  # keep every row tied with the k-th before ordering exactly
        kth = np.partition(dist, k - 1)[k - 1]
        sel = np.flatnonzero(dist <= kth)
    else:
        sel = np.arange(len(dist))
    order = sel[np.lexsort((rows["t"][sel], rows["oid"][sel], dist[sel]))][:k]
    out = {c: v[order] for c, v in rows.items()}
    out["distance"] = dist[order]
    return out


def nearest(coll, x, y, k=10, at=None, time=None, max_gap=None, columns=None) -> Result:
    qx, qy = parse_point(x, y)
    k = _k(k)
    if (at is None) == (time is None):
        raise InvalidArgumentError("nearest needs exactly one of at= (objects at a time) and time= (samples in an interval)")
    geographic = coll.crs == "EPSG:4326"
    want = coll._columns(columns)
    with coll._store._lock:  # the segments as of now, for the first radius (the rows are read under it again)
        index = coll._store._index(coll.name)
    span = _extent(index, geographic)
    if at is not None:
        t, gap, props = to_ns(at, "at"), _max_gap(coll, max_gap), _props(coll, want)
        # only the objects whose paths may cross the box are read and interpolated
        r = _first_radius(index, t - gap, t + gap, 32 * k, geographic)
        out = _widen(qx, qy, k, r, span, geographic, lambda box: _positions(coll, t, gap, props) if box is None
                     else _positions_in(coll, t, gap, props, box))
        return coll._result(out, [*want, "distance"])
    lo, hi = time_range(time)
    stored = ["x", "y", *_props(coll, want)]
    r = _first_radius(index, lo, hi, k, geographic)
    out = _widen(qx, qy, k, r, span, geographic,
                 lambda box: _rows(coll, Request(lo=lo, hi=hi, bbox=box, boxes=boxes_of(box)), stored))
    return coll._result(out, [*want, "distance"])


def _widen(qx: float, qy: float, k: int, r: float, span: float, geographic: bool, rows_in) -> dict:
    """The k rows nearest to (qx, qy): widen a box from radius r until ``rows_in(box)`` holds k rows
    within the box's inscribed radius (box None: every row)."""
    while True:
        box = radius_box(qx, qy, r, geographic) if r < math.inf else None
        rows = rows_in(box)
        dist = distances(rows["x"], rows["y"], qx, qy, geographic)
        inside = dist <= r
        if box is None or int(inside.sum()) >= k:
            if box is not None:
                rows = {c: v[inside] for c, v in rows.items()}
                dist = dist[inside]
            return _nearest_first(rows, dist, k)
        r = math.inf if r * 2 > span else r * 2


def _extent(index, geographic: bool) -> float:
    """A distance beyond which the search box may as well be everything.

    Half the Earth's circumference when geographic, else the diagonal of the
    segments' extent (unflushed rows beyond it only make the search stop
    widening sooner: it then reads everything, which is still exact).
    """
    if geographic:
        return math.pi * EARTH_RADIUS_M
    b = index.blocks
    if not len(b["x_min"]):
        return 0.0
    return math.hypot(float(b["x_max"].max() - b["x_min"].min()), float(b["y_max"].max() - b["y_min"].min()))


def _first_radius(index, lo, hi, k, geographic) -> float:
    """A first search radius expected to hold about 4k samples, from the segments' extents."""
    live = (index.seg_t_max >= lo) & (index.seg_t_min <= hi)
    rows = int(index.seg_rows[live].sum())
    if not rows:
        return math.inf
    box = index.seg_bbox[live]
    w = float(box[:, 2].max() - box[:, 0].min())
    h = float(box[:, 3].max() - box[:, 1].min())
    if geographic:
        mid = math.radians(float((box[:, 3].max() + box[:, 1].min()) / 2))
        w, h = w * (EARTH_RADIUS_M * math.pi / 180) * max(math.cos(mid), 0.01), h * (EARTH_RADIUS_M * math.pi / 180)
    area = max(w * h, 1e-12)
    r = math.sqrt(area * min(1.0, 4.0 * k / rows) / math.pi)
    return max(r, 1e-9)


def track(coll, object_id, time=None, simplify=None, derive=False, columns=None) -> Result:
    lo, hi = time_range(time)
    want = coll._columns(columns)
    if simplify is not None:
        if isinstance(simplify, bool) or not isinstance(simplify, numbers.Real) or not simplify >= 0 or not math.isfinite(simplify):
            raise InvalidArgumentError(f"simplify must be a tolerance >= 0, got {simplify!r}")
    if np.ndim(object_id) != 0:
        raise InvalidArgumentError(f"track takes one object id, got {object_id!r}")
    oids = coll._store._lookup_ids(coll.name, [object_id])
    stored = list(dict.fromkeys(["x", "y", *_stored(want)]))
    rows = _rows(coll, Request(lo=lo, hi=hi, oids=oids, empty=not len(oids)), stored)
    geographic = coll.crs == "EPSG:4326"
    if simplify is not None and len(rows["t"]):
        keep = _query.simplify(rows["x"], rows["y"], float(simplify), geographic)
        rows = {c: v[keep] for c, v in rows.items()}
    if derive:
        rows.update(_derive(rows, geographic))
        want = [*want, "speed", "heading"]
    return coll._result(rows, want)


def _derive(rows: dict, geographic: bool) -> dict:
    """Speed and heading of the step from the previous sample (NaN for the first)."""
    x, y, t = rows["x"], rows["y"], rows["t"]
    speed = np.full(len(t), np.nan)
    heading = np.full(len(t), np.nan)
    if len(t) > 1:
        dt = np.diff(t).astype(np.float64) / 1e9
        if geographic:
            lat1, lat2 = np.radians(y[:-1]), np.radians(y[1:])
            dlon = np.radians(x[1:] - x[:-1])
            a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2) ** 2
            dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
            bearing = np.degrees(np.arctan2(np.sin(dlon) * np.cos(lat2),
                                            np.cos(lat1) * np.sin(lat2) - np.sin(lat1) * np.cos(lat2) * np.cos(dlon)))
        else:
            dx, dy = np.diff(x), np.diff(y)
            dist = np.hypot(dx, dy)
            bearing = np.degrees(np.arctan2(dx, dy))
        speed[1:] = dist / dt
        heading[1:] = np.mod(bearing, 360.0)
        heading[1:][heading[1:] >= 360.0] = 0.0
    return {"speed": speed, "heading": heading}


class Aggregate:
    """A grid of counts (and a statistic) per time bucket x cell; see docs/queries.md.

    Attributes ``count``, ``values``, ``x``, ``y`` (cell edges or None), ``t``
    (bucket starts or None), ``stat``; ``to_dict()``.
    """

    def __init__(self, count, values, x, y, t, stat):
        self.count, self.values, self.x, self.y, self.t, self.stat = count, values, x, y, t, stat

    def to_dict(self) -> dict:
        return {"count": self.count, "values": self.values, "x": self.x, "y": self.y, "t": self.t}

    def __repr__(self) -> str:
        return f"Aggregate({self.stat}, shape {self.count.shape})"


def _cell(cell) -> tuple[float, float] | None:
    if cell is None:
        return None
    sizes = (cell, cell) if isinstance(cell, numbers.Real) and not isinstance(cell, bool) else cell
    try:
        cx, cy = (float(v) for v in sizes)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"cell must be a size or (cx, cy), got {cell!r}") from None
    if not (cx > 0 and cy > 0 and math.isfinite(cx) and math.isfinite(cy)):
        raise InvalidArgumentError(f"cell sizes must be positive and finite, got {cell!r}")
    return cx, cy


def aggregate(coll, cell=None, bucket=None, bbox=None, time=None, value=None, stat="count") -> Aggregate:
    if stat not in _query.STATS:
        raise InvalidArgumentError(f"stat must be one of {list(_query.STATS)}, got {stat!r}")
    schema = coll.schema
    numeric = [*(["z"] if coll._meta.get("has_z") else []), "x", "y", *schema]
    if stat != "count":
        if value is None:
            raise InvalidArgumentError(f"stat {stat!r} needs value= (a numeric column)")
        if value not in numeric:
            raise InvalidArgumentError(f"value must be a numeric column, one of {numeric}; got {value!r}")
    sizes = _cell(cell)
    bucket_ns = None if bucket is None else duration_ns(bucket, "bucket")
    req = _request(coll, bbox, time, None, None)
    stored = list(dict.fromkeys(["x", "y", *([value] if stat != "count" else [])]))
    rows = _rows(coll, req, stored)
    n = len(rows["t"])
    spec = {"space": sizes is not None, "time": bucket_ns is not None, "cx": 1.0, "cy": 1.0, "ix0": 0, "iy0": 0,
            "nx": 1, "ny": 1, "wrap": 0, "wrap_x": 0.0, "bucket": bucket_ns or 1, "b0": 0, "nt": 1}
    shape, xe, ye, te = [], None, None, None
    edges = {}
    if bucket_ns is not None:
        t_lo = req.lo if req.lo != int(_I64.min) else (int(rows["t"].min()) if n else None)
        t_hi = req.hi if req.hi != int(_I64.max) else (int(rows["t"].max()) if n else None)
        if t_lo is None or t_hi is None:  # an open end and no rows to close it
            nt, b0 = 0, 0
        else:
            b0 = t_lo // bucket_ns
            nt = t_hi // bucket_ns - b0 + 1
        spec.update(b0=b0, nt=nt)
        shape.append(nt)
        edges["t"] = (b0, nt)
    if sizes is not None:
        cx, cy = sizes
        box = req.bbox
        if box is None and n:
            box = (float(rows["x"].min()), float(rows["y"].min()), float(rows["x"].max()), float(rows["y"].max()))
        if box is None:
            nx = ny = ix0 = iy0 = 0
        else:
            xmin, ymin, xmax, ymax = box
            wrap = xmin > xmax
            if wrap:
                xmax += 360.0
                spec.update(wrap=1, wrap_x=xmin)
            ix0, iy0 = math.floor(xmin / cx), math.floor(ymin / cy)
            nx, ny = math.floor(xmax / cx) - ix0 + 1, math.floor(ymax / cy) - iy0 + 1
        spec.update(cx=cx, cy=cy, ix0=ix0, iy0=iy0, nx=nx, ny=ny)
        shape += [ny, nx]
    cells = math.prod(shape)
    if cells > _MAX_CELLS or any(n > _MAX_CELLS for n in shape):
        raise InvalidArgumentError(f"the grid would have {cells:,} cells (at most {_MAX_CELLS:,}): use larger cells or buckets")
    if "t" in edges:
        b0, nt = edges["t"]
        te = ((b0 + np.arange(nt, dtype=np.int64)) * bucket_ns).view("datetime64[ns]")
    if sizes is not None:
        xe = (spec["ix0"] + np.arange(spec["nx"] + 1)) * sizes[0] if spec["nx"] else np.empty(0)
        ye = (spec["iy0"] + np.arange(spec["ny"] + 1)) * sizes[1] if spec["ny"] else np.empty(0)
    if cells == 0:
        count = np.zeros(shape, dtype=np.int64)
        values = count if stat == "count" else np.zeros(shape, dtype=np.float64)
        return Aggregate(count, values, xe, ye, te, stat)
    v = None
    if stat != "count":
        v = np.ascontiguousarray(rows[value], dtype=np.float64)
    count, valid, acc = _query.grid(rows["x"] if sizes else None, rows["y"] if sizes else None, rows["t"], v, spec, stat)
    count = count.reshape(shape)
    if stat == "count":
        values = count
    else:
        valid = valid.reshape(shape)
        acc = acc.reshape(shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.array(acc / valid if stat == "mean" else acc, dtype=np.float64)  # an array even for 0-d
        values[valid == 0] = np.nan
    return Aggregate(count, values, xe, ye, te, stat)
