/*
 * trial_balance.c — the trial balance (audit.h): per (ledger, code), the
 * number of accounts and the sums of their four balances, now or at a
 * past time, and its SHA-256 digest (the figure signed checkpoints carry).
 *
 * Now: from the in-memory account table, O(accounts), no I/O. Allowed
 * inside a write group (the signer calls it in the checkpoint's group):
 * it then includes the group's uncommitted events.
 *
 * At a past time T: one walk of the journal in a snapshot of its own, from
 * sequence 1 to the last record with timestamp <= T (timestamps grow with
 * sequences, so the walk stops at the first later one). No arithmetic on
 * amounts is needed: every record carries the balances of both its
 * accounts after the event, so the walk only remembers, per account, its
 * ledger and code (from its creation record) and its last balances.
 * Memory: a table of one 64-byte slot (a cache line) per account, load at
 * most 3/4, sized up front from the live account count, so a walk of 10^7
 * records allocates nothing per record. The table is read at random, so
 * the walk prefetches the slots of the next PAST_PREFETCH_DEPTH records
 * before it applies a record (a small ring of decoded records, applied in
 * order): the cache misses of consecutive records overlap.
 *
 * The rows themselves (sums per (ledger, code), sorting, digest) come from
 * trial_rows.c, the one builder every trial balance shares, so that "the
 * trial balance digest" means the same thing everywhere.
 *
 * Invariants: rows are sorted by (ledger, code) and unique; a row's sums
 * are exact (128-bit, every addition checked by trial_rows.c, never
 * wrapped); accounts_count counts each account once; an account counts at
 * T when its creation record is at or before T.
 */
#include <assert.h>
#include <string.h>

#include "audit_internal.h"
#include "memory.h"

enum {
    /* Accounts the walk's table is sized for at least (a power of two). */
    TRIAL_BALANCE_ACCOUNTS_INITIAL = 1024,
};

/* Adds one account to its row (trial_rows.c), naming an overflow. */
static int rows_add(ledger_t *ledger, trial_rows_t *rows, uint32_t ledger_id, uint16_t code,
                    const ledger_balance_t *balance) {
    int error = trial_rows_add(rows, ledger_id, code, balance);
    if (error == LEDGER_ERR_CORRUPT) {
        ledger_set_error(ledger, "ledger %u code %u: a sum of balances passes 2^128", ledger_id,
                         code);
    } else if (error == LEDGER_ERR_NO_MEMORY) {
        ledger_set_error(ledger, "out of memory, or more than %d trial balance rows",
                         LEDGER_TRIAL_BALANCE_ROWS_MAX);
    }
    return error;
}

/* ---- at a past time: a journal walk ---- */

/* One account as the walk knows it: one cache line, found by linear
 * probing on its id (a zero id marks an empty slot: zero is never an
 * account id), so a lookup is normally one cache miss. */
typedef struct past_account {
    ledger_u128_t id;
    ledger_balance_t balance;
    uint32_t ledger;
    uint16_t code;
    uint16_t unused;
    uint64_t padding;
} past_account_t;

_Static_assert(sizeof(past_account_t) == 64, "a walk's account is one cache line");

/* How many records ahead of the one applied the walk prefetches the
 * accounts of: the table is read at random, so without it every record
 * would wait for two cache misses in turn. */
enum { PAST_PREFETCH_DEPTH = 8 };

/* What applying a record needs of it (a ring entry: copied, so kept
 * small). For an account creation, debit_id is the account's id. */
typedef struct past_event {
    uint8_t kind;
    uint16_t code;
    uint32_t ledger;
    uint64_t sequence;
    ledger_u128_t debit_id;
    ledger_u128_t credit_id;
    ledger_balance_t debit_after;
    ledger_balance_t credit_after;
} past_event_t;

typedef struct past_walk {
    ledger_t *ledger;
    uint64_t timestamp_max;
    void *block;             /* what was allocated: slots is it, aligned */
    past_account_t *slots;
    uint64_t mask;           /* slots - 1 (a power of two) */
    uint64_t count;          /* accounts; at most 3/4 of the slots */
    past_event_t ring[PAST_PREFETCH_DEPTH]; /* read, not yet applied */
    uint32_t ring_first;
    uint32_t ring_count;
    uint64_t last_sequence;
    uint64_t last_timestamp;
    bool reached_end; /* met a record after timestamp_max */
} past_walk_t;

/* Stops the walk without an error (checked with reached_end). */
enum { PAST_WALK_STOP = 1 };

