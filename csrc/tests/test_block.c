/* test_block.c - round trips and hostile input for the block codec, on every kernel table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_block.h"
#include "ct_crc32c.h"
#include "ct_kernels.h"

static int failures;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, "\n");                                    \
            failures++;                                               \
        }                                                             \
    } while (0)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint8_t *encode(const void *src, int dtype, size_t itemsize, size_t n, int mode, int codec, size_t *len)
{
    ct_block_info info;
    memset(&info, 0, sizeof info);
    info.dtype = (uint8_t)dtype;
    info.itemsize = (uint32_t)itemsize;
    info.ndim = 1;
    info.shape[0] = n;
    info.count = n;
    ct_encode_opts opts = {mode, codec, -1};
    const size_t cap = ct_block_bound(n * itemsize);
    uint8_t *dst = malloc(cap);
    const int64_t w = ct_block_encode(src, &info, &opts, dst, cap);
    if (w < 0) {
        fprintf(stderr, "encode failed: %s\n", ct_strerror((int)w));
        free(dst);
        return NULL;
    }
    *len = (size_t)w;
    return dst;
}

/* Round trip; returns the encoded size. */
static size_t roundtrip(const void *src, int dtype, size_t itemsize, size_t n, int mode, int codec, const char *what)
{
    size_t len = 0;
    uint8_t *blk = encode(src, dtype, itemsize, n, mode, codec, &len);
    CHECK(blk, "%s: encode n=%zu", what, n);
    if (!blk) return 0;
    ct_block_info info;
    int rc = ct_block_open(blk, len, &info);
    CHECK(rc == 0, "%s: open %s", what, ct_strerror(rc));
    uint8_t *out = malloc(n * itemsize + 1);
    if (rc == 0) {
        rc = ct_block_decode(&info, out, n * itemsize);
        CHECK(rc == 0, "%s: decode n=%zu codec=%d: %s", what, n, info.codec, ct_strerror(rc));
        CHECK(rc != 0 || !n || !memcmp(out, src, n * itemsize), "%s: values differ n=%zu codec=%d", what, n, info.codec);
    }
    free(out);
    free(blk);
    return len;
}

static void test_ints(int mode)
{
    static const size_t sizes[] = {0, 1, 2, 3, 255, 256, 257, 511, 512, 1000, 4096, 100003};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        const size_t n = sizes[si];
        int64_t *x = malloc((n + 1) * sizeof *x);
        for (int pattern = 0; pattern < 7; pattern++) {
            int64_t acc = 1606780800;
            for (size_t i = 0; i < n; i++) {
                switch (pattern) {
                case 0: x[i] = (int64_t)rnd(); break;                              /* random 64-bit */
                case 1: x[i] = 42; break;                                           /* constant */
                case 2: x[i] = acc += 60 + (int64_t)(rnd() % 120); break;           /* AIS-like times */
                case 3: x[i] = (int64_t)i * 1000000000LL; break;                    /* regular, ns */
                case 4: x[i] = (i & 1) ? INT64_MIN : INT64_MAX; break;              /* extremes */
                case 5: x[i] = (rnd() % 100 == 0) ? (int64_t)rnd() : (int64_t)(rnd() % 16); break; /* outliers */
                default: x[i] = (int64_t)(i / 37) * 7919; break;                    /* runs */
                }
            }
            char what[64];
            snprintf(what, sizeof what, "int64 pattern %d mode %d", pattern, mode);
            for (int codec = -1; codec <= 3; codec++) roundtrip(x, CT_DT_I64, 8, n, mode, codec, what);
            roundtrip(x, CT_DT_DATETIME64, 8, n, mode, -1, what);
        }
        /* narrow types, unsigned and bool */
        int16_t *s = malloc((n + 1) * 2);
        uint32_t *u = malloc((n + 1) * 4);
        uint8_t *b = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            s[i] = (int16_t)rnd();
            u[i] = (uint32_t)rnd();
            b[i] = (uint8_t)(rnd() & 1);
        }
        roundtrip(s, CT_DT_I16, 2, n, mode, -1, "int16");
        roundtrip(u, CT_DT_U32, 4, n, mode, -1, "uint32");
        roundtrip(b, CT_DT_BOOL, 1, n, mode, -1, "bool");
        free(s);
        free(u);
        free(b);
        free(x);
    }
}

