/*
 * ct_sort.h - stable sort of rows by (major, minor) int64 keys: the (object, t)
 * order of segments, computed in C for the flush and merge paths.
 */
#ifndef CT_SORT_H
#define CT_SORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Stable LSD radix sort: perm receives the row order that sorts (major, minor)
 * ascending, rows with equal keys keeping their input order (so the last of a
 * run of duplicates is the last written). Only the significant bits of each
 * key's range are sorted, 11 bits per pass, and passes whose digit is constant
 * are skipped.
 * @param perm  caller-allocated, n entries.
 * @return 0, or CT_ERR_NOMEM / CT_ERR_ARG. Allocates 2 * n * 8 bytes of scratch.
 */
int ct_sort_pairs(const int64_t *major, const int64_t *minor, size_t n, int64_t *perm);

/**
 * The same for nkeys keys (keys[0] most significant): e.g. (partition, object, t).
 * @return 0, or CT_ERR_NOMEM / CT_ERR_ARG.
 */
int ct_sort_keys(const int64_t *const *keys, size_t nkeys, size_t n, int64_t *perm);

#ifdef __cplusplus
}
#endif
#endif
