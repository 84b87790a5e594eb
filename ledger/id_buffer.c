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

static void table_slot_insert(id_table_t *table, uint32_t index) {
    uint64_t slot = id_hash(table->entries[index].id) & table->slots_mask;
    while (table->slots[slot] != 0) slot = (slot + 1) & table->slots_mask;
    table->slots[slot] = index + 1;
}

/* A hash of capacity * 2 slots (a power of two) over the entries. */
static int table_rehash(id_table_t *table, uint32_t capacity) {
    uint64_t slots_count = 1;
    while (slots_count < (uint64_t)capacity * 2) slots_count *= 2;
    uint32_t *slots = memory_calloc(slots_count, sizeof(uint32_t));
    if (slots == NULL) return LEDGER_ERR_NO_MEMORY;
    memory_free(table->slots);
    table->slots = slots;
    table->slots_mask = (uint32_t)(slots_count - 1);
    for (uint32_t i = 0; i < table->count; i++) table_slot_insert(table, i);
    return 0;
}

static bool table_find(const id_table_t *table, ledger_u128_t id, uint64_t *sequence_out) {
    if (table->count == 0) return false;
    for (uint64_t slot = id_hash(id) & table->slots_mask;; slot = (slot + 1) & table->slots_mask) {
        uint32_t entry = table->slots[slot];
        if (entry == 0) return false;
        const id_buffer_entry_t *candidate = &table->entries[entry - 1];
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
    while (table->slots[hole] != index + 1) {
        assert(table->slots[hole] != 0);
        hole = (hole + 1) & mask;
    }
    for (uint64_t next = (hole + 1) & mask; table->slots[next] != 0; next = (next + 1) & mask) {
        uint64_t home = id_hash(table->entries[table->slots[next] - 1].id) & mask;
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

void id_buffer_init(id_buffer_t *buffer, uint32_t bound) {
    memset(buffer, 0, sizeof(*buffer));
    if (bound == 0) bound = TRANSFER_ID_BUFFER_MAX;
    if (bound < TRANSFER_ID_BUFFER_MIN) bound = TRANSFER_ID_BUFFER_MIN;
    buffer->bound = bound;
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
    table_slot_insert(active, index);
    active->count++;
    return true;
}

bool id_buffer_find(const id_buffer_t *buffer, ledger_u128_t id, uint64_t *sequence_out) {
    return table_find(&buffer->active, id, sequence_out) ||
           table_find(&buffer->frozen, id, sequence_out);
}

static void table_prefetch(const id_table_t *table, uint64_t hash, int stage) {
    if (table->count == 0) return;
    const uint32_t *slot = &table->slots[hash & table->slots_mask];
    if (stage == 1) {
        __builtin_prefetch(slot);
    } else if (*slot != 0) {
        __builtin_prefetch(&table->entries[*slot - 1]);
    }
}

void id_buffer_prefetch(const id_buffer_t *buffer, ledger_u128_t id, int stage) {
    uint64_t hash = id_hash(id);
    table_prefetch(&buffer->active, hash, stage);
    table_prefetch(&buffer->frozen, hash, stage);
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

void id_buffer_entries_sort(id_buffer_entry_t *entries, uint32_t count) {
    qsort(entries, count, sizeof(id_buffer_entry_t), entry_compare_id);
}

void id_buffer_rotate(id_buffer_t *buffer) {
    if (buffer->frozen.count > 0 && id_buffer_frozen_left(buffer) == 0) {
        table_free(&buffer->frozen);
        buffer->frozen_merged = 0;
    }
    if (buffer->frozen.count > 0 || !id_buffer_freeze_due(buffer)) return;
    id_table_t frozen = buffer->active;
    id_buffer_entries_sort(frozen.entries, frozen.count);
    /* The old hash (the active table's, sized for its capacity) stays
     * valid for the sorted entries once rebuilt in place. */
    memset(frozen.slots, 0, ((size_t)frozen.slots_mask + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < frozen.count; i++) table_slot_insert(&frozen, i);
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
    id_table_t frozen = {entries, count, count, NULL, 0};
    int error = table_rehash(&frozen, count);
    if (error) {
        memory_free(entries);
        return error;
    }
    buffer->frozen = frozen;
    buffer->frozen_merged = 0;
    return 0;
}
