/* Space-time index and query kernels (see ct_query.h). */
#include "ct_query.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ct_error.h"
#include "ct_kernels.h"

#define CT_EARTH_RADIUS_M 6371008.8
#define CT_DEG 0.017453292519943295

/* float bounds that contain the double value: rounded down / up */
static inline float f_down(double v)
{
    float f = (float)v;
    return (double)f > v ? nextafterf(f, -INFINITY) : f;
}
static inline float f_up(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

int64_t ct_chunk_summaries(size_t n, const int64_t *oid, const int64_t *t, const double *x, const double *y,
                           const int64_t *block_rows, size_t nblocks, size_t chunk_rows, int geographic,
                           int64_t *t_min, int64_t *t_max, int64_t *oid_min, int64_t *oid_max, float *x_min,
                           float *x_max, float *y_min, float *y_max, uint8_t *flags, size_t cap)
{
    if (!chunk_rows || (n && (!oid || !t || !x || !y)) || (nblocks && !block_rows)) return CT_ERR_ARG;
    size_t row = 0, c = 0;
    for (size_t b = 0; b < nblocks; b++) {
        if (block_rows[b] < 0 || (size_t)block_rows[b] > n - row) return CT_ERR_ARG;
        const size_t end_b = row + (size_t)block_rows[b];
        for (size_t s = row; s < end_b; s += chunk_rows) {
            if (c >= cap) return CT_ERR_ARG;
            const size_t e = s + chunk_rows < end_b ? s + chunk_rows : end_b;
            int64_t t0 = t[s], t1 = t[s];
            double x0 = x[s], x1 = x[s], y0 = y[s], y1 = y[s];
            uint8_t fl = 0;
            for (size_t i = s; i < e; i++) {
                t0 = t[i] < t0 ? t[i] : t0;
                t1 = t[i] > t1 ? t[i] : t1;
                x0 = x[i] < x0 ? x[i] : x0;
                x1 = x[i] > x1 ? x[i] : x1;
                y0 = y[i] < y0 ? y[i] : y0;
                y1 = y[i] > y1 ? y[i] : y1;
                if (i == 0 || oid[i - 1] != oid[i]) fl |= CT_CHUNK_RUN_START;
                if (i + 1 == n || oid[i + 1] != oid[i]) {
                    fl |= CT_CHUNK_RUN_END;
                } else {
                    /* the path to the next sample of the object lies in this chunk's box */
                    const double nx = x[i + 1], ny = y[i + 1];
                    if (geographic && fabs(nx - x[i]) > 180.0) { /* it goes round the antimeridian */
                        x0 = x0 < -180.0 ? x0 : -180.0;
                        x1 = x1 > 180.0 ? x1 : 180.0;
                    }
                    x0 = nx < x0 ? nx : x0;
                    x1 = nx > x1 ? nx : x1;
                    y0 = ny < y0 ? ny : y0;
                    y1 = ny > y1 ? ny : y1;
                }
            }
            t_min[c] = t0;
            t_max[c] = t1;
            oid_min[c] = oid[s]; /* rows are sorted by object */
            oid_max[c] = oid[e - 1];
            x_min[c] = f_down(x0);
            x_max[c] = f_up(x1);
            y_min[c] = f_down(y0);
            y_max[c] = f_up(y1);
            flags[c] = fl;
            c++;
        }
        row = end_b;
    }
    if (row != n) return CT_ERR_ARG;
    return (int64_t)c;
}

/* does the sorted set hold a code in [lo, hi]? */
static inline int holds_oid(const ct_window *w, int64_t lo, int64_t hi)
{
    if (!w->oids) return 1;
    size_t a = 0, b = w->noids;
    while (a < b) {
        const size_t mid = a + (b - a) / 2;
        if (w->oids[mid] < lo) a = mid + 1;
        else b = mid;
    }
    return a < w->noids && w->oids[a] <= hi;
}

static inline int boxes_overlap(const ct_window *w, double x0, double y0, double x1, double y1)
{
    int hit = 0;
    for (int k = 0; k < w->nbox; k++)
        hit |= (x1 >= w->box[k][0]) & (x0 <= w->box[k][2]) & (y1 >= w->box[k][1]) & (y0 <= w->box[k][3]);
    return hit;
}

/* May a path around t_at join chunk c to a sample in another segment? Only from the last sample
 * of an object's run (if it is at or before t_at) or to the first (if at or after t_at). */
static inline int edge_path(const ct_stindex *ix, int64_t c, const ct_window *w)
{
    const uint8_t fl = ix->c_flags[c];
    if (!fl || w->one_source) return 0;
    if (!w->has_at || ix->c_oid_min[c] != ix->c_oid_max[c]) return 1; /* several objects: any may end here */
    return ((fl & CT_CHUNK_RUN_END) && ix->c_t_max[c] <= w->t_at) || ((fl & CT_CHUNK_RUN_START) && ix->c_t_min[c] >= w->t_at);
}

int64_t ct_probe(const ct_stindex *ix, const ct_window *w, int mode, int64_t *out, size_t cap, ct_probe_stats *st)
{
    if (!ix || !w || !st || w->nbox < 0 || w->nbox > 2 || mode < CT_PROBE_CHUNKS || mode > CT_PROBE_PATHS)
        return CT_ERR_ARG;
    st->blocks_considered = ix->nblocks;
    st->blocks_matched = st->chunks_considered = st->chunks_matched = 0;
    size_t k = 0;
    for (size_t b = 0; b < ix->nblocks; b++) {
        int pass = (ix->b_t_max[b] >= w->t_lo) & (ix->b_t_min[b] <= w->t_hi) & (ix->b_oid_max[b] >= w->oid_lo) &
                   (ix->b_oid_min[b] <= w->oid_hi);
        const int space = w->nbox > 0 && (!ix->b_space || ix->b_space[b]);
        /* block boxes cover the block's samples only, not the paths leaving it */
        if (pass && w->oids) pass = holds_oid(w, ix->b_oid_min[b], ix->b_oid_max[b]);
        if (pass && space && mode != CT_PROBE_PATHS)
            pass = boxes_overlap(w, ix->b_x_min[b], ix->b_y_min[b], ix->b_x_max[b], ix->b_y_max[b]);
        if (!pass) continue;
        st->blocks_matched++;
        const int64_t c0 = ix->b_chunk0[b], c1 = ix->b_chunk0[b + 1];
        if (c1 < c0) return CT_ERR_ARG;
        st->chunks_considered += (uint64_t)(c1 - c0);
        if ((size_t)(c1 - c0) > cap - k) return CT_ERR_ARG;
        if (mode == CT_PROBE_BLOCKS) {
            for (int64_t c = c0; c < c1; c++) out[k++] = c;
            continue;
        }
        for (int64_t c = c0; c < c1; c++) {
            int hit = (ix->c_t_max[c] >= w->t_lo) & (ix->c_t_min[c] <= w->t_hi);
            if (space && !(mode == CT_PROBE_PATHS && edge_path(ix, c, w)))
                hit &= boxes_overlap(w, ix->c_x_min[c], ix->c_y_min[c], ix->c_x_max[c], ix->c_y_max[c]);
            if (hit && w->oids) hit = holds_oid(w, ix->c_oid_min[c], ix->c_oid_max[c]);
            out[k] = c;
            k += (size_t)hit;
        }
    }
    st->chunks_matched = k;
    return (int64_t)k;
}

int ct_point_in_polygon(const ct_polygon *p, double px, double py)
{
    for (size_t part = 0; part < p->nparts; part++) {
        int inside = 0;
        for (int64_t r = p->part_ring0[part]; r < p->part_ring0[part + 1]; r++) {
            const int64_t v0 = p->ring_v0[r], v1 = p->ring_v0[r + 1];
            for (int64_t i = v0, j = v1 - 1; i < v1; j = i++) {
                const double xi = p->vx[i], yi = p->vy[i], xj = p->vx[j], yj = p->vy[j];
                if (((yi > py) != (yj > py)) && (px < (xj - xi) * (py - yi) / (yj - yi) + xi)) inside = !inside;
            }
        }
        if (inside) return 1;
    }
    return 0;
}

static inline int row_passes(const ct_window *w, const ct_polygon *poly, int64_t t, const double *x, const double *y,
                             size_t i)
{
    int keep = (t >= w->t_lo) & (t <= w->t_hi);
    if (keep && w->nbox) {
        const double xv = x[i], yv = y[i];
        int in = 0;
        for (int k = 0; k < w->nbox; k++)
            in |= (xv >= w->box[k][0]) & (xv <= w->box[k][2]) & (yv >= w->box[k][1]) & (yv <= w->box[k][3]);
        keep = in;
    }
    if (keep && poly) keep = ct_point_in_polygon(poly, x[i], y[i]);
    return keep;
}

/* Test rows [s, e) and append the passing ones to out from position k; returns the new k. */
static size_t filter_range(const int64_t *t, const double *x, const double *y, int64_t s, int64_t e, const ct_window *w,
                           const ct_polygon *poly, int64_t *out, size_t k)
{
    if (!w->nbox && !poly) {
        for (int64_t i = s; i < e; i++) {
            out[k] = i;
            k += (size_t)((t[i] >= w->t_lo) & (t[i] <= w->t_hi));
        }
    } else if (w->nbox == 1 && !poly) { /* the common case: a SIMD mask, then a compress */
        const ct_kernels *kern = ct_kernels_get();
        uint8_t m[256];
        for (int64_t a = s; a < e; a += 256) {
            const size_t len = (size_t)(e - a < 256 ? e - a : 256);
            kern->box_mask(t + a, x + a, y + a, len, w->t_lo, w->t_hi, w->box[0], m);
            size_t i = 0;
            for (; i + 8 <= len; i += 8) { /* rows pass in runs: skip eight at a time */
                uint64_t word;
                memcpy(&word, m + i, 8);
                if (!word) continue;
                for (size_t r = i; r < i + 8; r++) {
                    out[k] = a + (int64_t)r;
                    k += m[r];
                }
            }
            for (; i < len; i++) {
                out[k] = a + (int64_t)i;
                k += m[i];
            }
        }
    } else {
        for (int64_t i = s; i < e; i++) {
            out[k] = i;
            k += (size_t)row_passes(w, poly, t[i], x, y, (size_t)i);
        }
    }
    return k;
}

/* chunks whose rows the filter asks memory for ahead of testing them */
#define CT_PREFETCH_CHUNKS 6

/* What the filter must test of chunk c's rows, from its summary: CT_TEST_ALL, nothing
 * (CT_TAKE_ALL: wholly inside the window and one box), only the boxes (time inside)
 * or only the time (inside one box). Always CT_TEST_ALL with a polygon or no index. */
enum { CT_TEST_ALL = 0, CT_TAKE_ALL = 1, CT_TEST_SPACE = 2, CT_TEST_TIME = 3 };

static inline int chunk_test(const ct_stindex *ix, int64_t c, const ct_window *w, const ct_polygon *poly)
{
    if (!ix || poly) return CT_TEST_ALL;
    const int time_in = ix->c_t_min[c] >= w->t_lo && ix->c_t_max[c] <= w->t_hi;
    int space_in = !w->nbox;
    const double x0 = ix->c_x_min[c], x1 = ix->c_x_max[c], y0 = ix->c_y_min[c], y1 = ix->c_y_max[c];
    for (int b = 0; b < w->nbox; b++)
        space_in |= (x0 >= w->box[b][0]) & (x1 <= w->box[b][2]) & (y0 >= w->box[b][1]) & (y1 <= w->box[b][3]);
    return time_in && space_in ? CT_TAKE_ALL : time_in ? CT_TEST_SPACE : space_in ? CT_TEST_TIME : CT_TEST_ALL;
}

/* Rows [s, e) whose x, y lie in one of the boxes (their time is known to pass). */
static size_t filter_space(const double *x, const double *y, int64_t s, int64_t e, const ct_window *w, int64_t *out,
                           size_t k)
{
    for (int64_t i = s; i < e; i++) {
        int in = 0;
        for (int b = 0; b < w->nbox; b++)
            in |= (x[i] >= w->box[b][0]) & (x[i] <= w->box[b][2]) & (y[i] >= w->box[b][1]) & (y[i] <= w->box[b][3]);
        out[k] = i;
        k += (size_t)in;
    }
    return k;
}

int64_t ct_filter_index(const ct_stindex *ix, int64_t chunk_base, const int64_t *t, const double *x, const double *y,
                        const int64_t *row0, size_t nchunks, const int64_t *chunks, size_t nsel, const ct_window *w,
                        const ct_polygon *poly, int64_t *out, size_t cap, uint64_t *rows_scanned)
{
    if (!rows_scanned) return CT_ERR_ARG;
    *rows_scanned = 0;
    if (!row0 || !w || (nsel && (!chunks || !t)) || (nsel && (w->nbox || poly) && (!x || !y)) || chunk_base < 0)
        return CT_ERR_ARG;
    size_t k = 0, pf = 0;
    uint64_t scanned = 0;
    for (size_t j = 0; j < nsel;) {
        /* the chunks lie scattered in memory: ask for the rows of the next few ahead of time */
        for (; pf < nsel && pf < j + CT_PREFETCH_CHUNKS; pf++) {
            const int64_t pc = chunks[pf];
            if (pc < 0 || (size_t)pc >= nchunks || row0[pc] < 0 || row0[pc + 1] < row0[pc]) continue;
            for (int64_t r = row0[pc]; r < row0[pc + 1]; r += 8) {
                __builtin_prefetch(t + r);
                if (x) __builtin_prefetch(x + r);
                if (y) __builtin_prefetch(y + r);
            }
        }
        /* coalesce runs of consecutive chunks that need the same test into one row range */
        const int64_t c = chunks[j];
        if (c < 0 || (size_t)c >= nchunks) return CT_ERR_ARG;
        const int test = chunk_test(ix, chunk_base + c, w, poly);
        int64_t last = c;
        j++;
        while (j < nsel && (size_t)last + 1 < nchunks && chunks[j] == last + 1 &&
               chunk_test(ix, chunk_base + chunks[j], w, poly) == test)
            last = chunks[j++];
        const int64_t s = row0[c], e = row0[last + 1];
        if (s < 0 || e < s) return CT_ERR_ARG;
        if ((size_t)(e - s) > cap - k) return CT_ERR_ARG;
        if (test == CT_TAKE_ALL) { /* every row passes: no need to read them */
            for (int64_t i = s; i < e; i++) out[k++] = i;
            continue;
        }
        scanned += (uint64_t)(e - s);
        if (test == CT_TEST_SPACE) {
            k = filter_space(x, y, s, e, w, out, k);
        } else if (test == CT_TEST_TIME) {
            for (int64_t i = s; i < e; i++) {
                out[k] = i;
                k += (size_t)((t[i] >= w->t_lo) & (t[i] <= w->t_hi));
            }
        } else {
            k = filter_range(t, x, y, s, e, w, poly, out, k);
        }
    }
    *rows_scanned = scanned;
    return (int64_t)k;
}

int64_t ct_filter(const int64_t *t, const double *x, const double *y, const int64_t *row0, size_t nchunks,
                  const int64_t *chunks, size_t nsel, const ct_window *w, const ct_polygon *poly, int64_t *out,
                  size_t cap, uint64_t *rows_scanned)
{
    return ct_filter_index(NULL, 0, t, x, y, row0, nchunks, chunks, nsel, w, poly, out, cap, rows_scanned);
}

int64_t ct_filter_around(const ct_stindex *ix, int64_t chunk_base, const int64_t *oid, const int64_t *t,
                         const int64_t *row0, size_t nchunks, const int64_t *chunks, size_t nsel, int64_t at,
                         int64_t lo, int64_t hi, int64_t *out, size_t cap, uint64_t *rows_scanned)
{
    if (!rows_scanned) return CT_ERR_ARG;
    *rows_scanned = 0;
    if (!row0 || (nsel && (!chunks || !t || !oid)) || chunk_base < 0) return CT_ERR_ARG;
    size_t k = 0, pf = 0;
    uint64_t scanned = 0;
    for (size_t j = 0; j < nsel; j++) {
        for (; pf < nsel && pf < j + 2 * CT_PREFETCH_CHUNKS; pf++) { /* scattered chunks: ask for them early */
            const int64_t pc = chunks[pf];
            if (pc < 0 || (size_t)pc >= nchunks || row0[pc] < 0 || row0[pc + 1] < row0[pc]) continue;
            for (int64_t r = row0[pc]; r < row0[pc + 1]; r += 8) __builtin_prefetch(t + r);
        }
        const int64_t c = chunks[j];
        if (c < 0 || (size_t)c >= nchunks || (j && c <= chunks[j - 1])) return CT_ERR_ARG;
        const int64_t s = row0[c], e = row0[c + 1];
        if (s < 0 || e < s) return CT_ERR_ARG;
        scanned += (uint64_t)(e - s);
        /* a chunk of one object needs no look at the object column */
        const int one = ix && ix->c_oid_min[chunk_base + c] == ix->c_oid_max[chunk_base + c];
        for (int64_t a = s; a < e;) {
            int64_t b = e;
            if (!one)
                for (b = a + 1; b < e && oid[b] == oid[a]; b++) {
                }
            int64_t l = a, h = b; /* the object's first row at or after `at` */
            while (l < h) {
                const int64_t mid = l + (h - l) / 2;
                if (t[mid] < at) l = mid + 1;
                else h = mid;
            }
            if (cap - k < 2) return CT_ERR_ARG;
            if (l > a && t[l - 1] >= lo) out[k++] = l - 1; /* its last row before `at` */
            if (l < b && t[l] <= hi) out[k++] = l;
            a = b;
        }
    }
    *rows_scanned = scanned;
    return (int64_t)k;
}

int64_t ct_filter_all(size_t n, const int64_t *t, const double *x, const double *y, const ct_window *w,
                      const ct_polygon *poly, int64_t *out, size_t cap)
{
    if (!w || cap < n || (n && !t) || (n && (w->nbox || poly) && (!x || !y))) return CT_ERR_ARG;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k] = (int64_t)i;
        k += (size_t)row_passes(w, poly, t[i], x, y, i);
    }
    return (int64_t)k;
}