static void test_floats(int mode)
{
    const size_t n = 5000;
    double *d = malloc(n * sizeof *d);
    float *f = malloc(n * sizeof *f);
    for (int pattern = 0; pattern < 4; pattern++) {
        double lon = -74.01234;
        for (size_t i = 0; i < n; i++) {
            switch (pattern) {
            case 0: lon += (double)((int64_t)(rnd() % 601) - 300) * 1e-5; d[i] = round(lon * 1e5) / 1e5; break;
            case 1: d[i] = (double)rnd() / 3.0; break;                                 /* no decimal structure */
            case 2: d[i] = (i % 50 == 0) ? NAN : (i % 77 == 0) ? -0.0 : (i % 91 == 0) ? INFINITY : round((double)(rnd() % 10000)) / 10; break;
            default: { uint64_t bits = rnd(); memcpy(&d[i], &bits, 8); } break;          /* any bit pattern */
            }
            f[i] = (float)d[i];
        }
        char what[64];
        snprintf(what, sizeof what, "float pattern %d mode %d", pattern, mode);
        for (int codec = -1; codec <= 5; codec++) {
            if (codec >= 1 && codec <= 3) continue;
            roundtrip(d, CT_DT_F64, 8, n, mode, codec, what);
            roundtrip(f, CT_DT_F32, 4, n, mode, codec, what);
        }
    }
    /* decimal AIS-like coordinates must be far smaller than raw */
    double lon = -74.0;
    for (size_t i = 0; i < n; i++) {
        lon += (double)((int64_t)(rnd() % 201) - 100) * 1e-5;
        d[i] = round(lon * 1e5) / 1e5;
    }
    const size_t sz = roundtrip(d, CT_DT_F64, 8, n, mode, -1, "decimal size");
    CHECK(sz < n * 2, "decimal coordinates took %zu bytes for %zu values", sz, n);
    free(d);
    free(f);
}

/* Every truncation and every single-byte change of a small block is detected. */
static void test_hostile(void)
{
    int64_t x[300];
    int64_t acc = 0;
    for (size_t i = 0; i < 300; i++) x[i] = acc += (int64_t)(rnd() % 100);
    for (int codec = -1; codec <= 3; codec++) {
        size_t len = 0;
        uint8_t *blk = encode(x, CT_DT_I64, 8, 300, CT_MODE_COMPACT, codec, &len);
        ct_block_info info;
        for (size_t cut = 0; cut < len; cut++) CHECK(ct_block_open(blk, cut, &info) < 0, "truncation at %zu accepted", cut);
        uint8_t *copy = malloc(len);
        for (size_t pos = 0; pos < len; pos++) {
            for (int bit = 0; bit < 8; bit++) {
                memcpy(copy, blk, len);
                copy[pos] ^= (uint8_t)(1u << bit);
                CHECK(ct_block_open(copy, len, &info) < 0, "flip at byte %zu bit %d accepted (codec %d)", pos, bit, codec);
            }
        }
        free(copy);
        free(blk);
    }
}

int main(void)
{
    const char *const *names = ct_kernels_available();
    for (size_t k = 0; names[k]; k++) {
        CHECK(ct_kernels_select(names[k]) == 0, "select %s", names[k]);
        fprintf(stderr, "kernels: %s\n", ct_kernels_get()->name);
        test_ints(CT_MODE_FAST);
        test_ints(CT_MODE_COMPACT);
        test_floats(CT_MODE_FAST);
        test_floats(CT_MODE_COMPACT);
    }
    test_hostile();
    CHECK(ct_kernels_select("no-such-isa") == CT_ERR_UNSUPPORTED, "unknown kernels accepted");
    const char msg[] = "123456789";
    CHECK(ct_crc32c(0, msg, 9) == 0xE3069283u, "crc32c check value");
    CHECK(ct_crc32c_portable(0, msg, 9) == 0xE3069283u, "portable crc32c check value");
    if (failures) {
        fprintf(stderr, "%d failures\n", failures);
        return 1;
    }
    printf("test_block: all passed\n");
    return 0;
}
