/*
 * ct_kernels.h - the SIMD-sensitive inner loops, one table per instruction set.
 *
 * ct_kernels_impl.h holds plain, branch-free C written for auto-vectorisation;
 * it is compiled once per ISA (ct_kernels_generic.c for the baseline target,
 * ct_kernels_avx2.c and ct_kernels_avx512.c with their -m flags on x86-64).
 * The dispatcher picks a table once, at first use, from the CPU's features;
 * CHRONOTOPE_SIMD=generic|avx2|avx512 (or ct_kernels_select) overrides it.
 * Every table produces bit-identical output: tests run them all.
 */
#ifndef CT_KERNELS_H
#define CT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Values per mini-block and lanes of the vertical layout (format constants). */
#define CT_MINIBLOCK 256
#define CT_LANES 8

typedef struct ct_kernels {
    const char *name;
    /** Pack 256 values (each < 2^b, b in 0..32) into 8*b 32-bit words, vertical 8-lane layout. */
    void (*pack256)(const uint32_t *in, uint32_t *out, unsigned b);
    /** Inverse of pack256: 8*b words in, 256 values out. */
    void (*unpack256)(const uint32_t *in, uint32_t *out, unsigned b);
    /**
     * Delta decode of a full mini-block whose residuals are in the transposed order
     * (residual k = row*8 + lane holds original position lane*32 + row):
     * out = start + g * running sum of (base + lo[k] + hi[k]) in original order, mod 2^64,
     * where hi (the patched exceptions) may be NULL for all zeros; returns out[255].
     */
    int64_t (*delta256)(const uint32_t *lo, uint64_t base, const uint64_t *hi, uint64_t start, uint64_t g, int64_t *out);
    /**
     * Decimal encode: for each x[i], n[i] = round(x[i] * p10); returns how many
     * x[i] do NOT round-trip bit-exactly through dec_f64 (those get ok[i] = 0).
     */
    size_t (*enc_f64)(const double *x, int64_t *n, uint8_t *ok, size_t cnt, double p10);
    size_t (*enc_f32)(const float *x, int64_t *n, uint8_t *ok, size_t cnt, double p10);
    /** Decimal decode: out[i] = n[i] / p10, for |n[i]| < 2^51 (the encoder guarantees it). */
    void (*dec_f64)(const int64_t *n, double *out, size_t cnt, double p10);
    void (*dec_f32)(const int64_t *n, float *out, size_t cnt, double p10);
    /** Query filter: m[i] = lo <= t[i] <= hi and box[0] <= x[i] <= box[2] and box[1] <= y[i] <= box[3]. */
    void (*box_mask)(const int64_t *t, const double *x, const double *y, size_t cnt, int64_t lo, int64_t hi,
                     const double *box, uint8_t *m);
} ct_kernels;

/**
 * Whether this build and CPU can run the kernels named "generic", "avx2"
 * (AVX2 + BMI2) or "avx512" (AVX-512 F/DQ/VL/BW + BMI2); the codec and the
 * entropy kernels share this one check.
 */
int ct_cpu_supports(const char *name);

/** The kernels in use (selected on first call; never NULL). */
const ct_kernels *ct_kernels_get(void);

/**
 * Select kernels by name ("generic", "avx2", "avx512", or "auto"), for the
 * codec kernels and the entropy decoder alike.
 * @return 0, or CT_ERR_UNSUPPORTED if this build or CPU lacks them.
 */
int ct_kernels_select(const char *name);

/** Names of the kernel tables this build and CPU can run, best last; NULL-terminated. */
const char *const *ct_kernels_available(void);

extern const ct_kernels ct_kernels_generic;
#if defined(CT_HAVE_X86_KERNELS)
extern const ct_kernels ct_kernels_avx2;
extern const ct_kernels ct_kernels_avx512;
#endif

#ifdef __cplusplus
}
#endif
#endif
