/*
 * ct_entropy_avx2.c - AVX2 decode kernels of ct_entropy.c (8 rANS lanes
 * per vector). Compiled with -mavx2 -mbmi2 -mfma for this file only;
 * chosen at run time. Identical results to the scalar path.
 */
#include "ct_entropy.h"

#include <immintrin.h>

#define RANS_L (1u << 15)

/* For an 8-bit mask m of the lanes needing a word: nibble i = the number
 * of set bits below bit i, i.e. which of the round's consecutive words
 * lane i takes (vpermd indices). */
static const uint32_t expand_idx[256] = {
    0x00000000, 0x11111110, 0x11111100, 0x22222210, 0x11111000, 0x22222110, 0x22222100, 0x33333210,
    0x11110000, 0x22221110, 0x22221100, 0x33332210, 0x22221000, 0x33332110, 0x33332100, 0x44443210,
    0x11100000, 0x22211110, 0x22211100, 0x33322210, 0x22211000, 0x33322110, 0x33322100, 0x44433210,
    0x22210000, 0x33321110, 0x33321100, 0x44432210, 0x33321000, 0x44432110, 0x44432100, 0x55543210,
    0x11000000, 0x22111110, 0x22111100, 0x33222210, 0x22111000, 0x33222110, 0x33222100, 0x44333210,
    0x22110000, 0x33221110, 0x33221100, 0x44332210, 0x33221000, 0x44332110, 0x44332100, 0x55443210,
    0x22100000, 0x33211110, 0x33211100, 0x44322210, 0x33211000, 0x44322110, 0x44322100, 0x55433210,
    0x33210000, 0x44321110, 0x44321100, 0x55432210, 0x44321000, 0x55432110, 0x55432100, 0x66543210,
    0x10000000, 0x21111110, 0x21111100, 0x32222210, 0x21111000, 0x32222110, 0x32222100, 0x43333210,
    0x21110000, 0x32221110, 0x32221100, 0x43332210, 0x32221000, 0x43332110, 0x43332100, 0x54443210,
    0x21100000, 0x32211110, 0x32211100, 0x43322210, 0x32211000, 0x43322110, 0x43322100, 0x54433210,
    0x32210000, 0x43321110, 0x43321100, 0x54432210, 0x43321000, 0x54432110, 0x54432100, 0x65543210,
    0x21000000, 0x32111110, 0x32111100, 0x43222210, 0x32111000, 0x43222110, 0x43222100, 0x54333210,
    0x32110000, 0x43221110, 0x43221100, 0x54332210, 0x43221000, 0x54332110, 0x54332100, 0x65443210,
    0x32100000, 0x43211110, 0x43211100, 0x54322210, 0x43211000, 0x54322110, 0x54322100, 0x65433210,
    0x43210000, 0x54321110, 0x54321100, 0x65432210, 0x54321000, 0x65432110, 0x65432100, 0x76543210,
    0x00000000, 0x11111110, 0x11111100, 0x22222210, 0x11111000, 0x22222110, 0x22222100, 0x33333210,
    0x11110000, 0x22221110, 0x22221100, 0x33332210, 0x22221000, 0x33332110, 0x33332100, 0x44443210,
    0x11100000, 0x22211110, 0x22211100, 0x33322210, 0x22211000, 0x33322110, 0x33322100, 0x44433210,
    0x22210000, 0x33321110, 0x33321100, 0x44432210, 0x33321000, 0x44432110, 0x44432100, 0x55543210,
    0x11000000, 0x22111110, 0x22111100, 0x33222210, 0x22111000, 0x33222110, 0x33222100, 0x44333210,
    0x22110000, 0x33221110, 0x33221100, 0x44332210, 0x33221000, 0x44332110, 0x44332100, 0x55443210,
    0x22100000, 0x33211110, 0x33211100, 0x44322210, 0x33211000, 0x44322110, 0x44322100, 0x55433210,
    0x33210000, 0x44321110, 0x44321100, 0x55432210, 0x44321000, 0x55432110, 0x55432100, 0x66543210,
    0x10000000, 0x21111110, 0x21111100, 0x32222210, 0x21111000, 0x32222110, 0x32222100, 0x43333210,
    0x21110000, 0x32221110, 0x32221100, 0x43332210, 0x32221000, 0x43332110, 0x43332100, 0x54443210,
    0x21100000, 0x32211110, 0x32211100, 0x43322210, 0x32211000, 0x43322110, 0x43322100, 0x54433210,
    0x32210000, 0x43321110, 0x43321100, 0x54432210, 0x43321000, 0x54432110, 0x54432100, 0x65543210,
    0x21000000, 0x32111110, 0x32111100, 0x43222210, 0x32111000, 0x43222110, 0x43222100, 0x54333210,
    0x32110000, 0x43221110, 0x43221100, 0x54332210, 0x43221000, 0x54332110, 0x54332100, 0x65443210,
    0x32100000, 0x43211110, 0x43211100, 0x54322210, 0x43211000, 0x54322110, 0x54322100, 0x65433210,
    0x43210000, 0x54321110, 0x54321100, 0x65432210, 0x54321000, 0x65432110, 0x65432100, 0x76543210,
};

