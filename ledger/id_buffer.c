/*
 * id_buffer.c — the in-memory part of the transfer id index: two tables of
 * (id, sequence), each hashed by open addressing (id_buffer.h).
 *
 * Workload: one lookup per transfer (usually a miss), one add per
 * non-monotonic transfer id, a truncation per rolled-back chain or group
 * (rare, and short: the chain's own ids), a freeze and a sort per bound/2
 * adds. Invariants: the hash of a table holds exactly the indexes
 * [0, count) of its entries, at load factor at most 1/2; the active
 * entries are in increasing sequence order; the frozen entries are in
 * increasing id order.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "id_buffer.h"
#include "memory.h"
#include "record.h"

enum { ID_TABLE_CAPACITY_MIN = 1024 };

static uint64_t id_hash(ledger_u128_t id) {
    uint64_t x = id.hi * 0x9E3779B97F4A7C15ull ^ id.lo;
    x = (x ^ (x >> 32)) * 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 29);
}

static void table_free(id_table_t *table) {
    memory_free(table->entries);
    memory_free(table->slots);
    memset(table, 0, sizeof(*table));
}

/* A slot: the entry's index + 1 in the low half (0: empty), the high half
 * of its id's hash in the high half, so that a probe passes over other
 * ids without reading their entries (a cache miss each). */
static uint64_t slot_make(uint64_t hash, uint32_t index) {
    return (hash & 0xFFFFFFFF00000000ull) | ((uint64_t)index + 1);
}

static bool slot_may_hold(uint64_t slot, uint64_t hash) {
    return (slot >> 32) == (hash >> 32);
}

static uint32_t slot_index(uint64_t slot) { return (uint32_t)slot - 1; }

static void table_slot_insert(id_table_t *table, uint32_t index) {
    uint64_t hash = id_hash(table->entries[index].id);
    uint64_t slot = hash & table->slots_mask;
    while (table->slots[slot] != 0) slot = (slot + 1) & table->slots_mask;
    table->slots[slot] = slot_make(hash, index);
}

enum { HASH_BUILD_PREFETCH_AHEAD = 8 };

/* Hashes entries [0, count) into the (empty) slots: random ids' slots are
 * cache misses, so each is fetched a few entries ahead. */
static void table_hash_all(id_table_t *table) {
    for (uint32_t i = 0; i < table->count; i++) {
        if (i + HASH_BUILD_PREFETCH_AHEAD < table->count) {
            uint64_t ahead = id_hash(table->entries[i + HASH_BUILD_PREFETCH_AHEAD].id);
            __builtin_prefetch(&table->slots[ahead & table->slots_mask], 1);
        }
        table_slot_insert(table, i);
    }
}

/* A hash of capacity * 2 slots (a power of two) over the entries. */
static int table_rehash(id_table_t *table, uint32_t capacity) {
    uint64_t slots_count = 1;
    while (slots_count < (uint64_t)capacity * 2) slots_count *= 2;
    size_t size = (size_t)slots_count * sizeof(uint64_t);
    uint64_t *slots = memory_alloc(size);
    if (slots == NULL) return LEDGER_ERR_NO_MEMORY;
    /* Probed at random, one slot per lookup: huge pages spare most of
     * the TLB misses. Advised before the first touch (the zeroing), so
     * that the kernel backs it with huge pages at once. */
    memory_advise_huge_pages(slots, size);
    memset(slots, 0, size);
    memory_free(table->slots);
    table->slots = slots;
    table->slots_mask = (uint32_t)(slots_count - 1);
    table_hash_all(table);
    return 0;
}

/* Whether `id` may be in the table, without reading its hash. */
static bool table_may_hold(const id_table_t *table, ledger_u128_t id) {
    return table->count > 0 && ledger_u128_compare(id, table->id_max) <= 0;
}

static bool table_find(const id_table_t *table, ledger_u128_t id, uint64_t *sequence_out) {
    if (!table_may_hold(table, id)) return false;
    uint64_t hash = id_hash(id);
    for (uint64_t slot = hash & table->slots_mask;; slot = (slot + 1) & table->slots_mask) {
        uint64_t value = table->slots[slot];
        if (value == 0) return false;
        if (!slot_may_hold(value, hash)) continue;
        const id_buffer_entry_t *candidate = &table->entries[slot_index(value)];
        if (candidate->id.hi == id.hi && candidate->id.lo == id.lo) {
            *sequence_out = candidate->sequence;
            return true;
        }
    }
}

