/*
 * welfare_cache.c — the registry cache (welfare_cache.h): a hash table of
 * entries keyed by the record's key bytes, growing by doubling at 3/4
 * load; the entries are blocks of an arena of huge-page chunks. Stale
 * entries (older generation) are replaced in place when their key is
 * stored again; they are never returned.
 */
#include "welfare_cache.h"

#include <assert.h>
#include <string.h>

#include "memory.h"

struct welfare_cache_entry {
    uint64_t generation;
    uint32_t key_size;
    uint32_t value_size;
    uint8_t key[WELFARE_CACHE_KEY_SIZE_MAX];
    uint8_t value[];
};

_Static_assert(sizeof(welfare_cache_entry_t) == 56, "WELFARE_CACHE_BLOCK_CLASSES counts on it");

/* 4 MiB: a few hundred thousand entries (an employee's and its pot's) fill
 * a dozen chunks; a small ledger touches only the start of one. A chunk
 * starts on a huge page boundary: its allocation is a huge page longer,
 * and the part before the boundary is never touched (address space, not
 * memory). */
enum { ARENA_CHUNK_SIZE = 4u << 20, ARENA_HUGE_PAGE_SIZE = 2u << 20, ARENA_BLOCK_ALIGN = 16 };

/* The block size of an entry holding `value_size` bytes. */
static size_t block_size(size_t value_size) {
    size_t size = sizeof(welfare_cache_entry_t) + value_size;
    return (size + ARENA_BLOCK_ALIGN - 1) & ~(size_t)(ARENA_BLOCK_ALIGN - 1);
}

static bool arena_chunk_add(welfare_cache_arena_t *arena) {
    if (arena->chunks_count == arena->chunks_capacity) {
        uint32_t capacity = arena->chunks_capacity == 0 ? 16 : arena->chunks_capacity * 2;
        void **chunks = memory_realloc(arena->chunks, (size_t)capacity * sizeof(*chunks));
        if (chunks == NULL) return false;
        arena->chunks = chunks;
        arena->chunks_capacity = capacity;
    }
    uint8_t *chunk = memory_alloc(ARENA_CHUNK_SIZE + ARENA_HUGE_PAGE_SIZE);
    if (chunk == NULL) return false;
    arena->chunks[arena->chunks_count++] = chunk;
    uintptr_t start = ((uintptr_t)chunk + ARENA_HUGE_PAGE_SIZE - 1) & ~(uintptr_t)(ARENA_HUGE_PAGE_SIZE - 1);
    arena->next = chunk + (start - (uintptr_t)chunk);
    arena->left = ARENA_CHUNK_SIZE;
    memory_advise_huge_pages(arena->next, ARENA_CHUNK_SIZE);
    return true;
}

/* A block for an entry of `value_size` (<= WELFARE_CACHE_VALUE_SIZE_MAX),
 * or NULL when out of memory. */
static welfare_cache_entry_t *arena_alloc(welfare_cache_arena_t *arena, size_t value_size) {
    size_t size = block_size(value_size);
    size_t class = size / ARENA_BLOCK_ALIGN;
    assert(value_size <= WELFARE_CACHE_VALUE_SIZE_MAX);
    assert(class < WELFARE_CACHE_BLOCK_CLASSES);
    if (arena->free_blocks[class] != NULL) {
        void *block = arena->free_blocks[class];
        memcpy(&arena->free_blocks[class], block, sizeof(void *));
        return block;
    }
    /* The rest of a chunk too short for this block stays unused. */
    if (arena->left < size && !arena_chunk_add(arena)) return NULL;
    welfare_cache_entry_t *entry = (welfare_cache_entry_t *)(void *)arena->next;
    arena->next += size;
    arena->left -= size;
    return entry;
}

static void arena_free(welfare_cache_arena_t *arena, welfare_cache_entry_t *entry) {
    size_t class = block_size(entry->value_size) / ARENA_BLOCK_ALIGN;
    assert(class < WELFARE_CACHE_BLOCK_CLASSES);
    memcpy(entry, &arena->free_blocks[class], sizeof(void *));
    arena->free_blocks[class] = entry;
}