/* One round of one 8-lane vector: gather, step, store the items,
 * renormalise the lanes below RANS_L with consecutive words in lane order. */
#define ROUND256(X, C, it)                                                                           \
    do {                                                                                             \
        const __m256i idx_ = _mm256_add_epi32(C, _mm256_and_si256(X, mmask));                         \
        const __m256 a_ = _mm256_castsi256_ps(                                                        \
            _mm256_i32gather_epi64((const long long *)tab, _mm256_castsi256_si128(idx_), 8));         \
        const __m256 b_ = _mm256_castsi256_ps(                                                        \
            _mm256_i32gather_epi64((const long long *)tab, _mm256_extracti128_si256(idx_, 1), 8));    \
        const __m256i lo_ = _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a_, b_, 0x88)), 0xd8); \
        const __m256i hi_ = _mm256_permute4x64_epi64(_mm256_castps_si256(_mm256_shuffle_ps(a_, b_, 0xdd)), 0xd8); \
        const __m256i xn_ = _mm256_add_epi32(                                                        \
            _mm256_mullo_epi32(_mm256_and_si256(lo_, m13), _mm256_srl_epi32(X, cprec)),               \
            _mm256_srli_epi32(lo_, 20));                                                             \
        _mm256_storeu_si256((__m256i *)(void *)(it), _mm256_or_si256(_mm256_srli_epi32(lo_, 13), _mm256_slli_epi32(hi_, 19))); \
        C = _mm256_srli_epi32(hi_, 17);                                                              \
        const __m256i need_ = _mm256_cmpgt_epi32(rl, xn_);                                            \
        const unsigned m_ = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(need_));                 \
        const __m256i perm_ = _mm256_srlv_epi32(_mm256_set1_epi32((int)expand_idx[m_]), nib);         \
        const __m256i w_ = _mm256_permutevar8x32_epi32(                                              \
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p)), perm_);          \
        X = _mm256_blendv_epi8(xn_, _mm256_or_si256(_mm256_slli_epi32(xn_, 16), w_), need_);          \
        p += 2 * (unsigned)__builtin_popcount(m_);                                                   \
    } while (0)

