/*
 * test_query.c - the space-time index and query kernels (ct_query.h) and the
 * in-place block decoder (ct_blocks_decode_at) against brute-force references.
 *
 * Every kernel is run on a few thousand random cases from a seeded xorshift
 * generator (sizes include 0 and 1), and on hand-made edge cases: points on
 * window borders, extreme int64 times, chunk boxes across the antimeridian,
 * polygons with holes and several parts. Output capacities are checked both
 * ways: too small is CT_ERR_ARG, and nothing is written past cap.
 * Exit 0 on success; on failure messages on stderr and exit 1.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_block.h"
#include "ct_error.h"
#include "ct_kernels.h"
#include "ct_query.h"

static int failures;
#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            if (failures < 40) { /* the first few in full, then only the count */   \
                fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
                fprintf(stderr, __VA_ARGS__);                                       \
                fputc('\n', stderr);                                                \
            }                                                                       \
            failures++;                                                             \
        }                                                                           \
    } while (0)

/* ---- random numbers ---- */

static uint64_t rng_state = 0x5DEECE66D2545F49ull;
static uint64_t rnd(void) /* xorshift64 */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }
/* uniform in [lo, hi], for small spans only */
static int64_t irange(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }
static double unit(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }
static double uniform(double a, double b) { return a + (b - a) * unit(); }
/* a size: 0, 1 and 2 often, else anything up to max */
static size_t pick_size(size_t max)
{
    switch (rnd() % 8) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    default: return below(max + 1);
    }
}
static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}
static int cmp_i64(const void *a, const void *b)
{
    const int64_t u = *(const int64_t *)a, v = *(const int64_t *)b;
    return (u > v) - (u < v);
}

/* ---- random segment rows: sorted by (oid, t), t unique per object ---- */

enum { XY_GRID = 0, XY_REAL = 1, XY_GEO = 2, XY_WILD = 3, XY_KINDS = 4 };

/* values at the edges of float32: beyond its range, tiny, float-exact, large */
static double wild_value(void)
{
    const double sign = (rnd() & 1) ? -1.0 : 1.0;
    switch (rnd() % 6) {
    case 0: return (double)(float)uniform(-100.0, 100.0);
    case 1: return sign * 1e300 * unit();
    case 2: return sign * 1e-300 * unit();
    case 3: return sign * (double)FLT_MAX * (1.0 + 1e-3 * unit());
    case 4: return sign * (double)FLT_MAX * (1.0 - 1e-9 * unit());
    default: return uniform(-1e6, 1e6);
    }
}

static void gen_rows(size_t n, int kind, int64_t *oid, int64_t *t, double *x, double *y)
{
    int64_t o = irange(-3, 3), tt = 0;
    for (size_t i = 0; i < n; i++) {
        const int fresh = i == 0 || rnd() % 6 == 0;
        if (fresh) {
            if (i) o += 1 + (int64_t)below(3);
            tt = irange(-1000, 1000);
        } else {
            tt += 1 + (int64_t)below(60);
        }
        oid[i] = o;
        t[i] = tt;
        switch (kind) {
        case XY_GRID: /* quarter steps: windows on the same grid put points on their borders */
            x[i] = 0.25 * (double)irange(-40, 40);
            y[i] = 0.25 * (double)irange(-40, 40);
            break;
        case XY_REAL:
            x[i] = uniform(-10.0, 10.0);
            y[i] = uniform(-10.0, 10.0);
            break;
        case XY_GEO: /* a walk in [-180, 180] that often goes round the antimeridian */
            if (fresh || rnd() % 8 == 0) {
                const int r = (int)(rnd() % 3);
                x[i] = r == 0 ? uniform(179.0, 180.0) : r == 1 ? uniform(-180.0, -179.0) : uniform(-180.0, 180.0);
            } else {
                double v = x[i - 1] + uniform(-3.0, 3.0);
                if (v > 180.0) v -= 360.0;
                if (v < -180.0) v += 360.0;
                x[i] = v;
            }
            y[i] = uniform(-85.0, 85.0);
            break;
        default:
            x[i] = wild_value();
            y[i] = wild_value();
        }
    }
}

/* Cut n rows into blocks: either fixed rows per block (the last shorter, as
 * segments are cut) or random sizes (empty blocks when allow_empty). */
static size_t gen_blocks(size_t n, int allow_empty, int64_t *br, size_t maxb)
{
    size_t nb = 0;
    if (rnd() & 1) {
        const size_t rpb = 1 + below(40);
        for (size_t r = 0; r < n; r += rpb) br[nb++] = (int64_t)(n - r < rpb ? n - r : rpb);
    } else {
        size_t r = 0;
        while (r < n && nb + 2 < maxb) {
            size_t k = (allow_empty ? 0 : 1) + below(30);
            if (k > n - r) k = n - r;
            br[nb++] = (int64_t)k;
            r += k;
        }
        if (r < n) br[nb++] = (int64_t)(n - r);
        if (allow_empty && nb < maxb && rnd() % 4 == 0) br[nb++] = 0;
    }
    return nb;
}

/* ---- ct_chunk_summaries ---- */

/* the output columns of ct_chunk_summaries */
typedef struct {
    int64_t *t_min, *t_max, *oid_min, *oid_max;
    float *x_min, *x_max, *y_min, *y_max;
    uint8_t *flags;
} chunk_cols;

static int64_t summarise(size_t n, const int64_t *oid, const int64_t *t, const double *x, const double *y,
                         const int64_t *br, size_t nb, size_t chunk_rows, int geographic, const chunk_cols *o,
                         size_t cap)
{
    return ct_chunk_summaries(n, oid, t, x, y, br, nb, chunk_rows, geographic, o->t_min, o->t_max, o->oid_min,
                              o->oid_max, o->x_min, o->x_max, o->y_min, o->y_max, o->flags, cap);
}

/* float f is the largest float <= v (lower bound rounded outwards, tight) */
static int tight_down(float f, double v) { return (double)f <= v && (double)nextafterf(f, INFINITY) > v; }
static int tight_up(float f, double v) { return (double)f >= v && (double)nextafterf(f, -INFINITY) < v; }

/* Check the got chunks' summaries of rows against a direct computation. */
static void check_summaries(size_t n, const int64_t *oid, const int64_t *t, const double *x, const double *y,
                            const int64_t *br, size_t nb, size_t chunk_rows, int geographic, const chunk_cols *o,
                            size_t got)
{
    size_t row = 0, c = 0;
    for (size_t b = 0; b < nb; b++) {
        const size_t end = row + (size_t)br[b];
        for (size_t s = row; s < end; s += chunk_rows, c++) {
            if (c >= got) continue; /* count mismatch: reported by the caller */
            const size_t e = end - s < chunk_rows ? end : s + chunk_rows;
            int64_t t0 = INT64_MAX, t1 = INT64_MIN, o0 = INT64_MAX, o1 = INT64_MIN;
            double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
            int widen = 0, start = 0, stop = 0;
            const double bx0 = (double)o->x_min[c], bx1 = (double)o->x_max[c];
            const double by0 = (double)o->y_min[c], by1 = (double)o->y_max[c];
            for (size_t i = s; i < e; i++) {
                if (t[i] < t0) t0 = t[i];
                if (t[i] > t1) t1 = t[i];
                if (oid[i] < o0) o0 = oid[i];
                if (oid[i] > o1) o1 = oid[i];
                /* the row and, when the object goes on, its next row */
                const size_t last = (i + 1 < n && oid[i + 1] == oid[i]) ? i + 1 : i;
                for (size_t j = i; j <= last; j++) {
                    if (x[j] < x0) x0 = x[j];
                    if (x[j] > x1) x1 = x[j];
                    if (y[j] < y0) y0 = y[j];
                    if (y[j] > y1) y1 = y[j];
                    CHECK(bx0 <= x[j] && x[j] <= bx1 && by0 <= y[j] && y[j] <= by1,
                          "chunk %zu: row %zu (%.17g, %.17g) of rows %zu..%zu outside [%.9g %.9g]x[%.9g %.9g]", c, j,
                          x[j], y[j], s, e, bx0, bx1, by0, by1);
                }
                if (last != i && geographic && fabs(x[i + 1] - x[i]) > 180.0) widen = 1;
                if (i == 0 || oid[i - 1] != oid[i]) start = 1;
                if (i + 1 == n || oid[i + 1] != oid[i]) stop = 1;
            }
            CHECK(o->t_min[c] == t0 && o->t_max[c] == t1, "chunk %zu: t %lld..%lld, expected %lld..%lld", c,
                  (long long)o->t_min[c], (long long)o->t_max[c], (long long)t0, (long long)t1);
            CHECK(o->oid_min[c] == o0 && o->oid_max[c] == o1, "chunk %zu: objects %lld..%lld, expected %lld..%lld", c,
                  (long long)o->oid_min[c], (long long)o->oid_max[c], (long long)o0, (long long)o1);
            if (widen) {
                CHECK(bx0 <= -180.0 && bx1 >= 180.0, "chunk %zu: a path round the antimeridian, x %.9g..%.9g", c, bx0,
                      bx1);
                x0 = x0 < -180.0 ? x0 : -180.0;
                x1 = x1 > 180.0 ? x1 : 180.0;
            }
            CHECK(tight_down(o->x_min[c], x0) && tight_up(o->x_max[c], x1) && tight_down(o->y_min[c], y0) &&
                      tight_up(o->y_max[c], y1),
                  "chunk %zu: [%.9g %.9g]x[%.9g %.9g] not the tightest float box of [%.17g %.17g]x[%.17g %.17g]", c,
                  bx0, bx1, by0, by1, x0, x1, y0, y1);
            const uint8_t want = (uint8_t)((start ? CT_CHUNK_RUN_START : 0) | (stop ? CT_CHUNK_RUN_END : 0));
            CHECK(o->flags[c] == want, "chunk %zu: flags %u, expected %u", c, o->flags[c], want);
        }
        row = end;
    }
}

