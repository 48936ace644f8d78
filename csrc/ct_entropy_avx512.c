/*
 * ct_entropy_avx512.c - AVX-512 decode kernels of ct_entropy.c (16 rANS
 * lanes per vector). Compiled with -mavx512f -mavx512dq -mavx512vl
 * -mavx512bw -mbmi2 -mfma for this file only; chosen at run time.
 * Identical results to the scalar path: same words, same items, same bits.
 */
#include "ct_entropy.h"

#include <immintrin.h>
#include <string.h>

#define RANS_L (1u << 15)

/* One round of one 16-lane vector k: gather the entries, step, store the
 * items, renormalise the lanes below RANS_L with consecutive 16-bit words
 * in lane order (vpexpandd). */
#define ROUND512(X, C, it)                                                                     \
    do {                                                                                       \
        const __m512i idx_ = _mm512_add_epi32(C, _mm512_and_si512(X, mmask));                   \
        const __m512i e0_ = _mm512_i32gather_epi64(_mm512_castsi512_si256(idx_), tab, 8);       \
        const __m512i e1_ = _mm512_i32gather_epi64(_mm512_extracti64x4_epi64(idx_, 1), tab, 8); \
        const __m512i lo_ = _mm512_permutex2var_epi32(e0_, even, e1_);                          \
        const __m512i hi_ = _mm512_permutex2var_epi32(e0_, odd, e1_);                           \
        const __m512i xn_ = _mm512_add_epi32(                                                  \
            _mm512_mullo_epi32(_mm512_and_si512(lo_, m13), _mm512_srl_epi32(X, cprec)),         \
            _mm512_srli_epi32(lo_, 20));                                                       \
        _mm512_storeu_si512((void *)(it), _mm512_or_si512(_mm512_srli_epi32(lo_, 13), _mm512_slli_epi32(hi_, 19))); \
        C = _mm512_srli_epi32(hi_, 17);                                                        \
        const __mmask16 need_ = _mm512_cmplt_epu32_mask(xn_, rl);                               \
        const __m512i w_ = _mm512_maskz_expand_epi32(                                          \
            need_, _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p)));  \
        X = _mm512_mask_or_epi32(xn_, need_, _mm512_slli_epi32(xn_, 16), w_);                   \
        p += 2 * (unsigned)__builtin_popcount((unsigned)need_);                                \
    } while (0)

static size_t ans512(ct_ent_lanes *st, uint32_t *items, size_t R, unsigned L, const uint64_t *tab, unsigned prec,
                     const uint8_t *end)
{
    const __m512i mmask = _mm512_set1_epi32((int)((1u << prec) - 1)), m13 = _mm512_set1_epi32(0x1fff), rl = _mm512_set1_epi32((int)RANS_L);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m128i cprec = _mm_cvtsi32_si128((int)prec);
    const uint8_t *p = st->p;
    /* a round reads at most 2 * L bytes (each vector loads 32 from its p) */
    const size_t avail = (size_t)(end - p) / (2 * L);
    if (R > avail) R = avail;
    if (L == 32) {
        __m512i x0 = _mm512_loadu_si512((const void *)st->x), x1 = _mm512_loadu_si512((const void *)(st->x + 16));
        __m512i c0 = _mm512_loadu_si512((const void *)st->c), c1 = _mm512_loadu_si512((const void *)(st->c + 16));
        for (size_t r = 0; r < R; r++) {
            ROUND512(x0, c0, items + r * 32);
            ROUND512(x1, c1, items + r * 32 + 16);
        }
        _mm512_storeu_si512((void *)st->x, x0), _mm512_storeu_si512((void *)(st->x + 16), x1);
        _mm512_storeu_si512((void *)st->c, c0), _mm512_storeu_si512((void *)(st->c + 16), c1);
    } else if (L == 16) {
        __m512i x0 = _mm512_loadu_si512((const void *)st->x), c0 = _mm512_loadu_si512((const void *)st->c);
        for (size_t r = 0; r < R; r++) ROUND512(x0, c0, items + r * 16);
        _mm512_storeu_si512((void *)st->x, x0), _mm512_storeu_si512((void *)st->c, c0);
    } else {
        return 0;
    }
    st->p = p;
    return R;
}

