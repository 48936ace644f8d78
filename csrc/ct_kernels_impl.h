/*
 * ct_kernels_impl.h - kernel bodies, included once per ISA translation unit.
 *
 * The includer defines CT_KERNEL_SUFFIX (a token) and CT_KERNEL_NAME (a
 * string). Loops are written over 8 lanes of uint32 with a compile-time bit
 * width so that gcc/clang unroll and vectorise them; the decimal conversions
 * use the 2^52 magic-number trick, exact for |n| < 2^51, which vectorises
 * on every ISA (there is no packed int64<->double conversion before AVX-512DQ).
 */
#include <math.h>
#include <string.h>

#include "ct_kernels.h"

#define CT_CAT_(a, b) a##_##b
#define CT_CAT(a, b) CT_CAT_(a, b)
#define CT_K(fn) CT_CAT(fn, CT_KERNEL_SUFFIX)

#define CT_MAGIC_F 6755399441055744.0 /* 0x1.8p52 */
#define CT_MAGIC_I 0x4338000000000000LL /* its bit pattern */
#define CT_DEC_LIMIT 2251799813685248.0 /* 2^51 */

/* The vector helpers are static and inlined, so the psABI note about passing
 * 32-byte vectors without AVX concerns no real call boundary. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* Eight uint32 lanes as one value: gcc/clang lower it to two SSE2/NEON registers
 * or one AVX2 register, so the same source is explicit SIMD on every target. */
typedef uint32_t CT_K(v8u) __attribute__((vector_size(32)));

static inline CT_K(v8u) CT_K(load8)(const uint32_t *p)
{
    CT_K(v8u) v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void CT_K(store8)(uint32_t *p, CT_K(v8u) v) { memcpy(p, &v, sizeof v); }

/* With b a compile-time constant and the row loop unrolled, every shift is an immediate. */
static inline __attribute__((always_inline)) void CT_K(pack_b)(const uint32_t *restrict in, uint32_t *restrict out, const unsigned b)
{
    CT_K(v8u) acc = {0};
    unsigned w = 0;
#pragma GCC unroll 32
    for (unsigned r = 0; r < CT_MINIBLOCK / CT_LANES; r++) {
        const unsigned bit = r * b, s = bit & 31;
        const CT_K(v8u) v = CT_K(load8)(in + r * CT_LANES);
        acc |= v << s;
        if (s + b >= 32) {
            CT_K(store8)(out + w * CT_LANES, acc);
            w++;
            acc = s ? v >> (32 - s) : (CT_K(v8u)){0};
        }
    }
}

static inline __attribute__((always_inline)) void CT_K(unpack_b)(const uint32_t *restrict in, uint32_t *restrict out, const unsigned b)
{
    const uint32_t mask = b == 32 ? 0xFFFFFFFFu : ((1u << b) - 1u);
#pragma GCC unroll 32
    for (unsigned r = 0; r < CT_MINIBLOCK / CT_LANES; r++) {
        const unsigned bit = r * b, w = bit >> 5, s = bit & 31;
        CT_K(v8u) v = CT_K(load8)(in + w * CT_LANES) >> s;
        if (s + b > 32) v |= CT_K(load8)(in + (w + 1) * CT_LANES) << (32 - s);
        CT_K(store8)(out + r * CT_LANES, v & mask);
    }
}

#define CT_WIDTH_CASES(X) \
    X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) \
    X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31) X(32)

static void CT_K(pack256)(const uint32_t *in, uint32_t *out, unsigned b)
{
    switch (b) {
#define CT_PACK_CASE(B) case B: CT_K(pack_b)(in, out, B); break;
        CT_WIDTH_CASES(CT_PACK_CASE)
#undef CT_PACK_CASE
    default: break; /* b == 0 writes nothing */
    }
}

static void CT_K(unpack256)(const uint32_t *in, uint32_t *out, unsigned b)
{
    switch (b) {
#define CT_UNPACK_CASE(B) case B: CT_K(unpack_b)(in, out, B); break;
        CT_WIDTH_CASES(CT_UNPACK_CASE)
#undef CT_UNPACK_CASE
    default: memset(out, 0, CT_MINIBLOCK * sizeof(uint32_t)); break;
    }
}

