/* ct_block.c - block header, codec choice and dispatch (see ct_block.h, docs/format.md). */
#include "ct_block.h"

#include <stdlib.h>
#include <string.h>

#include "ct_blosc.h"
#include "ct_bytes_io.h"
#include "ct_crc32c.h"
#include "ct_decimal.h"
#include "ct_ints.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "chronotope's block format is written by little-endian hosts only"
#endif

/* More exceptions than this and a float column is not decimal data. */
#define DECIMAL_MAX_EXCEPTIONS 0.25

size_t ct_dtype_itemsize(int dtype)
{
    switch (dtype) {
    case CT_DT_BOOL: case CT_DT_I8: case CT_DT_U8: return 1;
    case CT_DT_I16: case CT_DT_U16: return 2;
    case CT_DT_I32: case CT_DT_U32: case CT_DT_F32: return 4;
    case CT_DT_I64: case CT_DT_U64: case CT_DT_F64: case CT_DT_DATETIME64: case CT_DT_TIMEDELTA64: return 8;
    default: return 0;
    }
}

static int is_integer(int dt) { return (dt >= CT_DT_BOOL && dt <= CT_DT_U64) || dt == CT_DT_DATETIME64 || dt == CT_DT_TIMEDELTA64; }
static int is_float(int dt) { return dt == CT_DT_F32 || dt == CT_DT_F64; }

static int codec_allowed(int codec, int dt)
{
    switch (codec) {
    case CT_CODEC_RAW: case CT_CODEC_BLOSC: return 1;
    case CT_CODEC_INT: case CT_CODEC_RLE: case CT_CODEC_DICT: return is_integer(dt);
    case CT_CODEC_DECIMAL: return is_float(dt);
    default: return 0;
    }
}

static int check_dtype(int dt, uint64_t itemsize)
{
    if (dt < CT_DT_BOOL || dt > CT_DT_UNICODE) return CT_ERR_UNSUPPORTED;
    const size_t fixed = ct_dtype_itemsize(dt);
    if (fixed) return itemsize == fixed ? CT_OK : CT_ERR_CORRUPT;
    /* numpy's own limit on an item is a signed 32-bit size */
    if (itemsize == 0 || itemsize > INT32_MAX || (dt == CT_DT_UNICODE && itemsize % 4)) return CT_ERR_CORRUPT;
    return CT_OK;
}

size_t ct_block_bound(size_t nbytes) { return CT_BLOCK_HEADER_MAX + nbytes; }

/* ---- integers: widen any integer dtype to int64 and back ---- */

static int64_t *widen(const void *src, size_t n, int dt)
{
    int64_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!out) return NULL;
    const size_t sz = ct_dtype_itemsize(dt);
    if (sz == 8) {
        memcpy(out, src, n * 8);
        return out;
    }
#define WIDEN(T) for (size_t i = 0; i < n; i++) out[i] = (int64_t)((const T *)src)[i]
    switch (dt) {
    case CT_DT_I8: WIDEN(int8_t); break;
    case CT_DT_I16: WIDEN(int16_t); break;
    case CT_DT_I32: WIDEN(int32_t); break;
    case CT_DT_U16: WIDEN(uint16_t); break;
    case CT_DT_U32: WIDEN(uint32_t); break;
    default: WIDEN(uint8_t); break; /* bool, uint8 */
    }
#undef WIDEN
    return out;
}

