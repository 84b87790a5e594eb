/*
 * id_filter.h — a Bloom filter over the indexed transfer ids: those in
 * the transfer_ids B-tree, in the id buffer and among the open group's
 * fresh ids (internal; transfer_index.c).
 *
 * Why: a transfer whose id is not larger than every id so far (random
 * client ids) must be looked up before it is accepted, and almost always
 * it is new. In a B-tree of millions of ids that lookup missed the CPU
 * cache at every level and was the largest single cost of a random-id
 * transfer. The filter answers "certainly absent" for most new ids with
 * one cache line (prefetched ahead, create_transfers.c), and "maybe" for
 * every id it holds plus a few others (false positives), which then take
 * the lookups in the buffer, the fresh ids and the B-tree.
 *
 * Invariant: every id in the B-tree (committed or in the open group), in
 * the id buffer or among the fresh ids was added. Ids are never removed:
 * a rolled-back put leaves its bits, which only adds false positives. So
 * "absent" holds for the writer's state and for every older snapshot. Only writable handles keep one (a read-only
 * handle does not see the writer's puts): a disabled filter answers
 * "maybe" to everything.
 *
 * Layout: blocks of one cache line (512 bits); an id sets 4 bits of one
 * block, in a 4 KiB region picked by the id's top 48 bits (id_filter.c:
 * time-ordered ids of one millisecond share a cached page). Size:
 * TRANSFER_ID_FILTER_BYTES, about 10 bits per id up to 13M ids (false
 * positives about 1% for random ids, about 2% for time-ordered ones, whose
 * regions fill less evenly); past that the rate rises gradually (about 10%
 * at 40M ids), which costs lookups, never correctness.
 */
#ifndef BORSELLINO_LEDGER_ID_FILTER_H
#define BORSELLINO_LEDGER_ID_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

enum {
    /* The filter's size: 16 MiB (a power of two, whole cache lines). Its
     * pages are touched only as ids land on them. */
    TRANSFER_ID_FILTER_BYTES = 16 << 20,
};

typedef struct id_filter {
    uint64_t *words;      /* NULL: disabled (every id "maybe") */
    uint64_t blocks_mask; /* blocks of 8 words */
} id_filter_t;

/* Allocates the filter (all clear) of `bytes` (a power of two, at least
 * 64). Returns 0 or LEDGER_ERR_NO_MEMORY (then it stays disabled). */
int id_filter_init(id_filter_t *filter, uint64_t bytes);
void id_filter_free(id_filter_t *filter);

void id_filter_add(id_filter_t *filter, ledger_u128_t id);

/* False: `id` was never added. True: it may have been. */
bool id_filter_maybe(const id_filter_t *filter, ledger_u128_t id);

/* Prefetches the cache line id_filter_maybe(id) reads. */
void id_filter_prefetch(const id_filter_t *filter, ledger_u128_t id);

#endif
