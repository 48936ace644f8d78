# cython: language_level=3, boundscheck=False, wraparound=False
"""CRC-32C, the checksum of blocks, segments and log records (binds csrc/ct_crc32c.h)."""
from libc.stdint cimport uint32_t

from ctcore cimport ct_crc32c, ct_crc32c_portable

__all__ = ["crc32c"]


def crc32c(const unsigned char[::1] data, uint32_t value=0, *, bint portable=False):
    """CRC-32C of ``data``, continuing from ``value`` (the CRC of preceding bytes).

    ``portable=True`` forces the table implementation (tests compare both paths).
    """
    cdef uint32_t out
    cdef size_t n = data.shape[0]
    cdef const unsigned char *p = &data[0] if n else NULL
    with nogil:
        out = ct_crc32c_portable(value, p, n) if portable else ct_crc32c(value, p, n)
    return out
