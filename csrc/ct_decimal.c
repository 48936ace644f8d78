/* ct_decimal.c - see ct_decimal.h and docs/format.md. */
#include "ct_decimal.h"

#include <stdlib.h>

#include "ct_ints.h"
#include "ct_kernels.h"

#define CT_DEC_MAX_E 22 /* 10^22 is the largest power of ten a double holds exactly */
#define SAMPLE 1024

static const double pow10_tab[CT_DEC_MAX_E + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

size_t ct_decimal_bound(size_t n, size_t itemsize) { return 16 + n * (10 + itemsize) + ct_ints_bound(n); }

static size_t enc(const ct_kernels *k, const void *src, size_t itemsize, int64_t *n, uint8_t *ok, size_t cnt, double p10)
{
    return itemsize == 8 ? k->enc_f64((const double *)src, n, ok, cnt, p10)
                         : k->enc_f32((const float *)src, n, ok, cnt, p10);
}

/* The smallest exponent with the most exact values, judged on an evenly spaced sample. */
static int choose_exponent(const ct_kernels *k, const uint8_t *src, size_t n, size_t itemsize)
{
    uint8_t sample[SAMPLE * 8], ok[SAMPLE];
    int64_t ints[SAMPLE];
    const size_t cnt = n < SAMPLE ? n : SAMPLE;
    for (size_t i = 0; i < cnt; i++) memcpy(sample + i * itemsize, src + (i * n / cnt) * itemsize, itemsize);
    int best = 0;
    size_t best_bad = (size_t)-1;
    for (int e = 0; e <= CT_DEC_MAX_E && best_bad; e++) {
        const size_t bad = enc(k, sample, itemsize, ints, ok, cnt, pow10_tab[e]);
        if (bad < best_bad) {
            best_bad = bad;
            best = e;
        }
    }
    return best;
}

int ct_decimal_encode(const void *src, size_t n, size_t itemsize, int compact, double max_exc_fraction, ct_writer *w)
{
    if (itemsize != 4 && itemsize != 8) return CT_ERR_ARG;
    const ct_kernels *k = ct_kernels_get();
    const int e = n ? choose_exponent(k, (const uint8_t *)src, n, itemsize) : 0;
    int64_t *ints = malloc((n ? n : 1) * sizeof *ints);
    uint8_t *ok = malloc(n ? n : 1);
    int rc = CT_OK;
    if (!ints || !ok) {
        rc = CT_ERR_NOMEM;
        goto done;
    }
    const size_t bad = enc(k, src, itemsize, ints, ok, n, pow10_tab[e]);
    if ((double)bad > max_exc_fraction * (double)n) {
        rc = CT_ERR_UNSUPPORTED;
        goto done;
    }
    if ((rc = ct_put_u8(w, (uint8_t)e)) < 0 || (rc = ct_put_varint(w, bad)) < 0) goto done;
    /* exception positions as gaps, then their raw bytes; their integer slot repeats
       the previous integer so that deltas stay small */
    int64_t prev = 0;
    size_t last = 0;
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (ok[i]) {
            prev = ints[i];
            continue;
        }
        ints[i] = prev;
        if ((rc = ct_put_varint(w, first ? i : i - last - 1)) < 0) goto done;
        last = i;
        first = 0;
    }
    for (size_t i = 0; i < n && bad; i++)
        if (!ok[i] && (rc = ct_put_bytes(w, (const uint8_t *)src + i * itemsize, itemsize)) < 0) goto done;
    rc = ct_ints_encode(ints, n, compact, CT_XF_AUTO, w);
done:
    free(ints);
    free(ok);
    return rc;
}

int ct_decimal_skip(ct_reader *r, size_t n, size_t itemsize)
{
    uint8_t e;
    uint64_t nexc, gap;
    const uint8_t *raw;
    CT_TRY(ct_get_u8(r, &e));
    CT_TRY(ct_get_varint(r, &nexc));
    if (e > CT_DEC_MAX_E || nexc > n) return CT_ERR_CORRUPT;
    for (uint64_t j = 0; j < nexc; j++) CT_TRY(ct_get_varint(r, &gap));
    if (nexc > ct_reader_left(r) / itemsize) return CT_ERR_TRUNCATED;
    CT_TRY(ct_get_bytes(r, (size_t)nexc * itemsize, &raw));
    return ct_ints_skip(r, n);
}

int ct_decimal_decode(ct_reader *r, void *dst, size_t n, size_t itemsize)
{
    if (itemsize != 4 && itemsize != 8) return CT_ERR_ARG;
    uint8_t e;
    uint64_t nexc;
    CT_TRY(ct_get_u8(r, &e));
    if (e > CT_DEC_MAX_E) return CT_ERR_CORRUPT;
    CT_TRY(ct_get_varint(r, &nexc));
    if (nexc > n) return CT_ERR_CORRUPT;
    size_t *pos = malloc((nexc ? nexc : 1) * sizeof *pos);
    /* float64 decodes its integers in place, then converts them chunk by chunk */
    int64_t *ints = itemsize == 8 ? (int64_t *)dst : malloc((n ? n : 1) * sizeof *ints);
    int rc = CT_OK;
    const uint8_t *raw;
    if (!pos || !ints) {
        rc = CT_ERR_NOMEM;
        goto done;
    }
    for (size_t j = 0; j < nexc; j++) {
        uint64_t gap;
        if ((rc = ct_get_varint(r, &gap)) < 0) goto done;
        const uint64_t p = j ? (uint64_t)pos[j - 1] + 1 + gap : gap;
        if (gap >= n || p >= n) {
            rc = CT_ERR_CORRUPT;
            goto done;
        }
        pos[j] = (size_t)p;
    }
    if (nexc > ct_reader_left(r) / itemsize) {
        rc = CT_ERR_TRUNCATED;
        goto done;
    }
    if ((rc = ct_get_bytes(r, (size_t)nexc * itemsize, &raw)) < 0) goto done;
    if ((rc = ct_ints_decode(r, ints, n)) < 0) goto done;
    const ct_kernels *k = ct_kernels_get();
    if (itemsize == 8) {
        int64_t chunk[512];
        for (size_t i = 0; i < n; i += 512) {
            const size_t c = n - i < 512 ? n - i : 512;
            memcpy(chunk, ints + i, c * sizeof *chunk);
            k->dec_f64(chunk, (double *)dst + i, c, pow10_tab[e]);
        }
    } else {
        k->dec_f32(ints, (float *)dst, n, pow10_tab[e]);
    }
    for (size_t j = 0; j < nexc; j++) memcpy((uint8_t *)dst + pos[j] * itemsize, raw + j * itemsize, itemsize);
done:
    free(pos);
    if ((void *)ints != dst) free(ints);
    return rc;
}