int64_t ct_bracket(size_t n, const int64_t *oid, const int64_t *t, int64_t at, int64_t max_gap, int64_t *i0,
                   int64_t *i1, double *w, size_t cap)
{
    if ((n && (!oid || !t)) || max_gap < 0) return CT_ERR_ARG;
    size_t k = 0;
    for (size_t s = 0; s < n;) {
        size_t e = s + 1;
        while (e < n && oid[e] == oid[s]) e++;
        /* first row of the run with t >= at */
        size_t lo = s, hi = e;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (t[mid] < at) lo = mid + 1;
            else hi = mid;
        }
        int found = 0;
        size_t a = 0, b = 0;
        double wt = 0.0;
        if (lo < e && t[lo] == at) {
            a = b = lo;
            found = 1;
        } else if (lo > s && lo < e) {
            a = lo - 1;
            b = lo;
            /* the gap in unsigned arithmetic: t[b] - t[a] may exceed INT64_MAX */
            const uint64_t gap = (uint64_t)t[b] - (uint64_t)t[a];
            if (gap <= (uint64_t)max_gap) {
                wt = (double)(int64_t)((uint64_t)at - (uint64_t)t[a]) / (double)(int64_t)gap;
                found = 1;
            }
        }
        if (found) {
            if (k >= cap) return CT_ERR_ARG;
            i0[k] = (int64_t)a;
            i1[k] = (int64_t)b;
            w[k] = wt;
            k++;
        }
        s = e;
    }
    return (int64_t)k;
}

