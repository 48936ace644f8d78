/*
 * test_entropy.c - round trips and hostile-input checks for ct_entropy.
 *
 * Every decode runs on every decoder implementation the CPU has (generic,
 * avx2, avx512), which must agree on status and values.
 * Build and run (also under sanitizers; portable build: drop the -D and the
 * two ISA files):
 *   S="-std=c11 -O1 -g -fsanitize=address,undefined -Wall -Wextra -Icsrc -DCT_HAVE_X86_KERNELS"
 *   gcc $S -mavx2 -mbmi2 -mfma -c csrc/ct_entropy_avx2.c -o /tmp/e2.o
 *   gcc $S -mavx512f -mavx512dq -mavx512vl -mavx512bw -mbmi2 -mfma -c csrc/ct_entropy_avx512.c -o /tmp/e5.o
 *   gcc $S csrc/ct_error.c csrc/ct_entropy.c csrc/tests/test_entropy.c /tmp/e2.o /tmp/e5.o -o /tmp/te && /tmp/te
 * Exit 0 on success; on failure a message on stderr and exit 1.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_entropy.h"
#include "ct_error.h"

static int failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            failures++;                                                        \
            if (failures > 20) exit(1);                                        \
        }                                                                      \
    } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static int64_t u2i(uint64_t u)
{
    int64_t v;
    memcpy(&v, &u, 8);
    return v;
}

enum { G_RANDOM, G_CONST, G_SMALL, G_HEAVY, G_EXTREME, G_ALTERNATE, G_AIS_T, G_AIS_POS, G_UNIFORM, G_WIDE, G_COUNT };
static const char *gen_name[G_COUNT] = {"random", "constant", "small-alphabet", "heavy-tailed",
                                        "int64-extremes", "alternating-extremes", "ais-time",
                                        "ais-position", "uniform-20bit", "dense-with-far-outliers"};

static void gen(int g, int64_t *x, size_t n)
{
    const int64_t ext[5] = {INT64_MIN, INT64_MAX, 0, -1, INT64_MIN + 1};
    const int64_t small[5] = {-7, 0, 3, 1000000007, -123456789012345};
    const int64_t konst = u2i(rnd());
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        const uint64_t r = rnd();
        switch (g) {
        case G_RANDOM: x[i] = u2i(r); break;
        case G_CONST: x[i] = konst; break;
        case G_SMALL: x[i] = small[r % 5]; break;
        case G_HEAVY: { /* magnitude 2^U(0..62), random sign */
            const int64_t m = (int64_t)((r >> 2) >> (r % 63));
            x[i] = (r & 1) ? -m : m;
            break;
        }
        case G_EXTREME: x[i] = ext[r % 5]; break;
        case G_ALTERNATE: x[i] = (i & 1) ? INT64_MAX : INT64_MIN; break;
        case G_AIS_T: /* spiky around 60..180 s, rare huge gaps */
            x[i] = (r % 100 == 0) ? (int64_t)(r >> 40) : (r % 3 == 0) ? 60 : 60 + (int64_t)(r % 121);
            break;
        case G_UNIFORM: /* one bin: the single-bin stream's fast path */
            x[i] = (int64_t)(r >> 44) - 300000;
            break;
        case G_WIDE: /* dense near 0, outliers on both sides of the encoder's
                      * histogram window, some bins wider than 56 bits */
            x[i] = (r % 97 == 0) ? u2i(rnd()) : (r % 13 == 0) ? (int64_t)(r >> 20) - (int64_t)(r >> 21)
                                                               : (int64_t)(r % 61) - 30;
            break;
        case G_AIS_POS: { /* correlated signed deltas, heavy tail */
            int64_t d = (int64_t)(r % 201) - 100;
            if (r % 50 == 0) d *= 100;
            prev = (r % 8 == 0) ? 0 : (prev * 3 + d) / 4;
            x[i] = (r % 7 == 0) ? 0 : prev;
            break;
        }
        }
    }
}

/* Decode with every implementation (the first, generic, is the reference;
 * the others must give the same status and values) from an exact-size heap
 * copy, so that ASan sees any over-read. */
static int decode_copy(const uint8_t *buf, size_t len, int64_t *dst, size_t n)
{
    uint8_t *c = malloc(len ? len : 1);
    int64_t *y = malloc((n ? n : 1) * sizeof(int64_t));
    if (!c || !y) abort();
    if (len) memcpy(c, buf, len);
    const char *const *impl = ct_ent_available();
    int rc = 0;
    for (size_t k = 0; impl[k]; k++) {
        CHECK(ct_ent_select(impl[k]) == CT_OK, "select %s", impl[k]);
        if (k == 0) {
            rc = ct_ent_decode(len ? c : NULL, len, dst, n);
            continue;
        }
        const int r = ct_ent_decode(len ? c : NULL, len, y, n);
        CHECK(r == rc, "%s: status %d, generic %d (n=%zu len=%zu)", impl[k], r, rc, n, len);
        if (r == CT_OK && rc == CT_OK)
            CHECK(n == 0 || memcmp(y, dst, n * sizeof(int64_t)) == 0, "%s: values differ from generic (n=%zu)",
                  impl[k], n);
    }
    ct_ent_select("auto");
    free(c), free(y);
    return rc;
}

