/*
 * crc32c.h — CRC-32C (Castagnoli), the per-record checksum of journal and
 * checkpoint records. Uses the SSE4.2 instruction when the CPU has it, a
 * table otherwise; both give the same values (checked by tests).
 */
#ifndef BORSELLINO_LEDGER_CRC32C_H
#define BORSELLINO_LEDGER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of `size` bytes at `data` (standard init and final xor). */
uint32_t crc32c(const void *data, size_t size);

/* The same, always through the portable table (for tests). */
uint32_t crc32c_portable(const void *data, size_t size);

#endif
