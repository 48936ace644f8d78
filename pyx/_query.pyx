# cython: language_level=3, boundscheck=False, wraparound=False
"""Binds csrc/ct_query.h: chunk summaries, index probes and the query kernels.

Every function checks shapes, then runs one C call without the GIL.
"""
from libc.stdint cimport int64_t, uint8_t, uint64_t

from ctcore cimport (CT_PROBE_BLOCKS, CT_PROBE_CHUNKS, CT_PROBE_PATHS, ct_bracket, ct_chunk_summaries,
                     ct_filter_all, ct_filter_around, ct_filter_index, ct_grid, ct_grid_spec, ct_polygon, ct_probe, ct_probe_stats,
                     ct_simplify, ct_stindex, ct_strerror, ct_window)

import numpy as np

from chronotope.errors import from_status

PROBE_MODES = {"chunks": CT_PROBE_CHUNKS, "blocks": CT_PROBE_BLOCKS, "paths": CT_PROBE_PATHS}
STATS = {"count": 0, "sum": 1, "mean": 2, "min": 3, "max": 4}


cdef int _check(int64_t rc, what) except -1:
    if rc < 0:
        raise from_status(<int> rc, f"{what}: {ct_strerror(<int> rc).decode()}")
    return 0


cdef void _window(ct_window *w, tuple window):
    """Fill w from (t_lo, t_hi, oid_lo, oid_hi, boxes[, at[, one_source]]); no object set."""
    t_lo, t_hi, oid_lo, oid_hi, boxes = window[:5]
    w.t_lo, w.t_hi, w.oid_lo, w.oid_hi = t_lo, t_hi, oid_lo, oid_hi
    w.oids, w.noids = NULL, 0
    w.has_at, w.t_at = (1, window[5]) if len(window) > 5 and window[5] is not None else (0, 0)
    w.one_source = 1 if len(window) > 6 and window[6] else 0
    w.nbox = len(boxes)
    for k, box in enumerate(boxes):
        for j in range(4):
            w.box[k][j] = box[j]


cdef class Polygon:
    """Rings of a (multi)polygon, flattened for the C point-in-polygon test."""
    cdef ct_polygon p
    cdef readonly object part_ring0, ring_v0, vx, vy

    def __init__(self, part_ring0, ring_v0, vx, vy):
        self.part_ring0 = np.ascontiguousarray(part_ring0, dtype=np.int64)
        self.ring_v0 = np.ascontiguousarray(ring_v0, dtype=np.int64)
        self.vx = np.ascontiguousarray(vx, dtype=np.float64)
        self.vy = np.ascontiguousarray(vy, dtype=np.float64)
        nrings = len(self.ring_v0) - 1
        if (len(self.part_ring0) < 2 or self.part_ring0[0] != 0 or self.part_ring0[-1] != nrings
                or np.any(np.diff(self.part_ring0) < 1) or self.ring_v0[0] != 0 or self.ring_v0[-1] != len(self.vx)
                or np.any(np.diff(self.ring_v0) < 3) or len(self.vy) != len(self.vx)):
            raise ValueError("inconsistent polygon arrays")
        cdef const int64_t[::1] pr = self.part_ring0
        cdef const int64_t[::1] rv = self.ring_v0
        cdef const double[::1] x = self.vx
        cdef const double[::1] y = self.vy
        self.p.nparts = len(self.part_ring0) - 1
        self.p.part_ring0 = &pr[0]
        self.p.ring_v0 = &rv[0]
        self.p.vx = &x[0]
        self.p.vy = &y[0]

    def contains(self, const double[::1] x, const double[::1] y):
        """Boolean mask of the points inside."""
        cdef size_t n = x.shape[0], i
        out = np.empty(n, dtype=np.bool_)
        cdef uint8_t[::1] o = out.view(np.uint8)
        with nogil:
            for i in range(n):
                o[i] = <uint8_t> ct_polygon_contains(&self.p, x[i], y[i])
        return out


cdef extern from "ct_query.h" nogil:
    int ct_polygon_contains "ct_point_in_polygon"(const ct_polygon *p, double px, double py)


