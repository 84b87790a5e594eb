/*
 * welfare_cache.h — an in-memory copy of the welfare table's registry
 * records (platform, funders, providers, employees, plans, pots, categories,
 * caps, cap classes), so that the purchase path reads memory instead of
 * LMDB B-trees. Internal to ledger/.
 *
 * Coherence: LMDB stays the only source of truth. The cache is filled on
 * reads and updated on writes (write-through), only inside this handle's
 * write groups (one writer process holds LMDB's write lock, so nothing else
 * changes the table under it). Any rollback — of a chain or of a group —
 * bumps the generation, which turns every entry into a miss at once (O(1));
 * entries refill from LMDB on their next read. So a rolled-back write can
 * never be served from memory.
 *
 * Workload: one entry per registry record (~2 per employee), read several
 * times per purchase; rollbacks are rare (refused operations).
 */
#ifndef BORSELLINO_WELFARE_CACHE_H
#define BORSELLINO_WELFARE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WELFARE_CACHE_KEY_SIZE_MAX = 40,
    /* Larger values are not cached (records are at most 512 bytes). */
    WELFARE_CACHE_VALUE_SIZE_MAX = 1024,
    /* Entries live in blocks of a multiple of 16 bytes, one free list per
     * size (welfare_cache.c). */
    WELFARE_CACHE_BLOCK_CLASSES = (56 + WELFARE_CACHE_VALUE_SIZE_MAX) / 16 + 1,
};

typedef struct welfare_cache_entry welfare_cache_entry_t;

/* A slot: the entry and its key's hash, side by side (one cache line
 * fetch decides most probes). */
typedef struct welfare_cache_slot {
    uint64_t hash;
    welfare_cache_entry_t *entry;
} welfare_cache_slot_t;

/* Where entries are allocated: large chunks on huge pages, carved into
 * blocks, so that the random lookups of a batch do not each miss the TLB
 * (as they do when every entry is its own malloc block somewhere in a
 * heap of small pages). Freed blocks go to the free list of their size. */
typedef struct welfare_cache_arena {
    void **chunks;     /* every chunk, freed with the cache */
    uint32_t chunks_count;
    uint32_t chunks_capacity;
    uint8_t *next;     /* the unused end of the newest chunk */
    size_t left;
    void *free_blocks[WELFARE_CACHE_BLOCK_CLASSES];
} welfare_cache_arena_t;

typedef struct welfare_cache {
    welfare_cache_slot_t *slots; /* open addressing, linear probing */
    uint64_t capacity;             /* a power of two, or 0 */
    uint64_t count;                /* occupied slots */
    uint64_t generation;           /* entries of older generations are misses */
    uint64_t bytes;                /* memory held by entries */
    welfare_cache_arena_t arena;
} welfare_cache_t;

/* Is a record of this key type cached? */
bool welfare_cache_type(uint8_t type);

/* The hash of a key, for welfare_cache_get_hashed and
 * welfare_cache_prefetch (a batch that prefetches a key computes it once). */
uint64_t welfare_cache_hash(const uint8_t *key, size_t key_size);

/* A current entry's value (valid until the next put or free), or false. */
bool welfare_cache_get(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                       const uint8_t **value_out, size_t *value_size_out);
/* As welfare_cache_get, given hash = welfare_cache_hash(key, key_size). */
bool welfare_cache_get_hashed(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                              uint64_t hash, const uint8_t **value_out, size_t *value_size_out);

/* Stores a copy (value_size 0 records that the key is absent). Out of memory drops the key's entry instead (a miss is
 * always correct). */
void welfare_cache_put(welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                       const uint8_t *value, size_t value_size);

/* Prefetching for batches (welfare_purchases), given the key's hash
 * (welfare_cache_hash): stage 1 brings the key's slot into the CPU cache,
 * stage 2 (a few operations later, the slot now cached) the entry it
 * points to. Hints only: never changes anything. */
void welfare_cache_prefetch(const welfare_cache_t *cache, uint64_t hash, int stage);

/* Every entry becomes a miss (rollback). */
void welfare_cache_invalidate(welfare_cache_t *cache);

void welfare_cache_free(welfare_cache_t *cache);

#endif