static past_account_t *past_slot(const past_walk_t *walk, ledger_u128_t id) {
    for (uint64_t i = accounts_id_hash(id) & walk->mask;; i = (i + 1) & walk->mask) {
        past_account_t *slot = &walk->slots[i];
        if (ledger_u128_equal(slot->id, id) || ledger_u128_is_zero(slot->id)) return slot;
    }
}

static void past_prefetch(const past_walk_t *walk, ledger_u128_t id) {
    __builtin_prefetch(&walk->slots[accounts_id_hash(id) & walk->mask], 1);
}

/* Sizes the table for `slots` (a power of two), moving the accounts in. */
static int past_resize(past_walk_t *walk, uint64_t slots) {
    assert(slots > 0 && (slots & (slots - 1)) == 0);
    assert(walk->count * 4 <= slots * 3);
    if (slots > (uint64_t)ACCOUNTS_COUNT_MAX * 2) return LEDGER_ERR_NO_MEMORY;
    size_t size = (size_t)slots * sizeof(past_account_t);
    void *block = memory_calloc(1, size + sizeof(past_account_t));
    if (block == NULL) return LEDGER_ERR_NO_MEMORY;
    uintptr_t aligned = ((uintptr_t)block + sizeof(past_account_t) - 1) &
                        ~(uintptr_t)(sizeof(past_account_t) - 1);
    past_walk_t grown = *walk;
    grown.block = block;
    grown.slots = (past_account_t *)aligned;
    grown.mask = slots - 1;
    memory_advise_huge_pages(grown.slots, size);
    for (uint64_t i = 0; walk->slots != NULL && i <= walk->mask; i++) {
        if (!ledger_u128_is_zero(walk->slots[i].id)) *past_slot(&grown, walk->slots[i].id) = walk->slots[i];
    }
    memory_free(walk->block);
    walk->block = grown.block;
    walk->slots = grown.slots;
    walk->mask = grown.mask;
    return 0;
}

