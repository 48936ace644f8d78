/*
 * ct_bytes_io.h - bounded little-endian readers and writers (internal).
 *
 * The reader never reads past its end: every get returns a negative
 * ct_status instead, so decoders can treat their input as hostile.
 * Varints are LEB128 (7 bits a byte, low first), at most 10 bytes.
 */
#ifndef CT_BYTES_IO_H
#define CT_BYTES_IO_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ct_error.h"

typedef struct ct_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
} ct_reader;

typedef struct ct_writer {
    uint8_t *p;
    size_t cap;
    size_t pos;
} ct_writer;

static inline uint64_t ct_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t ct_unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

static inline size_t ct_reader_left(const ct_reader *r) { return r->len - r->pos; }

static inline int ct_get_u8(ct_reader *r, uint8_t *v)
{
    if (r->pos >= r->len) return CT_ERR_TRUNCATED;
    *v = r->p[r->pos++];
    return CT_OK;
}

static inline int ct_get_bytes(ct_reader *r, size_t n, const uint8_t **v)
{
    if (n > ct_reader_left(r)) return CT_ERR_TRUNCATED;
    *v = r->p + r->pos;
    r->pos += n;
    return CT_OK;
}

static inline int ct_get_varint(ct_reader *r, uint64_t *v)
{
    uint64_t out = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->pos >= r->len) return CT_ERR_TRUNCATED;
        uint8_t b = r->p[r->pos++];
        if (shift == 63 && b > 1) return CT_ERR_CORRUPT; /* would overflow 64 bits */
        out |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = out;
            return CT_OK;
        }
    }
    return CT_ERR_CORRUPT;
}

static inline int ct_get_svarint(ct_reader *r, int64_t *v)
{
    uint64_t u;
    CT_TRY(ct_get_varint(r, &u));
    *v = ct_unzigzag(u);
    return CT_OK;
}

static inline int ct_put_u8(ct_writer *w, uint8_t v)
{
    if (w->pos >= w->cap) return CT_ERR_DST_SMALL;
    w->p[w->pos++] = v;
    return CT_OK;
}

static inline int ct_put_bytes(ct_writer *w, const void *src, size_t n)
{
    if (n > w->cap - w->pos) return CT_ERR_DST_SMALL;
    if (n) memcpy(w->p + w->pos, src, n);
    w->pos += n;
    return CT_OK;
}

static inline int ct_put_varint(ct_writer *w, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7F);
        v >>= 7;
        CT_TRY(ct_put_u8(w, (uint8_t)(b | (v ? 0x80 : 0))));
    } while (v);
    return CT_OK;
}

static inline int ct_put_svarint(ct_writer *w, int64_t v) { return ct_put_varint(w, ct_zigzag(v)); }

static inline uint32_t ct_load_u32le(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static inline uint64_t ct_load_u64le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void ct_store_u32le(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}

static inline void ct_store_u64le(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

#endif
