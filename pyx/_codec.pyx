# cython: language_level=3, boundscheck=False, wraparound=False
"""Bindings of the column block codec (csrc/ct_block.h).

Buffers come in through the buffer protocol without copies; the GIL is released
around all C work; C status codes become chronotope.errors exceptions through
errors.from_status, with the caller's context in the message. The numpy dtype
mapping lives in chronotope.codec, not here.
"""
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from cpython.bytes cimport PyBytes_FromStringAndSize

from ctcore cimport (CT_BLOCK_MAX_NDIM, ct_block_bound, ct_block_decode, ct_block_encode,
                     ct_block_info, ct_block_open, ct_blocks_bound, ct_blocks_check, ct_blocks_decode, ct_blocks_decode_at,
                     ct_blocks_encode, ct_encode_opts, ct_kernels_available, ct_kernels_get,
                     ct_kernels_select, ct_strerror)
import numpy as np

from chronotope.errors import from_status

__all__ = ["encode_block", "decode_block", "block_info", "encode_blocks", "decode_blocks", "check_blocks",
           "simd_level", "set_simd", "available_simd"]


cdef int check(int rc, context) except -1:
    if rc < 0:
        raise from_status(rc, ct_strerror(rc).decode(), context)
    return 0


cdef dict info_dict(const ct_block_info *info):
    return {
        "dtype": info.dtype, "unit": info.unit, "codec": info.codec, "fast": bool(info.flags & 1),
        "itemsize": info.itemsize, "shape": tuple(info.shape[d] for d in range(info.ndim)),
        "count": info.count, "header_bytes": info.header_len, "payload_bytes": info.payload_len,
    }


def encode_block(const unsigned char[::1] data, int dtype, int unit, size_t itemsize, tuple shape,
                 int mode, int codec, int transform):
    """Encode the raw bytes of one C-contiguous array into a block; returns bytes."""
    cdef ct_block_info info
    cdef ct_encode_opts opts
    cdef size_t nbytes = data.shape[0], cap
    cdef const unsigned char *src = &data[0] if nbytes else NULL
    cdef uint8_t *dst
    cdef int64_t written
    if len(shape) > CT_BLOCK_MAX_NDIM:
        raise from_status(-2, f"arrays of at most {CT_BLOCK_MAX_NDIM} dimensions are supported")
    info.dtype, info.unit, info.itemsize, info.ndim = dtype, unit, itemsize, len(shape)
    info.count = 1
    for d, extent in enumerate(shape):
        info.shape[d] = extent
        info.count *= extent
    if info.count * itemsize != nbytes:
        raise from_status(-2, "buffer size does not match shape and itemsize")
    opts.mode, opts.codec, opts.transform = mode, codec, transform
    cap = ct_block_bound(nbytes)
    dst = <uint8_t *> malloc(cap)
    if dst == NULL:
        raise MemoryError()
    try:
        with nogil:
            written = ct_block_encode(src, &info, &opts, dst, cap)
        if written < 0:
            check(<int> written, "encode")
        return PyBytes_FromStringAndSize(<char *> dst, written)
    finally:
        free(dst)


def block_info(const unsigned char[::1] buf, context=None):
    """Validate a block's header and checksum; return what it holds as a dict."""
    cdef ct_block_info info
    cdef size_t n = buf.shape[0]
    cdef int rc
    with nogil:
        rc = ct_block_open(&buf[0] if n else NULL, n, &info)
    check(rc, context)
    return info_dict(&info)


def decode_block(const unsigned char[::1] buf, allocate, context=None):
    """Decode a block into the array returned by ``allocate(info_dict)``.

    ``allocate`` must return a writable C-contiguous array of exactly
    count * itemsize bytes; the array is returned.
    """
    cdef ct_block_info info
    cdef size_t n = buf.shape[0], out_bytes
    cdef int rc
    cdef unsigned char[::1] view
    with nogil:
        rc = ct_block_open(&buf[0] if n else NULL, n, &info)
    check(rc, context)
    out = allocate(info_dict(&info))
    view = out.reshape(-1).view("u1") if out.size else None
    out_bytes = view.shape[0] if view is not None else 0
    with nogil:
        rc = ct_block_decode(&info, &view[0] if out_bytes else NULL, out_bytes)
    check(rc, context)
    return out