static size_t ans256(ct_ent_lanes *st, uint32_t *items, size_t R, unsigned L, const uint64_t *tab, unsigned prec,
                     const uint8_t *end)
{
    const __m256i mmask = _mm256_set1_epi32((int)((1u << prec) - 1)), m13 = _mm256_set1_epi32(0x1fff), rl = _mm256_set1_epi32((int)RANS_L),
                  nib = _mm256_set_epi32(28, 24, 20, 16, 12, 8, 4, 0);
    const __m128i cprec = _mm_cvtsi32_si128((int)prec);
    const uint8_t *p = st->p;
    /* a round reads at most 2 * L bytes (each vector loads 16 from its p) */
    const size_t avail = (size_t)(end - p) / (2 * L);
    if (R > avail) R = avail;
#define LD(a, k) _mm256_loadu_si256((const __m256i *)(const void *)(st->a + 8 * (k)))
#define ST(a, k, v) _mm256_storeu_si256((__m256i *)(void *)(st->a + 8 * (k)), v)
    if (L == 32) {
        __m256i x0 = LD(x, 0), x1 = LD(x, 1), x2 = LD(x, 2), x3 = LD(x, 3);
        __m256i c0 = LD(c, 0), c1 = LD(c, 1), c2 = LD(c, 2), c3 = LD(c, 3);
        for (size_t r = 0; r < R; r++) {
            ROUND256(x0, c0, items + r * 32);
            ROUND256(x1, c1, items + r * 32 + 8);
            ROUND256(x2, c2, items + r * 32 + 16);
            ROUND256(x3, c3, items + r * 32 + 24);
        }
        ST(x, 0, x0), ST(x, 1, x1), ST(x, 2, x2), ST(x, 3, x3);
        ST(c, 0, c0), ST(c, 1, c1), ST(c, 2, c2), ST(c, 3, c3);
    } else if (L == 16) {
        __m256i x0 = LD(x, 0), x1 = LD(x, 1), c0 = LD(c, 0), c1 = LD(c, 1);
        for (size_t r = 0; r < R; r++) {
            ROUND256(x0, c0, items + r * 16);
            ROUND256(x1, c1, items + r * 16 + 8);
        }
        ST(x, 0, x0), ST(x, 1, x1), ST(c, 0, c0), ST(c, 1, c1);
    } else if (L == 8) {
        __m256i x0 = LD(x, 0), c0 = LD(c, 0);
        for (size_t r = 0; r < R; r++) ROUND256(x0, c0, items + r * 8);
        ST(x, 0, x0), ST(c, 0, c0);
    } else {
        return 0;
    }
#undef LD
#undef ST
    st->p = p;
    return R;
}

/* 8x8 transposes of 32-bit items: b[j * R + r] = a[r * L + j]. */
static void transpose256(const uint32_t *a, uint32_t *b, size_t R, unsigned L)
{
    size_t r0 = 0;
    for (; r0 + 8 <= R; r0 += 8)
        for (unsigned j0 = 0; j0 < L; j0 += 8) {
            __m256i v[8], t[8];
            for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_si256((const __m256i *)(const void *)(a + (r0 + i) * L + j0));
            for (int i = 0; i < 8; i += 2) {
                t[i] = _mm256_unpacklo_epi32(v[i], v[i + 1]);
                t[i + 1] = _mm256_unpackhi_epi32(v[i], v[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) { /* v[i + s]: lane 4k + s of rows i..i+3 in half k */
                v[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
                v[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
                v[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
                v[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
            }
            for (int s = 0; s < 4; s++) {
                _mm256_storeu_si256((__m256i *)(void *)(b + (j0 + s) * R + r0), _mm256_permute2x128_si256(v[s], v[4 + s], 0x20));
                _mm256_storeu_si256((__m256i *)(void *)(b + (j0 + 4 + s) * R + r0),
                                    _mm256_permute2x128_si256(v[s], v[4 + s], 0x31));
            }
        }
    for (; r0 < R; r0++)
        for (unsigned j = 0; j < L; j++) b[j * R + r0] = a[r0 * L + j];
}

/* the offsets use the scalar loop (bmi2 gains nothing measurable there) */
const ct_ent_impl ct_ent_impl_avx2 = {"avx2", (1u << 3) | (1u << 4) | (1u << 5), ans256, transpose256, NULL};