/* Round trip; returns the encoded stream (caller frees) and its length. */
static uint8_t *roundtrip(const int64_t *x, size_t n, const char *what, size_t *plen)
{
    const size_t cap = ct_ent_bound(n);
    uint8_t *buf = malloc(cap);
    int64_t *y = malloc((n ? n : 1) * sizeof(int64_t));
    if (!buf || !y) abort();
    const int64_t len = ct_ent_encode(x, n, buf, cap);
    CHECK(len >= 1 && (size_t)len <= cap, "%s n=%zu: encode returned %lld (%s)", what, n, (long long)len,
          len < 0 ? ct_strerror((int)len) : "size");
    if (len < 1) {
        free(buf), free(y);
        *plen = 0;
        return NULL;
    }
    const int rc = decode_copy(buf, (size_t)len, y, n);
    CHECK(rc == CT_OK, "%s n=%zu: decode: %s", what, n, ct_strerror(rc));
    if (rc == CT_OK) CHECK(n == 0 || memcmp(x, y, n * sizeof(int64_t)) == 0, "%s n=%zu: values differ", what, n);

    /* one byte too few room: must be DST_SMALL, not a partial stream */
    if (len >= 1) {
        const int64_t r2 = ct_ent_encode(x, n, buf, (size_t)len - 1);
        CHECK(r2 == CT_ERR_DST_SMALL, "%s n=%zu: cap=len-1 gave %lld", what, n, (long long)r2);
        const int64_t r3 = ct_ent_encode(x, n, buf, (size_t)len); /* exact fit works (and restores buf) */
        CHECK(r3 == len, "%s n=%zu: exact cap gave %lld, want %lld", what, n, (long long)r3, (long long)len);
    }
    /* an unused trailing byte is corruption */
    uint8_t *longer = malloc((size_t)len + 1);
    memcpy(longer, buf, (size_t)len);
    longer[len] = 0;
    const int r4 = decode_copy(longer, (size_t)len + 1, y, n);
    CHECK(r4 == CT_ERR_CORRUPT, "%s n=%zu: trailing byte gave %d", what, n, r4);
    free(longer);
    free(y);
    *plen = (size_t)len;
    return buf;
}

/* Every proper prefix of the stream must be rejected (for long streams:
 * the last 400 and 100 others). */
static void truncations(const uint8_t *buf, size_t len, size_t n, const char *what)
{
    int64_t *y = malloc((n ? n : 1) * sizeof(int64_t));
    for (size_t l = 0; l < len; l += (len > 2000 && l + 400 < len) ? 1 + len / 100 : 1) {
        const int rc = decode_copy(buf, l, y, n);
        CHECK(rc < 0, "%s n=%zu: prefix of %zu/%zu bytes decoded OK", what, n, l, len);
    }
    free(y);
}

