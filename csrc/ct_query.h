/*
 * Space-time index and query kernels.
 *
 * The index has two levels over a collection's segments (docs/architecture.md):
 * block summaries (rows, object range, time range, bounding box of every codec
 * block) and, inside each block, chunk summaries over CT_CHUNK_ROWS rows (time
 * and object ranges, and a float32 bounding box rounded outwards, which also covers the next
 * sample of the same object so that a chunk holds every segment of the object's
 * path that starts in it). A probe walks the blocks, then the chunks of the blocks
 * that pass, and returns chunk ids; the exact filter then tests only the rows of
 * those chunks. Kernels never allocate: the caller gives output capacity.
 */
#ifndef CT_QUERY_H
#define CT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Chunk flags: the chunk holds the first / last sample of an object's run in its
 * segment, so a path segment may join it to a sample in another segment. */
enum { CT_CHUNK_RUN_START = 1, CT_CHUNK_RUN_END = 2 };

/* Probe modes. */
enum {
    CT_PROBE_CHUNKS = 0, /* block and chunk tests: the index strategy */
    CT_PROBE_BLOCKS = 1, /* block tests only, every chunk of a passing block (time-only windows of a partition or more) */
    CT_PROBE_PATHS = 2   /* for interpolation: space tested on chunks only, run-edge chunks always pass */
};

/* What a query asks for: a time interval, up to two boxes (a box across the
 * antimeridian is given as two), an object-code range. All bounds inclusive. */
typedef struct {
    int64_t t_lo, t_hi;
    int64_t oid_lo, oid_hi;
    int nbox;          /* 0: no spatial condition */
    double box[2][4];  /* xmin, ymin, xmax, ymax */
    const int64_t *oids; /* NULL, or noids sorted object codes: a block or chunk must hold one */
    size_t noids;
    int has_at;  /* CT_PROBE_PATHS: the time interpolated at is t_at (else every run-edge chunk passes) */
    int64_t t_at;
    int one_source; /* CT_PROBE_PATHS: one segment holds every row of the window: no path leaves it */
} ct_window;

/* The index of one collection: every block of every segment, segments one after another. */
typedef struct {
    size_t nblocks;
    const int64_t *b_t_min, *b_t_max, *b_oid_min, *b_oid_max;
    const double *b_x_min, *b_x_max, *b_y_min, *b_y_max;
    const int64_t *b_chunk0; /* nblocks + 1 entries: block k owns chunks [b_chunk0[k], b_chunk0[k + 1]) */
    const uint8_t *b_space;  /* per block, 0 = never prune it by space (NULL: all 1) */
    const int64_t *c_t_min, *c_t_max, *c_oid_min, *c_oid_max;
    const float *c_x_min, *c_x_max, *c_y_min, *c_y_max;
    const uint8_t *c_flags;
} ct_stindex;

typedef struct {
    uint64_t blocks_considered; /* blocks tested */
    uint64_t blocks_matched;    /* blocks whose summary passed */
    uint64_t chunks_considered; /* chunks tested */
    uint64_t chunks_matched;    /* chunk ids returned */
} ct_probe_stats;

/* A polygon or multipolygon: parts of rings (first ring of a part is the
 * exterior, the others holes; rings not closed). A point is inside a part when
 * it is inside an odd number of its rings (crossing rule), inside the polygon
 * when inside any part. */
typedef struct {
    size_t nparts;
    const int64_t *part_ring0; /* nparts + 1 */
    const int64_t *ring_v0;    /* nrings + 1 */
    const double *vx, *vy;
} ct_polygon;

/* Chunk summaries of a segment's rows (sorted by oid, t). Blocks hold block_rows[k]
 * rows; each block is cut into chunks of chunk_rows (the last may be shorter).
 * Outputs have one entry per chunk; returns the number of chunks or a ct_status. */
int64_t ct_chunk_summaries(size_t n, const int64_t *oid, const int64_t *t, const double *x, const double *y,
                           const int64_t *block_rows, size_t nblocks, size_t chunk_rows, int geographic,
                           int64_t *t_min, int64_t *t_max, int64_t *oid_min, int64_t *oid_max, float *x_min,
                           float *x_max, float *y_min, float *y_max, uint8_t *flags, size_t cap);