static void test_chunk_summaries(void)
{
    enum { MAXN = 300, CAP = MAXN + 8 };
    int64_t oid[MAXN], t[MAXN], br[CAP], t_min[CAP], t_max[CAP], oid_min[CAP], oid_max[CAP];
    double x[MAXN], y[MAXN];
    float x_min[CAP], x_max[CAP], y_min[CAP], y_max[CAP];
    uint8_t flags[CAP];
    const chunk_cols o = {t_min, t_max, oid_min, oid_max, x_min, x_max, y_min, y_max, flags};
    for (int trial = 0; trial < 10000; trial++) {
        const size_t n = pick_size(MAXN);
        const int kind = (int)(rnd() % XY_KINDS);
        const int geo = kind == XY_GEO ? (rnd() % 4 != 0) : 0;
        gen_rows(n, kind, oid, t, x, y);
        const size_t nb = gen_blocks(n, 1, br, CAP);
        const size_t cr = rnd() % 4 == 0 ? 1 + below(400) : 1 + below(12); /* chunk rows */
        size_t want = 0;
        for (size_t b = 0; b < nb; b++) want += ((size_t)br[b] + cr - 1) / cr;
        const int64_t got = summarise(n, oid, t, x, y, br, nb, cr, geo, &o, CAP);
        CHECK(got == (int64_t)want, "trial %d: %lld chunks, expected %zu (n %zu, %zu blocks, chunk_rows %zu)", trial,
              (long long)got, want, n, nb, cr);
        if (got < 0) continue;
        check_summaries(n, oid, t, x, y, br, nb, cr, geo, &o, (size_t)got);

        /* the exact capacity is enough, one less is an error */
        CHECK(summarise(n, oid, t, x, y, br, nb, cr, geo, &o, want) == (int64_t)want, "trial %d: cap = chunks refused",
              trial);
        if (want)
            CHECK(summarise(n, oid, t, x, y, br, nb, cr, geo, &o, want - 1) == CT_ERR_ARG,
                  "trial %d: cap = chunks - 1 accepted", trial);
        /* block rows that do not add up to n */
        if (nb) {
            const int64_t keep = br[nb - 1];
            br[nb - 1] = keep + 1;
            CHECK(summarise(n, oid, t, x, y, br, nb, cr, geo, &o, CAP) == CT_ERR_ARG,
                  "trial %d: block rows summing to n + 1 accepted", trial);
            if (keep > 0) {
                br[nb - 1] = keep - 1;
                CHECK(summarise(n, oid, t, x, y, br, nb, cr, geo, &o, CAP) == CT_ERR_ARG,
                      "trial %d: block rows summing to n - 1 accepted", trial);
            }
            br[nb - 1] = -1;
            CHECK(summarise(n, oid, t, x, y, br, nb, cr, geo, &o, CAP) == CT_ERR_ARG,
                  "trial %d: negative block rows accepted", trial);
            br[nb - 1] = keep;
        }
        if (n)
            CHECK(summarise(n, oid, t, x, y, br, 0, cr, geo, &o, CAP) == CT_ERR_ARG,
                  "trial %d: no blocks for %zu rows accepted", trial, n);
        CHECK(summarise(n, oid, t, x, y, br, nb, 0, geo, &o, CAP) == CT_ERR_ARG, "trial %d: chunk_rows 0 accepted",
              trial);
    }

    /* empty input without arrays */
    const chunk_cols none = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    CHECK(summarise(0, NULL, NULL, NULL, NULL, NULL, 0, 8, 1, &none, 0) == 0, "empty input");

    /* the antimeridian: one object from 179.9 to -179.9 (and back) */
    {
        const int64_t o2[3] = {7, 7, 7}, t2[3] = {10, 20, 30}, one[1] = {3};
        const double x2[3] = {179.9, -179.9, 179.8}, y2[3] = {60.0, 60.1, 60.2};
        for (int geo = 0; geo <= 1; geo++) {
            int64_t r = summarise(3, o2, t2, x2, y2, one, 1, 1, geo, &o, CAP);
            CHECK(r == 3, "antimeridian: %lld chunks", (long long)r);
            if (r != 3) continue;
            for (int c = 0; c < 2; c++) {
                if (geo)
                    CHECK(x_min[c] <= -180.0f && x_max[c] >= 180.0f, "antimeridian chunk %d: x %.9g..%.9g", c,
                          (double)x_min[c], (double)x_max[c]);
                else /* the plane: just the two samples */
                    CHECK(x_min[c] > -180.0f && x_max[c] < 180.0f && x_min[c] <= -179.8f && x_max[c] >= 179.8f,
                          "plane chunk %d: x %.9g..%.9g", c, (double)x_min[c], (double)x_max[c]);
            }
            /* the last sample ends the run: its chunk is just the point */
            CHECK((double)x_min[2] <= 179.8 && (double)x_max[2] >= 179.8 && x_min[2] > 179.0f,
                  "last chunk x %.9g..%.9g", (double)x_min[2], (double)x_max[2]);
            CHECK(flags[0] == CT_CHUNK_RUN_START && flags[1] == 0 && flags[2] == CT_CHUNK_RUN_END, "flags %u %u %u",
                  flags[0], flags[1], flags[2]);
            /* one chunk over everything */
            r = summarise(3, o2, t2, x2, y2, one, 1, 64, geo, &o, CAP);
            CHECK(r == 1 && flags[0] == (CT_CHUNK_RUN_START | CT_CHUNK_RUN_END) && t_min[0] == 10 && t_max[0] == 30 &&
                      oid_min[0] == 7 && oid_max[0] == 7,
                  "single chunk");
        }
    }
}

/* ---- ct_probe ---- */

typedef struct {
    size_t nb, nc, nrows;
    int64_t *bt0, *bt1, *bo0, *bo1, *bc0;
    double *bx0, *bx1, *by0, *by1;
    uint8_t *bsp;
    int64_t *ct0, *ct1, *co0, *co1;
    float *cx0, *cx1, *cy0, *cy1;
    uint8_t *cfl;
    int64_t *oid, *t, *row_chunk;
    double *x, *y;
    int64_t *out;
    int64_t set[8]; /* the window's set of objects */
} probe_data;

enum { PROBE_MAXSEG = 4, PROBE_MAXN = 250, PROBE_CAP = PROBE_MAXSEG * PROBE_MAXN + 8 };

static void probe_alloc(probe_data *d)
{
    const size_t m = PROBE_CAP;
    d->bt0 = xmalloc(m * 8), d->bt1 = xmalloc(m * 8), d->bo0 = xmalloc(m * 8), d->bo1 = xmalloc(m * 8);
    d->bc0 = xmalloc((m + 1) * 8);
    d->bx0 = xmalloc(m * 8), d->bx1 = xmalloc(m * 8), d->by0 = xmalloc(m * 8), d->by1 = xmalloc(m * 8);
    d->bsp = xmalloc(m);
    d->ct0 = xmalloc(m * 8), d->ct1 = xmalloc(m * 8), d->co0 = xmalloc(m * 8), d->co1 = xmalloc(m * 8);
    d->cx0 = xmalloc(m * 4), d->cx1 = xmalloc(m * 4), d->cy0 = xmalloc(m * 4), d->cy1 = xmalloc(m * 4);
    d->cfl = xmalloc(m);
    d->oid = xmalloc(m * 8), d->t = xmalloc(m * 8), d->row_chunk = xmalloc(m * 8);
    d->x = xmalloc(m * 8), d->y = xmalloc(m * 8);
    d->out = xmalloc(m * 8);
}