#if defined(CT_KERNEL_SCALAR_SCAN)
/* Baseline targets lack cheap 64-bit lane shuffles and multiplies: four
 * interleaved scalar chains beat the vector scan there. */
static int64_t CT_K(delta256)(const uint32_t *restrict lo, uint64_t base, const uint64_t *restrict hi, uint64_t start,
                              uint64_t g, int64_t *restrict out)
{
    enum { Q = CT_MINIBLOCK / 4 };
    uint64_t *o = (uint64_t *)out, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#define CT_R(i) ((base + lo[i] + (hi ? hi[i] : 0)) * g)
    for (unsigned j = 0; j < Q; j++) {
        o[j] = s0 += CT_R(j);
        o[Q + j] = s1 += CT_R(Q + j);
        o[2 * Q + j] = s2 += CT_R(2 * Q + j);
        o[3 * Q + j] = s3 += CT_R(3 * Q + j);
    }
#undef CT_R
    uint64_t carry = start;
    for (unsigned q = 0; q < 4; q++) {
        for (unsigned j = 0; j < Q; j++) o[q * Q + j] += carry;
        carry = o[q * Q + Q - 1];
    }
    return (int64_t)carry;
}
#else
/* CT_SCAN_LANES uint64 lanes per step: 8 where 512-bit registers exist, else 4. */
#ifndef CT_SCAN_LANES
#define CT_SCAN_LANES 4
#endif
typedef uint64_t CT_K(vq) __attribute__((vector_size(8 * CT_SCAN_LANES)));
typedef uint32_t CT_K(vd) __attribute__((vector_size(4 * CT_SCAN_LANES)));

/* CT_SCAN_LANES uint32 widened to uint64 lanes. */
static inline CT_K(vq) CT_K(load_wide)(const uint32_t *p)
{
    CT_K(vd) v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, CT_K(vq));
}

/* Inclusive prefix sum inside one vector: log2(lanes) shift-and-add steps. */
static inline CT_K(vq) CT_K(scan)(CT_K(vq) x)
{
    const CT_K(vq) z = {0};
#if CT_SCAN_LANES == 8
    x += __builtin_shufflevector(x, z, 8, 0, 1, 2, 3, 4, 5, 6);
    x += __builtin_shufflevector(x, z, 8, 8, 0, 1, 2, 3, 4, 5);
    x += __builtin_shufflevector(x, z, 8, 8, 8, 8, 0, 1, 2, 3);
#else
    x += __builtin_shufflevector(x, z, 4, 0, 1, 2);
    x += __builtin_shufflevector(x, z, 4, 4, 0, 1);
#endif
    return x;
}

static inline CT_K(vq) CT_K(last)(CT_K(vq) x)
{
#if CT_SCAN_LANES == 8
    return __builtin_shufflevector(x, x, 7, 7, 7, 7, 7, 7, 7, 7);
#else
    return __builtin_shufflevector(x, x, 3, 3, 3, 3);
#endif
}

/* The four quarters of a mini-block run as independent carry chains, so their
 * latencies overlap. G (compile-time) says whether to multiply by g, P whether
 * to add the sparse exception array hi. */
static inline __attribute__((always_inline)) void CT_K(scan_quarters)(const uint32_t *restrict lo, uint64_t base, uint64_t g,
                                                                      const uint64_t *restrict hi, uint64_t *restrict o,
                                                                      const int G, const int P)
{
    enum { Q = CT_MINIBLOCK / 4, L = CT_SCAN_LANES };
    CT_K(vq) c[4] = {{0}, {0}, {0}, {0}};
    for (unsigned j = 0; j < Q; j += L) {
        for (unsigned q = 0; q < 4; q++) {
            CT_K(vq) x = CT_K(load_wide)(lo + q * Q + j) + base;
            if (P) {
                CT_K(vq) h;
                memcpy(&h, hi + q * Q + j, sizeof h);
                x += h;
            }
            if (G) x *= g;
            x = CT_K(scan)(x) + c[q];
            memcpy(o + q * Q + j, &x, sizeof x);
            c[q] = CT_K(last)(x);
        }
    }
}

