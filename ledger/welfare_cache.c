/*
 * welfare_cache.c — the registry cache (welfare_cache.h): a hash table of
 * malloc'd entries keyed by the record's key bytes, growing by doubling at
 * 3/4 load. Stale entries (older generation) are replaced in place when
 * their key is stored again; they are never returned.
 */
#include "welfare_cache.h"

#include <string.h>

#include "memory.h"

struct welfare_cache_entry {
    uint64_t generation;
    uint32_t key_size;
    uint32_t value_size;
    uint8_t key[WELFARE_CACHE_KEY_SIZE_MAX];
    uint8_t value[];
};

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

/* splitmix64 over 8-byte words of the key (and its size). */
static uint64_t key_hash(const uint8_t *key, size_t size) {
    uint64_t hash = size;
    for (size_t at = 0; at < size; at += 8) {
        uint64_t word = 0;
        size_t take = size - at < 8 ? size - at : 8;
        memcpy(&word, key + at, take);
        hash = mix(hash ^ word);
    }
    return hash;
}

/* The slot holding `key`, or the empty slot where it would go. The hash
 * kept beside each entry pointer spares a cache miss per probed entry. */
static uint64_t slot_find(const welfare_cache_t *cache, const uint8_t *key, size_t key_size) {
    uint64_t mask = cache->capacity - 1;
    uint64_t hash = key_hash(key, key_size);
    uint64_t slot = hash & mask;
    for (;;) {
        const welfare_cache_entry_t *entry = cache->slots[slot].entry;
        if (entry == NULL) return slot;
        if (cache->slots[slot].hash == hash && entry->key_size == key_size &&
            memcmp(entry->key, key, key_size) == 0) {
            return slot;
        }
        slot = (slot + 1) & mask;
    }
}

static void slot_set(welfare_cache_t *cache, uint64_t slot, welfare_cache_entry_t *entry) {
    cache->slots[slot].entry = entry;
    cache->slots[slot].hash = entry != NULL ? key_hash(entry->key, entry->key_size) : 0;
}

bool welfare_cache_get(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                       const uint8_t **value_out, size_t *value_size_out) {
    if (cache->capacity == 0 || key_size > WELFARE_CACHE_KEY_SIZE_MAX) return false;
    const welfare_cache_entry_t *entry = cache->slots[slot_find(cache, key, key_size)].entry;
    if (entry == NULL || entry->generation != cache->generation) return false;
    *value_out = entry->value;
    *value_size_out = entry->value_size;
    return true;
}

static bool cache_grow(welfare_cache_t *cache) {
    uint64_t capacity = cache->capacity == 0 ? 1024 : cache->capacity * 2;
    welfare_cache_slot_t *slots = memory_calloc(capacity, sizeof(*slots));
    if (slots == NULL) return false;
    welfare_cache_t grown = {slots, capacity, cache->count, cache->generation, cache->bytes};
    for (uint64_t i = 0; i < cache->capacity; i++) {
        welfare_cache_entry_t *entry = cache->slots[i].entry;
        if (entry != NULL) slot_set(&grown, slot_find(&grown, entry->key, entry->key_size), entry);
    }
    memory_free(cache->slots);
    *cache = grown;
    return true;
}

/* Removes the entry at `slot`, re-placing the cluster after it. */
static void slot_remove(welfare_cache_t *cache, uint64_t slot) {
    uint64_t mask = cache->capacity - 1;
    cache->bytes -= sizeof(welfare_cache_entry_t) + cache->slots[slot].entry->value_size;
    memory_free(cache->slots[slot].entry);
    slot_set(cache, slot, NULL);
    cache->count--;
    for (uint64_t next = (slot + 1) & mask; cache->slots[next].entry != NULL; next = (next + 1) & mask) {
        welfare_cache_entry_t *entry = cache->slots[next].entry;
        slot_set(cache, next, NULL);
        slot_set(cache, slot_find(cache, entry->key, entry->key_size), entry);
    }
}

void welfare_cache_put(welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                       const uint8_t *value, size_t value_size) {
    if (key_size > WELFARE_CACHE_KEY_SIZE_MAX) return;
    if ((cache->count + 1) * 4 > cache->capacity * 3 && !cache_grow(cache)) {
        if (cache->capacity == 0) return;
        uint64_t slot = slot_find(cache, key, key_size);
        if (cache->slots[slot].entry != NULL) slot_remove(cache, slot);
        return;
    }
    uint64_t slot = slot_find(cache, key, key_size);
    welfare_cache_entry_t *entry = cache->slots[slot].entry;
    if (entry == NULL) {
        entry = memory_alloc(sizeof(*entry) + value_size);
        if (entry == NULL) return;
        memcpy(entry->key, key, key_size);
        entry->key_size = (uint32_t)key_size;
        entry->value_size = (uint32_t)value_size;
        slot_set(cache, slot, entry);
        cache->count++;
        cache->bytes += sizeof(*entry) + value_size;
    } else if (entry->value_size != value_size) {
        /* Same key, new size: resized in place (the slot and hash stay). */
        welfare_cache_entry_t *resized = memory_realloc(entry, sizeof(*entry) + value_size);
        if (resized == NULL) {
            slot_remove(cache, slot);
            return;
        }
        cache->bytes = cache->bytes - resized->value_size + value_size;
        resized->value_size = (uint32_t)value_size;
        cache->slots[slot].entry = resized;
        entry = resized;
    }
    entry->generation = cache->generation;
    if (value_size > 0) memcpy(entry->value, value, value_size);
}

void welfare_cache_prefetch(const welfare_cache_t *cache, const uint8_t *key, size_t key_size,
                            int stage) {
    if (cache->capacity == 0) return;
    uint64_t hash = key_hash(key, key_size);
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
    for (uint64_t i = 0; i < cache->capacity; i++) memory_free(cache->slots[i].entry);
    memory_free(cache->slots);
    memset(cache, 0, sizeof(*cache));
}