static void probe_free(probe_data *d)
{
    void *all[] = {d->bt0, d->bt1, d->bo0, d->bo1, d->bc0, d->bx0, d->bx1, d->by0, d->by1, d->bsp, d->ct0, d->ct1,
                   d->co0, d->co1, d->cx0, d->cx1, d->cy0, d->cy1, d->cfl, d->oid, d->t, d->row_chunk, d->x, d->y,
                   d->out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
}

/* A collection of 0..4 segments, each summarised by ct_chunk_summaries. */
static void probe_build(probe_data *d, int kind, int geographic)
{
    const size_t nseg = below(PROBE_MAXSEG + 1);
    d->nb = d->nc = d->nrows = 0;
    d->bc0[0] = 0;
    int64_t br[PROBE_MAXN + 2];
    for (size_t sgi = 0; sgi < nseg; sgi++) {
        const size_t n = pick_size(PROBE_MAXN), r0 = d->nrows;
        int64_t *oid = d->oid + r0, *t = d->t + r0;
        double *x = d->x + r0, *y = d->y + r0;
        gen_rows(n, kind, oid, t, x, y);
        const size_t nb = gen_blocks(n, 0, br, PROBE_MAXN + 2);
        const size_t chunk_rows = 1 + below(12);
        const size_t c0 = d->nc;
        const chunk_cols o = {d->ct0 + c0, d->ct1 + c0, d->co0 + c0, d->co1 + c0, d->cx0 + c0,
                              d->cx1 + c0, d->cy0 + c0, d->cy1 + c0, d->cfl + c0};
        const int64_t got = summarise(n, oid, t, x, y, br, nb, chunk_rows, geographic, &o, PROBE_CAP - c0);
        CHECK(got >= 0, "probe build: chunk summaries failed: %lld", (long long)got);
        if (got < 0) continue;
        /* block summaries over the block's samples; row -> global chunk */
        size_t row = 0, c = c0;
        for (size_t b = 0; b < nb; b++) {
            const size_t k = d->nb++, end = row + (size_t)br[b];
            d->bt0[k] = INT64_MAX, d->bt1[k] = INT64_MIN, d->bo0[k] = INT64_MAX, d->bo1[k] = INT64_MIN;
            d->bx0[k] = INFINITY, d->bx1[k] = -INFINITY, d->by0[k] = INFINITY, d->by1[k] = -INFINITY;
            d->bsp[k] = rnd() % 8 != 0;
            for (size_t i = row; i < end; i++) {
                if (t[i] < d->bt0[k]) d->bt0[k] = t[i];
                if (t[i] > d->bt1[k]) d->bt1[k] = t[i];
                if (oid[i] < d->bo0[k]) d->bo0[k] = oid[i];
                if (oid[i] > d->bo1[k]) d->bo1[k] = oid[i];
                if (x[i] < d->bx0[k]) d->bx0[k] = x[i];
                if (x[i] > d->bx1[k]) d->bx1[k] = x[i];
                if (y[i] < d->by0[k]) d->by0[k] = y[i];
                if (y[i] > d->by1[k]) d->by1[k] = y[i];
                d->row_chunk[r0 + i] = (int64_t)(c + (i - row) / chunk_rows);
            }
            c += ((size_t)br[b] + chunk_rows - 1) / chunk_rows;
            d->bc0[k + 1] = (int64_t)c;
            row = end;
        }
        CHECK(c == c0 + (size_t)got, "probe build: %zu chunks, expected %zu", (size_t)got, c - c0);
        d->nc = c0 + (size_t)got;
        d->nrows += n;
    }
}

static ct_window random_window(probe_data *d, int kind)
{
    ct_window w;
    memset(&w, 0, sizeof w);
    switch (rnd() % 5) {
    case 0: w.t_lo = INT64_MIN, w.t_hi = INT64_MAX; break;
    case 1: w.t_lo = w.t_hi = d->nrows ? d->t[below(d->nrows)] : 0; break;                  /* one instant */
    case 2: w.t_lo = irange(-1000, 4000), w.t_hi = w.t_lo - 1 - (int64_t)below(50); break; /* empty */
    default: w.t_lo = irange(-1200, 3000), w.t_hi = w.t_lo + (int64_t)below(3000);
    }
    if (rnd() % 3 == 0) {
        w.oid_lo = INT64_MIN, w.oid_hi = INT64_MAX;
    } else {
        w.oid_lo = d->nrows ? d->oid[below(d->nrows)] - (int64_t)below(3) : 0;
        w.oid_hi = w.oid_lo + (int64_t)below(8);
    }
    if (rnd() % 3 == 0) { /* a set of objects, maybe empty */
        const size_t m = below(8);
        for (size_t j = 0; j < m; j++) d->set[j] = d->nrows && rnd() % 2 ? d->oid[below(d->nrows)] : irange(-5, 100);
        qsort(d->set, m, sizeof *d->set, cmp_i64);
        size_t u = 0;
        for (size_t j = 0; j < m; j++)
            if (u == 0 || d->set[j] != d->set[u - 1]) d->set[u++] = d->set[j];
        w.oids = d->set, w.noids = u;
    }
    w.nbox = (int)(rnd() % 3);
    for (int k = 0; k < w.nbox; k++) {
        double *bx = w.box[k];
        if (kind == XY_GEO) {
            bx[0] = uniform(-180.0, 175.0), bx[2] = bx[0] + uniform(0.0, 40.0);
            bx[1] = uniform(-85.0, 80.0), bx[3] = bx[1] + uniform(0.0, 40.0);
            if (rnd() % 3 == 0) bx[0] = 179.0, bx[2] = 180.0; /* one half of a box across the antimeridian */
        } else if (kind == XY_WILD) {
            bx[0] = wild_value(), bx[2] = bx[0] + fabs(wild_value());
            bx[1] = wild_value(), bx[3] = bx[1] + fabs(wild_value());
        } else if (rnd() % 2 && d->nrows) { /* a point on the border */
            const size_t i = below(d->nrows);
            bx[0] = d->x[i] - 0.25 * (double)below(8);
            bx[2] = bx[0] == d->x[i] ? d->x[i] + 0.25 * (double)below(8) : d->x[i];
            bx[1] = d->y[i] - 0.25 * (double)below(8);
            bx[3] = bx[1] == d->y[i] ? d->y[i] + 0.25 * (double)below(8) : d->y[i];
        } else {
            bx[0] = 0.25 * (double)irange(-44, 40), bx[2] = bx[0] + 0.25 * (double)below(30);
            bx[1] = 0.25 * (double)irange(-44, 40), bx[3] = bx[1] + 0.25 * (double)below(30);
        }
    }
    return w;
}

static int box_hit(const ct_window *w, double x0, double y0, double x1, double y1)
{
    for (int k = 0; k < w->nbox; k++)
        if (x1 >= w->box[k][0] && x0 <= w->box[k][2] && y1 >= w->box[k][1] && y0 <= w->box[k][3]) return 1;
    return 0;
}

/* does the window's set of objects (if any) hold a code in [lo, hi]? */
static int set_hit(const ct_window *w, int64_t lo, int64_t hi)
{
    if (!w->oids) return 1;
    for (size_t j = 0; j < w->noids; j++)
        if (w->oids[j] >= lo && w->oids[j] <= hi) return 1;
    return 0;
}

static int row_in_window(const ct_window *w, int64_t oid, int64_t t, double x, double y)
{
    if (t < w->t_lo || t > w->t_hi || oid < w->oid_lo || oid > w->oid_hi || !set_hit(w, oid, oid)) return 0;
    return w->nbox == 0 || box_hit(w, x, y, x, y);
}

static void test_probe(void)
{
    probe_data d;
    probe_alloc(&d);
    uint8_t *expect = xmalloc(PROBE_CAP), *got = xmalloc(PROBE_CAP);
    for (int trial = 0; trial < 5000; trial++) {
        const int kind = (int)(rnd() % XY_KINDS);
        const int geographic = kind == XY_GEO;
        probe_build(&d, kind, geographic);
        ct_stindex ix = {d.nb, d.bt0, d.bt1, d.bo0, d.bo1, d.bx0, d.bx1, d.by0, d.by1, d.bc0, rnd() % 4 ? d.bsp : NULL,
                         d.ct0, d.ct1, d.co0, d.co1, d.cx0, d.cx1, d.cy0, d.cy1, d.cfl};
        for (int wi = 0; wi < 6; wi++) {
            const ct_window w = random_window(&d, kind);
            int64_t blocks_res[3] = {0, 0, 0};
            for (int mode = 0; mode <= 2; mode++) {
                ct_probe_stats st;
                memset(&st, 0xAB, sizeof st);
                const int64_t r = ct_probe(&ix, &w, mode, d.out, d.nc, &st);
                CHECK(r >= 0 && (size_t)r <= d.nc, "trial %d mode %d: probe returned %lld", trial, mode, (long long)r);
                if (r < 0) continue;
                blocks_res[mode] = r;
                memset(got, 0, d.nc);
                for (int64_t j = 0; j < r; j++) {
                    CHECK(d.out[j] >= 0 && (size_t)d.out[j] < d.nc, "mode %d: chunk id %lld out of range", mode,
                          (long long)d.out[j]);
                    CHECK(j == 0 || d.out[j] > d.out[j - 1], "mode %d: ids not ascending at %lld", mode, (long long)j);
                    if (d.out[j] >= 0 && (size_t)d.out[j] < d.nc) got[d.out[j]] = 1;
                }
                /* no false negatives: every row in the window has its chunk returned */
                for (size_t i = 0; i < d.nrows; i++)
                    if (row_in_window(&w, d.oid[i], d.t[i], d.x[i], d.y[i]))
                        CHECK(got[d.row_chunk[i]], "trial %d mode %d: row %zu (oid %lld t %lld x %.17g y %.17g) in "
                              "the window, chunk %lld not returned", trial, mode, i, (long long)d.oid[i],
                              (long long)d.t[i], d.x[i], d.y[i], (long long)d.row_chunk[i]);
                /* the reference: blocks by time, objects and (not for paths) their boxes; then chunks */
                uint64_t bm = 0, cc = 0;
                memset(expect, 0, d.nc);
                size_t nexp = 0;
                for (size_t b = 0; b < d.nb; b++) {
                    const int space = w.nbox > 0 && (!ix.b_space || ix.b_space[b]);
                    int pass = d.bt1[b] >= w.t_lo && d.bt0[b] <= w.t_hi && d.bo1[b] >= w.oid_lo &&
                               d.bo0[b] <= w.oid_hi && set_hit(&w, d.bo0[b], d.bo1[b]);
                    if (pass && space && mode != CT_PROBE_PATHS)
                        pass = box_hit(&w, d.bx0[b], d.by0[b], d.bx1[b], d.by1[b]);
                    if (!pass) continue;
                    bm++;
                    cc += (uint64_t)(d.bc0[b + 1] - d.bc0[b]);
                    for (int64_t c = d.bc0[b]; c < d.bc0[b + 1]; c++) {
                        int hit = 1;
                        if (mode != CT_PROBE_BLOCKS) {
                            hit = d.ct1[c] >= w.t_lo && d.ct0[c] <= w.t_hi;
                            if (hit && space && !(mode == CT_PROBE_PATHS && d.cfl[c]))
                                hit = box_hit(&w, (double)d.cx0[c], (double)d.cy0[c], (double)d.cx1[c],
                                              (double)d.cy1[c]);
                            hit = hit && set_hit(&w, d.co0[c], d.co1[c]);
                        }
                        expect[c] = (uint8_t)hit;
                        nexp += (size_t)hit;
                    }
                }
                CHECK(memcmp(expect, got, d.nc) == 0, "trial %d mode %d: chunk set differs from the reference", trial,
                      mode);
                CHECK(st.blocks_considered == d.nb && st.blocks_matched == bm && st.chunks_considered == cc &&
                          st.chunks_matched == (uint64_t)r && (size_t)r == nexp,
                      "trial %d mode %d: stats %llu %llu %llu %llu, expected %zu %llu %llu %lld", trial, mode,
                      (unsigned long long)st.blocks_considered, (unsigned long long)st.blocks_matched,
                      (unsigned long long)st.chunks_considered, (unsigned long long)st.chunks_matched, d.nb,
                      (unsigned long long)bm, (unsigned long long)cc, (long long)r);
                /* too small an output */
                if (r > 0) {
                    CHECK(ct_probe(&ix, &w, mode, d.out, (size_t)r - 1, &st) == CT_ERR_ARG,
                          "trial %d mode %d: cap %lld accepted for %lld chunks", trial, mode, (long long)r - 1,
                          (long long)r);
                    CHECK(ct_probe(&ix, &w, mode, d.out, 0, &st) == CT_ERR_ARG, "mode %d: cap 0 accepted", mode);
                    /* between the answer and every chunk: an error or the answer, never a write past cap */
                    const size_t cap = (size_t)r + below(d.nc - (size_t)r + 1);
                    for (size_t j = 0; j < PROBE_CAP; j++) d.out[j] = -7;
                    const int64_t r2 = ct_probe(&ix, &w, mode, d.out, cap, &st);
                    int clean = r2 == CT_ERR_ARG || r2 == r;
                    for (size_t j = 0; j < (size_t)r && r2 == r; j++) clean &= d.out[j] >= 0 && got[d.out[j]];
                    for (size_t j = cap; j < PROBE_CAP; j++) clean &= d.out[j] == -7;
                    CHECK(clean, "trial %d mode %d: cap %zu for %lld chunks: %lld, or a write past cap", trial, mode,
                          cap, (long long)r, (long long)r2);
                }
            }
            /* the chunks mode refines the blocks mode */
            CHECK(blocks_res[CT_PROBE_CHUNKS] <= blocks_res[CT_PROBE_BLOCKS], "chunks mode returned more than blocks");
        }
        /* bad windows */
        ct_window bad = random_window(&d, kind);
        ct_probe_stats st;
        bad.nbox = 3;
        CHECK(ct_probe(&ix, &bad, 0, d.out, d.nc, &st) == CT_ERR_ARG, "nbox 3 accepted");
        bad.nbox = -1;
        CHECK(ct_probe(&ix, &bad, 0, d.out, d.nc, &st) == CT_ERR_ARG, "nbox -1 accepted");
        bad.nbox = 0;
        CHECK(ct_probe(&ix, &bad, 0, d.out, d.nc, NULL) == CT_ERR_ARG, "no stats accepted");
        CHECK(ct_probe(&ix, NULL, 0, d.out, d.nc, &st) == CT_ERR_ARG, "no window accepted");
    }
    free(expect);
    free(got);
    probe_free(&d);
}

/* ---- ct_filter, ct_filter_all ---- */

static void test_filter(void)
{
    enum { MAXN = 400 };
    int64_t t[MAXN], row0[MAXN + 2], chunks[MAXN + 2], out[MAXN + 1], want[MAXN + 1];
    double x[MAXN], y[MAXN];
    /* a concave polygon with a hole on the quarter grid: its edges go through sample points */
    const int64_t pr0[2] = {0, 2}, rv0[3] = {0, 8, 12};
    const double pvx[12] = {-8, 8, 8, 2, 2, -2, -2, -8, -5, -3, -3, -5};
    const double pvy[12] = {-8, -8, 8, 8, -2, -2, 8, 8, -5, -5, -3, -3};
    const ct_polygon poly = {1, pr0, rv0, pvx, pvy};
    for (int trial = 0; trial < 10000; trial++) {
        const size_t n = pick_size(MAXN);
        for (size_t i = 0; i < n; i++) { /* any order: the filter does not need sorted rows */
            t[i] = irange(-500, 500);
            x[i] = rnd() % 4 ? 0.25 * (double)irange(-40, 40) : uniform(-10.0, 10.0);
            y[i] = rnd() % 4 ? 0.25 * (double)irange(-40, 40) : uniform(-10.0, 10.0);
        }
        /* chunks: a random partition of the rows, empty chunks allowed */
        size_t nch = 0;
        row0[0] = 0;
        for (size_t r = 0; r < n || (nch == 0 && rnd() % 2);) {
            size_t k = below(12);
            if (k > n - r) k = n - r;
            r += k;
            row0[++nch] = (int64_t)r;
            if (nch == MAXN) {
                row0[nch] = (int64_t)n;
                break;
            }
        }
        /* a selection: ascending, with holes of any length */
        const unsigned p = 1 + (unsigned)(rnd() % 9);
        size_t nsel = 0;
        uint64_t rows_sel = 0;
        for (size_t c = 0; c < nch; c++)
            if (rnd() % 10 < p) {
                chunks[nsel++] = (int64_t)c;
                rows_sel += (uint64_t)(row0[c + 1] - row0[c]);
            }
        ct_window w;
        memset(&w, 0, sizeof w);
        if (rnd() % 4 == 0) {
            w.t_lo = INT64_MIN, w.t_hi = INT64_MAX;
        } else {
            w.t_lo = n && rnd() % 2 ? t[below(n)] : irange(-600, 500); /* a border on a sample */
            w.t_hi = rnd() % 5 == 0 ? w.t_lo - 1 : w.t_lo + (int64_t)below(600);
            if (n && rnd() % 3 == 0) w.t_hi = t[below(n)];
        }
        w.oid_lo = 5, w.oid_hi = 0; /* the row filter ignores objects */
        w.nbox = (int)(rnd() % 3);
        for (int k = 0; k < w.nbox; k++) {
            if (n && rnd() % 2) { /* corners on samples */
                const size_t i = below(n), j = below(n);
                w.box[k][0] = fmin(x[i], x[j]), w.box[k][2] = fmax(x[i], x[j]);
                w.box[k][1] = fmin(y[i], y[j]), w.box[k][3] = fmax(y[i], y[j]);
            } else {
                w.box[k][0] = 0.25 * (double)irange(-44, 40), w.box[k][2] = w.box[k][0] + 0.25 * (double)below(40);
                w.box[k][1] = 0.25 * (double)irange(-44, 40), w.box[k][3] = w.box[k][1] + 0.25 * (double)below(40);
            }
        }
        const ct_polygon *pp = rnd() % 3 == 0 ? &poly : NULL;
        const int need_xy = w.nbox || pp;
        const double *xp = need_xy || rnd() % 2 ? x : NULL, *yp = xp ? y : NULL;

        /* the reference */
        size_t nw = 0;
        for (size_t j = 0; j < nsel; j++)
            for (int64_t i = row0[chunks[j]]; i < row0[chunks[j] + 1]; i++) {
                int keep = t[i] >= w.t_lo && t[i] <= w.t_hi;
                if (keep && w.nbox) {
                    int in = 0;
                    for (int k = 0; k < w.nbox; k++)
                        in |= x[i] >= w.box[k][0] && x[i] <= w.box[k][2] && y[i] >= w.box[k][1] && y[i] <= w.box[k][3];
                    keep = in;
                }
                if (keep && pp) keep = ct_point_in_polygon(pp, x[i], y[i]);
                if (keep) want[nw++] = i;
            }
        uint64_t scanned = 12345;
        int64_t r = ct_filter(t, xp, yp, row0, nch, chunks, nsel, &w, pp, out, n, &scanned);
        CHECK(r == (int64_t)nw && (r < 0 || memcmp(out, want, nw * sizeof *out) == 0),
              "trial %d: filter returned %lld rows, expected %zu (n %zu, %zu of %zu chunks, nbox %d, poly %d)", trial,
              (long long)r, nw, n, nsel, nch, w.nbox, pp != NULL);
        CHECK(scanned == rows_sel, "trial %d: rows_scanned %llu, expected %llu", trial, (unsigned long long)scanned,
              (unsigned long long)rows_sel);
        /* too small an output: fewer than the matches is an error; up to the scanned rows, an error or the
         * right answer, never a write past cap */
        if (nw)
            CHECK(ct_filter(t, xp, yp, row0, nch, chunks, nsel, &w, pp, out, nw - 1, &scanned) == CT_ERR_ARG,
                  "trial %d: cap %zu accepted for %zu matches", trial, nw - 1, nw);
        if (rows_sel) {
            const size_t cap = nw + below((size_t)rows_sel - nw + 1);
            for (size_t i = cap; i <= MAXN; i++) out[i] = -7;
            r = ct_filter(t, xp, yp, row0, nch, chunks, nsel, &w, pp, out, cap, &scanned);
            CHECK(r == CT_ERR_ARG || (r == (int64_t)nw && memcmp(out, want, nw * sizeof *out) == 0),
                  "trial %d: cap %zu (matches %zu, scanned %llu): %lld", trial, cap, nw, (unsigned long long)rows_sel,
                  (long long)r);
            int clean = 1;
            for (size_t i = cap; i <= MAXN; i++) clean &= out[i] == -7;
            CHECK(clean, "trial %d: filter wrote past cap %zu", trial, cap);
        }
        /* every chunk selected */
        for (size_t c = 0; c < nch; c++) chunks[c] = (int64_t)c;
        r = ct_filter(t, xp, yp, row0, nch, chunks, nch, &w, pp, out, n, &scanned);

        /* the whole-table filter */
        size_t na = 0;
        for (size_t i = 0; i < n; i++) {
            int keep = t[i] >= w.t_lo && t[i] <= w.t_hi;
            if (keep && w.nbox) keep = box_hit(&w, x[i], y[i], x[i], y[i]);
            if (keep && pp) keep = ct_point_in_polygon(pp, x[i], y[i]);
            if (keep) want[na++] = (int64_t)i;
        }
        CHECK(r == (int64_t)na && (r < 0 || memcmp(out, want, na * sizeof *out) == 0) && scanned == n,
              "trial %d: filter over all chunks: %lld rows, expected %zu", trial, (long long)r, na);
        r = ct_filter_all(n, n || rnd() % 2 ? t : NULL, xp, yp, &w, pp, out, n);
        CHECK(r == (int64_t)na && (r < 0 || memcmp(out, want, na * sizeof *out) == 0),
              "trial %d: filter_all returned %lld rows, expected %zu (n %zu)", trial, (long long)r, na, n);
        if (n) {
            CHECK(ct_filter_all(n, t, xp, yp, &w, pp, out, n - 1) == CT_ERR_ARG, "filter_all: cap n - 1 accepted");
            if (need_xy) {
                CHECK(ct_filter_all(n, t, NULL, NULL, &w, pp, out, n) == CT_ERR_ARG, "filter_all: no x/y accepted");
                CHECK(ct_filter(t, NULL, NULL, row0, nch, chunks, nch, &w, pp, out, n, &scanned) == CT_ERR_ARG,
                      "filter: no x/y accepted");
            }
        }

        /* bad chunk ids and chunk rows: errors, whatever else is selected */
        const int64_t bad_ids[][3] = {{(int64_t)nch, 0, 0},     {-1, 0, 0},       {INT64_MIN, 0, 0},
                                      {0, (int64_t)nch, 0},     {INT64_MAX, 0, 0}, {INT64_MAX - 1, INT64_MAX, 0},
                                      {-2, -1, 0},              {-1, 0, 1}};
        const size_t bad_len[] = {1, 1, 1, 2, 1, 2, 2, 3};
        for (size_t b = 0; b < sizeof bad_len / sizeof *bad_len; b++) {
            if (b == 3 && nch == 0) continue;
            CHECK(ct_filter(t, x, y, row0, nch, bad_ids[b], bad_len[b], &w, pp, out, n, &scanned) == CT_ERR_ARG,
                  "trial %d: bad chunk ids #%zu accepted (nchunks %zu)", trial, b, nch);
        }
        if (nch >= 2 && row0[1] > 0) {
            const int64_t keep = row0[1];
            row0[1] = -1;
            const int64_t c01[2] = {0, 1};
            CHECK(ct_filter(t, x, y, row0, nch, c01, 1, &w, pp, out, n, &scanned) == CT_ERR_ARG,
                  "trial %d: chunk ending before it starts accepted", trial);
            row0[1] = keep;
        }
    }
    /* points exactly on every border of one box, and just outside */
    {
        const double bx[4] = {-1.5, 2.0, 3.25, 4.0};
        const double px[10] = {-1.5, 3.25, -1.5, 3.25, 0.0, 0.0, nextafter(-1.5, -INFINITY), nextafter(3.25, INFINITY),
                               0.0,  0.0};
        const double py[10] = {2.0, 2.0, 4.0, 4.0, 2.0, 4.0, 3.0, 3.0, nextafter(2.0, -INFINITY),
                               nextafter(4.0, INFINITY)};
        const int64_t tt[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        ct_window w;
        memset(&w, 0, sizeof w);
        w.t_lo = w.t_hi = 0;
        w.nbox = 1;
        memcpy(w.box[0], bx, sizeof bx);
        int64_t o[10];
        const int64_t r = ct_filter_all(10, tt, px, py, &w, NULL, o, 10);
        CHECK(r == 6 && o[0] == 0 && o[5] == 5, "border points: %lld of 6", (long long)r);
        w.t_lo = 1;
        CHECK(ct_filter_all(10, tt, px, py, &w, NULL, o, 10) == 0, "time border + 1 kept rows");
    }
}

/* ---- ct_point_in_polygon ---- */

static void check_pip(const ct_polygon *p, const double (*pts)[2], const int *inside, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        CHECK(ct_point_in_polygon(p, pts[i][0], pts[i][1]) == inside[i], "%s: point (%g, %g) expected %s", what,
              pts[i][0], pts[i][1], inside[i] ? "inside" : "outside");
}

/* the same polygon with every ring reversed */
static void check_pip_both(const int64_t *part_ring0, size_t nparts, const int64_t *ring_v0, const double *vx,
                           const double *vy, size_t nv, const double (*pts)[2], const int *inside, size_t n,
                           const char *what)
{
    double rx[64], ry[64];
    const ct_polygon p = {nparts, part_ring0, ring_v0, vx, vy};
    check_pip(&p, pts, inside, n, what);
    const size_t nrings = (size_t)part_ring0[nparts];
    for (size_t r = 0; r < nrings; r++)
        for (int64_t i = ring_v0[r]; i < ring_v0[r + 1]; i++) {
            const int64_t j = ring_v0[r + 1] - 1 - (i - ring_v0[r]);
            rx[i] = vx[j], ry[i] = vy[j];
        }
    (void)nv;
    const ct_polygon q = {nparts, part_ring0, ring_v0, rx, ry};
    check_pip(&q, pts, inside, n, what);
}

static void test_point_in_polygon(void)
{
    /* a square with a square hole */
    {
        const int64_t pr[2] = {0, 2}, rv[3] = {0, 4, 8};
        const double vx[8] = {0, 10, 10, 0, 3, 7, 7, 3}, vy[8] = {0, 0, 10, 10, 3, 3, 7, 7};
        const double pts[][2] = {{1, 1}, {5, 5}, {8, 5}, {11, 5}, {-1, 5}, {5, 1.5}, {5, 8.5}, {3.5, 6.9}, {2, 9.5},
                                 {5, -0.5}, {5, 10.5}, {6.9, 3.1}, {9.99, 9.99}, {0.01, 5}, {2.99, 5}};
        const int in[] = {1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1};
        check_pip_both(pr, 1, rv, vx, vy, 8, pts, in, sizeof in / sizeof *in, "square with hole");
        /* the exterior alone: the hole's points are inside */
        const int64_t pr1[2] = {0, 1};
        const ct_polygon outer = {1, pr1, rv, vx, vy};
        CHECK(ct_point_in_polygon(&outer, 5, 5) == 1, "square without its hole");
    }
    /* a concave U, with rays through its vertices */
    {
        const int64_t pr[2] = {0, 1}, rv[2] = {0, 8};
        const double vx[8] = {0, 9, 9, 6, 6, 3, 3, 0}, vy[8] = {0, 0, 9, 9, 3, 3, 9, 9};
        const double pts[][2] = {{1.5, 6}, {7.5, 6}, {4.5, 6}, {4.5, 1.5}, {4.5, 9.5}, {10, 1}, {1.5, 3},
                                 {7.5, 3}, {-1, 3}, {4.5, 8.9}, {1.5, 0.5}, {-0.5, 9}, {8.9, 8.9}, {4.5, 3.1}};
        const int in[] = {1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0};
        check_pip_both(pr, 1, rv, vx, vy, 8, pts, in, sizeof in / sizeof *in, "concave U");
    }
    /* two parts: a triangle, and a square with a hole */
    {
        const int64_t pr[3] = {0, 1, 3}, rv[4] = {0, 3, 7, 11};
        const double vx[11] = {0, 4, 0, 10, 12, 12, 10, 10.5, 11.5, 11.5, 10.5};
        const double vy[11] = {0, 0, 4, 10, 10, 12, 12, 10.5, 10.5, 11.5, 11.5};
        const double pts[][2] = {{1, 1}, {3, 3}, {11, 11}, {10.2, 10.2}, {6, 6}, {11.8, 11}, {0.5, 3},
                                 {-0.1, 1}, {11, 12.5}, {2.9, 0.9}};
        const int in[] = {1, 0, 0, 1, 0, 1, 1, 0, 0, 1};
        check_pip_both(pr, 2, rv, vx, vy, 11, pts, in, sizeof in / sizeof *in, "multipolygon");
    }
    /* overlapping squares: as two parts their union, as two rings of one part their symmetric difference */
    {
        const int64_t rv[3] = {0, 4, 8};
        const double vx[8] = {0, 4, 4, 0, 2, 6, 6, 2}, vy[8] = {0, 0, 4, 4, 2, 2, 6, 6};
        const double pts[][2] = {{3, 3}, {1, 1}, {5, 5}, {7, 7}, {1, 5}};
        const int64_t two_parts[3] = {0, 1, 2}, one_part[2] = {0, 2};
        const int union_in[] = {1, 1, 1, 0, 0}, xor_in[] = {0, 1, 1, 0, 0};
        check_pip_both(two_parts, 2, rv, vx, vy, 8, pts, union_in, 5, "two overlapping parts");
        check_pip_both(one_part, 1, rv, vx, vy, 8, pts, xor_in, 5, "two overlapping rings");
        const ct_polygon none = {0, two_parts, rv, vx, vy};
        CHECK(ct_point_in_polygon(&none, 1, 1) == 0, "no parts: nothing inside");
    }
}

/* ---- ct_bracket ---- */

/* Rows sorted by (oid, t), t unique per object; wide: times over the whole int64 range. */
static size_t gen_bracket_rows(size_t n, int wide, int64_t *oid, int64_t *t)
{
    size_t k = 0;
    int64_t o = irange(-5, 5);
    while (k < n) {
        size_t m = 1 + below(wide ? 6 : 20);
        if (m > n - k) m = n - k;
        for (size_t j = 0; j < m; j++) {
            int64_t v;
            if (wide) {
                switch (rnd() % 6) {
                case 0: v = INT64_MAX - (int64_t)below(3); break;
                case 1: v = INT64_MIN + 1 + (int64_t)below(3); break;
                case 2: v = irange(-3, 3); break;
                default: v = (int64_t)rnd();
                }
                if (v == INT64_MIN) v = INT64_MIN + 1;
            } else {
                v = irange(-300, 300);
            }
            t[k + j] = v;
        }
        qsort(t + k, m, sizeof *t, cmp_i64);
        size_t u = 0; /* unique */
        for (size_t j = 0; j < m; j++)
            if (u == 0 || t[k + j] != t[k + u - 1]) t[k + u++] = t[k + j];
        for (size_t j = 0; j < u; j++) oid[k + j] = o;
        k += u;
        o += 1 + (int64_t)below(4);
    }
    return k;
}

/* the brute-force answer for one object's rows [s, e) */
static int bracket_ref(const int64_t *t, size_t s, size_t e, int64_t at, int64_t max_gap, int64_t *a, int64_t *b,
                       double *w)
{
    size_t before = SIZE_MAX, after = SIZE_MAX;
    for (size_t i = s; i < e; i++) {
        if (t[i] == at) {
            *a = *b = (int64_t)i;
            *w = 0.0;
            return 1;
        }
        if (t[i] < at) before = i; /* the last one before */
        if (t[i] > at && after == SIZE_MAX) after = i;
    }
    if (before == SIZE_MAX || after == SIZE_MAX) return 0;
    const uint64_t gap = (uint64_t)t[after] - (uint64_t)t[before];
    if (gap > (uint64_t)max_gap) return 0;
    *a = (int64_t)before, *b = (int64_t)after;
    *w = (double)((uint64_t)at - (uint64_t)t[before]) / (double)gap;
    return 1;
}

static void test_bracket(void)
{
    enum { MAXN = 300 };
    int64_t oid[MAXN], t[MAXN], i0[MAXN], i1[MAXN];
    double w[MAXN];
    for (int trial = 0; trial < 10000; trial++) {
        const int wide = rnd() % 3 == 0;
        const size_t n = gen_bracket_rows(pick_size(MAXN), wide, oid, t);
        for (int q = 0; q < 4; q++) {
            int64_t at;
            switch (rnd() % 5) {
            case 0: at = n ? t[below(n)] : 0; break;                                 /* on a sample */
            case 1: /* next to a sample */
                at = n ? t[below(n)] : 0;
                at = (rnd() % 2 && at < INT64_MAX) ? at + 1 : (at > INT64_MIN + 1 ? at - 1 : at);
                break;
            case 2: at = wide ? (rnd() % 2 ? INT64_MAX : INT64_MIN + 1) : irange(-320, 320); break;
            default: at = wide ? (int64_t)(rnd() | 1) : irange(-320, 320);
            }
            if (at == INT64_MIN) at = INT64_MIN + 1;
            int64_t max_gap;
            switch (rnd() % 4) {
            case 0: max_gap = 0; break;
            case 1: max_gap = INT64_MAX; break;
            case 2: max_gap = wide ? (int64_t)(rnd() >> 1) : (int64_t)below(20); break;
            default: max_gap = (int64_t)below(200);
            }
            size_t k = 0;
            int ok = 1;
            int64_t ea[MAXN], eb[MAXN];
            double ew[MAXN];
            for (size_t s = 0; s < n;) {
                size_t e = s + 1;
                while (e < n && oid[e] == oid[s]) e++;
                if (bracket_ref(t, s, e, at, max_gap, &ea[k], &eb[k], &ew[k])) k++;
                s = e;
            }
            const int64_t r = ct_bracket(n, oid, t, at, max_gap, i0, i1, w, MAXN);
            CHECK(r == (int64_t)k, "trial %d: bracket found %lld objects, expected %zu (n %zu at %lld max_gap %lld)",
                  trial, (long long)r, k, n, (long long)at, (long long)max_gap);
            if (r != (int64_t)k) continue;
            for (size_t j = 0; j < k; j++) {
                ok = i0[j] == ea[j] && i1[j] == eb[j] && fabs(w[j] - ew[j]) <= 1e-12 && w[j] >= 0.0 && w[j] <= 1.0 &&
                     (i0[j] != i1[j] || w[j] == 0.0);
                CHECK(ok, "trial %d: object %zu: (%lld, %lld, %.17g), expected (%lld, %lld, %.17g)", trial, j,
                      (long long)i0[j], (long long)i1[j], w[j], (long long)ea[j], (long long)eb[j], ew[j]);
                if (!ok) break;
            }
            if (k) CHECK(ct_bracket(n, oid, t, at, max_gap, i0, i1, w, k - 1) == CT_ERR_ARG, "cap k - 1 accepted");
        }
        CHECK(ct_bracket(n, oid, t, 0, -1, i0, i1, w, MAXN) == CT_ERR_ARG, "negative max_gap accepted");
    }
    CHECK(ct_bracket(0, NULL, NULL, 0, 10, NULL, NULL, NULL, 0) == 0, "empty bracket");
    /* the extremes by hand */
    {
        const int64_t o[2] = {1, 1}, ta[2] = {INT64_MIN + 1, INT64_MAX}, tb[2] = {INT64_MIN + 1, 0};
        int64_t a, b;
        double wt;
        CHECK(ct_bracket(2, o, ta, 0, INT64_MAX, &a, &b, &wt, 1) == 0, "a gap of 2^64 - 2 within INT64_MAX");
        CHECK(ct_bracket(2, o, ta, INT64_MAX, 0, &a, &b, &wt, 1) == 1 && a == 1 && b == 1 && wt == 0.0,
              "the sample at INT64_MAX");
        CHECK(ct_bracket(2, o, ta, INT64_MIN + 1, 0, &a, &b, &wt, 1) == 1 && a == 0 && b == 0 && wt == 0.0,
              "the sample at INT64_MIN + 1");
        CHECK(ct_bracket(2, o, tb, -1, INT64_MAX, &a, &b, &wt, 1) == 1 && a == 0 && b == 1 &&
                  fabs(wt - (double)(INT64_MAX - 1) / (double)INT64_MAX) < 1e-15,
              "a gap of INT64_MAX: w %.17g", wt);
        CHECK(ct_bracket(2, o, tb, -1, INT64_MAX - 1, &a, &b, &wt, 1) == 0, "a gap over max_gap");
        CHECK(ct_bracket(2, o, ta, INT64_MIN, INT64_MAX, &a, &b, &wt, 1) == 0, "before the first sample");
        const int64_t tc[2] = {10, 14};
        CHECK(ct_bracket(2, o, tc, 11, 4, &a, &b, &wt, 1) == 1 && a == 0 && b == 1 && wt == 0.25, "w 0.25");
        CHECK(ct_bracket(2, o, tc, 13, 3, &a, &b, &wt, 1) == 0, "gap 4 > 3");
    }
}

/* ---- ct_simplify ---- */

static double ref_seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    const double vx = bx - ax, vy = by - ay, wx = px - ax, wy = py - ay;
    const double c1 = vx * wx + vy * wy;
    if (c1 <= 0) return hypot(wx, wy);
    const double c2 = vx * vx + vy * vy;
    if (c2 <= c1) return hypot(px - bx, py - by);
    const double u = c1 / c2;
    return hypot(px - (ax + u * vx), py - (ay + u * vy));
}

/* Douglas-Peucker by recursion, the reference */
static void ref_dp(const double *x, const double *y, size_t a, size_t b, double tol, uint8_t *keep)
{
    if (b <= a + 1) return;
    double far = -1.0;
    size_t at = a;
    for (size_t i = a + 1; i < b; i++) {
        const double d = ref_seg_dist(x[i], y[i], x[a], y[a], x[b], y[b]);
        if (d > far) far = d, at = i;
    }
    if (!(far > tol)) return;
    keep[at] = 1;
    ref_dp(x, y, a, at, tol, keep);
    ref_dp(x, y, at, b, tol, keep);
}

/* Checks of the result: ends kept; every dropped sample within tol of the segment of its kept neighbours. */
static void check_simplified(size_t n, const double *x, const double *y, double tol, const uint8_t *keep,
                             const char *what)
{
    if (!n) return;
    CHECK(keep[0] == 1 && keep[n - 1] == 1, "%s: ends not kept (n %zu)", what, n);
    size_t prev = 0;
    for (size_t i = 1; i < n; i++) {
        CHECK(keep[i] <= 1, "%s: keep[%zu] = %u", what, i, keep[i]);
        if (!keep[i]) continue;
        for (size_t j = prev + 1; j < i; j++) {
            const double d = ref_seg_dist(x[j], y[j], x[prev], y[prev], x[i], y[i]);
            CHECK(d <= tol * (1 + 1e-9) + 1e-9, "%s: dropped sample %zu is %.17g from the kept path (tol %g)", what, j,
                  d, tol);
        }
        prev = i;
    }
}

static void test_simplify(void)
{
    enum { MAXN = 400 };
    double x[MAXN], y[MAXN];
    uint8_t keep[MAXN], ref[MAXN];
    const double tols[] = {0.0, 1e-3, 0.05, 0.3, 1.0, 5.0, 1e9, INFINITY};
    for (int trial = 0; trial < 8000; trial++) {
        const size_t n = pick_size(MAXN);
        const int lattice = rnd() % 3 == 0;
        if (lattice) { /* small integer steps, many of them collinear */
            int64_t px = 0, py = 0, dx = 1, dy = 0;
            for (size_t i = 0; i < n; i++) {
                if (rnd() % 3 == 0) dx = irange(-2, 2), dy = irange(-2, 2);
                px += dx, py += dy;
                x[i] = (double)px, y[i] = (double)py;
            }
        } else {
            double px = uniform(-10, 10), py = uniform(-10, 10);
            for (size_t i = 0; i < n; i++) {
                px += uniform(-1, 1), py += uniform(-1, 1);
                x[i] = px, y[i] = py;
            }
        }
        const double tol = lattice ? 0.0 : tols[below(sizeof tols / sizeof *tols)];
        memset(keep, 7, sizeof keep);
        const int rc = ct_simplify(n, x, y, tol, 0, keep);
        CHECK(rc == 0, "trial %d: simplify failed: %d", trial, rc);
        if (rc) continue;
        check_simplified(n, x, y, tol, keep, "plane");
        if (n < MAXN) CHECK(keep[n] == 7, "trial %d: wrote past n", trial);
        if (lattice) {
            /* tol 0: a dropped sample lies exactly on the segment between its kept neighbours (exact integers) */
            size_t prev = 0;
            for (size_t i = 1; i < n; i++) {
                if (!keep[i]) continue;
                for (size_t j = prev + 1; j < i; j++) {
                    const double ax = x[prev], ay = y[prev], bx = x[i], by = y[i];
                    const double cross = (bx - ax) * (y[j] - ay) - (by - ay) * (x[j] - ax);
                    const double dot = (bx - ax) * (x[j] - ax) + (by - ay) * (y[j] - ay);
                    const double len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay);
                    CHECK(cross == 0 && dot >= 0 && dot <= len2,
                          "trial %d: tol 0 dropped sample %zu (%g, %g), not on (%g, %g)-(%g, %g)", trial, j, x[j], y[j],
                          ax, ay, bx, by);
                }
                prev = i;
            }
        } else if (n) {
            /* the same points as a recursive Douglas-Peucker */
            memset(ref, 0, n);
            ref[0] = ref[n - 1] = 1;
            ref_dp(x, y, 0, n - 1, tol, ref);
            CHECK(memcmp(ref, keep, n) == 0, "trial %d: kept samples differ from Douglas-Peucker (n %zu, tol %g)",
                  trial, n, tol);
        }
        if (n && isinf(tol)) {
            size_t kept = 0;
            for (size_t i = 0; i < n; i++) kept += keep[i];
            CHECK(kept == (n == 1 ? 1u : 2u), "tol inf kept %zu", kept);
        }
    }
    /* by hand: collinear samples go, a zigzag stays, samples beyond a segment's end stay */
    {
        const double lx[5] = {0, 1, 2, 3, 4}, ly[5] = {0, 2, 4, 6, 8};
        CHECK(ct_simplify(5, lx, ly, 0.0, 0, keep) == 0 && keep[0] && !keep[1] && !keep[2] && !keep[3] && keep[4],
              "collinear samples kept");
        const double zx[5] = {0, 1, 2, 3, 4}, zy[5] = {0, 1, 0, 1, 0};
        CHECK(ct_simplify(5, zx, zy, 0.0, 0, keep) == 0 && keep[0] && keep[1] && keep[2] && keep[3] && keep[4],
              "zigzag samples dropped at tol 0");
        CHECK(ct_simplify(5, zx, zy, 1.0, 0, keep) == 0 && keep[0] && !keep[1] && !keep[2] && !keep[3] && keep[4],
              "zigzag of height 1 kept at tol 1");
        const double bx[3] = {0, 2, 1}, by[3] = {0, 0, 0};
        CHECK(ct_simplify(3, bx, by, 0.0, 0, keep) == 0 && keep[1], "turning back dropped at tol 0");
        CHECK(ct_simplify(3, bx, by, 0.5, 0, keep) == 0 && keep[1], "turning back 1 dropped at tol 0.5");
    }
    /* n = 0, 1, 2 */
    CHECK(ct_simplify(0, NULL, NULL, 1.0, 0, NULL) == 0, "n 0");
    {
        const double px[2] = {1, 2}, py[2] = {3, 4};
        keep[0] = keep[1] = 9;
        CHECK(ct_simplify(1, px, py, 1.0, 0, keep) == 0 && keep[0] == 1 && keep[1] == 9, "n 1");
        CHECK(ct_simplify(2, px, py, 1.0, 1, keep) == 0 && keep[0] == 1 && keep[1] == 1, "n 2");
        CHECK(ct_simplify(2, px, py, NAN, 0, keep) == CT_ERR_ARG, "NaN tol accepted");
        CHECK(ct_simplify(0, NULL, NULL, NAN, 0, NULL) == CT_ERR_ARG, "NaN tol accepted for n 0");
        CHECK(ct_simplify(2, px, py, -1.0, 0, keep) == CT_ERR_ARG, "negative tol accepted");
        CHECK(ct_simplify(2, NULL, py, 1.0, 0, keep) == CT_ERR_ARG, "no x accepted");
    }
    /* geographic: a track going north along 10 E near 60 N in 111 m steps, one sample pushed east */
    {
        const double m_per_deg = 0.017453292519943295 * 6371008.8, cos60 = cos(60.005 * 0.017453292519943295);
        double gx[11], gy[11];
        /* three samples 555 m apart; the middle one pushed east */
        const double offsets[] = {15.0, 25.0, 5.0, 40.0};
        const int kept[] = {0, 1, 0, 1}; /* with 20 m: 15 m east would be 30 m without the cosine */
        for (int k = 0; k < 4; k++) {
            gx[0] = gx[2] = 10.0, gy[0] = 60.0, gy[1] = 60.005, gy[2] = 60.01;
            gx[1] = 10.0 + offsets[k] / (m_per_deg * cos60);
            CHECK(ct_simplify(3, gx, gy, 20.0, 1, keep) == 0 && keep[1] == kept[k] && keep[0] && keep[2],
                  "geographic: %g m east with tol 20 m: keep %d", offsets[k], keep[1]);
        }
        /* samples on the meridian go */
        for (int i = 0; i < 11; i++) gx[i] = 10.0, gy[i] = 60.0 + 0.001 * i;
        CHECK(ct_simplify(11, gx, gy, 0.01, 1, keep) == 0, "meridian");
        size_t on = 0;
        for (int i = 1; i < 10; i++) on += keep[i];
        CHECK(on == 0 && keep[0] && keep[10], "geographic: %zu samples on the meridian kept", on);
        /* the same offset north-south is in metres of latitude: 15 m north of a west-east track */
        for (int i = 0; i < 11; i++) gx[i] = 10.0 + 0.002 * i, gy[i] = 60.0;
        gy[5] = 60.0 + 15.0 / m_per_deg;
        CHECK(ct_simplify(11, gx, gy, 20.0, 1, keep) == 0 && !keep[5], "geographic: 15 m north kept at 20 m");
        CHECK(ct_simplify(11, gx, gy, 10.0, 1, keep) == 0 && keep[5], "geographic: 15 m north dropped at 10 m");
        /* along a parallel across the antimeridian: one straight line */
        for (int i = 0; i < 11; i++) {
            double v = 179.99 + 0.002 * i;
            gx[i] = v > 180.0 ? v - 360.0 : v, gy[i] = 60.0;
        }
        CHECK(ct_simplify(11, gx, gy, 1.0, 1, keep) == 0, "geographic across the antimeridian");
        size_t mid = 0;
        for (int i = 1; i < 10; i++) mid += keep[i];
        CHECK(mid == 0 && keep[0] && keep[10], "across the antimeridian: %zu samples of a straight track kept", mid);
        gy[6] = 60.0 + 50.0 / m_per_deg;
        CHECK(ct_simplify(11, gx, gy, 20.0, 1, keep) == 0 && keep[6], "across the antimeridian: a 50 m bump dropped");
    }
    /* a long track: the explicit stack grows */
    {
        const size_t n = 20000;
        double *lx = xmalloc(n * sizeof *lx), *ly = xmalloc(n * sizeof *ly);
        uint8_t *lk = xmalloc(n);
        for (size_t i = 0; i < n; i++) lx[i] = (double)i, ly[i] = (double)((i * i) % 7919) * 1e-3;
        CHECK(ct_simplify(n, lx, ly, 0.0, 0, lk) == 0, "long track");
        check_simplified(n, lx, ly, 0.0, lk, "long track");
        /* a convex arc: every sample stays */
        for (size_t i = 0; i < n; i++) lx[i] = (double)i, ly[i] = (double)i * (double)i;
        CHECK(ct_simplify(n, lx, ly, 0.0, 0, lk) == 0, "parabola");
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) kept += lk[i];
        CHECK(kept == n, "parabola: %zu of %zu samples kept", kept, n);
        free(lx);
        free(ly);
        free(lk);
    }
}

