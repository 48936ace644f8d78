/*
 * ct_ints.h - the integer stream: the core of every numeric codec (internal).
 *
 * A stream holds n int64 values (the caller stores n). The encoder picks a
 * transform (none / delta / delta-of-delta, by estimated size), divides the
 * residuals by their greatest common divisor (whole seconds in nanosecond
 * timestamps cost nothing), then writes them either as frame-of-reference
 * bit-packed mini-blocks of 256 with patched exceptions (PFor), or, in
 * compact mode when it is smaller, through the entropy coder (ct_entropy.h).
 * All arithmetic wraps modulo 2^64, so every int64 (and uint64) sequence
 * round-trips, however large its deltas. Streams are self-delimiting, so
 * several can follow each other in one buffer. Layout: docs/format.md.
 */
#ifndef CT_INTS_H
#define CT_INTS_H

#include <stddef.h>
#include <stdint.h>

#include "ct_bytes_io.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { CT_XF_AUTO = -1, CT_XF_NONE = 0, CT_XF_DELTA = 1, CT_XF_DOD = 2 };
enum { CT_STAGE_PFOR = 0, CT_STAGE_ENTROPY = 1 };

/** Worst-case stream size for n values. */
size_t ct_ints_bound(size_t n);

/**
 * Append the stream for x[0..n) to w.
 * @param compact    nonzero: also try the entropy stage and keep the smaller.
 * @param transform  CT_XF_* or CT_XF_AUTO.
 * @return CT_OK or a negative ct_status (CT_ERR_DST_SMALL, CT_ERR_NOMEM).
 */
int ct_ints_encode(const int64_t *x, size_t n, int compact, int transform, ct_writer *w);

/**
 * Read one stream of exactly n values from r into x[0..n).
 * Hostile input gives CT_ERR_TRUNCATED / CT_ERR_CORRUPT, never an out-of-bounds access.
 */
int ct_ints_decode(ct_reader *r, int64_t *x, size_t n);

/**
 * Step over one stream of n values without decoding it: checks every header
 * and length, so that a block's structure (and that its payload can hold its
 * count) is known before the caller allocates. Costs one header per 256 values.
 */
int ct_ints_skip(ct_reader *r, size_t n);

#ifdef __cplusplus
}
#endif
#endif
