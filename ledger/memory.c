/*
 * memory.c — accounting allocation wrapper (see memory.h).
 *
 * Each block carries a 16-byte header holding its size, so that frees can
 * be subtracted; 16 keeps the payload aligned for any C type.
 */
#include "memory.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { MEMORY_HEADER_SIZE = 16 };

static _Atomic uint64_t memory_in_use;

void *memory_alloc(size_t size) {
    if (size > SIZE_MAX - MEMORY_HEADER_SIZE) return NULL;
    unsigned char *block = malloc(size + MEMORY_HEADER_SIZE);
    if (block == NULL) return NULL;
    memcpy(block, &size, sizeof(size));
    atomic_fetch_add(&memory_in_use, size);
    return block + MEMORY_HEADER_SIZE;
}

void *memory_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *pointer = memory_alloc(count * size);
    if (pointer != NULL) memset(pointer, 0, count * size);
    return pointer;
}

void *memory_realloc(void *pointer, size_t size) {
    if (pointer == NULL) return memory_alloc(size);
    if (size > SIZE_MAX - MEMORY_HEADER_SIZE) return NULL;
    unsigned char *block = (unsigned char *)pointer - MEMORY_HEADER_SIZE;
    size_t size_old;
    memcpy(&size_old, block, sizeof(size_old));
    unsigned char *grown = realloc(block, size + MEMORY_HEADER_SIZE);
    if (grown == NULL) return NULL;
    memcpy(grown, &size, sizeof(size));
    atomic_fetch_add(&memory_in_use, size);
    atomic_fetch_sub(&memory_in_use, size_old);
    return grown + MEMORY_HEADER_SIZE;
}

void memory_free(void *pointer) {
    if (pointer == NULL) return;
    unsigned char *block = (unsigned char *)pointer - MEMORY_HEADER_SIZE;
    size_t size;
    memcpy(&size, block, sizeof(size));
    atomic_fetch_sub(&memory_in_use, size);
    free(block);
}

uint64_t memory_bytes_in_use(void) {
    return atomic_load(&memory_in_use);
}

void memory_advise_huge_pages(void *pointer, size_t size) {
    const uintptr_t huge_page_size = 2u << 20;
    uintptr_t start = ((uintptr_t)pointer + huge_page_size - 1) & ~(huge_page_size - 1);
    uintptr_t end = ((uintptr_t)pointer + size) & ~(huge_page_size - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
}