bool welfare_cache_type(uint8_t type) {
    switch (type) {
    case 'P': case 'F': case 'V': case 'E': case 'L': case 'T': case 'K': case 'Y': case 'C':
    case 'U':
        return true;
    default:
        return false;
    }
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* splitmix64 over 8-byte words of the key (and its size); the last word
 * is zero-padded. Whole words are fixed-size copies (one load each): keys
 * are 1 to 40 bytes, hashed on every lookup. */
uint64_t welfare_cache_hash(const uint8_t *key, size_t size) {
    uint64_t hash = size;
    size_t at = 0;
    for (; size - at >= 8; at += 8) {
        uint64_t word;
        memcpy(&word, key + at, sizeof(word));
        hash = mix(hash ^ word);
    }
    if (at < size) {
        uint64_t word = 0;
        memcpy(&word, key + at, size - at);
        hash = mix(hash ^ word);
    }
    return hash;
}

/* Whether two keys of `size` bytes are equal: inline, as the hashes
 * already matched and a library call would cost more than the compare. */
static bool key_equal(const uint8_t *a, const uint8_t *b, size_t size) {
    size_t at = 0;
    for (; size - at >= 8; at += 8) {
        uint64_t word_a;
        uint64_t word_b;
        memcpy(&word_a, a + at, sizeof(word_a));
        memcpy(&word_b, b + at, sizeof(word_b));
        if (word_a != word_b) return false;
    }
    for (; at < size; at++) {
        if (a[at] != b[at]) return false;
    }
    return true;
}

/* The slot holding `key` (whose hash is `hash`), or the empty slot where
 * it would go. The hash kept beside each entry pointer spares a cache
 * miss per probed entry. */
static uint64_t slot_find(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                          uint64_t hash) {
    uint64_t mask = cache->capacity - 1;
    uint64_t slot = hash & mask;
    for (;;) {
        const welfare_cache_entry_t *entry = cache->slots[slot].entry;
        if (entry == NULL) return slot;
        if (cache->slots[slot].hash == hash && entry->key_size == key_size &&
            key_equal(entry->key, key, key_size)) {
            return slot;
        }
        slot = (slot + 1) & mask;
    }
}


static void slot_set(welfare_cache_t *cache, uint64_t slot, welfare_cache_entry_t *entry,
                     uint64_t hash) {
    cache->slots[slot].entry = entry;
    cache->slots[slot].hash = hash;
}

/* Places an entry whose key's hash is `hash` (kept in its old slot, so
 * never recomputed when entries move). */
static void slot_place(welfare_cache_t *cache, welfare_cache_entry_t *entry, uint64_t hash) {
    slot_set(cache, slot_find(cache, entry->key, entry->key_size, hash), entry, hash);
}

bool welfare_cache_get(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                       const uint8_t **value_out, size_t *value_size_out) {
    return welfare_cache_get_hashed(cache, key, key_size, welfare_cache_hash(key, key_size),
                                    value_out, value_size_out);
}

bool welfare_cache_get_hashed(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                              uint64_t hash, const uint8_t **value_out, size_t *value_size_out) {
    if (cache->capacity == 0 || key_size > WELFARE_CACHE_KEY_SIZE_MAX) return false;
    const welfare_cache_entry_t *entry = cache->slots[slot_find(cache, key, key_size, hash)].entry;
    if (entry == NULL || entry->generation != cache->generation) return false;
    *value_out = entry->value;
    *value_size_out = entry->value_size;
    return true;
}

static bool cache_grow(welfare_cache_t *cache) {
    uint64_t capacity = cache->capacity == 0 ? 1024 : cache->capacity * 2;
    if (capacity > SIZE_MAX / sizeof(welfare_cache_slot_t)) return false;
    size_t size = (size_t)capacity * sizeof(welfare_cache_slot_t);
    welfare_cache_slot_t *slots = memory_alloc(size);
    if (slots == NULL) return false;
    /* Lookups land on random slots of a table of many megabytes: huge
     * pages spare most TLB misses. Advised before the first touch, so the
     * kernel can back it with huge pages from the start. */
    memory_advise_huge_pages(slots, size);
    memset(slots, 0, size);
    welfare_cache_slot_t *old_slots = cache->slots;
    uint64_t old_capacity = cache->capacity;
    cache->slots = slots;
    cache->capacity = capacity;
    for (uint64_t i = 0; i < old_capacity; i++) {
        welfare_cache_entry_t *entry = old_slots[i].entry;
        if (entry != NULL) slot_place(cache, entry, old_slots[i].hash);
    }
    memory_free(old_slots);
    return true;
}

/* Removes the entry at `slot`, re-placing the cluster after it. */
static void slot_remove(welfare_cache_t *cache, uint64_t slot) {
    uint64_t mask = cache->capacity - 1;
    cache->bytes -= sizeof(welfare_cache_entry_t) + cache->slots[slot].entry->value_size;
    arena_free(&cache->arena, cache->slots[slot].entry);
    slot_set(cache, slot, NULL, 0);
    cache->count--;
    for (uint64_t next = (slot + 1) & mask; cache->slots[next].entry != NULL; next = (next + 1) & mask) {
        welfare_cache_entry_t *entry = cache->slots[next].entry;
        uint64_t hash = cache->slots[next].hash;
        slot_set(cache, next, NULL, 0);
        slot_place(cache, entry, hash);
    }
}

void welfare_cache_put(welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                       const uint8_t *value, size_t value_size) {
    if (key_size > WELFARE_CACHE_KEY_SIZE_MAX) return;
    uint64_t hash = welfare_cache_hash(key, key_size);
    if (value_size > WELFARE_CACHE_VALUE_SIZE_MAX ||
        ((cache->count + 1) * 4 > cache->capacity * 3 && !cache_grow(cache))) {
        /* Not cached: an older entry of the key must not stay. */
        if (cache->capacity == 0) return;
        uint64_t slot = slot_find(cache, key, key_size, hash);
        if (cache->slots[slot].entry != NULL) slot_remove(cache, slot);
        return;
    }
    uint64_t slot = slot_find(cache, key, key_size, hash);
    welfare_cache_entry_t *entry = cache->slots[slot].entry;
    if (entry == NULL) {
        entry = arena_alloc(&cache->arena, value_size);
        if (entry == NULL) return;
        memcpy(entry->key, key, key_size);
        entry->key_size = (uint32_t)key_size;
        entry->value_size = (uint32_t)value_size;
        slot_set(cache, slot, entry, hash);
        cache->count++;
        cache->bytes += sizeof(*entry) + value_size;
    } else if (block_size(entry->value_size) != block_size(value_size)) {
        /* Same key, another block size: moved to a new block (the slot and
         * hash stay). */
        welfare_cache_entry_t *resized = arena_alloc(&cache->arena, value_size);
        if (resized == NULL) {
            slot_remove(cache, slot);
            return;
        }
        memcpy(resized, entry, sizeof(*entry));
        cache->bytes = cache->bytes - entry->value_size + value_size;
        arena_free(&cache->arena, entry);
        resized->value_size = (uint32_t)value_size;
        cache->slots[slot].entry = resized;
        entry = resized;
    } else {
        cache->bytes = cache->bytes - entry->value_size + value_size;
        entry->value_size = (uint32_t)value_size;
    }
    entry->generation = cache->generation;
    if (value_size > 0) memcpy(entry->value, value, value_size);
}

void welfare_cache_prefetch(const welfare_cache_t *cache, uint64_t hash, int stage) {
    if (cache->capacity == 0) return;
    const welfare_cache_slot_t *slot = &cache->slots[hash & (cache->capacity - 1)];
    if (stage == 1) {
        __builtin_prefetch(slot);
    } else if (slot->hash == hash && slot->entry != NULL) {
        __builtin_prefetch(slot->entry);
        __builtin_prefetch((const uint8_t *)slot->entry + 64);
        __builtin_prefetch((const uint8_t *)slot->entry + 128);
    }
}

void welfare_cache_invalidate(welfare_cache_t *cache) { cache->generation++; }

void welfare_cache_free(welfare_cache_t *cache) {
    for (uint32_t i = 0; i < cache->arena.chunks_count; i++) memory_free(cache->arena.chunks[i]);
    memory_free(cache->arena.chunks);
    memory_free(cache->slots);
    memset(cache, 0, sizeof(*cache));
}