/* Narrow decoded values into dst, rejecting any that the dtype cannot hold. */
static int narrow(const int64_t *v, size_t n, int dt, void *dst)
{
    int64_t lo = 0, hi = 0;
    switch (dt) {
    case CT_DT_BOOL: hi = 1; break;
    case CT_DT_I8: lo = INT8_MIN; hi = INT8_MAX; break;
    case CT_DT_I16: lo = INT16_MIN; hi = INT16_MAX; break;
    case CT_DT_I32: lo = INT32_MIN; hi = INT32_MAX; break;
    case CT_DT_U8: hi = UINT8_MAX; break;
    case CT_DT_U16: hi = UINT16_MAX; break;
    case CT_DT_U32: hi = UINT32_MAX; break;
    default: memcpy(dst, v, n * 8); return CT_OK;
    }
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad |= (v[i] < lo) | (v[i] > hi);
    if (bad) return CT_ERR_CORRUPT;
#define NARROW(T) for (size_t i = 0; i < n; i++) ((T *)dst)[i] = (T)v[i]
    switch (ct_dtype_itemsize(dt)) {
    case 1: NARROW(uint8_t); break;
    case 2: NARROW(uint16_t); break;
    default: NARROW(uint32_t); break;
    }
#undef NARROW
    return CT_OK;
}

/* ---- run-length and dictionary codecs over int64 ---- */

static size_t count_runs(const int64_t *x, size_t n)
{
    size_t runs = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) runs += x[i] != x[i - 1];
    return runs;
}

static int rle_encode(const int64_t *x, size_t n, size_t runs, int compact, ct_writer *w)
{
    int64_t *vals = malloc((runs ? runs : 1) * sizeof *vals), *lens = malloc((runs ? runs : 1) * sizeof *lens);
    int rc = CT_ERR_NOMEM;
    if (vals && lens) {
        size_t j = 0;
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || x[i] != x[i - 1]) {
                vals[j] = x[i];
                lens[j++] = 0;
            } else {
                lens[j - 1]++;
            }
        }
        if ((rc = ct_put_varint(w, runs)) >= 0 && (rc = ct_ints_encode(vals, runs, compact, CT_XF_AUTO, w)) >= 0)
            rc = ct_ints_encode(lens, runs, compact, CT_XF_NONE, w);
    }
    free(vals);
    free(lens);
    return rc;
}

static int rle_decode(ct_reader *r, int64_t *x, size_t n)
{
    uint64_t runs;
    CT_TRY(ct_get_varint(r, &runs));
    if (runs > n || (n && !runs)) return CT_ERR_CORRUPT;
    int64_t *vals = malloc((runs ? runs : 1) * sizeof *vals), *lens = malloc((runs ? runs : 1) * sizeof *lens);
    int rc = CT_ERR_NOMEM;
    if (vals && lens && (rc = ct_ints_decode(r, vals, runs)) >= 0 && (rc = ct_ints_decode(r, lens, runs)) >= 0) {
        size_t o = 0;
        for (size_t j = 0; j < runs && rc >= 0; j++) {
            const uint64_t len = (uint64_t)lens[j] + 1;
            if (len == 0 || len > n - o) {
                rc = CT_ERR_CORRUPT;
                break;
            }
            for (uint64_t i = 0; i < len; i++) x[o++] = vals[j];
        }
        if (rc >= 0 && o != n) rc = CT_ERR_CORRUPT;
    }
    free(vals);
    free(lens);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static inline uint64_t hash64(uint64_t v)
{
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return v;
}

/* Distinct values of x, sorted, if there are at most max_k of them; else *k = 0. */
static int distinct_values(const int64_t *x, size_t n, size_t max_k, int64_t **out, size_t *k)
{
    size_t cap = 16;
    while (cap < 2 * max_k) cap <<= 1;
    int64_t *keys = malloc(cap * sizeof *keys), *vals = malloc((max_k ? max_k : 1) * sizeof *vals);
    uint8_t *used = calloc(cap, 1);
    int rc = CT_OK;
    size_t cnt = 0;
    if (!keys || !vals || !used) {
        rc = CT_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t h = hash64((uint64_t)x[i]) & (cap - 1);
        while (used[h] && keys[h] != x[i]) h = (h + 1) & (cap - 1);
        if (used[h]) continue;
        if (cnt == max_k) {
            cnt = 0;
            goto done;
        }
        used[h] = 1;
        keys[h] = x[i];
        vals[cnt++] = x[i];
    }
    qsort(vals, cnt, sizeof *vals, cmp_i64);
done:
    free(keys);
    free(used);
    if (rc < 0 || !cnt) {
        free(vals);
        vals = NULL;
    }
    *out = vals;
    *k = cnt;
    return rc;
}

static int dict_encode(const int64_t *x, size_t n, const int64_t *dict, size_t k, int compact, ct_writer *w)
{
    int64_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return CT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = k; /* binary search: the dictionary is sorted */
        while (lo < hi) {
            const size_t mid = (lo + hi) / 2;
            if (dict[mid] < x[i]) lo = mid + 1;
            else hi = mid;
        }
        idx[i] = (int64_t)lo;
    }
    int rc = ct_put_varint(w, k);
    if (rc >= 0) rc = ct_ints_encode(dict, k, compact, CT_XF_DELTA, w);
    if (rc >= 0) rc = ct_ints_encode(idx, n, compact, CT_XF_NONE, w);
    free(idx);
    return rc;
}

