/*
 * id_buffer.h — the in-memory part of the transfer id index (internal).
 *
 * A random (non-monotonic) transfer id written straight into the
 * transfer_ids B-tree dirties one random leaf page per transfer, so every
 * group commit wrote thousands of random pages. Instead such ids are kept
 * here, and written into the B-tree later in id order, a slice per group
 * (transfer_index.c), so that each leaf is written about once per merge.
 *
 * Two tables, each an array of (id, sequence) with an open-addressing hash
 * (linear probing) over it:
 *  - active: the ids added since the last freeze, in sequence order (so
 *    that a rollback is a truncation). It holds at most `bound` entries;
 *    an id that finds it full is not added (the caller writes it into the
 *    B-tree directly, the old slow path).
 *  - frozen: a former active table (at most `bound` entries), sorted by
 *    id, being merged into the B-tree; entries before `frozen_merged` are
 *    in the B-tree already (in the open group or committed). It answers
 *    lookups until it is released. At open it holds the ids found in the
 *    journal after the watermark (transfer_index.c): at most about twice
 *    the bound the writer used (a frozen and an active table).
 * An id is in at most one of the two tables and never in both a table and
 * the B-tree, except for the merged part of the frozen table.
 *
 * Memory: 24 bytes per entry plus 16 bytes of hash per entry (a hash is
 * twice its table's capacity, 8-byte slots: an index and 32 bits of the
 * id's hash, so that a lookup of an absent id, the usual case, reads no
 * entry), for each table: about 80 MB at the default bound of 2^20 with
 * both tables full.
 */
#ifndef BORSELLINO_LEDGER_ID_BUFFER_H
#define BORSELLINO_LEDGER_ID_BUFFER_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

enum {
    /* The default bound of the active table (ledger_options_t
     * transfer_id_buffer_max). */
    TRANSFER_ID_BUFFER_MAX = 1 << 20,
    /* The smallest bound accepted (tests use small ones). */
    TRANSFER_ID_BUFFER_MIN = 16,
};

typedef struct id_buffer_entry {
    ledger_u128_t id;
    uint64_t sequence;
} id_buffer_entry_t;

typedef struct id_table {
    id_buffer_entry_t *entries;
    uint32_t count;
    uint32_t capacity;
    /* capacity * 2 of them: 0 empty, else entry index + 1 in the low half
     * and the high half of the id's hash in the high half */
    uint64_t *slots;
    uint32_t slots_mask;
    /* No id above it is in the table (the largest added since the table
     * was emptied; a truncation leaves it, which only widens it). Late
     * time-ordered ids fill the buffer, and the newer ids looked up after
     * them (those the filter lets through) are larger: they skip the
     * hash, a cache miss each. */
    ledger_u128_t id_max;
} id_table_t;

typedef struct id_buffer {
    uint32_t bound; /* the most entries of the active table */
    id_table_t active;
    id_table_t frozen;
    uint32_t frozen_merged; /* frozen.entries[0, frozen_merged) are in the B-tree */
} id_buffer_t;

/* The bound a ledger_options_t.transfer_id_buffer_max asks for: 0 gives
 * TRANSFER_ID_BUFFER_MAX, less than TRANSFER_ID_BUFFER_MIN gives that. */
uint32_t id_buffer_bound_resolve(uint32_t bound);
void id_buffer_init(id_buffer_t *buffer, uint32_t bound);
/* Releases both tables' memory. */
void id_buffer_free(id_buffer_t *buffer);

/* Adds (id, sequence) to the active table; `sequence` must be larger than
 * every sequence in it and `id` in neither table. Returns false (nothing
 * added) when the table is at its bound or cannot grow (no memory). */
bool id_buffer_add(id_buffer_t *buffer, ledger_u128_t id, uint64_t sequence);

/* Looks `id` up in both tables. */
bool id_buffer_find(const id_buffer_t *buffer, ledger_u128_t id, uint64_t *sequence_out);

/* Prefetches, for writing, the active table's home slot of `id`, which
 * id_buffer_add(id) will probe (a cache miss at random). */
void id_buffer_prefetch_add(const id_buffer_t *buffer, ledger_u128_t id);

/* Rollback: drops the active entries from index `count` on. */
void id_buffer_truncate(id_buffer_t *buffer, uint32_t count);

/* The frozen table's entries still to merge. */
static inline uint32_t id_buffer_frozen_left(const id_buffer_t *buffer) {
    return buffer->frozen.count - buffer->frozen_merged;
}

/* Whether the active table is due to be frozen (it holds half its bound). */
static inline bool id_buffer_freeze_due(const id_buffer_t *buffer) {
    return buffer->active.count >= buffer->bound / 2;
}

/* Releases a fully merged frozen table, then, when no frozen table is
 * left, makes the active table the frozen one (sorted by id) if it is due
 * or stale: its oldest entry more than twice the bound of sequences
 * before `sequence` (the journal's last). The watermark stays below the
 * oldest buffered id, and an open reads every record after it: a few ids
 * that are not in order, in a workload that otherwise is, would never
 * make the table due and would hold the watermark where they came.
 * Call between groups only: a freeze cannot be rolled back. */
void id_buffer_rotate(id_buffer_t *buffer, uint64_t sequence);

/* Sorts entries by id (what a frozen table holds). */
void id_buffer_entries_sort(id_buffer_entry_t *entries, uint32_t count);

/* Makes `entries` (count of them, sorted by id, ids distinct, none in the
 * tables) the frozen table; the buffer must be empty. Takes ownership of
 * `entries` (allocated with memory_alloc). Used at open. Returns 0 or
 * LEDGER_ERR_NO_MEMORY (then `entries` is freed). */
int id_buffer_load_frozen(id_buffer_t *buffer, id_buffer_entry_t *entries, uint32_t count);

#endif
