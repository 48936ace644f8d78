/*
 * fuzz_block.c - libFuzzer target for the block codec.
 *
 * Even first byte: the rest is an untrusted block; open and decode it, and
 * decode it in place (ct_blocks_decode_at) with the right and a wrong row count
 * (the decoders must return an error or values, never touch memory they do not own).
 * With bit 1 set as well, the checksum is recomputed first, so that mutations
 * reach the payload parsers instead of stopping at the CRC.
 * Odd first byte: the rest is values to encode (dtype and mode from the first
 * byte); the round trip must be bit-exact.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_block.h"
#include "ct_crc32c.h"

#define MAX_DECODED (64u << 20) /* bytes: larger claims are valid but not worth allocating here */

/* Store a correct CRC-32C in a copy of a block whose header is plausible. */
static void fix_checksum(uint8_t *b, size_t size)
{
    if (size < CT_BLOCK_HEADER_BASE || b[9] > CT_BLOCK_MAX_NDIM) return;
    const size_t hlen = CT_BLOCK_HEADER_BASE + 8u * b[9];
    if (size < hlen) return;
    uint32_t crc = ct_crc32c(0, b, hlen - 4);
    crc = ct_crc32c(crc, b + hlen, size - hlen);
    memcpy(b + hlen - 4, &crc, 4);
}

static void decode_untrusted(const uint8_t *data, size_t size)
{
    ct_block_info info;
    if (ct_block_open(data, size, &info) < 0) return;
    if (info.count * info.itemsize > MAX_DECODED) return;
    const size_t nbytes = (size_t)(info.count * info.itemsize);
    uint8_t *out = malloc(nbytes ? nbytes : 1);
    if (!out) return;
    (void)ct_block_decode(&info, out, nbytes);
    free(out);
    /* the same block through the cache's in-place decoder, one row in, with the right row count and a wrong one */
    if (!info.itemsize || info.ndim != 1) return;
    const uint64_t offsets[2] = {0, size};
    const uint32_t which = 0;
    const int64_t row0 = 1, rows = (int64_t)info.count, wrong = (int64_t)info.count + 1;
    const size_t dst_bytes = nbytes + 2u * info.itemsize;
    uint8_t *dst = malloc(dst_bytes);
    if (!dst) return;
    size_t failed;
    (void)ct_blocks_decode_at(data, size, offsets, 1, &which, 1, info.dtype, info.itemsize, &row0, &rows, dst, dst_bytes,
                              &failed);
    if (ct_blocks_decode_at(data, size, offsets, 1, &which, 1, info.dtype, info.itemsize, &row0, &wrong, dst, dst_bytes,
                            &failed) >= 0) {
        fprintf(stderr, "in-place decode accepted a wrong row count\n");
        abort();
    }
    free(dst);
}

static void roundtrip(uint8_t sel, const uint8_t *data, size_t size)
{
    static const struct { int dtype; size_t itemsize; } kinds[] = {
        {CT_DT_I64, 8}, {CT_DT_F64, 8}, {CT_DT_F32, 4}, {CT_DT_I32, 4}, {CT_DT_U16, 2}, {CT_DT_U8, 1},
        {CT_DT_DATETIME64, 8}, {CT_DT_BYTES, 3},
    };
    const size_t k = (sel >> 1) % (sizeof kinds / sizeof *kinds);
    const int mode = (sel >> 4) & 1;
    const int codec = (int)((sel >> 5) % 7) - 1; /* -1 (auto) .. 5 */
    const size_t itemsize = kinds[k].itemsize, n = size / itemsize;
    ct_block_info info;
    memset(&info, 0, sizeof info);
    info.dtype = (uint8_t)kinds[k].dtype;
    info.itemsize = (uint32_t)itemsize;
    info.ndim = 1;
    info.shape[0] = info.count = n;
    ct_encode_opts opts = {mode, codec, -1};
    const size_t cap = ct_block_bound(n * itemsize);
    uint8_t *blk = malloc(cap), *out = malloc(n * itemsize + 1), *src = malloc(n * itemsize + 1);
    memcpy(src, data, n * itemsize); /* the encoder wants items aligned to their size */
    const int64_t len = ct_block_encode(src, &info, &opts, blk, cap);
    if (len == CT_ERR_ARG) goto done; /* a codec that does not fit the dtype */
    if (len < 0) {
        fprintf(stderr, "encode failed: %s\n", ct_strerror((int)len));
        abort();
    }
    ct_block_info got;
    if (ct_block_open(blk, (size_t)len, &got) < 0 || ct_block_decode(&got, out, n * itemsize) < 0 ||
        memcmp(out, src, n * itemsize) != 0) {
        fprintf(stderr, "round trip failed: dtype %d mode %d codec %d n %zu\n", kinds[k].dtype, mode, codec, n);
        abort();
    }
done:
    free(blk);
    free(out);
    free(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) {
        roundtrip(data[0], data + 1, size - 1);
    } else if (data[0] & 2) {
        uint8_t *copy = malloc(size);
        if (!copy) return 0;
        memcpy(copy, data + 1, size - 1);
        fix_checksum(copy, size - 1);
        decode_untrusted(copy, size - 1);
        free(copy);
    } else {
        decode_untrusted(data + 1, size - 1);
    }
    return 0;
}