static int dict_decode(ct_reader *r, int64_t *x, size_t n)
{
    uint64_t k;
    CT_TRY(ct_get_varint(r, &k));
    if (k > n || (n && !k)) return CT_ERR_CORRUPT;
    int64_t *dict = malloc((k ? k : 1) * sizeof *dict);
    if (!dict) return CT_ERR_NOMEM;
    int rc = ct_ints_decode(r, dict, k);
    if (rc >= 0) rc = ct_ints_decode(r, x, n);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        if ((uint64_t)x[i] >= k) rc = CT_ERR_CORRUPT;
        else x[i] = dict[x[i]];
    }
    free(dict);
    return rc;
}

/* ---- candidates: each codec writes into its own buffer; the smallest wins ---- */

typedef struct candidate {
    uint8_t *buf;
    size_t len;
    int codec;
} candidate;

static void keep_smaller(candidate *best, candidate *c)
{
    if (!best->buf || c->len < best->len) {
        free(best->buf);
        *best = *c;
    } else {
        free(c->buf);
    }
    c->buf = NULL;
}

static int try_codec(const void *src, const int64_t *ints, const ct_block_info *info, const ct_encode_opts *opts,
                     int codec, candidate *best)
{
    const size_t n = info->count, nbytes = n * info->itemsize;
    const int compact = opts->mode == CT_MODE_COMPACT;
    size_t cap;
    switch (codec) {
    case CT_CODEC_RAW: cap = nbytes; break;
    case CT_CODEC_INT: cap = ct_ints_bound(n); break;
    case CT_CODEC_RLE: case CT_CODEC_DICT: cap = 10 + ct_ints_bound(n) + ct_ints_bound(n); break;
    case CT_CODEC_DECIMAL: cap = ct_decimal_bound(n, info->itemsize); break;
    default: cap = ct_blosc_bound(nbytes); break;
    }
    candidate c = {malloc(cap ? cap : 1), 0, codec};
    if (!c.buf) return CT_ERR_NOMEM;
    ct_writer w = {c.buf, cap, 0};
    int rc = CT_OK;
    switch (codec) {
    case CT_CODEC_RAW: rc = ct_put_bytes(&w, src, nbytes); break;
    case CT_CODEC_INT: rc = ct_ints_encode(ints, n, compact, opts->transform, &w); break;
    case CT_CODEC_RLE: rc = rle_encode(ints, n, count_runs(ints, n), compact, &w); break;
    case CT_CODEC_DICT: {
        int64_t *dict;
        size_t k;
        rc = distinct_values(ints, n, n, &dict, &k);
        if (rc >= 0) rc = dict_encode(ints, n, dict, k, compact, &w);
        free(dict);
        break;
    }
    case CT_CODEC_DECIMAL:
        /* an explicitly requested decimal codec accepts any number of exceptions */
        rc = ct_decimal_encode(src, n, info->itemsize, compact, opts->codec == CT_CODEC_DECIMAL ? 1.0 : DECIMAL_MAX_EXCEPTIONS, &w);
        break;
    default: rc = ct_blosc_encode(src, nbytes, info->itemsize, compact, &w); break;
    }
    if (rc < 0) {
        free(c.buf);
        return rc;
    }
    c.len = w.pos;
    keep_smaller(best, &c);
    return CT_OK;
}