def chunk_summaries(const int64_t[::1] oid, const int64_t[::1] t, const double[::1] x, const double[::1] y,
                    const int64_t[::1] block_rows, size_t chunk_rows, bint geographic):
    """Per-chunk t_min, t_max, x_min, x_max, y_min, y_max, flags of a segment's rows."""
    cdef size_t n = t.shape[0], nb = block_rows.shape[0]
    if oid.shape[0] != n or x.shape[0] != n or y.shape[0] != n or chunk_rows == 0:
        raise ValueError("chunk_summaries: columns differ in length")
    cap = int(((np.asarray(block_rows) + (chunk_rows - 1)) // chunk_rows).sum())
    out = {"t_min": np.empty(cap, np.int64), "t_max": np.empty(cap, np.int64),
           "oid_min": np.empty(cap, np.int64), "oid_max": np.empty(cap, np.int64),
           "x_min": np.empty(cap, np.float32), "x_max": np.empty(cap, np.float32),
           "y_min": np.empty(cap, np.float32), "y_max": np.empty(cap, np.float32),
           "flags": np.empty(cap, np.uint8)}
    cdef int64_t[::1] t0 = out["t_min"], t1 = out["t_max"], o0 = out["oid_min"], o1 = out["oid_max"]
    cdef float[::1] x0 = out["x_min"], x1 = out["x_max"], y0 = out["y_min"], y1 = out["y_max"]
    cdef uint8_t[::1] fl = out["flags"]
    cdef int64_t rc
    cdef size_t c = cap
    with nogil:
        rc = ct_chunk_summaries(n, &oid[0] if n else NULL, &t[0] if n else NULL, &x[0] if n else NULL,
                                &y[0] if n else NULL, &block_rows[0] if nb else NULL, nb, chunk_rows, geographic,
                                &t0[0] if c else NULL, &t1[0] if c else NULL, &o0[0] if c else NULL,
                                &o1[0] if c else NULL, &x0[0] if c else NULL,
                                &x1[0] if c else NULL, &y0[0] if c else NULL, &y1[0] if c else NULL,
                                &fl[0] if c else NULL, c)
    _check(rc, "chunk summaries")
    return out


cdef class Index:
    """The flat block and chunk arrays of a collection's index, held for repeated probes.

    ``b``: block arrays t_min t_max oid_min oid_max x_min x_max y_min y_max (nblocks),
    chunk0 (nblocks + 1), space (uint8, nblocks, 0 = never prune the block by space);
    ``c``: chunk arrays t_min t_max x_min x_max y_min y_max (float32) flags.
    """
    cdef ct_stindex ix
    cdef readonly dict blocks, chunks
    cdef readonly size_t nblocks, nchunks

    def __init__(self, dict b, dict c):
        i64, f64, f32, u8 = np.int64, np.float64, np.float32, np.uint8
        kinds = {"t_min": i64, "t_max": i64, "oid_min": i64, "oid_max": i64, "x_min": f64, "x_max": f64,
                 "y_min": f64, "y_max": f64, "chunk0": i64, "space": u8}
        self.blocks = {k: np.ascontiguousarray(b[k], dtype=kinds[k]) for k in kinds}
        ckinds = {"t_min": i64, "t_max": i64, "oid_min": i64, "oid_max": i64, "x_min": f32, "x_max": f32, "y_min": f32, "y_max": f32, "flags": u8}
        self.chunks = {k: np.ascontiguousarray(c[k], dtype=ckinds[k]) for k in ckinds}
        nb, nc = len(self.blocks["t_min"]), len(self.chunks["t_min"])
        if any(len(v) != nb for k, v in self.blocks.items() if k != "chunk0"):
            raise ValueError("index: block arrays differ in length")
        if any(len(v) != nc for v in self.chunks.values()):
            raise ValueError("index: chunk arrays differ in length")
        c0 = self.blocks["chunk0"]
        if len(c0) != nb + 1 or c0[0] != 0 or c0[nb] != nc or np.any(np.diff(c0) < 0):
            raise ValueError("index: block chunk offsets are inconsistent")
        self.nblocks, self.nchunks = nb, nc
        self.ix.nblocks = nb
        self.ix.b_t_min = self._i64(self.blocks["t_min"])
        self.ix.b_t_max = self._i64(self.blocks["t_max"])
        self.ix.b_oid_min = self._i64(self.blocks["oid_min"])
        self.ix.b_oid_max = self._i64(self.blocks["oid_max"])
        self.ix.b_x_min = self._f64(self.blocks["x_min"])
        self.ix.b_x_max = self._f64(self.blocks["x_max"])
        self.ix.b_y_min = self._f64(self.blocks["y_min"])
        self.ix.b_y_max = self._f64(self.blocks["y_max"])
        self.ix.b_chunk0 = self._i64(self.blocks["chunk0"])
        self.ix.b_space = self._u8(self.blocks["space"])
        self.ix.c_t_min = self._i64(self.chunks["t_min"])
        self.ix.c_t_max = self._i64(self.chunks["t_max"])
        self.ix.c_oid_min = self._i64(self.chunks["oid_min"])
        self.ix.c_oid_max = self._i64(self.chunks["oid_max"])
        self.ix.c_x_min = self._f32(self.chunks["x_min"])
        self.ix.c_x_max = self._f32(self.chunks["x_max"])
        self.ix.c_y_min = self._f32(self.chunks["y_min"])
        self.ix.c_y_max = self._f32(self.chunks["y_max"])
        self.ix.c_flags = self._u8(self.chunks["flags"])

    # pointers into arrays this object keeps alive (None for empty arrays)
    cdef const int64_t *_i64(self, a):
        cdef const int64_t[::1] v = a
        return &v[0] if v.shape[0] else NULL

    cdef const double *_f64(self, a):
        cdef const double[::1] v = a
        return &v[0] if v.shape[0] else NULL

    cdef const float *_f32(self, a):
        cdef const float[::1] v = a
        return &v[0] if v.shape[0] else NULL

    cdef const uint8_t *_u8(self, a):
        cdef const uint8_t[::1] v = a
        return &v[0] if v.shape[0] else NULL

    def probe(self, tuple window, str mode, no_space=None, oids=None):
        """Chunk ids that may hold rows of window ((t_lo, t_hi, oid_lo, oid_hi, boxes)), and probe figures.

        ``no_space``: a uint8 array (one per block) replacing the blocks' space flags for this probe;
        ``oids``: sorted int64 object codes, one of which a block or chunk must hold.
        """
        cdef ct_stindex ix = self.ix
        cdef const uint8_t[::1] sp
        if no_space is not None:
            sp = no_space
            if sp.shape[0] != self.nblocks:
                raise ValueError("probe: space flags differ in length from the blocks")
            ix.b_space = &sp[0] if self.nblocks else NULL
        cdef ct_window w
        _window(&w, window)
        cdef const int64_t[::1] ov
        if oids is not None:
            ov = oids
            if ov.shape[0] > 1 and np.any(np.diff(oids) <= 0):
                raise ValueError("probe: object codes must be sorted and distinct")
            w.oids, w.noids = (&ov[0] if ov.shape[0] else NULL), ov.shape[0]
            if not ov.shape[0]:
                return np.empty(0, np.int64), {"blocks_considered": self.nblocks, "blocks_matched": 0,
                                                "chunks_considered": 0, "chunks_matched": 0}
        cdef int m = PROBE_MODES[mode]
        out = np.empty(self.nchunks, dtype=np.int64)
        cdef int64_t[::1] o = out
        cdef ct_probe_stats st
        cdef int64_t rc
        with nogil:
            rc = ct_probe(&ix, &w, m, &o[0] if self.nchunks else NULL, self.nchunks, &st)
        _check(rc, "index probe")
        return out[:rc], {"blocks_considered": st.blocks_considered, "blocks_matched": st.blocks_matched,
                          "chunks_considered": st.chunks_considered, "chunks_matched": st.chunks_matched}


cdef size_t _chunk_rows(const int64_t[::1] row0, const int64_t[::1] chunks, size_t nt) except? 0:
    """Rows of the selected chunks (bad chunk ids are left for the C call to refuse); checks row0."""
    cdef size_t nch = row0.shape[0] - 1 if row0.shape[0] else 0, j, rows = 0
    cdef int64_t c
    if row0.shape[0] < 1 or row0[nch] > <int64_t> nt:
        raise ValueError("filter: chunk rows exceed the columns")
    for j in range(chunks.shape[0]):
        c = chunks[j]
        if 0 <= c < <int64_t> nch:
            rows += <size_t> (row0[c + 1] - row0[c])
    return rows


cdef const ct_stindex *_segment_index(Index index, int64_t chunk_base, size_t nch) except? NULL:
    """The index's C struct for a segment whose chunks start at chunk_base (NULL without an index)."""
    if index is None:
        return NULL
    if chunk_base < 0 or <size_t> chunk_base + nch > index.nchunks:
        raise ValueError("filter: the segment's chunks are not in the index")
    return &index.ix


def filter_chunks(const int64_t[::1] t, x, y, const int64_t[::1] row0, const int64_t[::1] chunks,
                  tuple window, Polygon polygon=None, Index index=None, int64_t chunk_base=0):
    """Rows of the given chunks (local ids; row0 has nchunks + 1 entries) that pass the window and polygon.

    With the ``index`` (and the segment's first global chunk id ``chunk_base``),
    chunks whose summary lies wholly inside the window are taken without reading their rows.
    Returns (row numbers, rows of the selected chunks: the rows before the exact filter).
    """
    cdef ct_window w
    _window(&w, window)
    cdef const double[::1] xv
    cdef const double[::1] yv
    cdef const double *xp = NULL
    cdef const double *yp = NULL
    cdef size_t nt = t.shape[0], nsel = chunks.shape[0], nch = row0.shape[0] - 1 if row0.shape[0] else 0
    if x is not None:
        xv, yv = x, y
        if xv.shape[0] != nt or yv.shape[0] != nt:
            raise ValueError("filter: columns differ in length")
        if nt:
            xp, yp = &xv[0], &yv[0]
    cdef size_t cap = _chunk_rows(row0, chunks, nt)  # room for every row of the selected chunks
    cdef const ct_stindex *ixp = _segment_index(index, chunk_base, nch)
    out = np.empty(cap, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef uint64_t scanned = 0
    cdef int64_t rc
    cdef const ct_polygon *pp = &polygon.p if polygon is not None else NULL
    with nogil:
        rc = ct_filter_index(ixp, chunk_base, &t[0] if nt else NULL, xp, yp, &row0[0], nch,
                             &chunks[0] if nsel else NULL, nsel, &w, pp, &o[0] if cap else NULL, cap, &scanned)
    _check(rc, "row filter")
    return out[:rc], int(cap)


def filter_around(const int64_t[::1] oid, const int64_t[::1] t, const int64_t[::1] row0, const int64_t[::1] chunks,
                  int64_t at, int64_t lo, int64_t hi, Index index=None, int64_t chunk_base=0):
    """Per chunk and object, its last row before ``at`` and first row at or after it, within [lo, hi].

    Returns (row numbers, rows of the selected chunks).
    """
    cdef size_t nt = t.shape[0], nsel = chunks.shape[0], nch = row0.shape[0] - 1 if row0.shape[0] else 0
    if oid.shape[0] != nt:
        raise ValueError("filter: columns differ in length")
    cdef size_t rows = _chunk_rows(row0, chunks, nt)
    cdef const ct_stindex *ixp = _segment_index(index, chunk_base, nch)
    cdef size_t cap = 2 * rows
    out = np.empty(cap, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef uint64_t scanned = 0
    cdef int64_t rc
    with nogil:
        rc = ct_filter_around(ixp, chunk_base, &oid[0] if nt else NULL, &t[0] if nt else NULL, &row0[0], nch,
                              &chunks[0] if nsel else NULL, nsel, at, lo, hi, &o[0] if cap else NULL, cap, &scanned)
    _check(rc, "row filter")
    return out[:rc], int(rows)


def filter_all(const int64_t[::1] t, x, y, tuple window, Polygon polygon=None):
    """Row numbers of all rows that pass the window and polygon."""
    cdef ct_window w
    _window(&w, window)
    cdef size_t n = t.shape[0]
    cdef const double[::1] xv
    cdef const double[::1] yv
    cdef const double *xp = NULL
    cdef const double *yp = NULL
    if x is not None:
        xv, yv = x, y
        if xv.shape[0] != n or yv.shape[0] != n:
            raise ValueError("filter: columns differ in length")
        if n:
            xp, yp = &xv[0], &yv[0]
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef int64_t rc
    cdef const ct_polygon *pp = &polygon.p if polygon is not None else NULL
    with nogil:
        rc = ct_filter_all(n, &t[0] if n else NULL, xp, yp, &w, pp, &o[0] if n else NULL, n)
    _check(rc, "row filter")
    return out[:rc]


def bracket(const int64_t[::1] oid, const int64_t[::1] t, int64_t at, int64_t max_gap):
    """Per object with a position at ``at``: (i0, i1, w) rows and weight (rows sorted by oid, t; unique)."""
    cdef size_t n = t.shape[0]
    if oid.shape[0] != n:
        raise ValueError("bracket: columns differ in length")
    i0, i1, wt = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.float64)
    cdef int64_t[::1] a = i0, b = i1
    cdef double[::1] w = wt
    cdef int64_t rc
    with nogil:
        rc = ct_bracket(n, &oid[0] if n else NULL, &t[0] if n else NULL, at, max_gap, &a[0] if n else NULL,
                        &b[0] if n else NULL, &w[0] if n else NULL, n)
    _check(rc, "interpolation")
    return i0[:rc], i1[:rc], wt[:rc]


def simplify(const double[::1] x, const double[::1] y, double tolerance, bint geographic):
    """Douglas-Peucker: boolean mask of the samples kept."""
    cdef size_t n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError("simplify: columns differ in length")
    keep = np.empty(n, dtype=np.bool_)
    cdef uint8_t[::1] k = keep.view(np.uint8)
    cdef int rc
    with nogil:
        rc = ct_simplify(n, &x[0] if n else NULL, &y[0] if n else NULL, tolerance, geographic, &k[0] if n else NULL)
    _check(rc, "simplify")
    return keep


def grid(x, y, t, v, dict spec, str stat):
    """Bin rows into the grid ``spec``; returns (count, valid, acc) flat arrays (valid/acc None for count)."""
    cdef ct_grid_spec g
    g.space, g.time = spec["space"], spec["time"]
    g.cx, g.cy, g.ix0, g.iy0, g.nx, g.ny = spec["cx"], spec["cy"], spec["ix0"], spec["iy0"], spec["nx"], spec["ny"]
    g.wrap, g.wrap_x = spec["wrap"], spec["wrap_x"]
    g.bucket, g.b0, g.nt = spec["bucket"], spec["b0"], spec["nt"]
    cells = (g.nx * g.ny if g.space else 1) * (g.nt if g.time else 1)
    cdef int st = STATS[stat]
    cdef const double[::1] xv
    cdef const double[::1] yv
    cdef const double[::1] vv
    cdef const int64_t[::1] tv
    cdef const double *xp = NULL
    cdef const double *yp = NULL
    cdef const double *vp = NULL
    cdef const int64_t *tp = NULL
    n = None
    for arr in (x, y, t, v):
        if arr is not None:
            if n is not None and len(arr) != n:
                raise ValueError("grid: columns differ in length")
            n = len(arr)
    cdef size_t rows = n or 0
    if x is not None and rows:
        xv, yv = x, y
        xp, yp = &xv[0], &yv[0]
    if t is not None and rows:
        tv = t
        tp = &tv[0]
    if v is not None and rows:
        vv = v
        vp = &vv[0]
    count = np.zeros(cells, dtype=np.int64)
    valid = np.zeros(cells, dtype=np.int64) if st else None
    init = {1: 0.0, 2: 0.0, 3: np.inf, 4: -np.inf}.get(st, 0.0)
    acc = np.full(cells, init, dtype=np.float64) if st else None
    cdef int64_t[::1] cv = count
    cdef int64_t[::1] va
    cdef double[::1] ac
    cdef int64_t *vap = NULL
    cdef double *acp = NULL
    if st:
        va, ac = valid, acc
        vap, acp = &va[0], &ac[0]
    cdef int rc
    with nogil:
        rc = ct_grid(rows, xp, yp, tp, vp, &g, st, &cv[0], vap, acp)
    _check(rc, "aggregate")
    return count, valid, acc
