/*
 * ct_block.h - the self-describing, checksummed column block: chronotope's codec API.
 *
 * A block holds one contiguous array (any shape; values in C order) of one
 * dtype. The encoder picks the codec per block (integer stream, run-length,
 * dictionary, decimal float, blosc2, or raw) and records it in the header,
 * with the dtype, shape, sizes and a CRC-32C of header and payload. The exact
 * layout is documented byte by byte in docs/format.md.
 *
 * Decoding is two calls: ct_block_open() validates the header and checksum of
 * untrusted bytes and reports what the block holds, so that the caller can
 * allocate the output; ct_block_decode() then fills it. Neither reads outside
 * the given buffer or writes outside dst, whatever the input.
 *
 * Buffers are owned by the caller. Host byte order must be little-endian.
 */
#ifndef CT_BLOCK_H
#define CT_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "ct_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CT_BLOCK_MAGIC "CTBK"
#define CT_BLOCK_VERSION 1
#define CT_BLOCK_MAX_NDIM 8
/** Fixed header size (without shape) and the largest header. */
#define CT_BLOCK_HEADER_BASE 36
#define CT_BLOCK_HEADER_MAX (CT_BLOCK_HEADER_BASE + 8 * CT_BLOCK_MAX_NDIM)

typedef enum ct_dtype {
    CT_DT_BOOL = 1,
    CT_DT_I8 = 2,
    CT_DT_I16 = 3,
    CT_DT_I32 = 4,
    CT_DT_I64 = 5,
    CT_DT_U8 = 6,
    CT_DT_U16 = 7,
    CT_DT_U32 = 8,
    CT_DT_U64 = 9,
    CT_DT_F32 = 10,
    CT_DT_F64 = 11,
    CT_DT_DATETIME64 = 12,  /* int64 ticks; the unit byte says which */
    CT_DT_TIMEDELTA64 = 13,
    CT_DT_BYTES = 14,       /* fixed-width byte strings (numpy 'S'), any itemsize */
    CT_DT_UNICODE = 15,     /* fixed-width UCS-4 strings (numpy 'U'), itemsize a multiple of 4 */
} ct_dtype;

typedef enum ct_codec {
    CT_CODEC_AUTO = -1,
    CT_CODEC_RAW = 0,     /* the values verbatim, little-endian */
    CT_CODEC_INT = 1,     /* integer stream: FOR/delta/delta-of-delta, gcd, PFor or entropy */
    CT_CODEC_RLE = 2,     /* run values and run lengths, two integer streams */
    CT_CODEC_DICT = 3,    /* sorted distinct values and indices, two integer streams */
    CT_CODEC_DECIMAL = 4, /* floats as scaled decimal integers plus exceptions */
    CT_CODEC_BLOSC = 5,   /* c-blosc2 chunk: shuffle(+bytedelta) and zstd or lz4 */
} ct_codec;

typedef enum ct_mode {
    CT_MODE_COMPACT = 0, /* smallest: entropy stage where it pays */
    CT_MODE_FAST = 1,    /* bit-packing only: fastest decode */
} ct_mode;

/** What a block holds; filled by ct_block_open, read by the encoder. */
typedef struct ct_block_info {
    uint8_t dtype;      /* ct_dtype */
    uint8_t unit;       /* datetime/timedelta unit code (opaque to C; 0 otherwise) */
    uint8_t codec;      /* ct_codec actually used */
    uint8_t flags;      /* bit 0: encoded in fast mode */
    uint32_t itemsize;  /* bytes per element */
    uint8_t ndim;
    uint64_t shape[CT_BLOCK_MAX_NDIM];
    uint64_t count;     /* elements: the product of shape */
    uint64_t payload_len;
    size_t header_len;
    const uint8_t *payload; /* points into the buffer given to ct_block_open */
} ct_block_info;

