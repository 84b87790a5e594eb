/*
 * memory.h — the one allocation wrapper of the ledger library.
 *
 * Every heap allocation of ledger/ goes through these functions, so memory
 * is accounted for (memory_bytes_in_use) and out-of-memory has one policy:
 * the wrapper returns NULL, and the caller turns that into
 * LEDGER_ERR_NO_MEMORY without changing any state. Nothing aborts on OOM.
 */
#ifndef BORSELLINO_LEDGER_MEMORY_H
#define BORSELLINO_LEDGER_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/* malloc / calloc / realloc / free with accounting. memory_free(NULL) and
 * memory_realloc(NULL, n) behave as in libc. Sizes overflowing size_t in
 * memory_calloc give NULL. */
void *memory_alloc(size_t size);
void *memory_calloc(size_t count, size_t size);
void *memory_realloc(void *pointer, size_t size);
void memory_free(void *pointer);

/* Asks the kernel to back the 2 MiB-aligned interior of a large block with
 * huge pages (a hint; ignored where unsupported). The account table is
 * read at random, and with 4 KiB pages its prefetches miss the TLB. */
void memory_advise_huge_pages(void *pointer, size_t size);

/* Bytes currently allocated through this wrapper (all threads). */
uint64_t memory_bytes_in_use(void);

#endif
