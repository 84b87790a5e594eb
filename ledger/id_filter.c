/*
 * id_filter.c — a blocked Bloom filter of transfer ids (id_filter.h): one
 * 64-byte block per id, 4 bits set in it.
 */
#include <string.h>

#include "id_filter.h"
#include "memory.h"

enum { FILTER_BLOCK_WORDS = 8, FILTER_BITS_PER_ID = 4 };

/* 64 well-mixed bits of an id: the low ones pick the block, four 9-bit
 * fields from bit 22 the bits within it (blocks_mask < 2^20 for any size
 * up to 64 MiB, so the fields do not overlap the block's bits). */
static uint64_t filter_hash(ledger_u128_t id) {
    uint64_t x = id.hi * 0x9E3779B97F4A7C15ull ^ id.lo;
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t *filter_block(const id_filter_t *filter, uint64_t hash) {
    return filter->words + (hash & filter->blocks_mask) * FILTER_BLOCK_WORDS;
}

static uint32_t filter_bit(uint64_t hash, int i) {
    return (uint32_t)(hash >> (22 + 9 * i)) & 511u;
}

int id_filter_init(id_filter_t *filter, uint64_t bytes) {
    memset(filter, 0, sizeof(*filter));
    uint64_t blocks = bytes / (FILTER_BLOCK_WORDS * sizeof(uint64_t));
    if ((bytes & (bytes - 1)) != 0 || blocks == 0 || blocks > (1u << 20)) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    filter->words = memory_calloc(blocks * FILTER_BLOCK_WORDS, sizeof(uint64_t));
    if (filter->words == NULL) return LEDGER_ERR_NO_MEMORY;
    /* Read and written at random: with 4 KiB pages every access would
     * miss the TLB as well as the cache (before its pages are touched). */
    memory_advise_huge_pages(filter->words, bytes);
    filter->blocks_mask = blocks - 1;
    return 0;
}

void id_filter_free(id_filter_t *filter) {
    memory_free(filter->words);
    memset(filter, 0, sizeof(*filter));
}

void id_filter_add(id_filter_t *filter, ledger_u128_t id) {
    if (filter->words == NULL) return;
    uint64_t hash = filter_hash(id);
    uint64_t *block = filter_block(filter, hash);
    for (int i = 0; i < FILTER_BITS_PER_ID; i++) {
        uint32_t bit = filter_bit(hash, i);
        block[bit >> 6] |= 1ull << (bit & 63);
    }
}

bool id_filter_maybe(const id_filter_t *filter, ledger_u128_t id) {
    if (filter->words == NULL) return true;
    uint64_t hash = filter_hash(id);
    const uint64_t *block = filter_block(filter, hash);
    for (int i = 0; i < FILTER_BITS_PER_ID; i++) {
        uint32_t bit = filter_bit(hash, i);
        if ((block[bit >> 6] & (1ull << (bit & 63))) == 0) return false;
    }
    return true;
}

void id_filter_prefetch(const id_filter_t *filter, ledger_u128_t id) {
    if (filter->words != NULL) __builtin_prefetch(filter_block(filter, filter_hash(id)));
}