static int choose_and_encode(const void *src, const ct_block_info *info, const ct_encode_opts *opts, candidate *best)
{
    const int dt = info->dtype;
    const size_t n = info->count, nbytes = n * info->itemsize;
    int64_t *ints = NULL;
    int rc = CT_OK;
    if (is_integer(dt) && (opts->codec == CT_CODEC_AUTO || opts->codec == CT_CODEC_INT ||
                           opts->codec == CT_CODEC_RLE || opts->codec == CT_CODEC_DICT)) {
        if (!(ints = widen(src, n, dt))) return CT_ERR_NOMEM;
    }
    if (opts->codec != CT_CODEC_AUTO) {
        rc = try_codec(src, ints, info, opts, opts->codec, best);
    } else if (is_integer(dt)) {
        rc = try_codec(src, ints, info, opts, CT_CODEC_INT, best);
        if (rc >= 0 && n >= 64 && count_runs(ints, n) * 4 <= n) rc = try_codec(src, ints, info, opts, CT_CODEC_RLE, best);
        /* a dictionary pays when values are wide but few, e.g. ids in arrival order */
        if (rc >= 0 && n >= 512 && best->len * 8 > n * 6) {
            int64_t *dict;
            size_t k;
            rc = distinct_values(ints, n, n / 8 < 65536 ? n / 8 : 65536, &dict, &k);
            free(dict);
            if (rc >= 0 && k) rc = try_codec(src, ints, info, opts, CT_CODEC_DICT, best);
        }
    } else if (is_float(dt)) {
        rc = try_codec(src, ints, info, opts, CT_CODEC_DECIMAL, best);
        if (rc == CT_ERR_UNSUPPORTED) rc = CT_OK; /* not decimal data */
        if (rc >= 0 && (!best->buf || best->len * 10 > nbytes * 6))
            rc = try_codec(src, ints, info, opts, CT_CODEC_BLOSC, best);
    } else {
        rc = try_codec(src, ints, info, opts, CT_CODEC_BLOSC, best);
    }
    /* raw is the floor: no block is ever larger than its values plus a header */
    if (rc >= 0 && (!best->buf || best->len > nbytes)) rc = try_codec(src, ints, info, opts, CT_CODEC_RAW, best);
    free(ints);
    return rc;
}

int64_t ct_block_encode(const void *src, const ct_block_info *info, const ct_encode_opts *opts, uint8_t *dst, size_t cap)
{
    if (!info || !opts || !dst || info->ndim > CT_BLOCK_MAX_NDIM) return CT_ERR_ARG;
    if (check_dtype(info->dtype, info->itemsize) < 0) return CT_ERR_ARG;
    if (opts->mode != CT_MODE_COMPACT && opts->mode != CT_MODE_FAST) return CT_ERR_ARG;
    if (opts->codec != CT_CODEC_AUTO && !codec_allowed(opts->codec, info->dtype)) return CT_ERR_ARG;
    if (opts->transform < CT_XF_AUTO || opts->transform > CT_XF_DOD) return CT_ERR_ARG;
    uint64_t count = 1;
    for (unsigned d = 0; d < info->ndim; d++) {
        if (info->shape[d] && count > UINT64_MAX / info->shape[d]) return CT_ERR_TOO_LARGE;
        count *= info->shape[d];
    }
    if (count != info->count) return CT_ERR_ARG;
    if (count && info->itemsize > SIZE_MAX / 16 / count) return CT_ERR_TOO_LARGE;
    if (count && !src) return CT_ERR_ARG;

    candidate best = {NULL, 0, 0};
    CT_TRY(choose_and_encode(src, info, opts, &best));
    const size_t hlen = CT_BLOCK_HEADER_BASE + 8u * info->ndim, total = hlen + best.len;
    if (cap < total) {
        free(best.buf);
        return CT_ERR_DST_SMALL;
    }
    uint8_t *h = dst;
    memcpy(h, CT_BLOCK_MAGIC, 4);
    h[4] = CT_BLOCK_VERSION;
    h[5] = (uint8_t)best.codec;
    h[6] = info->dtype;
    h[7] = info->unit;
    h[8] = opts->mode == CT_MODE_FAST ? 1 : 0;
    h[9] = info->ndim;
    h[10] = h[11] = 0;
    ct_store_u32le(h + 12, info->itemsize);
    ct_store_u64le(h + 16, count);
    ct_store_u64le(h + 24, best.len);
    for (unsigned d = 0; d < info->ndim; d++) ct_store_u64le(h + 32 + 8 * d, info->shape[d]);
    memcpy(dst + hlen, best.buf, best.len);
    free(best.buf);
    uint32_t crc = ct_crc32c(0, dst, hlen - 4);
    crc = ct_crc32c(crc, dst + hlen, best.len);
    ct_store_u32le(dst + hlen - 4, crc);
    return (int64_t)total;
}

