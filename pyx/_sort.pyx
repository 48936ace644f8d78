# cython: language_level=3, boundscheck=False, wraparound=False
"""Binds csrc/ct_sort.h: the stable (object, t) order of rows."""
from libc.stdint cimport int64_t

from libc.stdlib cimport free, malloc

from ctcore cimport ct_sort_keys, ct_sort_pairs, ct_strerror

import numpy as np

from chronotope.errors import from_status

__all__ = ["sort_pairs", "sort_keys"]


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


def sort_keys(*keys):
    """Row order sorting by several int64 keys (first most significant), stable."""
    cdef size_t nkeys = len(keys), n = len(keys[0]) if keys else 0, k
    cdef int rc
    cdef const int64_t **ptrs
    cdef const int64_t[::1] view
    arrays = [np.ascontiguousarray(key, dtype=np.int64) for key in keys]
    if any(len(a) != n for a in arrays):
        raise from_status(-2, "sort keys differ in length")
    perm = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] p = perm
    ptrs = <const int64_t **> malloc((nkeys if nkeys else 1) * sizeof(int64_t *))
    if ptrs == NULL:
        raise MemoryError()
    try:
        for k in range(nkeys):
            view = arrays[k]
            ptrs[k] = &view[0] if n else NULL
        with nogil:
            rc = ct_sort_keys(ptrs, nkeys, n, &p[0] if n else NULL)
    finally:
        free(ptrs)
    if rc < 0:
        raise from_status(rc, ct_strerror(rc).decode())
    return perm