/* Removes entry `index` from the hash: backward-shift deletion, so that
 * no probe sequence is cut by the hole. */
static void table_slot_delete(id_table_t *table, uint32_t index) {
    uint32_t mask = table->slots_mask;
    uint64_t hole = id_hash(table->entries[index].id) & mask;
    while ((uint32_t)table->slots[hole] != index + 1) {
        assert(table->slots[hole] != 0);
        hole = (hole + 1) & mask;
    }
    for (uint64_t next = (hole + 1) & mask; table->slots[next] != 0; next = (next + 1) & mask) {
        uint64_t home = id_hash(table->entries[slot_index(table->slots[next])].id) & mask;
        /* The entry at `next` may move into the hole when its home is not
         * cyclically within (hole, next]. */
        bool home_between = hole <= next ? (home > hole && home <= next)
                                         : (home > hole || home <= next);
        if (home_between) continue;
        table->slots[hole] = table->slots[next];
        hole = next;
    }
    table->slots[hole] = 0;
}

uint32_t id_buffer_bound_resolve(uint32_t bound) {
    if (bound == 0) return TRANSFER_ID_BUFFER_MAX;
    return bound < TRANSFER_ID_BUFFER_MIN ? TRANSFER_ID_BUFFER_MIN : bound;
}

void id_buffer_init(id_buffer_t *buffer, uint32_t bound) {
    memset(buffer, 0, sizeof(*buffer));
    buffer->bound = id_buffer_bound_resolve(bound);
}

void id_buffer_free(id_buffer_t *buffer) {
    table_free(&buffer->active);
    table_free(&buffer->frozen);
    buffer->frozen_merged = 0;
}

bool id_buffer_add(id_buffer_t *buffer, ledger_u128_t id, uint64_t sequence) {
    id_table_t *active = &buffer->active;
    assert(active->count == 0 || active->entries[active->count - 1].sequence < sequence);
    if (active->count == active->capacity) {
        if (active->capacity >= buffer->bound) return false;
        uint32_t capacity = active->capacity ? active->capacity * 2 : ID_TABLE_CAPACITY_MIN;
        if (capacity > buffer->bound) capacity = buffer->bound;
        id_buffer_entry_t *entries =
            memory_realloc(active->entries, (size_t)capacity * sizeof(*entries));
        if (entries == NULL) return false;
        active->entries = entries;
        if (table_rehash(active, capacity) != 0) return false;
        active->capacity = capacity;
    }
    uint32_t index = active->count;
    active->entries[index] = (id_buffer_entry_t){id, sequence};
    if (index == 0 || ledger_u128_compare(id, active->id_max) > 0) active->id_max = id;
    table_slot_insert(active, index);
    active->count++;
    return true;
}

bool id_buffer_find(const id_buffer_t *buffer, ledger_u128_t id, uint64_t *sequence_out) {
    return table_find(&buffer->active, id, sequence_out) ||
           table_find(&buffer->frozen, id, sequence_out);
}

void id_buffer_prefetch_add(const id_buffer_t *buffer, ledger_u128_t id) {
    const id_table_t *active = &buffer->active;
    if (active->slots == NULL) return;
    __builtin_prefetch(&active->slots[id_hash(id) & active->slots_mask], 1);
}

void id_buffer_truncate(id_buffer_t *buffer, uint32_t count) {
    id_table_t *active = &buffer->active;
    assert(count <= active->count);
    while (active->count > count) {
        table_slot_delete(active, active->count - 1);
        active->count--;
    }
}

static int entry_compare_id(const void *a, const void *b) {
    return ledger_u128_compare(((const id_buffer_entry_t *)a)->id, ((const id_buffer_entry_t *)b)->id);
}

enum {
    SORT_BUCKET_BITS = 16,
    SORT_BUCKETS = 1 << SORT_BUCKET_BITS,
    SORT_BUCKETED_MIN = 4096, /* fewer entries: qsort alone */
    SORT_INSERTION_MAX = 32,  /* a bucket this small: insertion sort */
};

