/*
 * ct_crc32c.h - CRC-32C (Castagnoli), the checksum of every block.
 *
 * Uses the SSE4.2 / ARMv8 CRC instructions when the CPU has them (detected
 * once at run time) and a portable slicing-by-8 table otherwise; all paths
 * give identical results. This function cannot fail.
 */
#ifndef CT_CRC32C_H
#define CT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Extend a CRC-32C over buf[0..len).
 * @param crc  the value returned for the preceding bytes, or 0 to start.
 * @return     the CRC of everything so far (standard: init and final xor
 *             0xFFFFFFFF are applied inside, so crc(a+b) = ct_crc32c(ct_crc32c(0,a),b)).
 */
uint32_t ct_crc32c(uint32_t crc, const void *buf, size_t len);

/** The portable table path, always compiled (tests compare it with the fast path). */
uint32_t ct_crc32c_portable(uint32_t crc, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