/* distance from p to the segment a-b, all in one plane */
static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    const double dx = bx - ax, dy = by - ay;
    const double len2 = dx * dx + dy * dy;
    double u = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0.0;
    u = u < 0 ? 0 : (u > 1 ? 1 : u);
    const double ex = ax + u * dx - px, ey = ay + u * dy - py;
    return sqrt(ex * ex + ey * ey);
}

static double wrap_deg(double d)
{
    return d > 180.0 ? d - 360.0 : (d < -180.0 ? d + 360.0 : d);
}

/* distance from sample p to the segment a-b: in metres in the tangent plane at a when geographic */
static double path_dist(const double *x, const double *y, size_t p, size_t a, size_t b, int geographic)
{
    if (!geographic) return seg_dist(x[p], y[p], x[a], y[a], x[b], y[b]);
    const double k = CT_DEG * CT_EARTH_RADIUS_M, c = cos((y[a] + y[b]) * 0.5 * CT_DEG);
    const double px = wrap_deg(x[p] - x[a]) * c * k, py = (y[p] - y[a]) * k;
    const double bx = wrap_deg(x[b] - x[a]) * c * k, by = (y[b] - y[a]) * k;
    return seg_dist(px, py, 0.0, 0.0, bx, by);
}

int ct_simplify(size_t n, const double *x, const double *y, double tol, int geographic, uint8_t *keep)
{
    if ((n && (!x || !y || !keep)) || !(tol >= 0)) return CT_ERR_ARG;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) keep[i] = 0;
    keep[0] = keep[n - 1] = 1;
    if (n < 3) return 0;
    /* an explicit stack of index ranges: depth at most n, no recursion */
    size_t *stack = NULL, top = 0, cap = 64;
    stack = (size_t *)malloc(cap * 2 * sizeof(size_t));
    if (!stack) return CT_ERR_NOMEM;
    stack[0] = 0;
    stack[1] = n - 1;
    top = 1;
    while (top) {
        top--;
        const size_t a = stack[2 * top], b = stack[2 * top + 1];
        double far = -1.0;
        size_t at = a;
        for (size_t i = a + 1; i < b; i++) {
            const double d = path_dist(x, y, i, a, b, geographic);
            if (d > far) {
                far = d;
                at = i;
            }
        }
        if (at == a || !(far > tol)) continue;
        keep[at] = 1;
        if (top + 2 > cap) {
            size_t *grown = (size_t *)realloc(stack, cap * 4 * sizeof(size_t));
            if (!grown) {
                free(stack);
                return CT_ERR_NOMEM;
            }
            stack = grown;
            cap *= 2;
        }
        stack[2 * top] = a;
        stack[2 * top + 1] = at;
        top++;
        stack[2 * top] = at;
        stack[2 * top + 1] = b;
        top++;
    }
    free(stack);
    return 0;
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int ct_grid(size_t n, const double *x, const double *y, const int64_t *t, const double *v, const ct_grid_spec *g,
            int stat, int64_t *count, int64_t *valid, double *acc)
{
    if (!g || !count || (g->space && (!(g->cx > 0) || !(g->cy > 0))) || (g->time && g->bucket <= 0) ||
        (n && g->space && (!x || !y)) || (n && g->time && !t) ||
        (stat != CT_STAT_COUNT && (!valid || !acc || (n && !v))) || stat < 0 || stat > CT_STAT_MAX)
        return CT_ERR_ARG;
    const int64_t nx = g->space ? g->nx : 1, ny = g->space ? g->ny : 1, nt = g->time ? g->nt : 1;
    for (size_t i = 0; i < n; i++) {
        int64_t cell = 0;
        if (g->time) {
            int64_t b;
            if (__builtin_sub_overflow(floor_div(t[i], g->bucket), g->b0, &b) || b < 0 || b >= nt) continue;
            cell = b;
        }
        if (g->space) {
            double xv = x[i];
            if (g->wrap && xv < g->wrap_x) xv += 360.0;
            const double fx = floor(xv / g->cx), fy = floor(y[i] / g->cy);
            if (!(fx >= -9.2e18 && fx <= 9.2e18 && fy >= -9.2e18 && fy <= 9.2e18)) continue;
            const int64_t ix = (int64_t)fx - g->ix0, iy = (int64_t)fy - g->iy0;
            if (ix < 0 || ix >= nx || iy < 0 || iy >= ny) continue;
            cell = (cell * ny + iy) * nx + ix;
        }
        count[cell]++;
        if (stat == CT_STAT_COUNT || isnan(v[i])) continue;
        valid[cell]++;
        const double a = acc[cell], val = v[i];
        acc[cell] = stat == CT_STAT_MIN ? (val < a ? val : a) : stat == CT_STAT_MAX ? (val > a ? val : a) : a + val;
    }
    return 0;
}