/* Ids of the chunks that may hold rows of the window, ascending; returns their
 * number or a ct_status. cap must hold every chunk of the blocks that pass
 * (the total number of chunks always does), else CT_ERR_ARG; nothing is
 * written past cap. An unknown mode is CT_ERR_ARG. */
int64_t ct_probe(const ct_stindex *ix, const ct_window *w, int mode, int64_t *out, size_t cap, ct_probe_stats *st);

/* Exact filter over the rows of the given chunks of one segment: row0 (local
 * chunk ids, nchunks + 1 entries) gives the chunk's rows. x and y may be NULL
 * when the window has no box and there is no polygon; t when nsel is 0. Writes
 * matching row numbers (ascending) to out; returns their number or a ct_status.
 * cap must hold every row of the selected chunks (else CT_ERR_ARG, nothing is
 * written past cap). */
int64_t ct_filter(const int64_t *t, const double *x, const double *y, const int64_t *row0, size_t nchunks,
                  const int64_t *chunks, size_t nsel, const ct_window *w, const ct_polygon *poly, int64_t *out,
                  size_t cap, uint64_t *rows_scanned);

/* ct_filter with the index at hand: chunks whose summary (ix, global id chunk_base +
 * local id) lies wholly inside the window and one box are taken whole, their rows
 * not read (never with a polygon); rows_scanned counts the rows tested. */
int64_t ct_filter_index(const ct_stindex *ix, int64_t chunk_base, const int64_t *t, const double *x, const double *y,
                        const int64_t *row0, size_t nchunks, const int64_t *chunks, size_t nsel, const ct_window *w,
                        const ct_polygon *poly, int64_t *out, size_t cap, uint64_t *rows_scanned);

/* For interpolation at `at`: of the selected chunks' rows (sorted by oid, t), only
 * each object's last row before `at` and first row at or after it, per chunk, and
 * only those in [lo, hi] (ascending). Every object's two samples around `at` are
 * among them, so ct_bracket on them gives what it gives on all rows. ix (with
 * chunk_base) lets chunks of one object skip the object column; may be NULL. */
int64_t ct_filter_around(const ct_stindex *ix, int64_t chunk_base, const int64_t *oid, const int64_t *t,
                         const int64_t *row0, size_t nchunks, const int64_t *chunks, size_t nsel, int64_t at,
                         int64_t lo, int64_t hi, int64_t *out, size_t cap, uint64_t *rows_scanned);

/* The same test over all n rows (unflushed rows, merged partitions). */
int64_t ct_filter_all(size_t n, const int64_t *t, const double *x, const double *y, const ct_window *w,
                      const ct_polygon *poly, int64_t *out, size_t cap);

int ct_point_in_polygon(const ct_polygon *p, double px, double py);

/* Each object's position at `at` in rows sorted by (oid, t) with unique keys:
 * the row at `at`, or the pair around it at most max_gap apart. Writes per object
 * with a position the two rows and the weight of the second; returns the count. */
int64_t ct_bracket(size_t n, const int64_t *oid, const int64_t *t, int64_t at, int64_t max_gap, int64_t *i0,
                   int64_t *i1, double *w, size_t cap);

/* Douglas-Peucker: keep[i] = 1 for the samples kept with tolerance tol (metres in
 * a local tangent plane when geographic, else plane units). */
int ct_simplify(size_t n, const double *x, const double *y, double tol, int geographic, uint8_t *keep);

enum { CT_STAT_COUNT = 0, CT_STAT_SUM = 1, CT_STAT_MEAN = 2, CT_STAT_MIN = 3, CT_STAT_MAX = 4 };

typedef struct {
    int space, time;          /* which axes the grid has */
    double cx, cy;            /* cell size */
    int64_t ix0, iy0, nx, ny; /* first cell index, cells per axis */
    int wrap;                 /* the box crosses the antimeridian: x < wrap_x gets +360 */
    double wrap_x;
    int64_t bucket, b0, nt;   /* bucket length (ns), first bucket index, buckets */
} ct_grid_spec;

/* Bin n rows: count[cell] += 1; for stats other than count, acc and valid
 * (rows with a non-NaN value) are updated. Rows outside the grid are skipped. */
int ct_grid(size_t n, const double *x, const double *y, const int64_t *t, const double *v, const ct_grid_spec *g,
            int stat, int64_t *count, int64_t *valid, double *acc);

#ifdef __cplusplus
}
#endif
#endif
