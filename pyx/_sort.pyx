# cython: language_level=3, boundscheck=False, wraparound=False
"""Binds csrc/ct_sort.h: the stable (object, t) order of rows."""
from libc.stdint cimport int64_t

from ctcore cimport ct_sort_pairs, ct_strerror

import numpy as np

from chronotope.errors import from_status

__all__ = ["sort_pairs"]


def sort_pairs(const int64_t[::1] major, const int64_t[::1] minor):
    """Row order sorting (major, minor) ascending, stable: equal keys keep input order."""
    cdef size_t n = major.shape[0]
    cdef int rc
    if minor.shape[0] != n:
        raise from_status(-2, "sort keys differ in length")
    perm = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] p = perm
    with nogil:
        rc = ct_sort_pairs(&major[0] if n else NULL, &minor[0] if n else NULL, n, &p[0] if n else NULL)
    if rc < 0:
        raise from_status(rc, ct_strerror(rc).decode())
    return perm
