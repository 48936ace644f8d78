/*
 * ct_entropy.h - entropy stage of the "compact" codec mode.
 *
 * Codes a block of signed 64-bit residuals as adaptive bins (a lower bound
 * and an offset bit width each): the bin index is rANS coded, optionally in
 * a context chosen by the magnitude of the previous value's bin, and the
 * offset within the bin is written as raw bits. Byte layout: the top
 * comment of ct_entropy.c.
 * The library never prints; its only global state is the decoder kernel
 * choice, made once and stored atomically (thread-safe).
 */
#ifndef CT_ENTROPY_H
#define CT_ENTROPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Worst-case size in bytes of ct_ent_encode's output for n values:
 * 8 * n + 16 (saturating at SIZE_MAX). Never fails. A dst of this size can
 * never make ct_ent_encode return CT_ERR_DST_SMALL.
 */
size_t ct_ent_bound(size_t n);

/**
 * Entropy-code the n signed 64-bit residuals src[0..n) into dst[0..cap).
 *
 * The caller allocates dst (ct_ent_bound(n) bytes always suffice); the
 * encoder allocates and frees its own scratch memory (about 5 bytes per
 * value, a key histogram of at most 256 KiB and 16 bytes per outlying
 * value). The stream does NOT store n, nor its own length: the caller
 * must store both and hand them back to ct_ent_decode.
 *
 * @return bytes written (>= 1; n == 0 gives the 1-byte stream {0x00}), or a
 *         negative ct_status: CT_ERR_DST_SMALL if cap is too small,
 *         CT_ERR_NOMEM, CT_ERR_ARG (NULL pointer with n > 0),
 *         CT_ERR_TOO_LARGE (n > SIZE_MAX / 32).
 */
int64_t ct_ent_encode(const int64_t *src, size_t n, uint8_t *dst, size_t cap);

/**
 * Decode exactly n values from the stream src[0..len) into dst[0..n).
 *
 * The caller allocates dst (n values) and supplies the n and len that it
 * stored at encode time. The decoder allocates its tables itself (at most
 * ~360 KiB, typically 20-300 KiB; < 1 KiB of stack) and frees them before
 * returning. The SIMD kernels (ct_ent_select) give identical results.
 * Input is treated as hostile: no read outside src[0..len), no write
 * outside dst[0..n), bounded time. dst contents are unspecified on error.
 *
 * @return CT_OK, or a negative ct_status: CT_ERR_TRUNCATED (stream ends
 *         early), CT_ERR_CORRUPT (invalid tables, final rANS state
 *         or rANS word count mismatch, unused trailing bytes or nonzero
 *         padding bits),
 *         CT_ERR_NOMEM, CT_ERR_ARG (NULL pointer with n > 0).
 */
int ct_ent_decode(const uint8_t *src, size_t len, int64_t *dst, size_t n);

/**
 * Decoder implementations this build and CPU can run ("generic", then
 * "avx2", "avx512" on x86-64), best last; NULL-terminated. Every one
 * gives identical results (values and status); the encoder has only one.
 */
const char *const *ct_ent_available(void);

/**
 * Choose the decoder implementation by name, or the best one for "auto" or
 * NULL. Without a call, the first decode picks one from CHRONOTOPE_SIMD
 * (generic|avx2|avx512; "generic" forces the portable scalar path) or else
 * the CPU. Thread-safe; takes effect for decodes that start afterwards.
 * @return CT_OK, or CT_ERR_UNSUPPORTED if this build or CPU lacks it.
 */
int ct_ent_select(const char *name);

/** Name of the decoder implementation in use (selecting one if needed). */
const char *ct_ent_impl_name(void);

/* ---- internal: interface of the per-ISA decode kernels ----
 * (ct_entropy_avx2.c, ct_entropy_avx512.c; not part of the public API) */

#define CT_ENT_MAX_LANES 32

/* rANS decoder state of all lanes; c[j] is lane j's context table base. */
typedef struct ct_ent_lanes {
    uint32_t x[CT_ENT_MAX_LANES], c[CT_ENT_MAX_LANES];
    const uint8_t *p; /* next 16-bit renormalisation word */
} ct_ent_lanes;

typedef struct ct_ent_impl {
    const char *name;
    unsigned lane_counts; /* bit log2(L) set: ans handles L lanes */
    /* Decode up to R rounds of L lanes, items round-major (items[r*L + j]),
     * while end - p >= 2 * L; returns the rounds done. */
    size_t (*ans)(ct_ent_lanes *st, uint32_t *items, size_t R, unsigned L, const uint64_t *tab, unsigned prec,
                  const uint8_t *end);
    /* b[j * R + r] = a[r * L + j] for r < R, j < L */
    void (*transpose)(const uint32_t *a, uint32_t *b, size_t R, unsigned L);
    /* Offsets of one lane run: out[i] = lowtab[2 * bin] + the next w raw
     * bits (item = w | x << 7 | bin << 19), from bit *pos of p[0..len); decodes a
     * prefix of the k items whose bits lie in bounds, advances *pos and
     * returns its length (NULL: none). */
    size_t (*raw)(const uint8_t *p, size_t len, uint64_t *pos, const uint32_t *items, size_t k, int64_t *out,
                  const uint64_t *lowtab);
} ct_ent_impl;

extern const ct_ent_impl ct_ent_impl_avx2, ct_ent_impl_avx512;

#ifdef __cplusplus
}
#endif
#endif /* CT_ENTROPY_H */