/* ---- ct_grid ---- */

static void test_grid(void)
{
    enum { MAXN = 500, MAXCELLS = 12 * 12 * 10 };
    double x[MAXN], y[MAXN], v[MAXN], acc[MAXCELLS], eacc[MAXCELLS];
    int64_t t[MAXN], count[MAXCELLS], valid[MAXCELLS], ecount[MAXCELLS], evalid[MAXCELLS];
    const double sizes[] = {0.125, 0.25, 0.5, 1.0, 2.0, 4.0};
    const int64_t buckets[] = {1, 7, 100, 1000, 12345};
    for (int trial = 0; trial < 10000; trial++) {
        const size_t n = pick_size(MAXN);
        const int geo = rnd() % 4 == 0;
        ct_grid_spec g;
        memset(&g, 0, sizeof g);
        g.space = rnd() % 4 != 0;
        g.time = rnd() % 3 != 0;
        g.cx = sizes[below(6)], g.cy = sizes[below(6)];
        g.nx = (int64_t)below(13), g.ny = (int64_t)below(13), g.nt = (int64_t)below(11);
        g.bucket = buckets[below(5)];
        if (geo) { /* a box from 170 E across the antimeridian */
            g.wrap = 1, g.wrap_x = 170.0;
            g.ix0 = (int64_t)floor(170.0 / g.cx) + irange(-2, 2);
            g.iy0 = (int64_t)floor(-2.0 / g.cy);
        } else {
            g.ix0 = irange(-30, 10), g.iy0 = irange(-30, 10);
            g.wrap = rnd() % 8 == 0, g.wrap_x = uniform(-5, 5);
        }
        g.b0 = irange(-2000, 2000) / g.bucket - (int64_t)below(5);
        for (size_t i = 0; i < n; i++) {
            if (geo) {
                x[i] = rnd() % 2 ? uniform(165.0, 180.0) : uniform(-180.0, -160.0);
                y[i] = uniform(-3.0, 5.0);
            } else {
                x[i] = rnd() % 3 ? uniform(-12, 12) : (double)irange(-96, 96) / 8.0; /* cell borders too */
                y[i] = rnd() % 3 ? uniform(-12, 12) : (double)irange(-96, 96) / 8.0;
            }
            t[i] = rnd() % 5 ? irange(-3000, 3000) : (irange(-30, 30)) * g.bucket; /* bucket borders too */
            v[i] = rnd() % 10 == 0 ? NAN : uniform(-100, 100);
        }
        const int stat = (int)(rnd() % 5);
        const int64_t nx = g.space ? g.nx : 1, ny = g.space ? g.ny : 1, nt = g.time ? g.nt : 1;
        const size_t cells = (size_t)(nx * ny * nt);
        const double init = stat == CT_STAT_MIN ? INFINITY : stat == CT_STAT_MAX ? -INFINITY : 0.0;
        for (size_t c = 0; c < MAXCELLS; c++) {
            count[c] = ecount[c] = valid[c] = evalid[c] = 0;
            acc[c] = eacc[c] = init;
        }
        /* the reference: search the cell whose interval holds the row */
        for (size_t i = 0; i < n; i++) {
            int64_t cb = 0, cix = 0, ciy = 0;
            if (g.time) {
                cb = -1;
                for (int64_t b = 0; b < g.nt; b++) {
                    const int64_t lo = (g.b0 + b) * g.bucket;
                    if (t[i] >= lo && t[i] < lo + g.bucket) cb = b;
                }
                if (cb < 0) continue;
            }
            if (g.space) {
                const double xv = g.wrap && x[i] < g.wrap_x ? x[i] + 360.0 : x[i];
                cix = ciy = -1;
                for (int64_t k = 0; k < g.nx; k++)
                    if (xv >= (double)(g.ix0 + k) * g.cx && xv < (double)(g.ix0 + k + 1) * g.cx) cix = k;
                for (int64_t k = 0; k < g.ny; k++)
                    if (y[i] >= (double)(g.iy0 + k) * g.cy && y[i] < (double)(g.iy0 + k + 1) * g.cy) ciy = k;
                if (cix < 0 || ciy < 0) continue;
            }
            const size_t c = (size_t)((cb * ny + ciy) * nx + cix);
            ecount[c]++;
            if (stat == CT_STAT_COUNT || isnan(v[i])) continue;
            evalid[c]++;
            if (stat == CT_STAT_MIN) eacc[c] = fmin(eacc[c], v[i]);
            else if (stat == CT_STAT_MAX) eacc[c] = fmax(eacc[c], v[i]);
            else eacc[c] += v[i];
        }
        const int rc = ct_grid(n, g.space ? x : NULL, g.space ? y : NULL, g.time ? t : NULL,
                               stat != CT_STAT_COUNT || rnd() % 2 ? v : NULL, &g, stat, count,
                               stat != CT_STAT_COUNT ? valid : NULL, stat != CT_STAT_COUNT ? acc : NULL);
        CHECK(rc == 0, "trial %d: grid failed: %d", trial, rc);
        if (rc) continue;
        int same = 1;
        for (size_t c = 0; c < MAXCELLS; c++) {
            same &= count[c] == ecount[c];
            if (stat != CT_STAT_COUNT)
                same &= valid[c] == evalid[c] &&
                        (acc[c] == eacc[c] || fabs(acc[c] - eacc[c]) <= 1e-9 * (1 + fabs(eacc[c])));
            if (c >= cells) same &= count[c] == 0; /* nothing outside the grid */
        }
        CHECK(same, "trial %d: grid differs (space %d time %d wrap %d stat %d, %lldx%lldx%lld cells, n %zu)", trial,
              g.space, g.time, g.wrap, stat, (long long)nt, (long long)ny, (long long)nx, n);
    }
    /* by hand: negative times use floor division; NaN counted, not summed */
    {
        const int64_t tt[6] = {-1, -10, -11, 0, 9, 10};
        const double vv[6] = {1, 2, NAN, 4, 8, 16};
        ct_grid_spec g;
        memset(&g, 0, sizeof g);
        g.time = 1, g.bucket = 10, g.b0 = -2, g.nt = 3; /* buckets [-20, -10), [-10, 0), [0, 10) */
        int64_t c[3] = {0, 0, 0}, va[3] = {0, 0, 0};
        double a[3] = {0, 0, 0};
        CHECK(ct_grid(6, NULL, NULL, tt, vv, &g, CT_STAT_SUM, c, va, a) == 0, "grid by hand");
        CHECK(c[0] == 1 && c[1] == 2 && c[2] == 2, "floor buckets: %lld %lld %lld", (long long)c[0], (long long)c[1],
              (long long)c[2]);
        CHECK(va[0] == 0 && va[1] == 2 && va[2] == 2 && a[1] == 3 && a[2] == 12, "NaN in sums: %lld %g",
              (long long)va[0], a[0]);
        /* bad specs */
        g.bucket = 0;
        CHECK(ct_grid(6, NULL, NULL, tt, vv, &g, CT_STAT_SUM, c, va, a) == CT_ERR_ARG, "bucket 0 accepted");
        g.bucket = 10;
        CHECK(ct_grid(6, NULL, NULL, tt, vv, &g, 5, c, va, a) == CT_ERR_ARG, "stat 5 accepted");
        CHECK(ct_grid(6, NULL, NULL, tt, vv, &g, -1, c, va, a) == CT_ERR_ARG, "stat -1 accepted");
        CHECK(ct_grid(6, NULL, NULL, tt, NULL, &g, CT_STAT_MEAN, c, va, a) == CT_ERR_ARG, "no values accepted");
        CHECK(ct_grid(6, NULL, NULL, NULL, vv, &g, CT_STAT_COUNT, c, NULL, NULL) == CT_ERR_ARG, "no t accepted");
        g.space = 1, g.cx = 0.0, g.cy = 1.0, g.nx = g.ny = 1;
        const double xx[6] = {0}, yy[6] = {0};
        CHECK(ct_grid(6, xx, yy, tt, vv, &g, CT_STAT_COUNT, c, NULL, NULL) == CT_ERR_ARG, "cell size 0 accepted");
        g.cx = NAN;
        CHECK(ct_grid(6, xx, yy, tt, vv, &g, CT_STAT_COUNT, c, NULL, NULL) == CT_ERR_ARG, "cell size NaN accepted");
        g.cx = 1.0;
        CHECK(ct_grid(6, NULL, yy, tt, vv, &g, CT_STAT_COUNT, c, NULL, NULL) == CT_ERR_ARG, "no x accepted");
        /* NaN or huge coordinates: outside every cell */
        const double hx[3] = {NAN, 1e300, 0.5}, hy[3] = {0.5, 0.5, -1e300};
        g.time = 0, g.ix0 = g.iy0 = 0;
        c[0] = 0;
        CHECK(ct_grid(3, hx, hy, NULL, NULL, &g, CT_STAT_COUNT, c, NULL, NULL) == 0 && c[0] == 0,
              "NaN/huge coordinates binned");
    }
}

