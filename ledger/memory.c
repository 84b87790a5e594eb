/*
 * memory.c — accounting allocation wrapper (see memory.h).
 *
 * Each block carries a 16-byte header holding its size, so that frees can
 * be subtracted; 16 keeps the payload aligned for any C type.
 *
 * Blocks of MEMORY_MAP_THRESHOLD bytes and more are mapped directly and
 * unmapped when freed. Through malloc they were not given back: glibc
 * raises its own mmap threshold to the size of each mapped block freed (up
 * to 32 MiB), so after the account table had grown a few times its arrays
 * came from the heap, and every array it outgrew stayed resident (289
 * bytes per account at 100k accounts instead of about 120). A mapped block
 * is also zero already, so memory_calloc touches none of its pages (the id
 * filter's 16 MiB stay unbacked until ids land on them). Under
 * AddressSanitizer every block goes through malloc, which it checks.
 */
#include "memory.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { MEMORY_HEADER_SIZE = 16 };

#define MEMORY_MAP_THRESHOLD ((size_t)1 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define MEMORY_MAP_LARGE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMORY_MAP_LARGE 0
#endif
#endif
#ifndef MEMORY_MAP_LARGE
#define MEMORY_MAP_LARGE 1
#endif

static bool block_mapped(size_t size) {
    return MEMORY_MAP_LARGE && size >= MEMORY_MAP_THRESHOLD;
}

static _Atomic uint64_t memory_in_use;

void *memory_alloc(size_t size) {
    if (size > SIZE_MAX - MEMORY_HEADER_SIZE) return NULL;
    unsigned char *block = NULL;
    if (block_mapped(size)) {
        void *mapped = mmap(NULL, size + MEMORY_HEADER_SIZE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped != MAP_FAILED) block = mapped;
    } else {
        block = malloc(size + MEMORY_HEADER_SIZE);
    }
    if (block == NULL) return NULL;
    memcpy(block, &size, sizeof(size));
    atomic_fetch_add(&memory_in_use, size);
    return block + MEMORY_HEADER_SIZE;
}

void *memory_calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *pointer = memory_alloc(count * size);
    if (pointer != NULL && !block_mapped(count * size)) memset(pointer, 0, count * size);
    return pointer;
}

void *memory_realloc(void *pointer, size_t size) {
    if (pointer == NULL) return memory_alloc(size);
    if (size > SIZE_MAX - MEMORY_HEADER_SIZE) return NULL;
    unsigned char *block = (unsigned char *)pointer - MEMORY_HEADER_SIZE;
    size_t size_old;
    memcpy(&size_old, block, sizeof(size_old));
    if (block_mapped(size_old) || block_mapped(size)) {
        void *moved = memory_alloc(size);
        if (moved == NULL) return NULL;
        memcpy(moved, pointer, size < size_old ? size : size_old);
        memory_free(pointer);
        return moved;
    }
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
    if (block_mapped(size)) {
        (void)munmap(block, size + MEMORY_HEADER_SIZE);
    } else {
        free(block);
    }
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
