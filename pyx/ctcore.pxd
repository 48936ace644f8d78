# Declarations of chronotope's C core (csrc/*.h) used by the extension modules.
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t

cdef extern from "ct_error.h" nogil:
    const char *ct_strerror(int code)

cdef extern from "ct_crc32c.h" nogil:
    uint32_t ct_crc32c(uint32_t crc, const void *buf, size_t len)
    uint32_t ct_crc32c_portable(uint32_t crc, const void *buf, size_t len)

cdef extern from "ct_kernels.h" nogil:
    ctypedef struct ct_kernels:
        const char *name
    const ct_kernels *ct_kernels_get()
    int ct_kernels_select(const char *name)
    const char *const *ct_kernels_available()

cdef extern from "ct_block.h" nogil:
    enum:
        CT_BLOCK_MAX_NDIM
        CT_BLOCK_HEADER_MAX
    ctypedef struct ct_block_info:
        uint8_t dtype
        uint8_t unit
        uint8_t codec
        uint8_t flags
        uint32_t itemsize
        uint8_t ndim
        uint64_t shape[8]
        uint64_t count
        uint64_t payload_len
        size_t header_len
        const uint8_t *payload
    ctypedef struct ct_encode_opts:
        int mode
        int codec
        int transform
    size_t ct_block_bound(size_t nbytes)
    int64_t ct_block_encode(const void *src, const ct_block_info *info, const ct_encode_opts *opts,
                            uint8_t *dst, size_t cap)
    int ct_block_open(const uint8_t *src, size_t len, ct_block_info *info)
    int ct_block_decode(const ct_block_info *info, void *dst, size_t dst_bytes)
    size_t ct_blocks_bound(size_t nbytes, size_t nblocks)
    int64_t ct_blocks_encode(const void *src, const ct_block_info *info, size_t rows_per_block,
                             const ct_encode_opts *opts, uint8_t *dst, size_t cap, uint64_t *offsets)
    int64_t ct_blocks_decode(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks,
                             const uint32_t *which, size_t nwhich, int dtype, size_t itemsize,
                             void *dst, size_t dst_bytes, size_t *failed)
    size_t ct_blocks_check(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks, int *status)

cdef extern from "ct_sort.h" nogil:
    int ct_sort_pairs(const int64_t *major, const int64_t *minor, size_t n, int64_t *perm)
    int ct_sort_keys(const int64_t *const *keys, size_t nkeys, size_t n, int64_t *perm)