static int past_create(past_walk_t *walk, const past_event_t *event) {
    if ((walk->count + 1) * 4 > (walk->mask + 1) * 3) {
        int error = past_resize(walk, (walk->mask + 1) * 2);
        if (error) return error;
    }
    past_account_t *slot = past_slot(walk, event->debit_id);
    if (!ledger_u128_is_zero(slot->id) || ledger_u128_is_zero(event->debit_id)) {
        /* A zero id would also break the table: zero marks an empty slot. */
        ledger_set_error(walk->ledger, "journal record %llu creates an account that exists "
                         "or has id zero", (unsigned long long)event->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    slot->id = event->debit_id;
    slot->balance = event->debit_after;
    slot->ledger = event->ledger;
    slot->code = event->code;
    walk->count++;
    return 0;
}

static int past_move(past_walk_t *walk, const past_event_t *event) {
    past_account_t *debit = past_slot(walk, event->debit_id);
    past_account_t *credit = past_slot(walk, event->credit_id);
    if (ledger_u128_is_zero(debit->id) || ledger_u128_is_zero(credit->id)) {
        ledger_set_error(walk->ledger, "journal record %llu names an account created after it",
                         (unsigned long long)event->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    debit->balance = event->debit_after;
    credit->balance = event->credit_after;
    return 0;
}

static int past_apply(past_walk_t *walk, const past_event_t *event) {
    /* Failure markers never enter the ring (past_visit). */
    assert(event->kind != RECORD_KIND_FAILED);
    if (event->kind == RECORD_KIND_ACCOUNT) return past_create(walk, event);
    return past_move(walk, event);
}

static void past_event_from(const journal_record_t *record, past_event_t *event) {
    bool account = record->kind == RECORD_KIND_ACCOUNT;
    event->kind = record->kind;
    event->code = record->code;
    event->ledger = record->ledger;
    event->sequence = record->sequence;
    event->debit_id = account ? record->id : record->debit_account_id;
    event->credit_id = record->credit_account_id;
    event->debit_after = record->debit.balance_after;
    event->credit_after = record->credit.balance_after;
}

/* Applies the oldest record of the ring. */
static int past_apply_first(past_walk_t *walk) {
    assert(walk->ring_count > 0);
    int error = past_apply(walk, &walk->ring[walk->ring_first]);
    walk->ring_first = (walk->ring_first + 1) % PAST_PREFETCH_DEPTH;
    walk->ring_count--;
    return error;
}

static int past_visit(void *context, const journal_record_t *record) {
    past_walk_t *walk = context;
    if (record->timestamp > walk->timestamp_max) {
        walk->reached_end = true;
        return PAST_WALK_STOP;
    }
    walk->last_sequence = record->sequence;
    walk->last_timestamp = record->timestamp;
    if (record->kind == RECORD_KIND_FAILED) return 0; /* a failure marker moves nothing */
    int error = walk->ring_count == PAST_PREFETCH_DEPTH ? past_apply_first(walk) : 0;
    past_event_t *event = &walk->ring[(walk->ring_first + walk->ring_count) % PAST_PREFETCH_DEPTH];
    past_event_from(record, event);
    walk->ring_count++;
    past_prefetch(walk, event->debit_id);
    if (event->kind != RECORD_KIND_ACCOUNT) past_prefetch(walk, event->credit_id);
    return error;
}

/* The smallest power of two that holds the live account count at a load
 * of at most 3/4 (and at least the initial size), so that a walk normally
 * never resizes. */
static uint64_t past_slots_hint(const ledger_t *ledger) {
    uint64_t slots = TRIAL_BALANCE_ACCOUNTS_INITIAL;
    while (slots * 3 < (uint64_t)ledger->accounts.slots_count * 4) slots *= 2;
    return slots;
}

static int rows_from_journal(ledger_t *ledger, uint64_t timestamp, trial_rows_t *rows,
                             ledger_trial_balance_info_t *info) {
    past_walk_t *walk = memory_calloc(1, sizeof(*walk));
    if (walk == NULL) return LEDGER_ERR_NO_MEMORY;
    walk->ledger = ledger;
    walk->timestamp_max = timestamp;
    MDB_txn *txn = NULL;
    int error = audit_snapshot_begin(ledger, &txn);
    if (!error) error = past_resize(walk, past_slots_hint(ledger));
    if (!error) error = audit_journal_walk(ledger, txn, 1, 0, past_visit, walk);
    if (error == PAST_WALK_STOP && walk->reached_end) error = 0;
    if (txn != NULL) mdb_txn_abort(txn);
    while (!error && walk->ring_count > 0) error = past_apply_first(walk);
    for (uint64_t i = 0; !error && walk->slots != NULL && i <= walk->mask; i++) {
        const past_account_t *account = &walk->slots[i];
        if (ledger_u128_is_zero(account->id)) continue;
        error = rows_add(ledger, rows, account->ledger, account->code, &account->balance);
    }
    if (!error) trial_rows_finish(rows, info->digest);
    info->sequence = walk->last_sequence;
    info->timestamp = walk->last_timestamp;
    memory_free(walk->block);
    memory_free(walk);
    return error;
}

/* ---- the entry point ---- */

int ledger_trial_balance(ledger_t *ledger, uint64_t timestamp,
                         ledger_trial_balance_row_t *rows_out, uint32_t capacity,
                         ledger_trial_balance_info_t *info_out) {
    if (ledger == NULL || info_out == NULL || capacity > LEDGER_TRIAL_BALANCE_ROWS_MAX ||
        (capacity > 0 && rows_out == NULL)) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    memset(info_out, 0, sizeof(*info_out));
    trial_rows_t rows;
    trial_rows_init(&rows);
    int error = 0;
    if (timestamp == 0) {
        /* The open group's events included: the signer calls this inside
         * the checkpoint's group. */
        error = trial_balance_memory(ledger, &rows, info_out->digest);
        if (error == LEDGER_ERR_CORRUPT) ledger_set_error(ledger, "a sum of balances passes 2^128");
        info_out->sequence = ledger->sequence;
        info_out->timestamp = ledger->sequence == 0 ? 0 : ledger->last_timestamp;
    } else {
        error = rows_from_journal(ledger, timestamp, &rows, info_out);
    }
    if (!error) {
        for (uint32_t i = 1; i < rows.count; i++) {
            assert(rows.rows[i - 1].ledger < rows.rows[i].ledger ||
                   (rows.rows[i - 1].ledger == rows.rows[i].ledger &&
                    rows.rows[i - 1].code < rows.rows[i].code));
        }
        info_out->rows_count = rows.count;
        uint32_t written = rows.count < capacity ? rows.count : capacity;
        if (written > 0) memcpy(rows_out, rows.rows, (size_t)written * sizeof(*rows_out));
    }
    trial_rows_free(&rows);
    if (error) memset(info_out, 0, sizeof(*info_out));
    return error;
}
