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
    int64_t ct_blocks_decode_at(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks,
                                const uint32_t *which, size_t nwhich, int dtype, size_t itemsize,
                                const int64_t *row0, const int64_t *rows, void *dst, size_t dst_bytes,
                                size_t *failed)
    size_t ct_blocks_check(const uint8_t *src, size_t len, const uint64_t *offsets, size_t nblocks, int *status)

cdef extern from "ct_sort.h" nogil:
    int ct_sort_pairs(const int64_t *major, const int64_t *minor, size_t n, int64_t *perm)
    int ct_sort_keys(const int64_t *const *keys, size_t nkeys, size_t n, int64_t *perm)

cdef extern from "ct_query.h" nogil:
    enum:
        CT_PROBE_CHUNKS
        CT_PROBE_BLOCKS
        CT_PROBE_PATHS
    ctypedef struct ct_window:
        int64_t t_lo, t_hi, oid_lo, oid_hi
        int nbox
        double box[2][4]
        const int64_t *oids
        size_t noids
        int has_at
        int64_t t_at
        int one_source
    ctypedef struct ct_stindex:
        size_t nblocks
        const int64_t *b_t_min
        const int64_t *b_t_max
        const int64_t *b_oid_min
        const int64_t *b_oid_max
        const double *b_x_min
        const double *b_x_max
        const double *b_y_min
        const double *b_y_max
        const int64_t *b_chunk0
        const uint8_t *b_space
        const int64_t *c_t_min
        const int64_t *c_t_max
        const int64_t *c_oid_min
        const int64_t *c_oid_max
        const float *c_x_min
        const float *c_x_max
        const float *c_y_min
        const float *c_y_max
        const uint8_t *c_flags
    ctypedef struct ct_probe_stats:
        uint64_t blocks_considered, blocks_matched, chunks_considered, chunks_matched
    ctypedef struct ct_polygon:
        size_t nparts
        const int64_t *part_ring0
        const int64_t *ring_v0
        const double *vx
        const double *vy
    ctypedef struct ct_grid_spec:
        int space, time
        double cx, cy
        int64_t ix0, iy0, nx, ny
        int wrap
        double wrap_x
        int64_t bucket, b0, nt
    int64_t ct_chunk_summaries(size_t n, const int64_t *oid, const int64_t *t, const double *x, const double *y,
                               const int64_t *block_rows, size_t nblocks, size_t chunk_rows, int geographic,
                               int64_t *t_min, int64_t *t_max, int64_t *oid_min, int64_t *oid_max,
                               float *x_min, float *x_max, float *y_min, float *y_max, uint8_t *flags, size_t cap)
    int64_t ct_probe(const ct_stindex *ix, const ct_window *w, int mode, int64_t *out, size_t cap,
                     ct_probe_stats *st)
    int64_t ct_filter(const int64_t *t, const double *x, const double *y, const int64_t *row0, size_t nchunks,
                      const int64_t *chunks, size_t nsel, const ct_window *w, const ct_polygon *poly,
                      int64_t *out, size_t cap, uint64_t *rows_scanned)
    int64_t ct_filter_index(const ct_stindex *ix, int64_t chunk_base, const int64_t *t, const double *x,
                            const double *y, const int64_t *row0, size_t nchunks, const int64_t *chunks, size_t nsel,
                            const ct_window *w, const ct_polygon *poly, int64_t *out, size_t cap,
                            uint64_t *rows_scanned)
    int64_t ct_filter_around(const ct_stindex *ix, int64_t chunk_base, const int64_t *oid, const int64_t *t,
                             const int64_t *row0, size_t nchunks, const int64_t *chunks, size_t nsel, int64_t at,
                             int64_t lo, int64_t hi, int64_t *out, size_t cap, uint64_t *rows_scanned)
    int64_t ct_filter_all(size_t n, const int64_t *t, const double *x, const double *y, const ct_window *w,
                          const ct_polygon *poly, int64_t *out, size_t cap)
    int64_t ct_bracket(size_t n, const int64_t *oid, const int64_t *t, int64_t at, int64_t max_gap,
                       int64_t *i0, int64_t *i1, double *w, size_t cap)
    int ct_simplify(size_t n, const double *x, const double *y, double tol, int geographic, uint8_t *keep)
    int ct_grid(size_t n, const double *x, const double *y, const int64_t *t, const double *v,
                const ct_grid_spec *g, int stat, int64_t *count, int64_t *valid, double *acc)