/* ---- ct_blocks_decode_at ---- */

static void test_decode_at(void)
{
    const size_t sizes[] = {0, 1, 2, 127, 128, 129, 1000, 5000};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (int dt = 0; dt < 2; dt++) {
            const size_t n = sizes[si], rpb = 1 + (n > 1000 ? 511 : below(130));
            const int dtype = dt ? CT_DT_F64 : CT_DT_I64;
            const size_t nb = (n + rpb - 1) / rpb;
            int64_t *src = xmalloc(n * 8), *dst = xmalloc(n * 8 + 8);
            int64_t acc = 1700000000;
            for (size_t i = 0; i < n; i++) {
                if (dt) {
                    const double d = round(uniform(-180, 180) * 1e5) / 1e5;
                    memcpy(&src[i], &d, 8);
                } else {
                    src[i] = acc += (int64_t)below(100);
                }
            }
            ct_block_info info;
            memset(&info, 0, sizeof info);
            info.dtype = (uint8_t)dtype, info.itemsize = 8, info.ndim = 1, info.shape[0] = n, info.count = n;
            const ct_encode_opts opts = {CT_MODE_COMPACT, CT_CODEC_AUTO, -1};
            const size_t cap = ct_blocks_bound(n * 8, nb);
            uint8_t *enc = xmalloc(cap);
            uint64_t *offsets = xmalloc((nb + 1) * sizeof *offsets);
            const int64_t len = ct_blocks_encode(src, &info, rpb, &opts, enc, cap, offsets);
            CHECK(len >= 0, "encode n %zu: %s", n, len < 0 ? ct_strerror((int)len) : "");
            if (len >= 0) {
            uint32_t *which = xmalloc((nb + 1) * sizeof *which);
            int64_t *row0 = xmalloc((nb + 1) * 8), *rows = xmalloc((nb + 1) * 8);
            uint8_t *set = xmalloc(n + 1);
            for (int rep = 0; rep < 20; rep++) {
                /* a random subset of the blocks, in random order */
                size_t nw = 0;
                for (size_t k = 0; k < nb; k++)
                    if (rnd() % 2) which[nw++] = (uint32_t)k;
                for (size_t j = nw; j > 1; j--) {
                    const size_t r = below(j);
                    const uint32_t tmp = which[j - 1];
                    which[j - 1] = which[r], which[r] = tmp;
                }
                memset(set, 0, n + 1);
                for (size_t j = 0; j < nw; j++) {
                    row0[j] = (int64_t)(which[j] * rpb);
                    rows[j] = (int64_t)(n - which[j] * rpb < rpb ? n - which[j] * rpb : rpb);
                    memset(set + row0[j], 1, (size_t)rows[j]);
                }
                for (size_t i = 0; i <= n; i++) dst[i] = (int64_t)0x5A5A5A5A5A5A5A5Aull;
                size_t failed = 999;
                const int64_t r = ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 8, row0, rows,
                                                      dst, n * 8, &failed);
                CHECK(r == (int64_t)nw, "decode_at n %zu: %lld, expected %zu (%s)", n, (long long)r, nw,
                      r < 0 ? ct_strerror((int)r) : "");
                int ok = 1;
                for (size_t i = 0; i <= n; i++)
                    ok &= set[i] ? dst[i] == src[i] : dst[i] == (int64_t)0x5A5A5A5A5A5A5A5Aull;
                CHECK(ok, "decode_at n %zu dtype %d: values differ or rows outside the blocks written", n, dtype);
                if (!nw) continue;
                /* a wrong row count is corruption (the block holds another number of values) */
                const size_t j = below(nw);
                const int64_t keep_rows = rows[j], keep_row0 = row0[j];
                rows[j] = keep_rows - 1;
                failed = 999;
                CHECK(ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 8, row0, rows, dst, n * 8,
                                          &failed) == CT_ERR_CORRUPT && failed == j,
                      "rows - 1: not CT_ERR_CORRUPT at %zu (failed %zu)", j, failed);
                if ((size_t)(keep_row0 + keep_rows) < n) {
                    rows[j] = keep_rows + 1;
                    CHECK(ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 8, row0, rows, dst,
                                              n * 8, &failed) == CT_ERR_CORRUPT && failed == j,
                          "rows + 1: not CT_ERR_CORRUPT");
                }
                rows[j] = keep_rows;
                /* row0 beyond dst */
                const int64_t bad_row0[] = {(int64_t)n - keep_rows + 1, (int64_t)n, (int64_t)n + 1000, -1, INT64_MAX,
                                            INT64_MIN};
                for (size_t b = 0; b < sizeof bad_row0 / sizeof *bad_row0; b++) {
                    row0[j] = bad_row0[b];
                    const int64_t rb = ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 8, row0,
                                                           rows, dst, n * 8, &failed);
                    CHECK(rb < 0, "row0 %lld accepted (n %zu, rows %lld)", (long long)bad_row0[b], n,
                          (long long)keep_rows);
                }
                row0[j] = keep_row0;
                CHECK(ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 8, row0, rows, dst,
                                          n * 8 - 8, &failed) < 0 || (size_t)(keep_row0 + keep_rows) < n,
                      "dst one value short accepted");
                /* wrong dtype, block number, item size */
                CHECK(ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dt ? CT_DT_I64 : CT_DT_F64, 8, row0,
                                          rows, dst, n * 8, &failed) == CT_ERR_CORRUPT,
                      "wrong dtype accepted");
                CHECK(ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 0, row0, rows, dst, n * 8,
                                          &failed) == CT_ERR_ARG,
                      "itemsize 0 accepted");
                const uint32_t keep_which = which[j];
                which[j] = (uint32_t)nb;
                CHECK(ct_blocks_decode_at(enc, (size_t)len, offsets, nb, which, nw, dtype, 8, row0, rows, dst, n * 8,
                                          &failed) == CT_ERR_CORRUPT && failed == j,
                      "block %zu of %zu accepted", nb, nb);
                which[j] = keep_which;
            }
            free(which);
            free(row0);
            free(rows);
            free(set);
            }
            free(src);
            free(dst);
            free(enc);
            free(offsets);
        }
    }
}

