/*
 * ct_decimal.h - lossless decimal coding of float64/float32 columns (internal).
 *
 * Finds the exponent e (0..22) for which v * 10^e is an exact integer n with
 * n / 10^e == v bit for bit for the most values (AIS coordinates: e = 5),
 * codes those integers as an integer stream, and keeps every value that does
 * not round-trip (NaN, +-inf, -0.0, odd values) verbatim as an exception.
 * Payload: u8 e, varint exception count, varint position gaps, raw exception
 * values (little-endian), then the integer stream.
 */
#ifndef CT_DECIMAL_H
#define CT_DECIMAL_H

#include <stddef.h>

#include "ct_bytes_io.h"

/**
 * Encode n floats (itemsize 4 or 8).
 * @return CT_OK, CT_ERR_UNSUPPORTED when more than max_exc_fraction of the
 *         values would be exceptions (the caller should use another codec),
 *         or another negative ct_status.
 */
int ct_decimal_encode(const void *src, size_t n, size_t itemsize, int compact, double max_exc_fraction, ct_writer *w);
size_t ct_decimal_bound(size_t n, size_t itemsize);
int ct_decimal_decode(ct_reader *r, void *dst, size_t n, size_t itemsize);
/** Step over a decimal payload of n values, checking its structure (see ct_ints_skip). */
int ct_decimal_skip(ct_reader *r, size_t n, size_t itemsize);

#endif
