/* ct_ints.c - the integer stream (see ct_ints.h and docs/format.md). */
#include "ct_ints.h"

#include <stdlib.h>
#include <string.h>

#include "ct_entropy.h"
#include "ct_kernels.h"

#define MB CT_MINIBLOCK
/* worst case of one mini-block: ref varint, width and exception bytes, 256 x 64 bits */
#define MB_MAX_BYTES (10 + 2 + MB * 8)

static inline unsigned bitlen64(uint64_t v) { return v ? 64u - (unsigned)__builtin_clzll(v) : 0u; }
static inline uint64_t mask64(unsigned b) { return b >= 64 ? ~0ull : ((1ull << b) - 1); }
static inline size_t bits_bytes(size_t cnt, unsigned b) { return (cnt * b + 7) / 8; }
static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

size_t ct_ints_bound(size_t n) { return 32 + (n + MB - 1) / MB * MB_MAX_BYTES; }

/* ---- LSB-first bit streams: partial mini-blocks and exception high bits ---- */

static int bits_put(ct_writer *w, const uint64_t *v, size_t cnt, unsigned b)
{
    const size_t nbytes = bits_bytes(cnt, b);
    if (nbytes > w->cap - w->pos) return CT_ERR_DST_SMALL;
    uint8_t *dst = w->p + w->pos;
    uint64_t acc = 0;
    unsigned nb = 0;
    size_t o = 0;
    for (size_t i = 0; i < cnt && b; i++) {
        const uint64_t x = v[i];
        acc |= x << nb;
        if (nb + b >= 64) {
            ct_store_u64le(dst + o, acc);
            o += 8;
            acc = nb ? x >> (64 - nb) : 0;
            nb = nb + b - 64;
        } else {
            nb += b;
        }
    }
    while (o < nbytes) {
        dst[o++] = (uint8_t)acc;
        acc >>= 8;
    }
    w->pos += nbytes;
    return CT_OK;
}

static int bits_get(ct_reader *r, uint64_t *v, size_t cnt, unsigned b)
{
    const size_t nbytes = bits_bytes(cnt, b);
    const uint8_t *src;
    CT_TRY(ct_get_bytes(r, nbytes, &src));
    if (!b) {
        memset(v, 0, cnt * sizeof *v);
        return CT_OK;
    }
    const uint64_t m = mask64(b);
    size_t bit = 0, i = 0;
    /* direct 9-byte window while it lies inside the stream, then a copied tail */
    for (; i < cnt && (bit >> 3) + 9 <= nbytes; i++, bit += b) {
        const uint8_t *p = src + (bit >> 3);
        const unsigned sh = (unsigned)(bit & 7);
        uint64_t val = ct_load_u64le(p) >> sh;
        if (sh) val |= (uint64_t)p[8] << (64 - sh);
        v[i] = val & m;
    }
    for (; i < cnt; i++, bit += b) {
        const size_t byte = bit >> 3;
        const unsigned sh = (unsigned)(bit & 7);
        uint8_t tmp[9] = {0};
        memcpy(tmp, src + byte, min_sz(9, nbytes - byte));
        uint64_t val = ct_load_u64le(tmp) >> sh;
        if (sh) val |= (uint64_t)tmp[8] << (64 - sh);
        v[i] = val & m;
    }
    return CT_OK;
}

/* ---- transforms ---- */

static inline int64_t residual(const int64_t *x, size_t i, int t)
{
    const uint64_t a = (uint64_t)x[i];
    if (t == CT_XF_NONE) return (int64_t)a;
    const uint64_t d = a - (uint64_t)x[i - 1];
    if (t == CT_XF_DELTA) return (int64_t)d;
    return (int64_t)(d - ((uint64_t)x[i - 1] - (uint64_t)x[i - 2]));
}

static inline size_t seeds_of(int t, size_t n) { return min_sz((size_t)t, n); }