/*
 * Walk the payload's headers without decoding: every length must fit and the
 * payload must be consumed exactly. Run before the caller allocates, so that
 * a forged count that the payload cannot hold is refused cheaply (only an
 * entropy-coded or run-length stream can legitimately be tiny for its count).
 */
static int check_structure(const ct_block_info *info)
{
    const size_t n = (size_t)info->count, nbytes = n * info->itemsize;
    ct_reader r = {info->payload, (size_t)info->payload_len, 0};
    uint64_t k;
    switch (info->codec) {
    case CT_CODEC_RAW: r.pos = r.len; return r.len == nbytes ? CT_OK : CT_ERR_CORRUPT;
    case CT_CODEC_BLOSC: CT_TRY(ct_blosc_skip(&r, nbytes)); break;
    case CT_CODEC_DECIMAL: CT_TRY(ct_decimal_skip(&r, n, info->itemsize)); break;
    case CT_CODEC_INT: CT_TRY(ct_ints_skip(&r, n)); break;
    case CT_CODEC_RLE: case CT_CODEC_DICT:
        CT_TRY(ct_get_varint(&r, &k));
        if (k > n || (n && !k)) return CT_ERR_CORRUPT;
        CT_TRY(ct_ints_skip(&r, (size_t)k));
        CT_TRY(ct_ints_skip(&r, info->codec == CT_CODEC_RLE ? (size_t)k : n));
        break;
    default: return CT_ERR_UNSUPPORTED;
    }
    return r.pos == r.len ? CT_OK : CT_ERR_TRAILING;
}

int ct_block_open(const uint8_t *src, size_t len, ct_block_info *info)
{
    if (!info || (!src && len)) return CT_ERR_ARG;
    memset(info, 0, sizeof *info);
    if (len < 4) return CT_ERR_TRUNCATED;
    if (memcmp(src, CT_BLOCK_MAGIC, 4)) return CT_ERR_MAGIC;
    if (len < CT_BLOCK_HEADER_BASE) return CT_ERR_TRUNCATED;
    if (src[4] != CT_BLOCK_VERSION) return CT_ERR_VERSION;
    const unsigned ndim = src[9];
    if (ndim > CT_BLOCK_MAX_NDIM) return CT_ERR_CORRUPT;
    const size_t hlen = CT_BLOCK_HEADER_BASE + 8u * ndim;
    if (len < hlen) return CT_ERR_TRUNCATED;
    const uint64_t payload_len = ct_load_u64le(src + 24);
    if (payload_len > len - hlen) return CT_ERR_TRUNCATED;
    if (payload_len < len - hlen) return CT_ERR_TRAILING;
    uint32_t crc = ct_crc32c(0, src, hlen - 4);
    crc = ct_crc32c(crc, src + hlen, (size_t)payload_len);
    if (crc != ct_load_u32le(src + hlen - 4)) return CT_ERR_CHECKSUM;

    /* the checksum matched: what follows guards against crafted blocks */
    info->codec = src[5];
    info->dtype = src[6];
    info->unit = src[7];
    info->flags = src[8];
    info->ndim = (uint8_t)ndim;
    info->itemsize = ct_load_u32le(src + 12);
    info->count = ct_load_u64le(src + 16);
    info->payload_len = payload_len;
    info->header_len = hlen;
    info->payload = src + hlen;
    if (src[10] || src[11] || info->flags > 1) return CT_ERR_CORRUPT;
    CT_TRY(check_dtype(info->dtype, info->itemsize));
    if (!codec_allowed(info->codec, info->dtype)) return CT_ERR_UNSUPPORTED;
    uint64_t count = 1;
    for (unsigned d = 0; d < ndim; d++) {
        info->shape[d] = ct_load_u64le(src + 32 + 8 * d);
        if (info->shape[d] && count > UINT64_MAX / info->shape[d]) return CT_ERR_CORRUPT;
        count *= info->shape[d];
    }
    if (count != info->count) return CT_ERR_CORRUPT;
    /* a block may not claim more values than memory could hold */
    if (count && info->itemsize > (uint64_t)(SIZE_MAX / 16) / count) return CT_ERR_CORRUPT;
    return check_structure(info);
}