static int64_t CT_K(delta256)(const uint32_t *restrict lo, uint64_t base, const uint64_t *restrict hi, uint64_t start,
                              uint64_t g, int64_t *restrict out)
{
    enum { Q = CT_MINIBLOCK / 4 };
    uint64_t *o = (uint64_t *)out;
    if (g == 1) {
        if (hi) CT_K(scan_quarters)(lo, base, g, hi, o, 0, 1);
        else CT_K(scan_quarters)(lo, base, g, hi, o, 0, 0);
    } else {
        if (hi) CT_K(scan_quarters)(lo, base, g, hi, o, 1, 1);
        else CT_K(scan_quarters)(lo, base, g, hi, o, 1, 0);
    }
    /* each quarter gets the running total before it */
    uint64_t carry = start;
    for (unsigned q = 0; q < 4; q++) {
        for (unsigned j = 0; j < Q; j++) o[q * Q + j] += carry;
        carry = o[q * Q + Q - 1];
    }
    return (int64_t)carry;
}
#endif

static inline int64_t CT_K(bits_of)(double d)
{
    int64_t v;
    memcpy(&v, &d, 8);
    return v;
}

static inline double CT_K(double_of)(int64_t v)
{
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static inline int32_t CT_K(bits_of_f)(float f)
{
    int32_t v;
    memcpy(&v, &f, 4);
    return v;
}

/* (double)n for |n| < 2^51, branch-free and vectorisable. */
static inline double CT_K(i2d)(int64_t n)
{
    return CT_K(double_of)((int64_t)((uint64_t)n + (uint64_t)CT_MAGIC_I)) - CT_MAGIC_F;
}

static size_t CT_K(enc_f64)(const double *restrict x, int64_t *restrict n, uint8_t *restrict ok, size_t cnt, double p10)
{
    size_t bad = 0;
    for (size_t i = 0; i < cnt; i++) {
        const double y = x[i] * p10;
        const int in_range = fabs(y) < CT_DEC_LIMIT; /* false for NaN and inf */
        const double ys = in_range ? y : 0.0;
        /* adding the magic rounds to nearest-even and leaves the integer in the low bits */
        const int64_t v = CT_K(bits_of)(ys + CT_MAGIC_F) - CT_MAGIC_I;
        const double back = CT_K(i2d)(v) / p10;
        const int good = in_range & (CT_K(bits_of)(back) == CT_K(bits_of)(x[i]));
        n[i] = v;
        ok[i] = (uint8_t)good;
        bad += (size_t)!good;
    }
    return bad;
}

static size_t CT_K(enc_f32)(const float *restrict x, int64_t *restrict n, uint8_t *restrict ok, size_t cnt, double p10)
{
    size_t bad = 0;
    for (size_t i = 0; i < cnt; i++) {
        const double y = (double)x[i] * p10;
        const int in_range = fabs(y) < CT_DEC_LIMIT;
        const double ys = in_range ? y : 0.0;
        const int64_t v = CT_K(bits_of)(ys + CT_MAGIC_F) - CT_MAGIC_I;
        const float back = (float)(CT_K(i2d)(v) / p10);
        const int good = in_range & (CT_K(bits_of_f)(back) == CT_K(bits_of_f)(x[i]));
        n[i] = v;
        ok[i] = (uint8_t)good;
        bad += (size_t)!good;
    }
    return bad;
}

static void CT_K(dec_f64)(const int64_t *restrict n, double *restrict out, size_t cnt, double p10)
{
    for (size_t i = 0; i < cnt; i++) out[i] = CT_K(i2d)(n[i]) / p10;
}

static void CT_K(dec_f32)(const int64_t *restrict n, float *restrict out, size_t cnt, double p10)
{
    for (size_t i = 0; i < cnt; i++) out[i] = (float)(CT_K(i2d)(n[i]) / p10);
}

const ct_kernels CT_CAT(ct_kernels, CT_KERNEL_SUFFIX) = {
    CT_KERNEL_NAME,
    CT_K(pack256),
    CT_K(unpack256),
    CT_K(delta256),
    CT_K(enc_f64),
    CT_K(enc_f32),
    CT_K(dec_f64),
    CT_K(dec_f32),
};
