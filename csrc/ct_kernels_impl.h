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

static inline __attribute__((always_inline)) void CT_K(pack_b)(const uint32_t *restrict in, uint32_t *restrict out, const unsigned b)
{
    memset(out, 0, (size_t)CT_LANES * b * sizeof(uint32_t));
    for (unsigned r = 0; r < CT_MINIBLOCK / CT_LANES; r++) {
        const unsigned bit = r * b, w = bit >> 5, s = bit & 31;
        const uint32_t *src = in + r * CT_LANES;
        uint32_t *dst = out + w * CT_LANES;
        for (unsigned l = 0; l < CT_LANES; l++) dst[l] |= src[l] << s;
        if (s + b > 32)
            for (unsigned l = 0; l < CT_LANES; l++) dst[CT_LANES + l] |= src[l] >> (32 - s);
    }
}

static inline __attribute__((always_inline)) void CT_K(unpack_b)(const uint32_t *restrict in, uint32_t *restrict out, const unsigned b)
{
    const uint32_t mask = b == 32 ? 0xFFFFFFFFu : ((1u << b) - 1u);
    for (unsigned r = 0; r < CT_MINIBLOCK / CT_LANES; r++) {
        const unsigned bit = r * b, w = bit >> 5, s = bit & 31;
        const uint32_t *src = in + w * CT_LANES;
        uint32_t *dst = out + r * CT_LANES;
        if (s + b > 32) {
            for (unsigned l = 0; l < CT_LANES; l++) dst[l] = ((src[l] >> s) | (src[CT_LANES + l] << (32 - s))) & mask;
        } else {
            for (unsigned l = 0; l < CT_LANES; l++) dst[l] = (src[l] >> s) & mask;
        }
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
    CT_K(enc_f64),
    CT_K(enc_f32),
    CT_K(dec_f64),
    CT_K(dec_f32),
};
