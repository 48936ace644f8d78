"""The space-time index of a collection: block summaries and chunk summaries of all its segments.

Level 1 is every codec block's summary (object range, time range, bounding
box); level 2, inside each block, chunks of ``CHUNK_ROWS`` rows with their time
and object ranges, run-edge flags and a float32 bounding box that also covers
the path to the object's next sample. Both levels are flat arrays over all segments, one after another, so a
probe is one C call (:meth:`chronotope._query.Index.probe`) whatever the number of
segments; docs/architecture.md explains the choice and its measured costs.

The index is rebuilt from the segments' footers (no data decoded) whenever the
set of segments changes; segments written before chunk summaries existed get
them computed from their decoded columns once.
"""

from __future__ import annotations

import numpy as np

from chronotope import _query
from chronotope.segment import CHUNK_FIELDS, SUMMARY_FIELDS

__all__ = ["SpaceTimeIndex"]


def _chunks_of(seg, geographic: bool) -> dict[str, np.ndarray]:
    if seg.chunks is not None:
        return seg.chunks
    cols = seg.read(["oid", "t", "x", "y"])
    return _query.chunk_summaries(cols["oid"], cols["t"], cols["x"], cols["y"], seg.summary["rows"], seg.chunk_rows,
                                  geographic)


def _overlapping_partitions(part: np.ndarray, t_min: np.ndarray, t_max: np.ndarray) -> np.ndarray:
    """Per segment: does its partition hold two segments that share an instant?"""
    if len(part) < 2:
        return np.zeros(len(part), dtype=bool)
    order = np.lexsort((t_min, part))
    p, t0, t1 = part[order], t_min[order], t_max[order]
    firsts = np.flatnonzero(np.concatenate([[True], p[1:] != p[:-1]]))
    ends = t1.copy()
    for a, b in zip(firsts, np.append(firsts[1:], len(p))):  # one step per partition, at index build only
        ends[a:b] = np.maximum.accumulate(t1[a:b])
    hit = (p[1:] == p[:-1]) & (t0[1:] <= ends[:-1])
    return np.isin(part, p[1:][hit])


class SpaceTimeIndex:
    """Index over ``segments`` (a list of (manifest entry, Segment)) of one collection.

    Attributes: ``segments``; ``blocks`` and ``chunks`` (dicts of flat arrays,
    see :class:`chronotope._query.Index`), held in C by ``c_index``; ``seg_block0`` / ``seg_chunk0`` (where
    each segment's blocks / chunks start, one extra entry at the end);
    ``chunk_block`` (global chunk -> block within its segment); ``chunk_row0``
    (per segment: first row of each of its chunks, then the segment's rows);
    ``seg_row0`` (where each segment's rows start, counted over all segments);
    per segment ``seg_t_min``, ``seg_t_max``, ``seg_part``, ``seg_rows``,
    ``seg_bbox`` and ``seg_overlap`` (its partition has segments that overlap in time).
    """

    def __init__(self, segments: list, geographic: bool):
        self.segments = segments
        empty_i, empty_f = np.empty(0, np.int64), np.empty(0, np.float64)
        blocks = {f: [empty_f if f[0] in "xy" else empty_i] for f in SUMMARY_FIELDS}
        chunks = {f: [] for f in CHUNK_FIELDS}
        chunk_block, self.chunk_row0, chunks_per_block = [empty_i], [], [empty_i]
        nblocks, nchunks = [0], [0]
        for _, seg in segments:  # one step per segment when the segment set changes, never per query
            for f in SUMMARY_FIELDS:
                blocks[f].append(seg.summary[f])
            ch = _chunks_of(seg, geographic)
            for f in CHUNK_FIELDS:
                chunks[f].append(ch[f])
            per_block = (seg.summary["rows"] + (seg.chunk_rows - 1)) // seg.chunk_rows
            first = np.concatenate([[0], np.cumsum(per_block)[:-1]]).astype(np.int64)
            block_of = np.repeat(np.arange(seg.nblocks, dtype=np.int64), per_block)
            within = np.arange(len(block_of), dtype=np.int64) - first[block_of]
            self.chunk_row0.append(np.append(seg.block_starts[block_of] + within * seg.chunk_rows, seg.rows))
            chunk_block.append(block_of)
            chunks_per_block.append(per_block.astype(np.int64))
            nblocks.append(seg.nblocks)
            nchunks.append(len(block_of))
        dtypes = {"t_min": np.int64, "t_max": np.int64, "oid_min": np.int64, "oid_max": np.int64, "flags": np.uint8}
        self.blocks = {f: np.ascontiguousarray(np.concatenate(v)) for f, v in blocks.items()}
        self.chunks = {f: np.ascontiguousarray(np.concatenate(v)) if v else np.empty(0, dtypes.get(f, np.float32))
                       for f, v in chunks.items()}
        self.seg_block0 = np.cumsum(nblocks).astype(np.int64)
        self.seg_row0 = np.cumsum([0] + [seg.rows for _, seg in segments]).astype(np.int64)
        self.seg_chunk0 = np.cumsum(nchunks).astype(np.int64)
        self.chunk_block = np.concatenate(chunk_block)
        self.blocks["chunk0"] = np.concatenate([[0], np.cumsum(np.concatenate(chunks_per_block))]).astype(np.int64)
        self.blocks["space"] = np.ones(len(self.blocks["t_min"]), dtype=np.uint8)
        self.c_index = _query.Index(self.blocks, self.chunks)
        # per segment, for the planner's vectorized choice of sources
        field = lambda k: np.array([e[k] for e, _ in segments], dtype=np.int64)  # noqa: E731
        self.seg_t_min, self.seg_t_max, self.seg_part = field("t_min"), field("t_max"), field("partition")
        self.seg_rows = field("rows")
        boxes = np.array([e["bbox"] or [np.inf, np.inf, -np.inf, -np.inf] for e, _ in segments], dtype=np.float64)
        self.seg_bbox = boxes.reshape(-1, 4)  # xmin, ymin, xmax, ymax per segment
        # segments of partitions where two segments overlap in time (one (oid, t) may be written twice)
        self.seg_overlap = _overlapping_partitions(self.seg_part, self.seg_t_min, self.seg_t_max)

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays."""
        arrays = [*self.blocks.values(), *self.chunks.values(), self.chunk_block, *self.chunk_row0]
        return int(sum(a.nbytes for a in arrays))

    def probe(self, window: tuple, mode: str = "chunks", no_space_segments=None, oids=None) -> tuple[np.ndarray, dict]:
        """Global chunk ids that may hold rows of ``window`` (see _query.Index.probe), ascending.

        ``no_space_segments``: indices of segments whose blocks must not be pruned by space;
        ``oids``: sorted object codes (a chunk must hold one of them), or None.
        """
        space = None
        if no_space_segments is not None and len(no_space_segments):
            space = self.blocks["space"].copy()
            for s in no_space_segments:  # segments of merged partitions: few
                space[self.seg_block0[s] : self.seg_block0[s + 1]] = 0
        return self.c_index.probe(window, mode, space, oids)
