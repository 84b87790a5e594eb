/*
 * id_runs.c — the open write group's fresh transfer ids: an array in
 * sequence order cut into increasing runs of ids (id_runs.h).
 *
 * Workload: one add per fresh id (an append), a lookup only when the
 * Bloom filter says "maybe" (a binary search per run), a truncation per
 * rolled-back chain or group, one sort per group (merging neighbouring
 * runs pairwise: n log2(runs) moves). Invariants: entries [0, count) are
 * in increasing sequence order; run_starts[0] = 0 when count > 0, the
 * starts increase, and within [run_starts[r], next start or count) the
 * ids increase.
 */
#include <assert.h>
#include <string.h>

#include "id_runs.h"
#include "memory.h"

enum { ID_RUNS_CAPACITY_MIN = 1024 };

void id_runs_init(id_runs_t *runs, uint32_t bound) {
    memset(runs, 0, sizeof(*runs));
    runs->bound = id_buffer_bound_resolve(bound);
}

void id_runs_free(id_runs_t *runs) {
    memory_free(runs->entries);
    memory_free(runs->scratch);
    uint32_t bound = runs->bound;
    memset(runs, 0, sizeof(*runs));
    runs->bound = bound;
}

static bool entries_grow(id_runs_t *runs) {
    if (runs->capacity >= runs->bound) return false;
    uint32_t capacity = runs->capacity ? runs->capacity * 2 : ID_RUNS_CAPACITY_MIN;
    if (capacity > runs->bound) capacity = runs->bound;
    id_buffer_entry_t *entries = memory_realloc(runs->entries, (size_t)capacity * sizeof(*entries));
    if (entries == NULL) return false;
    runs->entries = entries;
    runs->capacity = capacity;
    return true;
}

bool id_runs_add(id_runs_t *runs, ledger_u128_t id, uint64_t sequence) {
    uint32_t count = runs->count;
    assert(count == 0 || runs->entries[count - 1].sequence < sequence);
    bool run_new = count == 0 || ledger_u128_compare(id, runs->entries[count - 1].id) < 0;
    if (run_new && runs->runs == ID_RUNS_MAX) return false;
    if (count == runs->capacity && !entries_grow(runs)) return false;
    if (run_new) runs->run_starts[runs->runs++] = count;
    runs->entries[count] = (id_buffer_entry_t){id, sequence};
    runs->count = count + 1;
    return true;
}

static uint32_t run_end(const id_runs_t *runs, uint32_t run) {
    return run + 1 < runs->runs ? runs->run_starts[run + 1] : runs->count;
}

bool id_runs_find(const id_runs_t *runs, ledger_u128_t id, uint64_t *sequence_out) {
    for (uint32_t run = 0; run < runs->runs; run++) {
        uint32_t low = runs->run_starts[run], high = run_end(runs, run);
        while (low < high) {
            uint32_t middle = low + (high - low) / 2;
            int order = ledger_u128_compare(runs->entries[middle].id, id);
            if (order == 0) {
                *sequence_out = runs->entries[middle].sequence;
                return true;
            }
            if (order < 0) low = middle + 1;
            else high = middle;
        }
    }
    return false;
}

void id_runs_truncate(id_runs_t *runs, uint32_t count) {
    assert(count <= runs->count);
    runs->count = count;
    while (runs->runs > 0 && runs->run_starts[runs->runs - 1] >= count) runs->runs--;
}

/* Merges the increasing ranges from[start, middle) and from[middle, end)
 * into to[start, end). */
static void merge(const id_buffer_entry_t *from, id_buffer_entry_t *to, uint32_t start,
                  uint32_t middle, uint32_t end) {
    uint32_t left = start, right = middle, out = start;
    while (left < middle && right < end) {
        bool take_left = ledger_u128_compare(from[left].id, from[right].id) < 0;
        to[out++] = take_left ? from[left++] : from[right++];
    }
    memcpy(&to[out], &from[left], (size_t)(middle - left) * sizeof(*to));
    out += middle - left;
    memcpy(&to[out], &from[right], (size_t)(end - right) * sizeof(*to));
}

static bool scratch_reserve(id_runs_t *runs) {
    if (runs->scratch_capacity >= runs->count) return true;
    id_buffer_entry_t *scratch = memory_realloc(runs->scratch, (size_t)runs->capacity * sizeof(*scratch));
    if (scratch == NULL) return false;
    runs->scratch = scratch;
    runs->scratch_capacity = runs->capacity;
    return true;
}

/* Each pass merges neighbouring runs pairwise, halving them. */
static void runs_merge(id_runs_t *runs) {
    uint32_t starts[ID_RUNS_MAX + 1];
    uint32_t count = runs->runs;
    memcpy(starts, runs->run_starts, count * sizeof(uint32_t));
    starts[count] = runs->count;
    id_buffer_entry_t *from = runs->entries, *to = runs->scratch;
    while (count > 1) {
        uint32_t merged = 0;
        for (uint32_t run = 0; run < count; run += 2) {
            if (run + 1 < count) {
                merge(from, to, starts[run], starts[run + 1], starts[run + 2]);
            } else {
                memcpy(&to[starts[run]], &from[starts[run]],
                       (size_t)(starts[run + 1] - starts[run]) * sizeof(*to));
            }
            starts[merged++] = starts[run];
        }
        starts[merged] = runs->count;
        count = merged;
        id_buffer_entry_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != runs->entries) memcpy(runs->entries, from, (size_t)runs->count * sizeof(*from));
}

const id_buffer_entry_t *id_runs_take_sorted(id_runs_t *runs, uint32_t *count_out) {
    if (runs->runs > 1) {
        if (scratch_reserve(runs)) runs_merge(runs);
        else id_buffer_entries_sort(runs->entries, runs->count);
    }
    *count_out = runs->count;
    runs->count = 0;
    runs->runs = 0;
    return runs->entries;
}