int ct_block_decode(const ct_block_info *info, void *dst, size_t dst_bytes)
{
    if (!info || !info->payload || (!dst && dst_bytes)) return CT_ERR_ARG;
    const size_t n = (size_t)info->count, nbytes = n * info->itemsize;
    if (dst_bytes != nbytes) return CT_ERR_ARG;
    ct_reader r = {info->payload, (size_t)info->payload_len, 0};
    int rc = CT_OK;
    switch (info->codec) {
    case CT_CODEC_RAW:
        if (r.len != nbytes) return CT_ERR_CORRUPT;
        if (nbytes) memcpy(dst, r.p, nbytes);
        r.pos = nbytes;
        break;
    case CT_CODEC_DECIMAL: rc = ct_decimal_decode(&r, dst, n, info->itemsize); break;
    case CT_CODEC_BLOSC: rc = ct_blosc_decode(&r, dst, nbytes); break;
    case CT_CODEC_INT: case CT_CODEC_RLE: case CT_CODEC_DICT: {
        /* 8-byte integers decode in place; narrower ones through a temporary */
        const int wide = info->itemsize == 8;
        int64_t none;
        int64_t *v = wide ? (n ? (int64_t *)dst : &none) : malloc((n ? n : 1) * sizeof *v);
        if (!v) return CT_ERR_NOMEM;
        rc = info->codec == CT_CODEC_INT ? ct_ints_decode(&r, v, n)
           : info->codec == CT_CODEC_RLE ? rle_decode(&r, v, n)
                                         : dict_decode(&r, v, n);
        if (rc >= 0 && !wide) rc = narrow(v, n, info->dtype, dst);
        if (!wide) free(v);
        break;
    }
    default: return CT_ERR_UNSUPPORTED;
    }
    if (rc >= 0 && r.pos != r.len) rc = CT_ERR_TRAILING; /* the payload must be consumed exactly */
    if (rc >= 0 && info->dtype == CT_DT_BOOL) {
        /* raw and blosc payloads could carry any byte; a bool is 0 or 1 */
        unsigned char bad = 0;
        for (size_t i = 0; i < n; i++) bad |= ((const unsigned char *)dst)[i] > 1;
        if (bad) rc = CT_ERR_CORRUPT;
    }
    return rc;
}

/* ---- many blocks ---- */

size_t ct_blocks_bound(size_t nbytes, size_t nblocks) { return nbytes + nblocks * CT_BLOCK_HEADER_MAX; }