def encode_blocks(const unsigned char[::1] data, int dtype, int unit, size_t itemsize, size_t count,
                  size_t rows_per_block, int mode):
    """Encode a 1-D column as blocks of rows_per_block values; returns (bytes, uint64 offsets)."""
    cdef ct_block_info info
    cdef ct_encode_opts opts
    cdef size_t nbytes = data.shape[0], nblocks, cap
    cdef const unsigned char *src = &data[0] if nbytes else NULL
    cdef uint8_t *dst
    cdef int64_t written
    if rows_per_block == 0:
        raise from_status(-2, "rows_per_block must be positive")
    if count * itemsize != nbytes:
        raise from_status(-2, "buffer size does not match count and itemsize")
    nblocks = (count + rows_per_block - 1) // rows_per_block
    info.dtype, info.unit, info.itemsize, info.ndim = dtype, unit, itemsize, 1
    info.shape[0] = info.count = count
    opts.mode, opts.codec, opts.transform = mode, -1, -1
    offsets = np.empty(nblocks + 1, dtype=np.uint64)
    cdef uint64_t[::1] off = offsets
    cap = ct_blocks_bound(nbytes, nblocks)
    dst = <uint8_t *> malloc(cap if cap else 1)
    if dst == NULL:
        raise MemoryError()
    try:
        with nogil:
            written = ct_blocks_encode(src, &info, rows_per_block, &opts, dst, cap, &off[0])
        if written < 0:
            check(<int> written, "encode")
        return PyBytes_FromStringAndSize(<char *> dst, written), offsets
    finally:
        free(dst)


def decode_blocks(const unsigned char[::1] buf, const uint64_t[::1] offsets, const uint32_t[::1] which,
                  int dtype, size_t itemsize, unsigned char[::1] out, context=None):
    """Decode the listed blocks of a concatenation into out (raw bytes of the result)."""
    cdef size_t n = buf.shape[0], nwhich = which.shape[0], failed = 0, out_bytes = out.shape[0]
    cdef int64_t rc
    if offsets.shape[0] < 1:
        raise from_status(-8, "empty block offsets", context)
    with nogil:
        rc = ct_blocks_decode(&buf[0] if n else NULL, n, &offsets[0], offsets.shape[0] - 1,
                              &which[0] if nwhich else NULL, nwhich, dtype, itemsize,
                              &out[0] if out_bytes else NULL, out_bytes, &failed)
    if rc < 0:
        where = f"block {which[failed]}" if failed < nwhich else "blocks"
        check(<int> rc, f"{context}, {where}" if context else where)
    return rc


def decode_blocks_at(const unsigned char[::1] buf, const uint64_t[::1] offsets, const uint32_t[::1] which,
                     int dtype, size_t itemsize, const int64_t[::1] row0, const int64_t[::1] rows,
                     unsigned char[::1] out, context=None):
    """Decode block which[j] into out at row row0[j] (rows[j] values), for every j."""
    cdef size_t n = buf.shape[0], nwhich = which.shape[0], failed = 0, out_bytes = out.shape[0]
    cdef int64_t rc
    if offsets.shape[0] < 1:
        raise from_status(-8, "empty block offsets", context)
    with nogil:
        rc = ct_blocks_decode_at(&buf[0] if n else NULL, n, &offsets[0], offsets.shape[0] - 1,
                                 &which[0] if nwhich else NULL, nwhich, dtype, itemsize,
                                 &row0[0] if nwhich else NULL, &rows[0] if nwhich else NULL,
                                 &out[0] if out_bytes else NULL, out_bytes, &failed)
    if rc < 0:
        where = f"block {which[failed]}" if failed < nwhich else "blocks"
        check(<int> rc, f"{context}, {where}" if context else where)
    return rc


def check_blocks(const unsigned char[::1] buf, const uint64_t[::1] offsets):
    """Validate every block of a concatenation; returns (messages per bad block index)."""
    cdef size_t n = buf.shape[0], nblocks = offsets.shape[0] - 1 if offsets.shape[0] else 0
    status = np.zeros(nblocks, dtype=np.intc)
    cdef int[::1] st = status
    if nblocks == 0:
        return {}
    with nogil:
        ct_blocks_check(&buf[0] if n else NULL, n, &offsets[0], nblocks, &st[0])
    return {int(k): ct_strerror(status[k]).decode() for k in np.flatnonzero(status)}


def simd_level():
    """Name of the kernel table in use: 'generic', 'avx2' or 'avx512'."""
    return ct_kernels_get().name.decode()


def available_simd():
    """Kernel tables this build and CPU can run, best last."""
    cdef const char *const *names = ct_kernels_available()
    out = []
    cdef int i = 0
    while names[i] != NULL:
        out.append(names[i].decode())
        i += 1
    return out


def set_simd(str name):
    """Select kernels by name ('auto', 'generic', 'avx2', 'avx512'); returns the name in use."""
    if ct_kernels_select(name.encode()) < 0:
        # an unknown name is a bad argument, not bad data: report it as such
        raise from_status(-2, f"unknown or unavailable SIMD level {name!r}; available: {['auto', *available_simd()]}")
    return simd_level()
