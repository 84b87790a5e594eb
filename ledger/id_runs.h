/*
 * id_runs.h — the open write group's fresh transfer ids (internal): those
 * larger than every id indexed when the group began, waiting to be
 * appended to the transfer_ids B-tree at the group's end
 * (transfer_index.c).
 *
 * Why: time-ordered ids from several clients arrive interleaved. Each
 * request's ids increase, but the requests of a group cover overlapping
 * ranges. Put into the B-tree as they come, only the first request's ids
 * would be appends; the others would land in the middle of the leaves it
 * had just written, each insert a search and a shift, and every split
 * leaving two half-full leaves to write at the commit. Kept here, they are
 * sorted at the group's end and appended: full leaves, no searches.
 *
 * Shape: an array of (id, sequence) in sequence order (so that a rollback
 * is a truncation), cut into increasing runs of ids (a new run starts
 * where an id is smaller than the one before: at most a few per request).
 * There is no hash: the caller adds every id to the Bloom filter of
 * indexed ids (id_filter.h) and looks here only when the filter says
 * "maybe", which for a new id is about 1 in 50; a lookup is then a binary
 * search per run, and the runs are bounded (ID_RUNS_MAX).
 *
 * Memory: 24 bytes per id of the group, and as much again for the sort's
 * scratch space; kept from group to group.
 */
#ifndef BORSELLINO_LEDGER_ID_RUNS_H
#define BORSELLINO_LEDGER_ID_RUNS_H

#include <stdbool.h>
#include <stdint.h>

#include "id_buffer.h"
#include "ledger.h"

enum {
    /* The most runs a group's fresh ids may form: a lookup searches each.
     * A server group holds a few requests, each a run or a few. */
    ID_RUNS_MAX = 64,
};

typedef struct id_runs {
    id_buffer_entry_t *entries; /* in sequence order */
    uint32_t count;
    uint32_t capacity;
    uint32_t bound; /* the most entries */
    uint32_t run_starts[ID_RUNS_MAX]; /* index of each run's first entry */
    uint32_t runs;
    id_buffer_entry_t *scratch; /* the sort's, scratch_capacity entries */
    uint32_t scratch_capacity;
} id_runs_t;

/* An empty set that holds at most `bound` ids, resolved as the id
 * buffer's (id_buffer_bound_resolve). */
void id_runs_init(id_runs_t *runs, uint32_t bound);
/* Releases the memory. */
void id_runs_free(id_runs_t *runs);
/* Adds (id, sequence): `sequence` larger than every sequence held, `id`
 * not held. Returns false (nothing added) at the bound, when a new run
 * would pass ID_RUNS_MAX, or when the array cannot grow (no memory): the
 * caller then indexes the id some other way. */
bool id_runs_add(id_runs_t *runs, ledger_u128_t id, uint64_t sequence);
/* Looks `id` up: a binary search in each run. */
bool id_runs_find(const id_runs_t *runs, ledger_u128_t id, uint64_t *sequence_out);
/* Rollback: drops the entries from index `count` on. */
void id_runs_truncate(id_runs_t *runs, uint32_t count);
/* Empties the set and returns its entries sorted by id (*count_out of
 * them), valid until the next id_runs_add. */
const id_buffer_entry_t *id_runs_take_sorted(id_runs_t *runs, uint32_t *count_out);

#endif
