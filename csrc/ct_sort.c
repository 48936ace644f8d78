/* ct_sort.c - see ct_sort.h. */
#include "ct_sort.h"

#include <stdlib.h>
#include <string.h>

#include "ct_error.h"

#define DIGIT_BITS 11
#define BUCKETS (1u << DIGIT_BITS)

static unsigned significant_bits(uint64_t range) { return range ? 64u - (unsigned)__builtin_clzll(range) : 0u; }

/*
 * One stable counting pass over (key, row) pairs by digit `shift`. The keys
 * travel with the rows, so every pass reads sequentially; returns 0 (and
 * writes nothing) when the digit is the same for every row.
 */
static int pass(const uint64_t *key, const int64_t *row, uint64_t *key_out, int64_t *row_out, size_t n, unsigned shift)
{
    size_t count[BUCKETS];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++) count[(key[i] >> shift) & (BUCKETS - 1)]++;
    for (size_t b = 0; b < BUCKETS; b++)
        if (count[b] == n) return 0;
    size_t sum = 0;
    for (size_t b = 0; b < BUCKETS; b++) {
        const size_t c = count[b];
        count[b] = sum;
        sum += c;
    }
    for (size_t i = 0; i < n; i++) {
        const size_t at = count[(key[i] >> shift) & (BUCKETS - 1)]++;
        key_out[at] = key[i];
        row_out[at] = row[i];
    }
    return 1;
}

/* Sort the pairs by all significant bits of their keys; the result ends in (*key, *row). */
static void sort_by(uint64_t **key, int64_t **row, uint64_t **key_tmp, int64_t **row_tmp, size_t n, unsigned bits)
{
    for (unsigned shift = 0; shift < bits; shift += DIGIT_BITS) {
        if (!pass(*key, *row, *key_tmp, *row_tmp, n, shift)) continue;
        uint64_t *k = *key;
        int64_t *r = *row;
        *key = *key_tmp;
        *row = *row_tmp;
        *key_tmp = k;
        *row_tmp = r;
    }
}

static void range_of(const int64_t *v, size_t n, int64_t *lo, uint64_t *span)
{
    int64_t a = v[0], b = v[0];
    for (size_t i = 1; i < n; i++) {
        a = v[i] < a ? v[i] : a;
        b = v[i] > b ? v[i] : b;
    }
    *lo = a;
    *span = (uint64_t)b - (uint64_t)a;
}

int ct_sort_keys(const int64_t *const *keys, size_t nkeys, size_t n, int64_t *perm)
{
    if (n && (!keys || !perm)) return CT_ERR_ARG;
    for (size_t k = 0; k < nkeys && n; k++)
        if (!keys[k]) return CT_ERR_ARG;
    for (size_t i = 0; i < n; i++) perm[i] = (int64_t)i;
    if (n < 2 || nkeys == 0) return CT_OK;
    uint64_t *buf = malloc(2 * n * sizeof *buf);
    int64_t *rows_tmp = malloc(n * sizeof *rows_tmp);
    if (!buf || !rows_tmp) {
        free(buf);
        free(rows_tmp);
        return CT_ERR_NOMEM;
    }
    uint64_t *key = buf, *key_tmp = buf + n;
    int64_t *row = perm, *row_tmp = rows_tmp;
    /* least significant key first: LSD radix sort is stable pass by pass */
    for (size_t k = nkeys; k-- > 0;) {
        const int64_t *v = keys[k];
        if (row == perm && k == nkeys - 1) {
            /* rows that arrive in order of the last key (a live feed in time order) skip it */
            size_t unsorted = 0;
            for (size_t i = 1; i < n; i++) unsorted += v[i] < v[i - 1];
            if (!unsorted) continue;
        }
        int64_t lo;
        uint64_t span;
        range_of(v, n, &lo, &span);
        if (!span) continue;
        for (size_t i = 0; i < n; i++) key[i] = (uint64_t)v[row[i]] - (uint64_t)lo; /* one gather per key */
        sort_by(&key, &row, &key_tmp, &row_tmp, n, significant_bits(span));
    }
    if (row != perm) memcpy(perm, row, n * sizeof *perm);
    free(buf);
    free(rows_tmp);
    return CT_OK;
}

int ct_sort_pairs(const int64_t *major, const int64_t *minor, size_t n, int64_t *perm)
{
    const int64_t *keys[2] = {major, minor};
    return ct_sort_keys(keys, 2, n, perm);
}