/* Size estimate of a transform: plain frame-of-reference packing of each mini-block. */
static uint64_t transform_cost(const int64_t *x, size_t n, int t)
{
    uint64_t cost = 0;
    for (size_t s = seeds_of(t, n); s < n; s += MB) {
        const size_t e = min_sz(s + MB, n);
        int64_t lo = residual(x, s, t), hi = lo;
        for (size_t i = s + 1; i < e; i++) {
            const int64_t v = residual(x, i, t);
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        cost += (uint64_t)(e - s) * bitlen64((uint64_t)hi - (uint64_t)lo);
    }
    return cost + 64u * (uint64_t)t; /* seeds */
}

/* The transform with the smallest estimate; *bits gets that estimate. */
static int choose_transform(const int64_t *x, size_t n, uint64_t *bits)
{
    int best = CT_XF_NONE;
    uint64_t best_cost = transform_cost(x, n, CT_XF_NONE);
    for (int t = CT_XF_DELTA; t <= CT_XF_DOD; t++) {
        const uint64_t c = transform_cost(x, n, t);
        if (c < best_cost) {
            best = t;
            best_cost = c;
        }
    }
    *bits = best_cost;
    return best;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        const uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Undo the transform for cnt residuals; dst and r may be the same array. */
typedef struct untransform_state {
    uint64_t x, d; /* last value and last delta */
} untransform_state;

static void untransform(int64_t *dst, const int64_t *r, size_t cnt, int t, uint64_t g, untransform_state *st)
{
    uint64_t x = st->x, d = st->d;
    if (t == CT_XF_NONE) {
        for (size_t i = 0; i < cnt; i++) dst[i] = (int64_t)((uint64_t)r[i] * g);
    } else if (t == CT_XF_DELTA) {
        if (g == 1)
            for (size_t i = 0; i < cnt; i++) dst[i] = (int64_t)(x += (uint64_t)r[i]);
        else
            for (size_t i = 0; i < cnt; i++) dst[i] = (int64_t)(x += (uint64_t)r[i] * g);
    } else {
        for (size_t i = 0; i < cnt; i++) {
            d += (uint64_t)r[i] * g;
            dst[i] = (int64_t)(x += d);
        }
    }
    st->x = x;
    st->d = d;
}

/* ---- PFor mini-blocks ---- */

static size_t exc_bytes(size_t e, unsigned hb) { return e ? 1 + e + bits_bytes(e, hb) : 0; }

static size_t packed_bytes(size_t cnt, unsigned b) { return cnt == MB ? (size_t)32 * b : bits_bytes(cnt, b); }

/* Full mini-blocks are stored in the transposed order: residual k = row * 8 + lane
 * is original position lane * 32 + row, so that each lane is a run of consecutive
 * values and the delta decode runs down the rows, lanes in parallel. */
static void transpose_in(const int64_t *nat, int64_t *tr)
{
    for (size_t l = 0; l < CT_LANES; l++)
        for (size_t row = 0; row < MB / CT_LANES; row++) tr[row * CT_LANES + l] = nat[l * (MB / CT_LANES) + row];
}

static void transpose_out(const int64_t *tr, int64_t *nat)
{
    for (size_t l = 0; l < CT_LANES; l++)
        for (size_t row = 0; row < MB / CT_LANES; row++) nat[l * (MB / CT_LANES) + row] = tr[row * CT_LANES + l];
}

static int pfor_put(ct_writer *w, const int64_t *r, size_t cnt, int64_t *prev_ref, const ct_kernels *k)
{
    uint64_t u[MB];
    int64_t tr[MB];
    if (cnt == MB) {
        transpose_in(r, tr);
        r = tr;
    }
    size_t hist[65] = {0};
    int64_t ref = r[0];
    for (size_t i = 1; i < cnt; i++) ref = r[i] < ref ? r[i] : ref;
    for (size_t i = 0; i < cnt; i++) {
        u[i] = (uint64_t)r[i] - (uint64_t)ref;
        hist[bitlen64(u[i])]++;
    }
    unsigned maxb = 64;
    while (maxb && !hist[maxb]) maxb--;
    /* widest-first: count the values above each candidate width */
    unsigned b = maxb;
    size_t best = packed_bytes(cnt, maxb), above = 0, e = 0;
    for (unsigned c = maxb; c-- > 0;) {
        above += hist[c + 1];
        if (above > 255) break;
        const size_t cost = packed_bytes(cnt, c) + exc_bytes(above, maxb - c);
        if (cost < best) {
            best = cost;
            b = c;
            e = above;
        }
    }
    CT_TRY(ct_put_svarint(w, (int64_t)((uint64_t)ref - (uint64_t)*prev_ref)));
    *prev_ref = ref;
    CT_TRY(ct_put_u8(w, (uint8_t)b));
    CT_TRY(ct_put_u8(w, (uint8_t)e));
    if (e) CT_TRY(ct_put_u8(w, (uint8_t)(maxb - b)));
    if (cnt == MB) {
        uint32_t lo[MB], words[MB];
        const unsigned b1 = b < 32 ? b : 32;
        const uint32_t m1 = (uint32_t)mask64(b1);
        for (size_t i = 0; i < MB; i++) lo[i] = (uint32_t)u[i] & m1;
        k->pack256(lo, words, b1);
        CT_TRY(ct_put_bytes(w, words, (size_t)32 * b1));
        if (b > 32) {
            for (size_t i = 0; i < MB; i++) lo[i] = (uint32_t)((u[i] >> 32) & mask64(b - 32));
            k->pack256(lo, words, b - 32);
            CT_TRY(ct_put_bytes(w, words, (size_t)32 * (b - 32)));
        }
    } else {
        uint64_t low[MB];
        for (size_t i = 0; i < cnt; i++) low[i] = u[i] & mask64(b);
        CT_TRY(bits_put(w, low, cnt, b));
    }
    if (e) {
        uint8_t pos[MB];
        uint64_t high[MB];
        size_t j = 0;
        for (size_t i = 0; i < cnt; i++)
            if (bitlen64(u[i]) > b) {
                pos[j] = (uint8_t)i;
                high[j++] = u[i] >> b;
            }
        CT_TRY(ct_put_bytes(w, pos, e));
        CT_TRY(bits_put(w, high, e, maxb - b));
    }
    return CT_OK;
}

/* A mini-block's exceptions: positions and the high bits to add there. */
typedef struct pfor_exceptions {
    size_t e;
    unsigned b;
    const uint8_t *pos;
    uint64_t high[MB];
} pfor_exceptions;

/*
 * Read one mini-block. The common case (full, at most 32 bits) leaves the low
 * bits in lo (to add to *ref) and its exceptions in ex, and returns 1, so that
 * the caller can fuse the delta decode; otherwise r holds the residuals and it
 * returns 0.
 */
/* A mini-block's header: reference delta, width, exceptions and their width, validated. */
typedef struct pfor_head {
    int64_t dref;
    uint8_t b, e, hb;
} pfor_head;

static int pfor_head_get(ct_reader *rd, size_t cnt, pfor_head *h)
{
    h->hb = 0;
    CT_TRY(ct_get_svarint(rd, &h->dref));
    CT_TRY(ct_get_u8(rd, &h->b));
    CT_TRY(ct_get_u8(rd, &h->e));
    if (h->b > 64 || h->e > cnt) return CT_ERR_CORRUPT;
    if (h->e) {
        CT_TRY(ct_get_u8(rd, &h->hb));
        if (h->hb == 0 || h->b + h->hb > 64) return CT_ERR_CORRUPT;
    }
    return CT_OK;
}

static int pfor_get(ct_reader *rd, size_t cnt, int64_t *ref, const ct_kernels *k, uint32_t *lo, pfor_exceptions *ex, int64_t *r)
{
    pfor_head h;
    CT_TRY(pfor_head_get(rd, cnt, &h));
    const uint8_t b = h.b, e = h.e, hb = h.hb;
    *ref = (int64_t)((uint64_t)*ref + (uint64_t)h.dref);
    const uint64_t base = (uint64_t)*ref;
    int packed = 0;
    if (cnt == MB) {
        uint32_t words[MB];
        const uint8_t *src;
        const unsigned b1 = b < 32 ? b : 32;
        CT_TRY(ct_get_bytes(rd, (size_t)32 * b1, &src));
        memcpy(words, src, (size_t)32 * b1);
        k->unpack256(words, lo, b1);
        if (b <= 32) {
            packed = 1;
        } else {
            uint32_t hi[MB];
            CT_TRY(ct_get_bytes(rd, (size_t)32 * (b - 32), &src));
            memcpy(words, src, (size_t)32 * (b - 32));
            k->unpack256(words, hi, b - 32u);
            for (size_t i = 0; i < MB; i++) r[i] = (int64_t)(base + (lo[i] | (uint64_t)hi[i] << 32));
        }
    } else {
        uint64_t low[MB];
        CT_TRY(bits_get(rd, low, cnt, b));
        for (size_t i = 0; i < cnt; i++) r[i] = (int64_t)(base + low[i]);
    }
    ex->e = e;
    ex->b = b;
    if (e) {
        CT_TRY(ct_get_bytes(rd, e, &ex->pos));
        CT_TRY(bits_get(rd, ex->high, e, hb));
        for (size_t j = 0; j < e; j++)
            if (ex->pos[j] >= cnt || (j && ex->pos[j] <= ex->pos[j - 1])) return CT_ERR_CORRUPT;
        if (!packed)
            for (size_t j = 0; j < e; j++) r[ex->pos[j]] = (int64_t)((uint64_t)r[ex->pos[j]] + (ex->high[j] << b));
    }
    return packed;
}

/* ---- the stream ---- */

static int put_header(ct_writer *w, int t, int stage, const int64_t *x, size_t n, uint64_t g)
{
    CT_TRY(ct_put_u8(w, (uint8_t)(t | stage << 4)));
    const size_t s = seeds_of(t, n);
    if (s >= 1) CT_TRY(ct_put_svarint(w, x[0]));
    if (s >= 2) CT_TRY(ct_put_svarint(w, (int64_t)((uint64_t)x[1] - (uint64_t)x[0])));
    return ct_put_varint(w, g);
}

/* Write the stream with the PFor stage; returns CT_OK or a negative status. */
static int put_pfor(ct_writer *w, int t, const int64_t *x, size_t n, const int64_t *r, size_t m, uint64_t g)
{
    const ct_kernels *k = ct_kernels_get();
    int64_t prev_ref = 0;
    CT_TRY(put_header(w, t, CT_STAGE_PFOR, x, n, g));
    for (size_t i = 0; i < m; i += MB) CT_TRY(pfor_put(w, r + i, min_sz(MB, m - i), &prev_ref, k));
    return CT_OK;
}

int ct_ints_encode(const int64_t *x, size_t n, int compact, int transform, ct_writer *w)
{
    if ((n && !x) || transform < CT_XF_AUTO || transform > CT_XF_DOD) return CT_ERR_ARG;
    uint64_t est_bits;
    const int t = transform == CT_XF_AUTO ? choose_transform(x, n, &est_bits) : transform;
    if (transform != CT_XF_AUTO) est_bits = transform_cost(x, n, t);
    const size_t s = seeds_of(t, n), m = n - s;
    int rc = CT_OK;
    uint8_t *scratch = NULL;
    int64_t *r = malloc((m ? m : 1) * sizeof *r);
    if (!r) return CT_ERR_NOMEM;

    uint64_t g = 0;
    for (size_t i = 0; i < m; i++) {
        r[i] = residual(x, s + i, t);
        const uint64_t a = r[i] < 0 ? 0 - (uint64_t)r[i] : (uint64_t)r[i];
        if (g != 1 && a % (g ? g : 1) != 0) g = gcd64(g, a); /* rarely taken once g settles */
        else if (!g) g = a;
    }
    if (g == 0 || g > (uint64_t)INT64_MAX) g = 1;
    if (g > 1)
        for (size_t i = 0; i < m; i++) r[i] /= (int64_t)g;

    const size_t start = w->pos;
    int64_t len = -1;
    if (compact && m >= 16) {
        const size_t cap = ct_ent_bound(m);
        if (!(scratch = malloc(cap))) {
            rc = CT_ERR_NOMEM;
            goto done;
        }
        if ((len = ct_ent_encode(r, m, scratch, cap)) < 0) {
            rc = (int)len;
            goto done;
        }
        /* PFor never beats plain packing by much: skip it when the entropy
           stream is already clearly smaller than that estimate */
        if ((uint64_t)len * 8 * 10 < est_bits * 7) goto entropy;
    }
    if ((rc = put_pfor(w, t, x, n, r, m, g)) < 0) goto done;
    if (len < 0 || (size_t)len + 10 >= w->pos - start) goto done;
    w->pos = start;
entropy:
    if ((rc = put_header(w, t, CT_STAGE_ENTROPY, x, n, g)) < 0) goto done;
    if ((rc = ct_put_varint(w, (uint64_t)len)) < 0) goto done;
    rc = ct_put_bytes(w, scratch, (size_t)len);
done:
    free(scratch);
    free(r);
    return rc;
}

/* A stream's header: transform, stage, seeds, divisor and, for the entropy stage, its bytes. */
typedef struct stream_head {
    int t, stage;
    size_t s, m;         /* seeds and residuals */
    int64_t seed[2];
    uint64_t g;
    const uint8_t *ent;  /* entropy stage only */
    size_t ent_len;
} stream_head;

static int stream_head_get(ct_reader *rd, size_t n, stream_head *h)
{
    uint8_t kind;
    CT_TRY(ct_get_u8(rd, &kind));
    h->t = kind & 0x0F;
    h->stage = kind >> 4;
    if (h->t > CT_XF_DOD || h->stage > CT_STAGE_ENTROPY) return CT_ERR_CORRUPT;
    h->s = seeds_of(h->t, n);
    h->m = n - h->s;
    for (size_t i = 0; i < h->s; i++) CT_TRY(ct_get_svarint(rd, &h->seed[i]));
    CT_TRY(ct_get_varint(rd, &h->g));
    if (h->g == 0 || h->g > (uint64_t)INT64_MAX) return CT_ERR_CORRUPT;
    if (h->stage == CT_STAGE_ENTROPY) {
        uint64_t len;
        CT_TRY(ct_get_varint(rd, &len));
        if (len > ct_reader_left(rd)) return CT_ERR_TRUNCATED;
        h->ent_len = (size_t)len;
        CT_TRY(ct_get_bytes(rd, h->ent_len, &h->ent));
    }
    return CT_OK;
}

int ct_ints_skip(ct_reader *rd, size_t n)
{
    stream_head sh;
    CT_TRY(stream_head_get(rd, n, &sh));
    if (sh.stage == CT_STAGE_ENTROPY) return CT_OK;
    for (size_t i = 0; i < sh.m; i += MB) {
        const size_t cnt = min_sz(MB, sh.m - i);
        pfor_head h;
        const uint8_t *p;
        CT_TRY(pfor_head_get(rd, cnt, &h));
        CT_TRY(ct_get_bytes(rd, packed_bytes(cnt, h.b) + (h.e ? h.e + bits_bytes(h.e, h.hb) : 0), &p));
    }
    return CT_OK;
}

int ct_ints_decode(ct_reader *rd, int64_t *x, size_t n)
{
    stream_head sh;
    CT_TRY(stream_head_get(rd, n, &sh));
    const int t = sh.t;
    const size_t s = sh.s, m = sh.m;
    const uint64_t g = sh.g;
    untransform_state st = {0, 0};
    if (s >= 1) st.x = (uint64_t)(x[0] = sh.seed[0]);
    if (s >= 2) {
        st.d = (uint64_t)sh.seed[1];
        st.x += st.d;
        x[1] = (int64_t)st.x;
    }
    if (sh.stage == CT_STAGE_ENTROPY) {
        CT_TRY(ct_ent_decode(sh.ent, sh.ent_len, x + s, m));
        untransform(x + s, x + s, m, t, g, &st);
        return CT_OK;
    }
    const ct_kernels *k = ct_kernels_get();
    int64_t ref = 0, r[MB];
    uint32_t lo[MB];
    pfor_exceptions ex;
    for (size_t i = 0; i < m; i += MB) {
        const size_t cnt = min_sz(MB, m - i);
        const int packed = pfor_get(rd, cnt, &ref, k, lo, &ex, r);
        CT_TRY(packed);
        if (packed && t == CT_XF_DELTA) {
            uint64_t hi[MB];
            if (ex.e) {
                memset(hi, 0, sizeof hi);
                for (size_t j = 0; j < ex.e; j++) hi[ex.pos[j]] = ex.high[j] << ex.b;
            }
            st.x = (uint64_t)k->delta256(lo, (uint64_t)ref, ex.e ? hi : NULL, st.x, g, x + s + i);
            continue;
        }
        if (packed) {
            for (size_t j = 0; j < MB; j++) r[j] = (int64_t)((uint64_t)ref + lo[j]);
            for (size_t j = 0; j < ex.e; j++) r[ex.pos[j]] = (int64_t)((uint64_t)r[ex.pos[j]] + (ex.high[j] << ex.b));
        }
        if (cnt == MB) {
            int64_t tr[MB];
            memcpy(tr, r, sizeof tr);
            transpose_out(tr, r);
        }
        untransform(x + s + i, r, cnt, t, g, &st);
    }
    return CT_OK;
}
