/*
 * accounts.h — the in-memory account table: balances live here, not in
 * LMDB (docs/storage.md). Also the undo log that lets a linked chain or a
 * whole write group be rolled back, and the per-ledger totals behind the
 * Σ debits = Σ credits assertion made at every commit.
 *
 * Workload: two lookups and two updates per transfer, millions per second;
 * 10^5–10^7 accounts. Slots are a dense array (104 bytes each) indexed by
 * an open-addressing hash of the id (u32 slot numbers, load ≤ 1/2), so a
 * lookup is one or two cache misses and memory stays well under 256 bytes
 * per account.
 *
 * Invariants:
 * - every slot below slots_count is an account, and the hash maps its id to
 *   it; accounts are only ever appended (removal happens only when undoing
 *   the newest creation);
 * - every balance change goes through accounts_set_state(), which keeps the
 *   per-ledger totals and pushes the previous state to the undo log;
 * - for every ledger, Σ debits_pending = Σ credits_pending and
 *   Σ debits_posted = Σ credits_posted whenever no event is half-applied
 *   (checked by accounts_totals_check).
 */
#ifndef BORSELLINO_LEDGER_ACCOUNTS_H
#define BORSELLINO_LEDGER_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

typedef struct account_slot {
    ledger_u128_t id;
    ledger_balance_t balance;
    ledger_u128_t user_data_128;
    uint64_t user_data_64;
    uint64_t timestamp;
    uint64_t last_sequence; /* journal sequence of its newest record */
    uint32_t user_data_32;
    uint32_t ledger;
    uint16_t code;
    uint16_t flags;
    uint32_t dirty; /* changed since the last checkpoint */
} account_slot_t;

_Static_assert(sizeof(account_slot_t) == 104, "account slot size");

/* What an undo entry restores. */
typedef struct account_state {
    ledger_balance_t balance;
    uint64_t last_sequence;
    uint16_t flags;
} account_state_t;

typedef struct undo_entry {
    uint32_t slot;
    uint32_t created; /* 1: undo removes the account */
    account_state_t state;
} undo_entry_t;

typedef struct ledger_totals {
    uint32_t ledger;
    __extension__ unsigned __int128 debits_pending;
    __extension__ unsigned __int128 debits_posted;
    __extension__ unsigned __int128 credits_pending;
    __extension__ unsigned __int128 credits_posted;
} ledger_totals_t;

typedef struct accounts {
    account_slot_t *slots;
    uint32_t slots_count;
    uint32_t slots_capacity;
    uint32_t *buckets; /* 0 = empty, else slot index + 1 */
    uint32_t buckets_mask;
    undo_entry_t *undo;
    uint32_t undo_count;
    uint32_t undo_capacity;
    uint32_t *dirty_slots; /* slots changed since the last checkpoint */
    uint32_t dirty_count;
    uint32_t dirty_capacity;
    ledger_totals_t *totals;
    uint32_t totals_count;
    uint32_t totals_capacity;
} accounts_t;

/* Most accounts one table holds (slot numbers are u32, buckets 2x). */
enum { ACCOUNTS_COUNT_MAX = 1u << 30 };

int accounts_init(accounts_t *accounts);
void accounts_free(accounts_t *accounts);

/* The slot of `id`, or NULL. */
account_slot_t *accounts_find(const accounts_t *accounts, ledger_u128_t id);

/* Prefetching for batches: the bucket of `id` (stage 1), then, a few
 * events later, its slot (stage 2, reads the bucket). Hides the two cache
 * misses of accounts_find behind the work on earlier events. */
static inline void accounts_prefetch_bucket(const accounts_t *accounts,
                                            ledger_u128_t id);
void accounts_prefetch_slot(const accounts_t *accounts, ledger_u128_t id);
/* Stage 3, a few events after stage 2: reads the bucket and the slot
 * fetched then; when that slot holds another id (a collision: about a
 * third of lookups at the table's load of at most 1/2), fetches the slots
 * of the next buckets of the probe, which accounts_find would otherwise
 * read from memory one after the other. */
void accounts_prefetch_probe(const accounts_t *accounts, ledger_u128_t id);

/* Appends a new account (id must be absent). When `undoable`, pushes an
 * undo entry that removes it; when `mark_dirty`, the next checkpoint writes
 * it (not for accounts loaded from the checkpoint itself). Returns 0 or
 * LEDGER_ERR_NO_MEMORY (nothing changed). */
int accounts_insert(accounts_t *accounts, const account_slot_t *slot,
                    bool undoable, bool mark_dirty);

/* Reserves room so that the next `count` undo pushes and dirty marks cannot
 * fail; called before applying an event so that applying never fails
 * half-way. Returns 0 or LEDGER_ERR_NO_MEMORY. */
int accounts_reserve(accounts_t *accounts, uint32_t count);

/* Sets an account's balances, last sequence and flags, keeping the totals;
 * when `undoable`, pushes its previous state first. Needs room reserved by
 * accounts_reserve(). */
void accounts_set_state(accounts_t *accounts, account_slot_t *slot,
                        const account_state_t *state, bool undoable);

/* Rolls back every undo entry after `undo_mark` (newest first). */
void accounts_undo_to(accounts_t *accounts, uint32_t undo_mark);

/* Forgets the undo log (after a durable commit). */
void accounts_undo_clear(accounts_t *accounts);

/* Whether every ledger's totals balance (debits = credits, posted and
 * pending); when not, *ledger_out names the first that does not. For data
 * just read from disk, which is checked, not asserted. */
bool accounts_totals_balanced(const accounts_t *accounts, uint32_t *ledger_out);

/* Asserts Σ debits = Σ credits for every ledger, pending and posted. */
void accounts_totals_check(const accounts_t *accounts);

/* Recomputes the totals from every slot and asserts they equal the kept
 * ones (O(accounts); run at checkpoints). */
void accounts_totals_recheck(const accounts_t *accounts);

/* Clears the dirty marks (after a checkpoint became durable). */
void accounts_dirty_clear(accounts_t *accounts);

/* Slot <-> API account. */
void accounts_slot_to_account(const account_slot_t *slot,
                              ledger_account_t *account_out);

uint32_t accounts_id_hash(ledger_u128_t id);

static inline void accounts_prefetch_bucket(const accounts_t *accounts,
                                            ledger_u128_t id) {
    __builtin_prefetch(&accounts->buckets[accounts_id_hash(id) & accounts->buckets_mask]);
}

#endif