/* ct_filter_around keeps, per chunk and object, the rows on either side of `at`: ct_bracket on them
 * must give the same pairs as on every row of the window, with and without the index. */
static void test_filter_around(void)
{
    enum { N = 500, CH = 8 };
    static int64_t oid[N], t[N], c_t0[N], c_t1[N], c_o0[N], c_o1[N], row0[N + 1], sel[N], rows[2 * N];
    static int64_t wo[N], wt[N], ro[2 * N], rt[2 * N], a0[N], a1[N], b0[N], b1[N];
    static double x[N], y[N], aw[N], bw[N];
    static float cx0[N], cx1[N], cy0[N], cy1[N];
    static uint8_t fl[N];
    for (int round = 0; round < 3000; round++) {
        const size_t n = 1 + below(N);
        int64_t o = 0, tt = 0;
        for (size_t i = 0; i < n; i++) {
            if (i && rnd() % 9 == 0) o += 1 + irange(0, 2), tt = irange(0, 50);
            tt += 1 + irange(0, 20);
            oid[i] = o, t[i] = tt, x[i] = y[i] = 0;
        }
        const int64_t block_rows[1] = {(int64_t)n};
        const int64_t nc = ct_chunk_summaries(n, oid, t, x, y, block_rows, 1, CH, 0, c_t0, c_t1, c_o0, c_o1, cx0, cx1,
                                              cy0, cy1, fl, N);
        if (nc <= 0) {
            CHECK(0, "filter_around: chunk summaries failed");
            return;
        }
        for (int64_t c = 0; c <= nc; c++) row0[c] = c * CH < (int64_t)n ? c * CH : (int64_t)n;
        ct_stindex ix;
        memset(&ix, 0, sizeof ix);
        ix.c_oid_min = c_o0, ix.c_oid_max = c_o1;
        for (int64_t c = 0; c < nc; c++) sel[c] = c;
        const int64_t at = irange(0, 300), gap = irange(0, 60), lo = at - gap, hi = at + gap;
        uint64_t scanned;
        const int64_t m = ct_filter_around(rnd() % 2 ? &ix : NULL, 0, oid, t, row0, (size_t)nc, sel, (size_t)nc, at, lo,
                                           hi, rows, 2 * N, &scanned);
        CHECK(m >= 0 && scanned == n, "filter_around failed (round %d)", round);
        if (m < 0) return;
        size_t nw = 0;
        for (size_t i = 0; i < n; i++)
            if (t[i] >= lo && t[i] <= hi) wo[nw] = oid[i], wt[nw++] = t[i];
        for (int64_t i = 0; i < m; i++) {
            CHECK(t[rows[i]] >= lo && t[rows[i]] <= hi && (!i || rows[i] > rows[i - 1]), "filter_around: bad row");
            ro[i] = oid[rows[i]], rt[i] = t[rows[i]];
        }
        const int64_t ka = ct_bracket(nw, wo, wt, at, gap, a0, a1, aw, N);
        const int64_t kb = ct_bracket((size_t)m, ro, rt, at, gap, b0, b1, bw, N);
        int same = ka == kb;
        for (int64_t i = 0; same && i < ka; i++)
            same = wo[a0[i]] == ro[b0[i]] && wt[a0[i]] == rt[b0[i]] && wt[a1[i]] == rt[b1[i]] && aw[i] == bw[i];
        CHECK(same, "filter_around: brackets differ (round %d: %lld vs %lld objects)", round, (long long)ka,
              (long long)kb);
    }
    const int64_t r0[2] = {0, 1}, bad[2] = {0, 0}, one[1] = {0};
    int64_t out[4];
    uint64_t sc;
    CHECK(ct_filter_around(NULL, 0, one, one, r0, 1, bad, 2, 0, 0, 0, out, 4, &sc) == CT_ERR_ARG,
          "filter_around: chunk ids out of order accepted");
}

