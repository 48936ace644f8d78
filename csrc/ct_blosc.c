/* ct_blosc.c - wrapper over c-blosc2 contexts: single-threaded, no global state of ours. */
#include "ct_blosc.h"

#include <blosc2.h>
#include <blosc2/filters-registry.h>
#include <pthread.h>

static pthread_once_t blosc_once = PTHREAD_ONCE_INIT;
/* blosc2_init registers the bytedelta filter; the ctx functions need no lock afterwards. */
static void blosc_init_once(void) { blosc2_init(); }

size_t ct_blosc_bound(size_t nbytes) { return 10 + nbytes + BLOSC2_MAX_OVERHEAD; }

int ct_blosc_encode(const void *src, size_t nbytes, size_t typesize, int compact, ct_writer *w)
{
    if (nbytes > (size_t)BLOSC2_MAX_BUFFERSIZE) return CT_ERR_TOO_LARGE;
    if (typesize < 1 || typesize > 255) typesize = 1; /* blosc2's limit; shuffle is an optimisation only */
    pthread_once(&blosc_once, blosc_init_once);
    blosc2_cparams cp = BLOSC2_CPARAMS_DEFAULTS;
    cp.compcode = compact ? BLOSC_ZSTD : BLOSC_LZ4;
    cp.clevel = compact ? 6 : 5;
    cp.typesize = (int32_t)typesize;
    cp.nthreads = 1;
    cp.filters[BLOSC2_MAX_FILTERS - 1] = typesize > 1 ? BLOSC_SHUFFLE : BLOSC_NOSHUFFLE;
    if (compact && typesize > 1) {
        /* bytedelta after shuffle: smooth numeric columns then compress far better */
        cp.filters[BLOSC2_MAX_FILTERS - 2] = BLOSC_SHUFFLE;
        cp.filters[BLOSC2_MAX_FILTERS - 1] = BLOSC_FILTER_BYTEDELTA;
        cp.filters_meta[BLOSC2_MAX_FILTERS - 1] = (uint8_t)typesize;
    }
    blosc2_context *ctx = blosc2_create_cctx(cp);
    if (!ctx) return CT_ERR_NOMEM;
    const size_t cap = nbytes + BLOSC2_MAX_OVERHEAD;
    uint8_t lenbuf[10];
    ct_writer lw = {lenbuf, sizeof lenbuf, 0};
    /* compress straight into w, leaving room for the length varint in front */
    const size_t room = 10;
    if (w->cap - w->pos < room + cap) {
        blosc2_free_ctx(ctx);
        return CT_ERR_DST_SMALL;
    }
    const int clen = blosc2_compress_ctx(ctx, src, (int32_t)nbytes, w->p + w->pos + room, (int32_t)cap);
    blosc2_free_ctx(ctx);
    if (clen <= 0) return CT_ERR_BLOSC;
    CT_TRY(ct_put_varint(&lw, (uint64_t)clen));
    memmove(w->p + w->pos + lw.pos, w->p + w->pos + room, (size_t)clen);
    memcpy(w->p + w->pos, lenbuf, lw.pos);
    w->pos += lw.pos + (size_t)clen;
    return CT_OK;
}

/* Read the chunk's length and check its own header against the expected size. */
static int chunk_get(ct_reader *r, size_t nbytes, const uint8_t **src, size_t *len)
{
    uint64_t clen;
    CT_TRY(ct_get_varint(r, &clen));
    if (clen > ct_reader_left(r)) return CT_ERR_TRUNCATED;
    if (clen > (uint64_t)INT32_MAX || nbytes > (size_t)BLOSC2_MAX_BUFFERSIZE) return CT_ERR_CORRUPT;
    CT_TRY(ct_get_bytes(r, (size_t)clen, src));
    int32_t want, cbytes, bsize;
    if (clen < BLOSC_MIN_HEADER_LENGTH || blosc2_cbuffer_sizes(*src, &want, &cbytes, &bsize) < 0) return CT_ERR_CORRUPT;
    if (want < 0 || (size_t)want != nbytes || cbytes < 0 || (uint64_t)cbytes != clen) return CT_ERR_CORRUPT;
    *len = (size_t)clen;
    return CT_OK;
}

int ct_blosc_skip(ct_reader *r, size_t nbytes)
{
    const uint8_t *src;
    size_t len;
    return chunk_get(r, nbytes, &src, &len);
}

int ct_blosc_decode(ct_reader *r, void *dst, size_t nbytes)
{
    const uint8_t *src;
    size_t clen;
    CT_TRY(chunk_get(r, nbytes, &src, &clen));
    pthread_once(&blosc_once, blosc_init_once);
    blosc2_dparams dp = BLOSC2_DPARAMS_DEFAULTS;
    dp.nthreads = 1;
    blosc2_context *ctx = blosc2_create_dctx(dp);
    if (!ctx) return CT_ERR_NOMEM;
    const int got = blosc2_decompress_ctx(ctx, src, (int32_t)clen, dst, (int32_t)nbytes);
    blosc2_free_ctx(ctx);
    if (got < 0 || (size_t)got != nbytes) return CT_ERR_CORRUPT;
    return CT_OK;
}