/* 16x16 transposes of 32-bit items: b[j * R + r] = a[r * L + j]. */
static void transpose512(const uint32_t *a, uint32_t *b, size_t R, unsigned L)
{
    size_t r0 = 0;
    for (; r0 + 16 <= R; r0 += 16)
        for (unsigned j0 = 0; j0 < L; j0 += 16) {
            __m512i v[16], u[16];
            for (int i = 0; i < 16; i++) v[i] = _mm512_loadu_si512((const void *)(a + (r0 + i) * L + j0));
            for (int i = 0; i < 16; i += 2) {
                u[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
                u[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
            }
            for (int i = 0; i < 16; i += 4) {
                v[i] = _mm512_unpacklo_epi64(u[i], u[i + 2]);
                v[i + 1] = _mm512_unpackhi_epi64(u[i], u[i + 2]);
                v[i + 2] = _mm512_unpacklo_epi64(u[i + 1], u[i + 3]);
                v[i + 3] = _mm512_unpackhi_epi64(u[i + 1], u[i + 3]);
            }
            /* v[4q + s] holds, in each 128-bit block k, lanes (4k + s) of rows 4q..4q+3 */
            for (int q = 0; q < 4; q += 2)
                for (int s = 0; s < 4; s++) {
                    u[4 * q + s] = _mm512_shuffle_i32x4(v[4 * q + s], v[4 * q + 4 + s], 0x88);
                    u[4 * q + 4 + s] = _mm512_shuffle_i32x4(v[4 * q + s], v[4 * q + 4 + s], 0xdd);
                }
            for (int s = 0; s < 8; s++) {
                v[s] = _mm512_shuffle_i32x4(u[s], u[s + 8], 0x88);
                v[s + 8] = _mm512_shuffle_i32x4(u[s], u[s + 8], 0xdd);
            }
            /* v[i]: lane j0 + i of rows r0..r0+15 */
            for (int i = 0; i < 16; i++) _mm512_storeu_si512((void *)(b + (j0 + i) * R + r0), v[i]);
        }
    for (; r0 < R; r0++)
        for (unsigned j = 0; j < L; j++) b[j * R + r0] = a[r0 * L + j];
}

/* Offsets of a lane run, 8 per step: in-register prefix sum of the widths,
 * the bit fields taken from a 9-qword window by permutes (any w <= 64),
 * the bins' lower bounds gathered. Runs while the window is in bounds. */
static size_t raw512(const uint8_t *p, size_t len, uint64_t *ppos, const uint32_t *items, size_t k, int64_t *out,
                     const uint64_t *lowtab)
{
    uint64_t pos = *ppos;
    size_t i = 0;
    const __m512i zero = _mm512_setzero_si512(), ones = _mm512_set1_epi64(-1), m63 = _mm512_set1_epi64(63),
                  one = _mm512_set1_epi64(1), s64 = _mm512_set1_epi64(64), m127 = _mm512_set1_epi64(0x7f);
    for (; i + 8 <= k && (pos >> 6) * 8 + 72 <= len; i += 8) {
        const __m512i it = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)(items + i)));
        const __m512i w = _mm512_and_si512(it, m127);
        __m512i s = _mm512_add_epi64(w, _mm512_alignr_epi64(w, zero, 7));
        s = _mm512_add_epi64(s, _mm512_alignr_epi64(s, zero, 6));
        s = _mm512_add_epi64(s, _mm512_alignr_epi64(s, zero, 4));
        const uint8_t *q = p + (pos >> 6) * 8;
        const __m512i rel = _mm512_add_epi64(_mm512_sub_epi64(s, w), _mm512_set1_epi64((long long)(pos & 63)));
        const __m512i q0 = _mm512_loadu_si512((const void *)q);
        uint64_t t8;
        memcpy(&t8, q + 64, 8);
        const __m512i q1 = _mm512_set1_epi64((long long)t8);
        const __m512i qi = _mm512_srli_epi64(rel, 6), sh = _mm512_and_si512(rel, m63);
        const __m512i lo = _mm512_srlv_epi64(_mm512_permutex2var_epi64(q0, qi, q1), sh);
        const __m512i hi = _mm512_sllv_epi64(_mm512_permutex2var_epi64(q0, _mm512_add_epi64(qi, one), q1),
                                             _mm512_sub_epi64(s64, sh));
        const __m512i f = _mm512_andnot_si512(_mm512_sllv_epi64(ones, w), _mm512_or_si512(lo, hi));
        const __m512i bi = _mm512_slli_epi64(_mm512_srli_epi64(it, 19), 1);
        const __m512i low = _mm512_i64gather_epi64(bi, (const void *)lowtab, 8);
        _mm512_storeu_si512((void *)(out + i), _mm512_add_epi64(low, f));
        pos += (uint64_t)_mm_extract_epi64(_mm512_extracti64x2_epi64(s, 3), 1);
    }
    *ppos = pos;
    return i;
}

const ct_ent_impl ct_ent_impl_avx512 = {"avx512", (1u << 4) | (1u << 5), ans512, transpose512, raw512};