/* ct_filter_index takes chunks wholly inside the window without testing their rows: the same rows as
 * ct_filter, fewer rows scanned. Random sorted tracks on a coarse grid (so chunk boxes often fall inside). */
static void test_filter_index(void)
{
    enum { N = 600, CH = 8 };
    static int64_t oid[N], t[N], c_t0[N], c_t1[N], c_o0[N], c_o1[N], row0[N + 1], sel[N], a[N], b[N];
    static double x[N], y[N];
    static float cx0[N], cx1[N], cy0[N], cy1[N];
    static uint8_t fl[N];
    int skipped = 0; /* rounds where whole chunks were taken untested */
    for (int round = 0; round < 2000; round++) {
        const size_t n = 1 + below(N);
        for (size_t i = 0; i < n; i++) {
            oid[i] = (int64_t)(i / (1 + below(40)));
            t[i] = (int64_t)i * 10 + irange(0, 9);
            x[i] = (double)irange(0, 20) / 2;
            y[i] = (double)irange(0, 20) / 2;
        }
        for (size_t i = 1; i < n; i++)
            if (oid[i] < oid[i - 1]) oid[i] = oid[i - 1];
        const int64_t block_rows[1] = {(int64_t)n};
        const int64_t nc = ct_chunk_summaries(n, oid, t, x, y, block_rows, 1, CH, 0, c_t0, c_t1, c_o0, c_o1, cx0, cx1,
                                              cy0, cy1, fl, N);
        CHECK(nc > 0, "filter_index: chunk summaries failed");
        if (nc <= 0) return;
        for (int64_t c = 0; c <= nc; c++) row0[c] = c * CH < (int64_t)n ? c * CH : (int64_t)n;
        ct_stindex ix;
        memset(&ix, 0, sizeof ix);
        ix.c_t_min = c_t0, ix.c_t_max = c_t1, ix.c_oid_min = c_o0, ix.c_oid_max = c_o1;
        ix.c_x_min = cx0, ix.c_x_max = cx1, ix.c_y_min = cy0, ix.c_y_max = cy1, ix.c_flags = fl;
        size_t nsel = 0;
        for (int64_t c = 0; c < nc; c++)
            if (rnd() % 4) sel[nsel++] = c;
        ct_window w;
        memset(&w, 0, sizeof w);
        w.t_lo = irange(-10, (int64_t)n * 10), w.t_hi = w.t_lo + irange(0, (int64_t)n * 10);
        w.oid_lo = INT64_MIN, w.oid_hi = INT64_MAX;
        w.nbox = (int)below(3);
        for (int k = 0; k < w.nbox; k++) {
            w.box[k][0] = (double)irange(-1, 10), w.box[k][1] = (double)irange(-1, 10);
            w.box[k][2] = w.box[k][0] + (double)irange(0, 12), w.box[k][3] = w.box[k][1] + (double)irange(0, 12);
        }
        uint64_t s1 = 0, s2 = 0;
        const int64_t r1 = ct_filter(t, x, y, row0, (size_t)nc, sel, nsel, &w, NULL, a, N, &s1);
        const int64_t r2 = ct_filter_index(&ix, 0, t, x, y, row0, (size_t)nc, sel, nsel, &w, NULL, b, N, &s2);
        CHECK(r1 == r2 && r1 >= 0 && !memcmp(a, b, (size_t)(r1 > 0 ? r1 : 0) * sizeof *a) && s2 <= s1,
              "filter_index differs from filter (round %d: %lld vs %lld rows)", round, (long long)r1, (long long)r2);
        skipped += s2 < s1;
    }
    CHECK(skipped > 100, "filter_index never took a chunk whole (%d rounds)", skipped);
    CHECK(ct_filter_index(NULL, -1, NULL, NULL, NULL, row0, 0, NULL, 0, NULL, NULL, NULL, 0, NULL) == CT_ERR_ARG,
          "filter_index: no rows_scanned accepted");
}