static void entries_insertion_sort(id_buffer_entry_t *entries, uint32_t count) {
    for (uint32_t i = 1; i < count; i++) {
        id_buffer_entry_t entry = entries[i];
        uint32_t j = i;
        for (; j > 0 && ledger_u128_compare(entries[j - 1].id, entry.id) > 0; j--) {
            entries[j] = entries[j - 1];
        }
        entries[j] = entry;
    }
}

static uint32_t sort_bucket(const id_buffer_entry_t *entry) {
    return (uint32_t)(entry->id.hi >> (64 - SORT_BUCKET_BITS));
}

/* Random ids spread evenly over their top bits: one counting pass
 * distributes them into 2^16 buckets by those bits (a few entries each at
 * the default bound, then sorted by insertion), where qsort's comparisons
 * through a function pointer cost a freeze of the active table 7% of the
 * writer's time. Time-ordered ids share their top bits: their one large
 * bucket goes to qsort. Without memory for the buckets, qsort alone. */
void id_buffer_entries_sort(id_buffer_entry_t *entries, uint32_t count) {
    uint32_t *ends = count >= SORT_BUCKETED_MIN ? memory_calloc(SORT_BUCKETS, sizeof(uint32_t)) : NULL;
    id_buffer_entry_t *spread = ends != NULL ? memory_alloc((size_t)count * sizeof(*spread)) : NULL;
    if (spread == NULL) {
        memory_free(ends);
        qsort(entries, count, sizeof(id_buffer_entry_t), entry_compare_id);
        return;
    }
    for (uint32_t i = 0; i < count; i++) ends[sort_bucket(&entries[i])]++;
    /* ends[b]: where bucket b starts, then (after the spreading) where it
     * ends. */
    for (uint32_t b = 0, start = 0; b < SORT_BUCKETS; b++) {
        uint32_t size = ends[b];
        ends[b] = start;
        start += size;
    }
    for (uint32_t i = 0; i < count; i++) spread[ends[sort_bucket(&entries[i])]++] = entries[i];
    for (uint32_t b = 0, start = 0; b < SORT_BUCKETS; start = ends[b++]) {
        uint32_t size = ends[b] - start;
        if (size <= SORT_INSERTION_MAX) entries_insertion_sort(&spread[start], size);
        else qsort(&spread[start], size, sizeof(id_buffer_entry_t), entry_compare_id);
    }
    memcpy(entries, spread, (size_t)count * sizeof(*entries));
    memory_free(spread);
    memory_free(ends);
}

/* Whether the active table's oldest entry is more than twice the bound
 * of sequences behind `sequence`. */
static bool active_stale(const id_buffer_t *buffer, uint64_t sequence) {
    const id_table_t *active = &buffer->active;
    if (active->count == 0 || sequence <= active->entries[0].sequence) return false;
    return sequence - active->entries[0].sequence > (uint64_t)buffer->bound * 2;
}

void id_buffer_rotate(id_buffer_t *buffer, uint64_t sequence) {
    if (buffer->frozen.count > 0 && id_buffer_frozen_left(buffer) == 0) {
        table_free(&buffer->frozen);
        buffer->frozen_merged = 0;
    }
    if (buffer->frozen.count > 0) return;
    if (!id_buffer_freeze_due(buffer) && !active_stale(buffer, sequence)) return;
    id_table_t frozen = buffer->active;
    id_buffer_entries_sort(frozen.entries, frozen.count);
    /* The old hash (the active table's, sized for its capacity) stays
     * valid for the sorted entries once rebuilt in place. */
    memset(frozen.slots, 0, ((size_t)frozen.slots_mask + 1) * sizeof(uint64_t));
    table_hash_all(&frozen);
    buffer->frozen = frozen;
    buffer->frozen_merged = 0;
    memset(&buffer->active, 0, sizeof(buffer->active));
}

int id_buffer_load_frozen(id_buffer_t *buffer, id_buffer_entry_t *entries, uint32_t count) {
    assert(buffer->active.count == 0);
    assert(buffer->frozen.count == 0);
    if (count == 0) {
        memory_free(entries);
        return 0;
    }
    for (uint32_t i = 1; i < count; i++) assert(ledger_u128_compare(entries[i - 1].id, entries[i].id) < 0);
    id_table_t frozen = {entries, count, count, NULL, 0, entries[count - 1].id};
    int error = table_rehash(&frozen, count);
    if (error) {
        memory_free(entries);
        return error;
    }
    buffer->frozen = frozen;
    buffer->frozen_merged = 0;
    return 0;
}
