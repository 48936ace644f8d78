/*
 * ct_blosc.h - the byte-oriented codec: c-blosc2 (from the blosc2 wheel) with
 * shuffle for multi-byte items, zstd in compact mode and lz4 in fast mode (internal).
 * Payload: varint compressed length, then one blosc2 chunk. Chunks are limited
 * to BLOSC2_MAX_BUFFERSIZE (about 2 GiB) of input: larger gives CT_ERR_TOO_LARGE.
 */
#ifndef CT_BLOSC_H
#define CT_BLOSC_H

#include <stddef.h>

#include "ct_bytes_io.h"

size_t ct_blosc_bound(size_t nbytes);
int ct_blosc_encode(const void *src, size_t nbytes, size_t typesize, int compact, ct_writer *w);
/** Decode one chunk that must expand to exactly nbytes into dst. */
int ct_blosc_decode(ct_reader *r, void *dst, size_t nbytes);
/** Step over a chunk, checking that it expands to exactly nbytes. */
int ct_blosc_skip(ct_reader *r, size_t nbytes);

#endif