/** Options of ct_block_encode. */
typedef struct ct_encode_opts {
    int mode;      /* ct_mode */
    int codec;     /* ct_codec, or CT_CODEC_AUTO */
    int transform; /* integer transform for CT_CODEC_INT: -1 auto, 0 none, 1 delta, 2 delta-of-delta */
} ct_encode_opts;

/** Bytes per element of a fixed-size dtype, or 0 for BYTES/UNICODE (any itemsize). */
size_t ct_dtype_itemsize(int dtype);

/** Worst-case encoded size of a block of nbytes of values (never fails). */
size_t ct_block_bound(size_t nbytes);

/**
 * Encode the array described by info (dtype, unit, itemsize, ndim, shape; count
 * is computed) whose values are src[0 .. count*itemsize).
 * @param dst   caller-allocated, at least ct_block_bound(count*itemsize) bytes is always enough.
 * @return      bytes written, or a negative ct_status.
 * @warning     src must be aligned to the item size of numeric dtypes (malloc and numpy
 *              arrays are); dst of ct_block_decode likewise. Blocks themselves may sit at any address.
 */
int64_t ct_block_encode(const void *src, const ct_block_info *info, const ct_encode_opts *opts, uint8_t *dst, size_t cap);

/**
 * Validate the header and checksum of src[0..len) and describe the block.
 * The whole buffer must be exactly one block (trailing bytes are an error).
 * @return CT_OK or CT_ERR_TRUNCATED / MAGIC / VERSION / CHECKSUM / CORRUPT / UNSUPPORTED.
 */
int ct_block_open(const uint8_t *src, size_t len, ct_block_info *info);

/**
 * Decode a block opened by ct_block_open into dst, which must hold exactly
 * info->count * info->itemsize bytes (else CT_ERR_ARG). On error the
 * contents of dst are unspecified.
 */
int ct_block_decode(const ct_block_info *info, void *dst, size_t dst_bytes);

/* ---- many blocks in one call: how segments store a column ---- */

/** Worst-case size of ct_blocks_encode's output for nbytes of values cut into nblocks blocks. */
size_t ct_blocks_bound(size_t nbytes, size_t nblocks);

/**
 * Encode a 1-D column of info->count values as consecutive blocks of
 * rows_per_block values (the last may be shorter), back to back in dst.
 * @param offsets  caller-allocated, nblocks + 1 entries: block k is
 *                 dst[offsets[k] .. offsets[k+1]).
 * @return total bytes written, or a negative ct_status.
 */
int64_t ct_blocks_encode(const void *src, const ct_block_info *info, size_t rows_per_block, const ct_encode_opts *opts,
                         uint8_t *dst, size_t cap, uint64_t *offsets);

/**
 * Decode the blocks listed in which[0..nwhich) (indices into offsets, whose
 * nblocks + 1 entries delimit the blocks in src[0..len)) one after another
 * into dst, which must hold exactly their values (dst_bytes). Every block must
 * have the given dtype and itemsize and be 1-D.
 * @param failed  set to the position in which[] of the block that failed.
 * @return values written, or a negative ct_status.
 */
int64_t ct_blocks_decode(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks, const uint32_t *which,
                         size_t nwhich, int dtype, size_t itemsize, void *dst, size_t dst_bytes, size_t *failed);

/**
 * Decode the listed blocks in place: block which[j] (rows[j] values) goes to
 * row row0[j] of dst. Used by the decoded-block cache, which keeps a segment
 * column in one array and fills it block by block.
 * @return nwhich, or a negative ct_status (*failed: the position in which).
 */
int64_t ct_blocks_decode_at(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks,
                            const uint32_t *which, size_t nwhich, int dtype, size_t itemsize, const int64_t *row0,
                            const int64_t *rows, void *dst, size_t dst_bytes, size_t *failed);

/**
 * Check every block of a concatenation (header, checksum, structure) without
 * decoding it. status[k] receives 0 or the negative ct_status of block k.
 * @return the number of bad blocks (never fails otherwise).
 */
size_t ct_blocks_check(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks, int *status);

#ifdef __cplusplus
}
#endif
#endif
