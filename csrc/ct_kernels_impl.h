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
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

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

/*
 * Delta decode of a full mini-block in the transposed order (docs/format.md):
 * residual k = row * 8 + lane belongs to original position lane * 32 + row,
 * so each lane is a run of 32 consecutive values and the prefix sums run down
 * the rows, eight lanes at a time, with no dependency between lanes. The lane
 * totals then give each run its starting offset.
 */
#if defined(CT_KERNEL_SCALAR_SCAN)
/* Baseline targets lack cheap 64-bit lane shuffles: eight scalar chains. */
static int64_t CT_K(delta256)(const uint32_t *restrict lo, uint64_t base, const uint64_t *restrict hi, uint64_t start,
                              uint64_t g, int64_t *restrict out)
{
    enum { R = CT_MINIBLOCK / CT_LANES };
    uint64_t *o = (uint64_t *)out, acc[CT_LANES] = {0};
    for (unsigned r = 0; r < R; r++)
        for (unsigned l = 0; l < CT_LANES; l++) {
            const unsigned k = r * CT_LANES + l;
            acc[l] += (base + lo[k] + (hi ? hi[k] : 0)) * g;
            o[l * R + r] = acc[l];
        }
    uint64_t off = start;
    for (unsigned l = 0; l < CT_LANES; l++) {
        for (unsigned r = 0; r < R; r++) o[l * R + r] += off;
        off = o[l * R + R - 1];
    }
    return (int64_t)off;
}
#else
/* CT_VW uint64 lanes per vector: 8 where 512-bit registers exist, else 4; a
 * row of the mini-block (8 lanes) is 8 / CT_VW vectors. */
#ifndef CT_VW
#define CT_VW 4
#endif
typedef uint64_t CT_K(vq) __attribute__((vector_size(8 * CT_VW)));
typedef uint32_t CT_K(vd) __attribute__((vector_size(4 * CT_VW)));
enum { CT_K(HALVES) = CT_LANES / CT_VW };

/* CT_VW uint32 zero-extended to uint64 lanes. gcc 12 lowers __builtin_convertvector
 * to five instructions here, so use the one-instruction form where the ISA has it. */
static inline CT_K(vq) CT_K(wide)(const uint32_t *p)
{
#if CT_VW == 8 && defined(__AVX512F__)
    return (CT_K(vq))_mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)p));
#elif CT_VW == 4 && defined(__AVX2__)
    return (CT_K(vq))_mm256_cvtepu32_epi64(_mm_loadu_si128((const __m128i *)p));
#else
    CT_K(vd) v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, CT_K(vq));
#endif
}

/* Transpose a CT_VW x CT_VW matrix of uint64 held as row vectors. */
static inline void CT_K(transpose)(CT_K(vq) m[CT_VW])
{
#if CT_VW == 8
    CT_K(vq) t[8];
    for (unsigned i = 0; i < 8; i += 2) {
        t[i] = __builtin_shufflevector(m[i], m[i + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        t[i + 1] = __builtin_shufflevector(m[i], m[i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    for (unsigned i = 0; i < 8; i += 4)
        for (unsigned j = 0; j < 2; j++) {
            m[i + j] = __builtin_shufflevector(t[i + j], t[i + j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            m[i + j + 2] = __builtin_shufflevector(t[i + j], t[i + j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (unsigned j = 0; j < 4; j++) {
        t[j] = __builtin_shufflevector(m[j], m[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        t[j + 4] = __builtin_shufflevector(m[j], m[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
    for (unsigned i = 0; i < 8; i++) m[i] = t[i];
#else
    const CT_K(vq) t0 = __builtin_shufflevector(m[0], m[1], 0, 4, 2, 6);
    const CT_K(vq) t1 = __builtin_shufflevector(m[0], m[1], 1, 5, 3, 7);
    const CT_K(vq) t2 = __builtin_shufflevector(m[2], m[3], 0, 4, 2, 6);
    const CT_K(vq) t3 = __builtin_shufflevector(m[2], m[3], 1, 5, 3, 7);
    m[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    m[1] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    m[2] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    m[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
#endif
}

static int64_t CT_K(delta256)(const uint32_t *restrict lo, uint64_t base, const uint64_t *restrict hi, uint64_t start,
                              uint64_t g, int64_t *restrict out)
{
    enum { R = CT_MINIBLOCK / CT_LANES, H = CT_K(HALVES) };
    /* running sums down the rows; rows[r][h] holds lanes h*CT_VW .. h*CT_VW+CT_VW-1 */
    CT_K(vq) rows[R][H], acc[H];
    memset(acc, 0, sizeof acc);
    for (unsigned r = 0; r < R; r++)
        for (unsigned h = 0; h < H; h++) {
            const unsigned k = r * CT_LANES + h * CT_VW;
            CT_K(vq) x = CT_K(wide)(lo + k) + base;
            if (hi) {
                CT_K(vq) v;
                memcpy(&v, hi + k, sizeof v);
                x += v;
            }
            if (g != 1) x *= g;
            rows[r][h] = acc[h] += x;
        }
    /* lane l starts after the totals of lanes 0..l-1 */
    uint64_t off[CT_LANES], run = start;
    for (unsigned l = 0; l < CT_LANES; l++) {
        off[l] = run;
        run += acc[l / CT_VW][l % CT_VW];
    }
    uint64_t *o = (uint64_t *)out;
    for (unsigned r0 = 0; r0 < R; r0 += CT_VW)
        for (unsigned h = 0; h < H; h++) {
            CT_K(vq) m[CT_VW];
            for (unsigned i = 0; i < CT_VW; i++) m[i] = rows[r0 + i][h];
            CT_K(transpose)(m); /* m[i] = rows r0.. of lane h*CT_VW + i */
            for (unsigned i = 0; i < CT_VW; i++) {
                const unsigned l = h * CT_VW + i;
                const CT_K(vq) v = m[i] + off[l];
                memcpy(o + l * R + r0, &v, sizeof v);
            }
        }
    return (int64_t)run;
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

static void CT_K(box_mask)(const int64_t *restrict t, const double *restrict x, const double *restrict y, size_t cnt,
                           int64_t lo, int64_t hi, const double *restrict box, uint8_t *restrict m)
{
    const double x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
    for (size_t i = 0; i < cnt; i++)
        m[i] = (uint8_t)((t[i] >= lo) & (t[i] <= hi) & (x[i] >= x0) & (x[i] <= x1) & (y[i] >= y0) & (y[i] <= y1));
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
    CT_K(box_mask),
};