/* Regressions: a chunk id of INT64_MAX before another id once overflowed in ct_filter's run
 * coalescing; an empty segment (no rows, no chunks selected) is fine; an unknown probe mode is an
 * error; the antimeridian widening keeps x beyond [-180, 180]; extreme grid buckets do not overflow. */
static void test_regressions(void)
{
    const int64_t t[4] = {0, 1, 2, 3}, row0[3] = {0, 2, 4}, ids[2] = {INT64_MAX, 0};
    int64_t out[4];
    uint64_t scanned = 0;
    ct_window w;
    memset(&w, 0, sizeof w);
    w.t_lo = INT64_MIN, w.t_hi = INT64_MAX;
    CHECK(ct_filter(t, NULL, NULL, row0, 2, ids, 2, &w, NULL, out, 4, &scanned) == CT_ERR_ARG,
          "chunk ids {INT64_MAX, 0} accepted");
    const int64_t empty_row0[1] = {0};
    CHECK(ct_filter(NULL, NULL, NULL, empty_row0, 0, NULL, 0, &w, NULL, NULL, 0, &scanned) == 0 && scanned == 0,
          "an empty segment is not filtered to nothing");

    ct_stindex ix;
    memset(&ix, 0, sizeof ix);
    const int64_t chunk0[1] = {0};
    ix.b_chunk0 = chunk0;
    ct_probe_stats st;
    CHECK(ct_probe(&ix, &w, 7, NULL, 0, &st) == CT_ERR_ARG, "unknown probe mode accepted");

    const int64_t oid[2] = {1, 1}, ts[2] = {0, 1}, brows[1] = {2};
    const double xs[2] = {350.0, 10.0}, ys[2] = {0.0, 0.0};
    int64_t t0, t1, o0, o1;
    float x0, x1, y0, y1;
    uint8_t fl;
    CHECK(ct_chunk_summaries(2, oid, ts, xs, ys, brows, 1, 64, 1, &t0, &t1, &o0, &o1, &x0, &x1, &y0, &y1, &fl, 1) == 1 &&
              x0 <= -180.0f && x1 >= 350.0f,
          "antimeridian widening lost x = 350");

    /* paths probe: a run-end chunk far from the box passes only while a path may leave it around t_at */
    {
        const int64_t bt0[1] = {0}, bt1[1] = {100}, bo0[1] = {1}, bo1[1] = {1}, c0[2] = {0, 1};
        const double bx0[1] = {50}, bx1[1] = {51}, by0[1] = {50}, by1[1] = {51};
        const int64_t ct0[1] = {0}, ct1[1] = {40}, co0[1] = {1}, co1[1] = {1};
        const float fx0[1] = {50}, fx1[1] = {51}, fy0[1] = {50}, fy1[1] = {51};
        const uint8_t cf[1] = {CT_CHUNK_RUN_END};
        ct_stindex pix = {1, bt0, bt1, bo0, bo1, bx0, bx1, by0, by1, c0, NULL, ct0, ct1, co0, co1, fx0, fx1, fy0, fy1, cf};
        ct_window pw;
        memset(&pw, 0, sizeof pw);
        pw.t_lo = 30, pw.t_hi = 60, pw.oid_lo = INT64_MIN, pw.oid_hi = INT64_MAX, pw.nbox = 1;
        pw.box[0][0] = pw.box[0][1] = 0, pw.box[0][2] = pw.box[0][3] = 1;
        int64_t got[1];
        ct_probe_stats pst;
        CHECK(ct_probe(&pix, &pw, CT_PROBE_PATHS, got, 1, &pst) == 1, "paths: run-end chunk without t_at pruned");
        pw.has_at = 1, pw.t_at = 45;
        CHECK(ct_probe(&pix, &pw, CT_PROBE_PATHS, got, 1, &pst) == 1, "paths: run end before t_at pruned");
        pw.t_at = 35;
        CHECK(ct_probe(&pix, &pw, CT_PROBE_PATHS, got, 1, &pst) == 0, "paths: run end after t_at kept");
        pw.t_at = 45, pw.one_source = 1;
        CHECK(ct_probe(&pix, &pw, CT_PROBE_PATHS, got, 1, &pst) == 0, "paths: one source kept an edge chunk");
    }

    ct_grid_spec g;
    memset(&g, 0, sizeof g);
    g.time = 1, g.bucket = 1, g.b0 = -1, g.nt = 4;
    const int64_t tg[1] = {INT64_MAX};
    int64_t count[4] = {0, 0, 0, 0};
    CHECK(ct_grid(1, NULL, NULL, tg, NULL, &g, CT_STAT_COUNT, count, NULL, NULL) == 0 &&
              count[0] + count[1] + count[2] + count[3] == 0,
          "a bucket index beyond int64 was binned");
}

int main(void)
{
    test_chunk_summaries();
    test_probe();
    /* the filter's box test runs in the SIMD kernels: every table this CPU has */
    for (const char *const *k = ct_kernels_available(); *k; k++) {
        CHECK(ct_kernels_select(*k) == 0, "kernel table not selectable");
        test_filter();
    }
    ct_kernels_select("auto");
    test_point_in_polygon();
    test_bracket();
    test_simplify();
    test_grid();
    test_decode_at();
    test_filter_index();
    test_filter_around();
    test_regressions();
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("test_query: all passed\n");
    return 0;
}