/* Random damage must never crash; count how much is detected. */
static void flips(const uint8_t *buf, size_t len, size_t n, int trials, size_t *detected, size_t *total)
{
    uint8_t *c = malloc(len);
    int64_t *y = malloc((n ? n : 1) * sizeof(int64_t));
    for (int t = 0; t < trials; t++) {
        memcpy(c, buf, len);
        const int k = 1 + (int)(rnd() % 3);
        for (int j = 0; j < k; j++) c[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
        const int rc = decode_copy(c, len, y, n);
        CHECK(rc == CT_OK || (rc < 0 && rc >= CT_ERR_MIN_CODE), "bad status %d", rc);
        *detected += rc < 0;
        (*total)++;
    }
    free(c), free(y);
}

int main(void)
{
    /* the environment variable forces the portable decoder at first use */
    setenv("CHRONOTOPE_SIMD", "generic", 1);
    CHECK(strcmp(ct_ent_impl_name(), "generic") == 0, "CHRONOTOPE_SIMD=generic gave %s", ct_ent_impl_name());
    CHECK(ct_ent_select("no-such-isa") == CT_ERR_UNSUPPORTED, "unknown decoder name accepted");
    ct_ent_select("auto");
    printf("test_entropy: decoders:");
    for (const char *const *a = ct_ent_available(); *a; a++) printf(" %s", *a);
    printf(" (auto: %s)\n", ct_ent_impl_name());

    /* 4096 values = one offset chunk; 4099 crosses chunks with a tail;
     * 8192+ values use 8 lanes, 16384+ 16, 32768+ 32 (12289, 33000: tails,
     * short last chunks); 70001 exceeds the encoder's 65536-key histogram
     * window */
    const size_t sizes[] = {0,    1,    2,    3,    4,     5,     7,     8,     9,     15,    16,    17,
                            255,  256,  257,  1000, 2047,  2048,  2049,  4096,  4099,  8192,  12289, 16384,
                            20000, 32768, 33000, 70001, 100000};
    const size_t nsizes = sizeof sizes / sizeof sizes[0];
    size_t det = 0, tot = 0;

    for (int g = 0; g < G_COUNT; g++) {
        for (size_t si = 0; si < nsizes; si++) {
            const size_t n = sizes[si];
            int64_t *x = malloc((n ? n : 1) * sizeof(int64_t));
            gen(g, x, n);
            size_t len;
            uint8_t *buf = roundtrip(x, n, gen_name[g], &len);
            if (buf && (n <= 1000 || (n >= 8192 && n <= 33000 && (g == G_AIS_POS || g == G_WIDE || g == G_HEAVY))))
                truncations(buf, len, n, gen_name[g]);
            if (buf && n >= 1 && n <= 33000) flips(buf, len, n, n <= 257 ? 300 : n <= 4096 ? 100 : 20, &det, &tot);
            if (buf && n >= 2) { /* decoding with the wrong n must not crash */
                int64_t *y = malloc((n + 1) * sizeof(int64_t));
                (void)decode_copy(buf, len, y, n - 1);
                (void)decode_copy(buf, len, y, n + 1);
                free(y);
            }
            free(buf);
            free(x);
        }
    }

    /* n == 0 */
    {
        uint8_t b[4];
        int64_t y[1];
        CHECK(ct_ent_encode(NULL, 0, b, sizeof b) == 1 && b[0] == 0, "empty encode");
        CHECK(ct_ent_encode(NULL, 0, b, 0) == CT_ERR_DST_SMALL, "empty encode into cap 0");
        CHECK(ct_ent_decode(b, 1, y, 0) == CT_OK, "empty decode");
        CHECK(ct_ent_decode(b, 0, y, 0) == CT_ERR_TRUNCATED, "empty decode of nothing");
        b[0] = 1;
        CHECK(ct_ent_decode(b, 1, y, 0) == CT_ERR_CORRUPT, "empty decode of junk");
        CHECK(ct_ent_decode(b, 2, y, 0) == CT_ERR_CORRUPT, "empty decode with trailing byte");
    }

    /* a too-small cap on a big input */
    {
        int64_t x[4096];
        uint8_t b[64];
        gen(G_AIS_POS, x, 4096);
        CHECK(ct_ent_encode(x, 4096, b, sizeof b) == CT_ERR_DST_SMALL, "cap 64 for 4096 values");
        CHECK(ct_ent_encode(x, 4096, b, 0) == CT_ERR_DST_SMALL, "cap 0 for 4096 values");
    }

    /* hand-made corrupt tables must be rejected */
    {
        int64_t y[64];
        const uint8_t zeros[16] = {0};              /* gamma code with > 31 leading zeros */
        CHECK(ct_ent_decode(zeros, sizeof zeros, y, 64) == CT_ERR_CORRUPT, "all-zero stream");
        const uint8_t many_bins[5] = {0x00, 0x00, 0x01, 0x00, 0x00}; /* nbins = 2^16 > 4096 */
        CHECK(ct_ent_decode(many_bins, sizeof many_bins, y, 64) == CT_ERR_CORRUPT, "too many bins");
        const uint8_t wide[3] = {0x03, 0x02, 0x00};   /* 1 bin, lower 0, width gamma(128) */
        CHECK(ct_ent_decode(wide, sizeof wide, y, 64) == CT_ERR_CORRUPT, "bin width > 64");
    }

    /* random garbage of every small length: any status, no crash */
    for (int t = 0; t < 20000; t++) {
        uint8_t g[64];
        int64_t y[300];
        const size_t len = rnd() % sizeof g, n = 1 + rnd() % 300;
        for (size_t i = 0; i < len; i++) g[i] = (uint8_t)rnd();
        const int rc = decode_copy(g, len, y, n);
        CHECK(rc == CT_OK || (rc < 0 && rc >= CT_ERR_MIN_CODE), "garbage: bad status %d", rc);
    }

    /* ct_ent_bound never fails */
    CHECK(ct_ent_bound(0) >= 1 && ct_ent_bound(SIZE_MAX) == SIZE_MAX, "bound");

    if (failures) {
        fprintf(stderr, "test_entropy: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_entropy: OK (%zu/%zu random corruptions detected)\n", det, tot);
    return 0;
}