int64_t ct_blocks_encode(const void *src, const ct_block_info *info, size_t rows_per_block, const ct_encode_opts *opts,
                         uint8_t *dst, size_t cap, uint64_t *offsets)
{
    if (!info || !offsets || rows_per_block == 0 || info->ndim != 1 || info->shape[0] != info->count) return CT_ERR_ARG;
    const size_t n = (size_t)info->count, itemsize = info->itemsize;
    const size_t nblocks = (n + rows_per_block - 1) / rows_per_block;
    size_t pos = 0;
    for (size_t k = 0; k < nblocks; k++) {
        const size_t first = k * rows_per_block, rows = n - first < rows_per_block ? n - first : rows_per_block;
        ct_block_info one = *info;
        one.shape[0] = one.count = rows;
        offsets[k] = pos;
        const int64_t w = ct_block_encode((const uint8_t *)src + first * itemsize, &one, opts, dst + pos, cap - pos);
        if (w < 0) return w;
        pos += (size_t)w;
    }
    offsets[nblocks] = pos;
    return (int64_t)pos;
}

int64_t ct_blocks_decode(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks, const uint32_t *which,
                         size_t nwhich, int dtype, size_t itemsize, void *dst, size_t dst_bytes, size_t *failed)
{
    if (!offsets || (nwhich && (!which || !src)) || !failed) return CT_ERR_ARG;
    size_t out = 0;
    for (size_t j = 0; j < nwhich; j++) {
        *failed = j;
        const uint32_t k = which[j];
        if (k >= nblocks || offsets[k] > offsets[k + 1] || offsets[k + 1] > len) return CT_ERR_CORRUPT;
        ct_block_info info;
        CT_TRY(ct_block_open(src + offsets[k], (size_t)(offsets[k + 1] - offsets[k]), &info));
        if (info.dtype != dtype || info.itemsize != itemsize || info.ndim != 1) return CT_ERR_CORRUPT;
        const size_t bytes = (size_t)info.count * itemsize;
        if (bytes > dst_bytes - out) return CT_ERR_CORRUPT; /* more values than the caller was told */
        CT_TRY(ct_block_decode(&info, (uint8_t *)dst + out, bytes));
        out += bytes;
    }
    if (out != dst_bytes) return CT_ERR_CORRUPT;
    return (int64_t)(out / (itemsize ? itemsize : 1));
}

int64_t ct_blocks_decode_at(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks,
                            const uint32_t *which, size_t nwhich, int dtype, size_t itemsize, const int64_t *row0,
                            const int64_t *rows, void *dst, size_t dst_bytes, size_t *failed)
{
    if (!offsets || (nwhich && (!which || !src || !row0 || !rows)) || !failed || !itemsize) return CT_ERR_ARG;
    for (size_t j = 0; j < nwhich; j++) {
        *failed = j;
        const uint32_t k = which[j];
        if (k >= nblocks || offsets[k] > offsets[k + 1] || offsets[k + 1] > len) return CT_ERR_CORRUPT;
        if (row0[j] < 0 || rows[j] < 0 || (uint64_t)row0[j] + (uint64_t)rows[j] > dst_bytes / itemsize)
            return CT_ERR_ARG;
        ct_block_info info;
        CT_TRY(ct_block_open(src + offsets[k], (size_t)(offsets[k + 1] - offsets[k]), &info));
        /* the block must hold exactly the rows its summary promises */
        if (info.dtype != dtype || info.itemsize != itemsize || info.ndim != 1 || info.count != (uint64_t)rows[j])
            return CT_ERR_CORRUPT;
        CT_TRY(ct_block_decode(&info, (uint8_t *)dst + (size_t)row0[j] * itemsize, (size_t)rows[j] * itemsize));
    }
    return (int64_t)nwhich;
}

size_t ct_blocks_check(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks, int *status)
{
    size_t bad = 0;
    for (size_t k = 0; k < nblocks; k++) {
        ct_block_info info;
        int rc = CT_ERR_CORRUPT;
        if (offsets[k] <= offsets[k + 1] && offsets[k + 1] <= len)
            rc = ct_block_open(src + offsets[k], (size_t)(offsets[k + 1] - offsets[k]), &info);
        status[k] = rc < 0 ? rc : 0;
        bad += rc < 0;
    }
    return bad;
}
