/*
 * test_model.c — the model-based randomized test of the ledger engine.
 *
 * What it is for: the engine (ledger/) is fast and has many moving parts;
 * this file holds a second, deliberately naive implementation of
 * docs/ledger.md (the "model") and feeds the engine and the model the same
 * random streams of operations. After every batch, the result code and the
 * timestamp of every event and every account (balances, flags, fields)
 * must be identical. Periodically transfers, balance-at-time and account
 * history are compared too, write groups are committed or aborted, and the
 * ledger is closed, reopened (checkpoint + journal replay) and verified.
 * The first difference stops the run and prints the seed, batch and event,
 * so any failure replays with `test_model --seed N case_name`.
 *
 * Independence: only ledger.h is included (for the API types). The model
 * shares no code with the engine: accounts and transfers live in plain
 * arrays found through a simple open-addressing hash, every rule is written
 * again from the spec, and an undo log takes back the model's changes for
 * rolled-back linked chains and aborted write groups.
 *
 * Workload: a few hundred thousand events per run. The model is O(1) per
 * event except expiry, which scans the unresolved pending transfers that
 * have a timeout (hundreds to a few thousand) once per create_transfers
 * call. Accounts come from a small window of ids that slides slowly, so
 * balance limits, closed accounts and overflows are reached while fresh
 * accounts keep arriving.
 *
 * Cases: "mixed" (every kind of operation, the full --ops count),
 * "small_id_buffer" (mixed, random transfer ids, an id buffer of 16 so
 * that it is frozen and merged into the index all the time),
 * "pending_expiry" (two-phase transfers and timeouts, clock near 2^64 so
 * timeouts overflow), "linked_chains" (chains everywhere), and
 * "expiry_bound" (scripted: more due pending transfers than one expiry call
 * may release, with ties on expires_at).
 */
#include "ledger.h"
#include "test.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Limits and constants                                                     */

#define NS_PER_SECOND UINT64_C(1000000000)
/* Operations (events plus expiry calls) of the mixed case without --ops. */
#define OPS_DEFAULT UINT64_C(200000)
/* A realistic start for the injected clock: 2024-01-01T00:00:00Z in ns. */
#define CLOCK_START_NS UINT64_C(1704067200000000000)
/* A clock this close to 2^64 makes timeouts above 3e9 s overflow. */
#define CLOCK_FAR_FUTURE_NS (UINT64_MAX - UINT64_C(3000000000000000000))
/* "Not found" for array positions. */
#define ID_NONE UINT32_MAX
/* Account numbers from here on are never created: "not found" accounts. */
#define ACCOUNT_NUMBER_ABSENT_BASE UINT64_C(1000000000000)
/* The id hi word of pending ids that never exist. */
#define PENDING_ID_ABSENT_HI UINT64_C(0x77)

enum {
    /* Longest linked chain the generator builds. */
    CHAIN_LENGTH_MAX = 5,
    /* Events in an ordinary transfer batch / in an occasional big one. */
    BATCH_EVENTS_BIG_MAX = 1000,
    /* Events in one account batch (more when the window is being filled). */
    ACCOUNT_BATCH_EVENTS_MAX = 12,
    ACCOUNT_FILL_EVENTS_MAX = 24,
    /* The generator's memory of what it submitted (rings). */
    RECENT_TRANSFERS_MAX = 4096,
    RECENT_PENDINGS_MAX = 2048,
    RECENT_FAILED_MAX = 1024,
    /* Tries to find an account or pending transfer with some property. */
    PICK_ATTEMPTS_MAX = 8,
    /* Every account is one of these in the window: whales take huge
     * amounts, closables take closing transfers. */
    WHALE_MODULUS = 16,
    CLOSABLE_MODULUS = 15,
    /* ledger_options_t.checkpoint_events: small, so that reopening loads
     * a checkpoint and replays a journal tail. */
    CHECKPOINT_EVENTS = 1000,
    /* Batches between close/reopen/verify. */
    REOPEN_BATCHES_MIN = 200,
    REOPEN_BATCHES_MAX = 400,
    /* Batches between sampled lookups, balance_at and history checks. */
    SAMPLE_CHECK_BATCHES = 25,
    LOOKUP_SAMPLE_MAX = 64,
    BALANCE_AT_SAMPLES = 12,
    HISTORY_SAMPLES = 2,
    /* Events printed around a mismatch. */
    EVENTS_PRINTED_MAX = 64,
    /* Characters of a printed u128 (0x + 32 hex digits + NUL). */
    U128_TEXT_SIZE = 40,
};

#define ACCOUNT_FLAGS_KNOWN                                                  \
    (LEDGER_ACCOUNT_LINKED | LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS | \
     LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS | LEDGER_ACCOUNT_HISTORY)
#define TRANSFER_FLAGS_KNOWN 0xFFu
#define TRANSFER_RESOLVES                                                    \
    (LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING)
#define TRANSFER_BALANCING                                                   \
    (LEDGER_TRANSFER_BALANCING_DEBIT | LEDGER_TRANSFER_BALANCING_CREDIT)
#define TRANSFER_CLOSING                                                     \
    (LEDGER_TRANSFER_CLOSING_DEBIT | LEDGER_TRANSFER_CLOSING_CREDIT)

/* ------------------------------------------------------------------------ */
/* Small helpers: memory, random numbers, u128                              */

static void *xcalloc(size_t count, size_t size) {
    void *memory = calloc(count == 0 ? 1 : count, size);
    TEST_REQUIRE(memory != NULL);
    return memory;
}

/* Grows `items` so that it holds at least `needed` items. */
static void *array_reserve(void *items, uint32_t *capacity, uint32_t needed,
                           size_t item_size) {
    if (needed <= *capacity) return items;
    uint32_t grown_capacity = *capacity == 0 ? 16 : *capacity;
    while (grown_capacity < needed) grown_capacity *= 2;
    void *grown = realloc(items, (size_t)grown_capacity * item_size);
    TEST_REQUIRE(grown != NULL);
    *capacity = grown_capacity;
    return grown;
}

typedef struct rng {
    uint64_t state[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) rng->state[i] = splitmix64(&seed);
}

static uint64_t rotate_left(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, and the same stream on every platform. */
static uint64_t rng_next(rng_t *rng) {
    uint64_t *s = rng->state;
    uint64_t result = rotate_left(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotate_left(s[3], 45);
    return result;
}

static uint64_t rng_below(rng_t *rng, uint64_t bound) {
    TEST_REQUIRE(bound > 0);
    return rng_next(rng) % bound;
}

/* Uniform in [low, high]; high < UINT64_MAX. */
static uint64_t rng_range(rng_t *rng, uint64_t low, uint64_t high) {
    TEST_REQUIRE(low <= high && high < UINT64_MAX);
    return low + rng_below(rng, high - low + 1);
}

static bool rng_chance(rng_t *rng, uint32_t per_mille) {
    return rng_below(rng, 1000) < per_mille;
}

/* An index chosen with the given relative weights. */
static uint32_t rng_weighted(rng_t *rng, const uint32_t *weights,
                             uint32_t count) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) total += weights[i];
    TEST_REQUIRE(total > 0);
    uint64_t pick = rng_below(rng, total);
    for (uint32_t i = 0; i < count; i++) {
        if (pick < weights[i]) return i;
        pick -= weights[i];
    }
    return count - 1;
}

static ledger_u128_t u128_make(uint64_t hi, uint64_t lo) {
    ledger_u128_t value = {hi, lo};
    return value;
}

static const ledger_u128_t U128_ZERO = {0, 0};
static const ledger_u128_t U128_MAX = {UINT64_MAX, UINT64_MAX};


static uint64_t u128_hash(ledger_u128_t id) {
    uint64_t x = id.hi * UINT64_C(0x9E3779B97F4A7C15) ^ id.lo;
    return splitmix64(&x);
}

/* Prints ids readably in mismatch reports. */
static const char *u128_text(ledger_u128_t id, char *buffer) {
    if (id.hi == 0) {
        snprintf(buffer, U128_TEXT_SIZE, "%" PRIu64, id.lo);
    } else {
        snprintf(buffer, U128_TEXT_SIZE, "0x%016" PRIx64 "%016" PRIx64, id.hi,
                 id.lo);
    }
    return buffer;
}

static bool add_overflows(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b;
}

/* max(0, limit - used - reserved), without wrapping. */
static uint64_t headroom(uint64_t limit, uint64_t used, uint64_t reserved) {
    if (used >= limit) return 0;
    uint64_t rest = limit - used;
    return reserved >= rest ? 0 : rest - reserved;
}

/* ------------------------------------------------------------------------ */
/* id_index: u128 id -> position in an insertion-ordered array              */

/*
 * Linear probing over a power-of-two table kept at most half full. Keys are
 * also kept in insertion order, and only the newest key is ever removed
 * (the model undoes in LIFO order). Then the table always equals "the keys
 * inserted in order into an empty table", so removing the newest key is
 * just emptying its slot: no later key can have probed past it.
 */
typedef struct id_index {
    ledger_u128_t *keys; /* insertion order; a key's position is its value */
    uint32_t keys_count;
    uint32_t keys_capacity;
    uint32_t *slots; /* position + 1; 0 = empty */
    uint32_t slots_capacity;
} id_index_t;

static uint32_t id_index_slot(const id_index_t *index, ledger_u128_t id) {
    uint32_t mask = index->slots_capacity - 1;
    uint32_t slot = (uint32_t)u128_hash(id) & mask;
    while (index->slots[slot] != 0) {
        if (ledger_u128_equal(index->keys[index->slots[slot] - 1], id)) break;
        slot = (slot + 1) & mask;
    }
    return slot;
}

static uint32_t id_index_find(const id_index_t *index, ledger_u128_t id) {
    if (index->slots_capacity == 0) return ID_NONE;
    uint32_t slot = id_index_slot(index, id);
    return index->slots[slot] == 0 ? ID_NONE : index->slots[slot] - 1;
}

static void id_index_rehash(id_index_t *index, uint32_t slots_capacity) {
    free(index->slots);
    index->slots = xcalloc(slots_capacity, sizeof *index->slots);
    index->slots_capacity = slots_capacity;
    for (uint32_t position = 0; position < index->keys_count; position++) {
        uint32_t slot = id_index_slot(index, index->keys[position]);
        index->slots[slot] = position + 1;
    }
}

static uint32_t id_index_insert(id_index_t *index, ledger_u128_t id) {
    TEST_REQUIRE(id_index_find(index, id) == ID_NONE);
    index->keys = array_reserve(index->keys, &index->keys_capacity,
                                index->keys_count + 1, sizeof *index->keys);
    uint32_t position = index->keys_count++;
    index->keys[position] = id;
    if (index->keys_count * 2 > index->slots_capacity) {
        id_index_rehash(index, index->slots_capacity == 0
                                   ? 64
                                   : index->slots_capacity * 2);
    } else {
        index->slots[id_index_slot(index, id)] = position + 1;
    }
    return position;
}

static void id_index_remove_last(id_index_t *index) {
    TEST_REQUIRE(index->keys_count > 0);
    uint32_t position = index->keys_count - 1;
    uint32_t slot = id_index_slot(index, index->keys[position]);
    TEST_REQUIRE(index->slots[slot] == position + 1);
    index->slots[slot] = 0;
    index->keys_count--;
}

static void id_index_free(id_index_t *index) {
    free(index->keys);
    free(index->slots);
    memset(index, 0, sizeof *index);
}

/* ------------------------------------------------------------------------ */
/* The model: state and its undo log                                        */

enum pending_status {
    STATUS_NOT_PENDING = 0, /* single-phase, post or void */
    STATUS_PENDING,
    STATUS_POSTED,
    STATUS_VOIDED,
    STATUS_EXPIRED,
};

/* One event that moved an account (kept for history and balance_at). */
typedef struct model_history_entry {
    uint64_t timestamp;
    uint32_t transfer_index; /* the transfer; for an expiry the pending one */
    uint32_t kind;           /* LEDGER_EVENT_TRANSFER or LEDGER_EVENT_EXPIRY */
    bool is_debit;           /* the account was the debit side */
    ledger_balance_t balance_after;
} model_history_entry_t;

typedef struct model_account {
    ledger_account_t stored; /* exactly what lookup must return */
    model_history_entry_t *history;
    uint32_t history_count;
    uint32_t history_capacity;
} model_account_t;

typedef struct model_transfer {
    ledger_transfer_t stored; /* what lookup must return (flags w/o linked) */
    uint64_t expires_at;      /* pending with timeout; 0 = never */
    uint32_t status;          /* enum pending_status */
    uint32_t timed_position;  /* in model.timed, or ID_NONE */
} model_transfer_t;

enum undo_kind {
    UNDO_LAST_TIMESTAMP,
    UNDO_ACCOUNT_INSERT,
    UNDO_ACCOUNT_STATE,
    UNDO_HISTORY_PUSH,
    UNDO_TRANSFER_INSERT,
    UNDO_TRANSFER_STATUS,
    UNDO_FAILED_INSERT,
};

typedef struct undo_entry {
    uint32_t kind;
    uint32_t index;           /* account or transfer index */
    uint64_t value;           /* old last_timestamp, or old status */
    ledger_account_t account; /* UNDO_ACCOUNT_STATE: the account before */
} undo_entry_t;

typedef struct model {
    model_account_t *accounts;
    uint32_t accounts_count;
    uint32_t accounts_capacity;
    id_index_t account_ids;
    model_transfer_t *transfers;
    uint32_t transfers_count;
    uint32_t transfers_capacity;
    id_index_t transfer_ids;
    id_index_t failed_ids; /* transfer ids with a failure marker */
    /* Unresolved pending transfers with a timeout: expiry candidates. */
    uint32_t *timed;
    uint32_t timed_count;
    uint32_t timed_capacity;
    uint64_t last_timestamp;
    /* Changes since the last commit point, newest last. */
    undo_entry_t *undo;
    uint32_t undo_count;
    uint32_t undo_capacity;
} model_t;

static void model_undo_push(model_t *model, uint32_t kind, uint32_t index,
                            uint64_t value) {
    model->undo = array_reserve(model->undo, &model->undo_capacity,
                                model->undo_count + 1, sizeof *model->undo);
    undo_entry_t *entry = &model->undo[model->undo_count++];
    entry->kind = kind;
    entry->index = index;
    entry->value = value;
}

static void model_timed_add(model_t *model, uint32_t transfer_index) {
    model->timed = array_reserve(model->timed, &model->timed_capacity,
                                 model->timed_count + 1, sizeof *model->timed);
    model->transfers[transfer_index].timed_position = model->timed_count;
    model->timed[model->timed_count++] = transfer_index;
}

static void model_timed_remove(model_t *model, uint32_t transfer_index) {
    uint32_t position = model->transfers[transfer_index].timed_position;
    TEST_REQUIRE(position != ID_NONE && position < model->timed_count);
    uint32_t moved = model->timed[--model->timed_count];
    model->timed[position] = moved;
    model->transfers[moved].timed_position = position;
    model->transfers[transfer_index].timed_position = ID_NONE;
}

/* Sets a status and keeps `timed` = unresolved pending with a timeout. No
 * undo entry: callers record one, or are undoing. */
static void model_status_change(model_t *model, uint32_t index,
                                uint32_t status) {
    model_transfer_t *transfer = &model->transfers[index];
    bool was_timed = transfer->timed_position != ID_NONE;
    bool timed = status == STATUS_PENDING && transfer->expires_at != 0;
    transfer->status = status;
    if (was_timed && !timed) model_timed_remove(model, index);
    if (!was_timed && timed) model_timed_add(model, index);
}

static void model_undo_one(model_t *model, const undo_entry_t *entry) {
    switch (entry->kind) {
    case UNDO_LAST_TIMESTAMP:
        model->last_timestamp = entry->value;
        break;
    case UNDO_ACCOUNT_INSERT:
        TEST_REQUIRE(entry->index == model->accounts_count - 1);
        free(model->accounts[entry->index].history);
        id_index_remove_last(&model->account_ids);
        model->accounts_count--;
        break;
    case UNDO_ACCOUNT_STATE:
        model->accounts[entry->index].stored = entry->account;
        break;
    case UNDO_HISTORY_PUSH:
        TEST_REQUIRE(model->accounts[entry->index].history_count > 0);
        model->accounts[entry->index].history_count--;
        break;
    case UNDO_TRANSFER_INSERT:
        TEST_REQUIRE(entry->index == model->transfers_count - 1);
        model_status_change(model, entry->index, STATUS_NOT_PENDING);
        id_index_remove_last(&model->transfer_ids);
        model->transfers_count--;
        break;
    case UNDO_TRANSFER_STATUS:
        model_status_change(model, entry->index, (uint32_t)entry->value);
        break;
    case UNDO_FAILED_INSERT:
        id_index_remove_last(&model->failed_ids);
        break;
    default:
        TEST_REQUIRE(false);
    }
}

/* Takes back every change made since undo position `mark`. */
static void model_undo_to(model_t *model, uint32_t mark) {
    TEST_REQUIRE(mark <= model->undo_count);
    while (model->undo_count > mark) {
        model->undo_count--;
        model_undo_one(model, &model->undo[model->undo_count]);
    }
}

/* The changes so far are final (committed): forget how to undo them. */
static void model_commit(model_t *model) {
    model->undo_count = 0;
}

static void model_free(model_t *model) {
    for (uint32_t i = 0; i < model->accounts_count; i++) {
        free(model->accounts[i].history);
    }
    free(model->accounts);
    free(model->transfers);
    free(model->timed);
    free(model->undo);
    id_index_free(&model->account_ids);
    id_index_free(&model->transfer_ids);
    id_index_free(&model->failed_ids);
    memset(model, 0, sizeof *model);
}

/* ------------------------------------------------------------------------ */
/* The model: primitive changes (each records its undo entry)               */

/* The timestamp the next journaled event gets (docs: Timestamps). */
static uint64_t model_next_timestamp(const model_t *model, uint64_t now) {
    return now > model->last_timestamp ? now : model->last_timestamp + 1;
}

static uint64_t model_take_timestamp(model_t *model, uint64_t now) {
    uint64_t timestamp = model_next_timestamp(model, now);
    model_undo_push(model, UNDO_LAST_TIMESTAMP, 0, model->last_timestamp);
    model->last_timestamp = timestamp;
    return timestamp;
}

/* Call before changing account `index`: its state can then be restored. */
static void model_account_save(model_t *model, uint32_t index) {
    model_undo_push(model, UNDO_ACCOUNT_STATE, index, 0);
    model->undo[model->undo_count - 1].account = model->accounts[index].stored;
}

static ledger_balance_t balance_of(const ledger_account_t *account) {
    ledger_balance_t balance = {account->debits_pending,
                                account->debits_posted,
                                account->credits_pending,
                                account->credits_posted};
    return balance;
}

static void model_history_push(model_t *model, uint32_t account_index,
                               uint64_t timestamp, uint32_t transfer_index,
                               uint32_t kind, bool is_debit) {
    model_account_t *account = &model->accounts[account_index];
    TEST_REQUIRE(account->history_count == 0 ||
                 account->history[account->history_count - 1].timestamp <
                     timestamp);
    account->history = array_reserve(account->history,
                                      &account->history_capacity,
                                      account->history_count + 1,
                                      sizeof *account->history);
    model_history_entry_t *entry = &account->history[account->history_count++];
    entry->timestamp = timestamp;
    entry->transfer_index = transfer_index;
    entry->kind = kind;
    entry->is_debit = is_debit;
    entry->balance_after = balance_of(&account->stored);
    model_undo_push(model, UNDO_HISTORY_PUSH, account_index, 0);
}

static uint32_t model_account_insert(model_t *model,
                                     const ledger_account_t *stored) {
    model->accounts = array_reserve(model->accounts, &model->accounts_capacity,
                                    model->accounts_count + 1,
                                    sizeof *model->accounts);
    uint32_t index = id_index_insert(&model->account_ids, stored->id);
    TEST_REQUIRE(index == model->accounts_count);
    model_account_t *account = &model->accounts[model->accounts_count++];
    memset(account, 0, sizeof *account);
    account->stored = *stored;
    model_undo_push(model, UNDO_ACCOUNT_INSERT, index, 0);
    return index;
}

static uint32_t model_transfer_insert(model_t *model,
                                      const ledger_transfer_t *stored,
                                      uint32_t status, uint64_t expires_at) {
    model->transfers = array_reserve(model->transfers,
                                     &model->transfers_capacity,
                                     model->transfers_count + 1,
                                     sizeof *model->transfers);
    uint32_t index = id_index_insert(&model->transfer_ids, stored->id);
    TEST_REQUIRE(index == model->transfers_count);
    model_transfer_t *transfer = &model->transfers[model->transfers_count++];
    transfer->stored = *stored;
    transfer->expires_at = expires_at;
    transfer->status = STATUS_NOT_PENDING;
    transfer->timed_position = ID_NONE;
    model_status_change(model, index, status);
    model_undo_push(model, UNDO_TRANSFER_INSERT, index, 0);
    return index;
}

static void model_status_set(model_t *model, uint32_t index, uint32_t status) {
    model_undo_push(model, UNDO_TRANSFER_STATUS, index,
                    model->transfers[index].status);
    model_status_change(model, index, status);
}

/* A failure marker: the id is burnt, and the marker is a journaled event
 * with its own timestamp. */
static void model_record_failure(model_t *model, ledger_u128_t id,
                                 uint64_t now) {
    (void)model_take_timestamp(model, now);
    id_index_insert(&model->failed_ids, id);
    model_undo_push(model, UNDO_FAILED_INSERT, 0, 0);
}

static uint32_t model_account_index(const model_t *model, ledger_u128_t id) {
    return id_index_find(&model->account_ids, id);
}

static const ledger_account_t *model_find_account(const model_t *model,
                                                  ledger_u128_t id) {
    uint32_t index = model_account_index(model, id);
    return index == ID_NONE ? NULL : &model->accounts[index].stored;
}

static const model_transfer_t *model_find_transfer(const model_t *model,
                                                   ledger_u128_t id) {
    uint32_t index = id_index_find(&model->transfer_ids, id);
    return index == ID_NONE ? NULL : &model->transfers[index];
}

/* Results that depend on state and could succeed later: their ids get a
 * failure marker (docs: Idempotency). */
static bool result_is_transient(uint32_t result) {
    switch (result) {
    case LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND:
    case LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND:
    case LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND:
    case LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED:
    case LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED:
    case LEDGER_RESULT_EXCEEDS_CREDITS:
    case LEDGER_RESULT_EXCEEDS_DEBITS:
        return true;
    default:
        return result >= LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING &&
               result <= LEDGER_RESULT_OVERFLOWS_TIMEOUT;
    }
}

/* ------------------------------------------------------------------------ */
/* The model: accounts (docs: Validation order, create_accounts)            */

static uint32_t model_account_compare(const ledger_account_t *request,
                                      const ledger_account_t *stored) {
    uint16_t request_flags = request->flags & ~LEDGER_ACCOUNT_LINKED;
    uint16_t stored_flags = stored->flags & ~LEDGER_ACCOUNT_CLOSED;
    if (request_flags != stored_flags) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS;
    }
    if (!ledger_u128_equal(request->user_data_128, stored->user_data_128)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128;
    }
    if (request->user_data_64 != stored->user_data_64) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64;
    }
    if (request->user_data_32 != stored->user_data_32) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32;
    }
    if (request->ledger != stored->ledger) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER;
    }
    if (request->code != stored->code) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE;
    }
    return LEDGER_RESULT_EXISTS;
}

/* Steps 2-9; *existing_out is the existing account's index or ID_NONE. */
static uint32_t model_account_check(const model_t *model,
                                    const ledger_account_t *account,
                                    uint32_t *existing_out) {
    *existing_out = ID_NONE;
    if (account->timestamp != 0) return LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO;
    if ((account->flags & ~ACCOUNT_FLAGS_KNOWN) != 0) {
        return LEDGER_RESULT_RESERVED_FLAG;
    }
    if (ledger_u128_is_zero(account->id)) {
        return LEDGER_RESULT_ID_MUST_NOT_BE_ZERO;
    }
    if (ledger_u128_is_max(account->id)) {
        return LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX;
    }
    if ((account->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (account->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (account->debits_pending != 0) {
        return LEDGER_RESULT_DEBITS_PENDING_MUST_BE_ZERO;
    }
    if (account->debits_posted != 0) {
        return LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO;
    }
    if (account->credits_pending != 0) {
        return LEDGER_RESULT_CREDITS_PENDING_MUST_BE_ZERO;
    }
    if (account->credits_posted != 0) {
        return LEDGER_RESULT_CREDITS_POSTED_MUST_BE_ZERO;
    }
    if (account->ledger == 0) return LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO;
    if (account->code == 0) return LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO;
    uint32_t existing = model_account_index(model, account->id);
    if (existing == ID_NONE) return LEDGER_RESULT_OK;
    *existing_out = existing;
    return model_account_compare(account, &model->accounts[existing].stored);
}

static uint32_t model_account_evaluate(model_t *model,
                                       const ledger_account_t *account,
                                       uint64_t now, uint64_t *timestamp_out) {
    uint32_t existing;
    uint32_t result = model_account_check(model, account, &existing);
    *timestamp_out = 0;
    if (result == LEDGER_RESULT_EXISTS) {
        *timestamp_out = model->accounts[existing].stored.timestamp;
    }
    if (result != LEDGER_RESULT_OK) return result;
    ledger_account_t stored = *account;
    stored.flags &= (uint16_t)~LEDGER_ACCOUNT_LINKED;
    stored.timestamp = model_take_timestamp(model, now);
    model_account_insert(model, &stored);
    *timestamp_out = stored.timestamp;
    return LEDGER_RESULT_OK;
}

/* ------------------------------------------------------------------------ */
/* The model: transfers, checks shared by every kind (steps 2-6)            */

/* What a valid transfer will do, worked out by the checks. */
typedef struct transfer_plan {
    uint32_t debit;   /* account index */
    uint32_t credit;  /* account index */
    uint32_t pending; /* post/void: the pending transfer's index */
    uint64_t amount;  /* moved (single/pending) or posted (post) */
} transfer_plan_t;

static uint32_t model_transfer_check_static(const ledger_transfer_t *t) {
    if (t->timestamp != 0) return LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO;
    if ((t->flags & ~TRANSFER_FLAGS_KNOWN) != 0) {
        return LEDGER_RESULT_RESERVED_FLAG;
    }
    if (ledger_u128_is_zero(t->id)) return LEDGER_RESULT_ID_MUST_NOT_BE_ZERO;
    if (ledger_u128_is_max(t->id)) return LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX;
    int kinds = ((t->flags & LEDGER_TRANSFER_PENDING) != 0) +
                ((t->flags & LEDGER_TRANSFER_POST_PENDING) != 0) +
                ((t->flags & LEDGER_TRANSFER_VOID_PENDING) != 0);
    if (kinds >= 2) return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    if ((t->flags & TRANSFER_RESOLVES) &&
        (t->flags & (TRANSFER_BALANCING | TRANSFER_CLOSING))) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    return LEDGER_RESULT_OK;
}

/* For post/void a zero request field matches anything (it was taken from
 * the pending transfer). */
static bool field_matches(bool resolves, ledger_u128_t request,
                          ledger_u128_t stored) {
    if (resolves && ledger_u128_is_zero(request)) return true;
    return ledger_u128_equal(request, stored);
}

static bool amount_matches(const ledger_transfer_t *request,
                           const ledger_transfer_t *stored) {
    if ((request->flags & TRANSFER_RESOLVES) && request->amount == 0) {
        return true;
    }
    if (request->flags & TRANSFER_BALANCING) {
        return request->amount >= stored->amount;
    }
    return request->amount == stored->amount;
}

static uint32_t model_transfer_compare(const ledger_transfer_t *request,
                                       const ledger_transfer_t *stored) {
    bool resolves = (request->flags & TRANSFER_RESOLVES) != 0;
    if ((request->flags & ~LEDGER_TRANSFER_LINKED) !=
        (stored->flags & ~LEDGER_TRANSFER_LINKED)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS;
    }
    if (!field_matches(resolves, request->debit_account_id,
                       stored->debit_account_id)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
    }
    if (!field_matches(resolves, request->credit_account_id,
                       stored->credit_account_id)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
    }
    if (!amount_matches(request, stored)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT;
    }
    if (!ledger_u128_equal(request->pending_id, stored->pending_id)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID;
    }
    if (!ledger_u128_equal(request->user_data_128, stored->user_data_128)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128;
    }
    if (request->user_data_64 != stored->user_data_64) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64;
    }
    if (request->user_data_32 != stored->user_data_32) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32;
    }
    if (request->timeout != stored->timeout) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT;
    }
    if (!(resolves && request->ledger == 0) &&
        request->ledger != stored->ledger) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER;
    }
    if (!(resolves && request->code == 0) && request->code != stored->code) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE;
    }
    return LEDGER_RESULT_EXISTS;
}

/* Step 6. OK means the id is new. */
static uint32_t model_transfer_check_existing(const model_t *model,
                                              const ledger_transfer_t *t,
                                              uint64_t *timestamp_out) {
    if (id_index_find(&model->failed_ids, t->id) != ID_NONE) {
        return LEDGER_RESULT_ID_ALREADY_FAILED;
    }
    const model_transfer_t *existing = model_find_transfer(model, t->id);
    if (existing == NULL) return LEDGER_RESULT_OK;
    uint32_t result = model_transfer_compare(t, &existing->stored);
    if (result == LEDGER_RESULT_EXISTS) {
        *timestamp_out = existing->stored.timestamp;
    }
    return result;
}

/* ------------------------------------------------------------------------ */
/* The model: single-phase and pending transfers (steps 7-25)               */

static uint32_t model_transfer_check_fields(const ledger_transfer_t *t) {
    bool pending = (t->flags & LEDGER_TRANSFER_PENDING) != 0;
    if (ledger_u128_is_zero(t->debit_account_id)) {
        return LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
    }
    if (ledger_u128_is_max(t->debit_account_id)) {
        return LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
    }
    if (ledger_u128_is_zero(t->credit_account_id)) {
        return LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
    }
    if (ledger_u128_is_max(t->credit_account_id)) {
        return LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
    }
    if (ledger_u128_equal(t->debit_account_id, t->credit_account_id)) {
        return LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT;
    }
    if (!ledger_u128_is_zero(t->pending_id)) {
        return LEDGER_RESULT_PENDING_ID_MUST_BE_ZERO;
    }
    if (t->timeout != 0 && !pending) {
        return LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    }
    if ((t->flags & TRANSFER_CLOSING) && !pending) {
        return LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING;
    }
    if (t->ledger == 0) return LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO;
    if (t->code == 0) return LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO;
    if (t->amount == 0) return LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO;
    return LEDGER_RESULT_OK;
}

static uint32_t model_transfer_check_accounts(const model_t *model,
                                              const ledger_transfer_t *t,
                                              transfer_plan_t *plan) {
    plan->debit = model_account_index(model, t->debit_account_id);
    if (plan->debit == ID_NONE) return LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND;
    plan->credit = model_account_index(model, t->credit_account_id);
    if (plan->credit == ID_NONE) return LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND;
    const ledger_account_t *debit = &model->accounts[plan->debit].stored;
    const ledger_account_t *credit = &model->accounts[plan->credit].stored;
    if (debit->ledger != credit->ledger) {
        return LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER;
    }
    if (t->ledger != debit->ledger) {
        return LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS;
    }
    if (debit->flags & LEDGER_ACCOUNT_CLOSED) {
        return LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED;
    }
    if (credit->flags & LEDGER_ACCOUNT_CLOSED) {
        return LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED;
    }
    return LEDGER_RESULT_OK;
}

/* Step 20 (docs: Balancing transfers). Account flags do not matter. */
static uint64_t model_balancing_amount(const ledger_transfer_t *t,
                                       const ledger_account_t *debit,
                                       const ledger_account_t *credit) {
    uint64_t amount = t->amount;
    if (t->flags & LEDGER_TRANSFER_BALANCING_DEBIT) {
        uint64_t room = headroom(debit->credits_posted, debit->debits_posted,
                                 debit->debits_pending);
        if (room < amount) amount = room;
    }
    if (t->flags & LEDGER_TRANSFER_BALANCING_CREDIT) {
        uint64_t room = headroom(credit->debits_posted, credit->credits_posted,
                                 credit->credits_pending);
        if (room < amount) amount = room;
    }
    return amount;
}

/* Steps 20-25. */
static uint32_t model_transfer_check_amounts(const model_t *model,
                                             const ledger_transfer_t *t,
                                             uint64_t timestamp,
                                             transfer_plan_t *plan) {
    const ledger_account_t *d = &model->accounts[plan->debit].stored;
    const ledger_account_t *c = &model->accounts[plan->credit].stored;
    bool pending = (t->flags & LEDGER_TRANSFER_PENDING) != 0;
    uint64_t amount = model_balancing_amount(t, d, c);
    plan->amount = amount;
    if (pending && add_overflows(d->debits_pending, amount)) {
        return LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING;
    }
    if (pending && add_overflows(c->credits_pending, amount)) {
        return LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING;
    }
    if (!pending && add_overflows(d->debits_posted, amount)) {
        return LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED;
    }
    if (!pending && add_overflows(c->credits_posted, amount)) {
        return LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED;
    }
    TEST_REQUIRE(!add_overflows(d->debits_pending, d->debits_posted));
    TEST_REQUIRE(!add_overflows(c->credits_pending, c->credits_posted));
    uint64_t debits = d->debits_pending + d->debits_posted;
    uint64_t credits = c->credits_pending + c->credits_posted;
    if (add_overflows(debits, amount)) return LEDGER_RESULT_OVERFLOWS_DEBITS;
    if (add_overflows(credits, amount)) return LEDGER_RESULT_OVERFLOWS_CREDITS;
    if (pending && t->timeout != 0 &&
        add_overflows(timestamp, (uint64_t)t->timeout * NS_PER_SECOND)) {
        return LEDGER_RESULT_OVERFLOWS_TIMEOUT;
    }
    if ((d->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        debits + amount > d->credits_posted) {
        return LEDGER_RESULT_EXCEEDS_CREDITS;
    }
    if ((c->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        credits + amount > c->debits_posted) {
        return LEDGER_RESULT_EXCEEDS_DEBITS;
    }
    return LEDGER_RESULT_OK;
}

static uint64_t model_apply_transfer(model_t *model, const ledger_transfer_t *t,
                                     const transfer_plan_t *plan,
                                     uint64_t now) {
    bool pending = (t->flags & LEDGER_TRANSFER_PENDING) != 0;
    uint64_t timestamp = model_take_timestamp(model, now);
    model_account_save(model, plan->debit);
    model_account_save(model, plan->credit);
    ledger_account_t *d = &model->accounts[plan->debit].stored;
    ledger_account_t *c = &model->accounts[plan->credit].stored;
    if (pending) {
        d->debits_pending += plan->amount;
        c->credits_pending += plan->amount;
        if (t->flags & LEDGER_TRANSFER_CLOSING_DEBIT) {
            d->flags |= LEDGER_ACCOUNT_CLOSED;
        }
        if (t->flags & LEDGER_TRANSFER_CLOSING_CREDIT) {
            c->flags |= LEDGER_ACCOUNT_CLOSED;
        }
    } else {
        d->debits_posted += plan->amount;
        c->credits_posted += plan->amount;
    }
    ledger_transfer_t stored = *t;
    stored.amount = plan->amount;
    stored.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    stored.timestamp = timestamp;
    uint64_t expires_at =
        pending && t->timeout != 0
            ? timestamp + (uint64_t)t->timeout * NS_PER_SECOND
            : 0;
    uint32_t index = model_transfer_insert(
        model, &stored, pending ? STATUS_PENDING : STATUS_NOT_PENDING,
        expires_at);
    model_history_push(model, plan->debit, timestamp, index,
                       LEDGER_EVENT_TRANSFER, true);
    model_history_push(model, plan->credit, timestamp, index,
                       LEDGER_EVENT_TRANSFER, false);
    return timestamp;
}

/* ------------------------------------------------------------------------ */
/* The model: post, void and expiry                                         */

/* Steps 7-13 of post/void. */
static uint32_t model_resolve_check_request(const model_t *model,
                                            const ledger_transfer_t *t,
                                            transfer_plan_t *plan) {
    bool post = (t->flags & LEDGER_TRANSFER_POST_PENDING) != 0;
    if (ledger_u128_is_zero(t->pending_id)) {
        return LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_ZERO;
    }
    if (ledger_u128_is_max(t->pending_id)) {
        return LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_INT_MAX;
    }
    if (ledger_u128_equal(t->pending_id, t->id)) {
        return LEDGER_RESULT_PENDING_ID_MUST_BE_DIFFERENT;
    }
    if (t->timeout != 0) {
        return LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    }
    plan->pending = id_index_find(&model->transfer_ids, t->pending_id);
    if (plan->pending == ID_NONE) {
        return LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND;
    }
    const ledger_transfer_t *p = &model->transfers[plan->pending].stored;
    if (!(p->flags & LEDGER_TRANSFER_PENDING)) {
        return LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING;
    }
    if (!field_matches(true, t->debit_account_id, p->debit_account_id)) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID;
    }
    if (!field_matches(true, t->credit_account_id, p->credit_account_id)) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID;
    }
    if (t->ledger != 0 && t->ledger != p->ledger) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER;
    }
    if (t->code != 0 && t->code != p->code) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CODE;
    }
    if (post && t->amount > p->amount) {
        return LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT;
    }
    if (!post && t->amount != 0 && t->amount != p->amount) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT;
    }
    return LEDGER_RESULT_OK;
}

/* Steps 7-15 of post/void. */
static uint32_t model_resolve_check(const model_t *model,
                                    const ledger_transfer_t *t,
                                    uint64_t timestamp, transfer_plan_t *plan) {
    uint32_t result = model_resolve_check_request(model, t, plan);
    if (result != LEDGER_RESULT_OK) return result;
    const model_transfer_t *p = &model->transfers[plan->pending];
    if (p->status == STATUS_POSTED) {
        return LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED;
    }
    if (p->status == STATUS_VOIDED) {
        return LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED;
    }
    TEST_REQUIRE(p->status == STATUS_PENDING || p->status == STATUS_EXPIRED);
    if (p->status == STATUS_EXPIRED ||
        (p->expires_at != 0 && p->expires_at <= timestamp)) {
        return LEDGER_RESULT_PENDING_TRANSFER_EXPIRED;
    }
    plan->debit = model_account_index(model, p->stored.debit_account_id);
    plan->credit = model_account_index(model, p->stored.credit_account_id);
    TEST_REQUIRE(plan->debit != ID_NONE && plan->credit != ID_NONE);
    bool post = (t->flags & LEDGER_TRANSFER_POST_PENDING) != 0;
    plan->amount = post && t->amount != 0 ? t->amount : p->stored.amount;
    if (!post) return LEDGER_RESULT_OK;
    const ledger_account_t *d = &model->accounts[plan->debit].stored;
    const ledger_account_t *c = &model->accounts[plan->credit].stored;
    if (add_overflows(d->debits_posted, plan->amount)) {
        return LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED;
    }
    if (add_overflows(c->credits_posted, plan->amount)) {
        return LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED;
    }
    return LEDGER_RESULT_OK;
}

/* Releases pending transfer `index` (post, void or expiry): its reservation
 * goes, `posted` moves to the posted balances, and unless it was posted,
 * the accounts its closing flags closed are open again. */
static void model_resolve_pending(model_t *model, uint32_t index,
                                  uint32_t status, uint64_t posted,
                                  uint32_t *debit_out, uint32_t *credit_out) {
    const ledger_transfer_t p = model->transfers[index].stored;
    uint32_t debit = model_account_index(model, p.debit_account_id);
    uint32_t credit = model_account_index(model, p.credit_account_id);
    TEST_REQUIRE(debit != ID_NONE && credit != ID_NONE);
    model_account_save(model, debit);
    model_account_save(model, credit);
    ledger_account_t *d = &model->accounts[debit].stored;
    ledger_account_t *c = &model->accounts[credit].stored;
    TEST_REQUIRE(d->debits_pending >= p.amount);
    TEST_REQUIRE(c->credits_pending >= p.amount);
    d->debits_pending -= p.amount;
    c->credits_pending -= p.amount;
    d->debits_posted += posted;
    c->credits_posted += posted;
    if (status != STATUS_POSTED) {
        if (p.flags & LEDGER_TRANSFER_CLOSING_DEBIT) {
            d->flags &= (uint16_t)~LEDGER_ACCOUNT_CLOSED;
        }
        if (p.flags & LEDGER_TRANSFER_CLOSING_CREDIT) {
            c->flags &= (uint16_t)~LEDGER_ACCOUNT_CLOSED;
        }
    }
    model_status_set(model, index, status);
    *debit_out = debit;
    *credit_out = credit;
}

static uint64_t model_apply_resolve(model_t *model, const ledger_transfer_t *t,
                                    const transfer_plan_t *plan, uint64_t now) {
    bool post = (t->flags & LEDGER_TRANSFER_POST_PENDING) != 0;
    const ledger_transfer_t *p = &model->transfers[plan->pending].stored;
    ledger_transfer_t stored = *t;
    stored.debit_account_id = p->debit_account_id;
    stored.credit_account_id = p->credit_account_id;
    stored.ledger = p->ledger;
    stored.code = p->code;
    stored.amount = plan->amount;
    stored.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    stored.timestamp = model_take_timestamp(model, now);
    uint32_t debit;
    uint32_t credit;
    model_resolve_pending(model, plan->pending,
                          post ? STATUS_POSTED : STATUS_VOIDED,
                          post ? plan->amount : 0, &debit, &credit);
    uint32_t index =
        model_transfer_insert(model, &stored, STATUS_NOT_PENDING, 0);
    model_history_push(model, debit, stored.timestamp, index,
                       LEDGER_EVENT_TRANSFER, true);
    model_history_push(model, credit, stored.timestamp, index,
                       LEDGER_EVENT_TRANSFER, false);
    return stored.timestamp;
}

typedef struct expiry_candidate {
    uint64_t expires_at;
    ledger_u128_t id;
    uint32_t index;
} expiry_candidate_t;

static int expiry_candidate_compare(const void *a, const void *b) {
    const expiry_candidate_t *x = a;
    const expiry_candidate_t *y = b;
    if (x->expires_at != y->expires_at) {
        return x->expires_at < y->expires_at ? -1 : 1;
    }
    return ledger_u128_compare(x->id, y->id);
}

/* Expires due pending transfers as the engine must at the start of
 * create_transfers and in ledger_expire_pending: earliest expires_at
 * first, ties by id, at most LEDGER_EXPIRE_BATCH_MAX. Returns how many. */
static uint32_t model_expire(model_t *model, uint64_t now) {
    expiry_candidate_t *due = xcalloc(model->timed_count, sizeof *due);
    uint32_t due_count = 0;
    for (uint32_t i = 0; i < model->timed_count; i++) {
        const model_transfer_t *t = &model->transfers[model->timed[i]];
        TEST_REQUIRE(t->status == STATUS_PENDING && t->expires_at != 0);
        if (t->expires_at > now) continue;
        due[due_count].expires_at = t->expires_at;
        due[due_count].id = t->stored.id;
        due[due_count].index = model->timed[i];
        due_count++;
    }
    qsort(due, due_count, sizeof *due, expiry_candidate_compare);
    if (due_count > LEDGER_EXPIRE_BATCH_MAX) {
        due_count = LEDGER_EXPIRE_BATCH_MAX;
    }
    for (uint32_t i = 0; i < due_count; i++) {
        uint64_t timestamp = model_take_timestamp(model, now);
        uint32_t debit;
        uint32_t credit;
        model_resolve_pending(model, due[i].index, STATUS_EXPIRED, 0, &debit,
                              &credit);
        model_history_push(model, debit, timestamp, due[i].index,
                           LEDGER_EVENT_EXPIRY, true);
        model_history_push(model, credit, timestamp, due[i].index,
                           LEDGER_EVENT_EXPIRY, false);
    }
    free(due);
    return due_count;
}

static uint32_t model_transfer_evaluate(model_t *model,
                                        const ledger_transfer_t *t,
                                        uint64_t now, uint64_t *timestamp_out) {
    *timestamp_out = 0;
    uint32_t result = model_transfer_check_static(t);
    if (result != LEDGER_RESULT_OK) return result;
    result = model_transfer_check_existing(model, t, timestamp_out);
    if (result != LEDGER_RESULT_OK) return result;
    /* The timestamp this event will get if it is journaled: checks that
     * compare against "this event's timestamp" use it. */
    uint64_t timestamp = model_next_timestamp(model, now);
    transfer_plan_t plan;
    bool resolves = (t->flags & TRANSFER_RESOLVES) != 0;
    if (resolves) {
        result = model_resolve_check(model, t, timestamp, &plan);
    } else {
        result = model_transfer_check_fields(t);
        if (result == LEDGER_RESULT_OK) {
            result = model_transfer_check_accounts(model, t, &plan);
        }
        if (result == LEDGER_RESULT_OK) {
            result = model_transfer_check_amounts(model, t, timestamp, &plan);
        }
    }
    if (result != LEDGER_RESULT_OK) return result;
    *timestamp_out = resolves ? model_apply_resolve(model, t, &plan, now)
                              : model_apply_transfer(model, t, &plan, now);
    TEST_REQUIRE(*timestamp_out == timestamp);
    return LEDGER_RESULT_OK;
}

/* ------------------------------------------------------------------------ */
/* The model: batches and linked chains                                     */

/* One create_* call: exactly one of accounts/transfers is set. */
typedef struct model_batch {
    const ledger_account_t *accounts;
    const ledger_transfer_t *transfers;
    uint32_t count;
    uint64_t now;
} model_batch_t;

static bool model_batch_linked(const model_batch_t *batch, uint32_t i) {
    if (batch->accounts != NULL) {
        return (batch->accounts[i].flags & LEDGER_ACCOUNT_LINKED) != 0;
    }
    return (batch->transfers[i].flags & LEDGER_TRANSFER_LINKED) != 0;
}

static uint32_t model_batch_evaluate(model_t *model, const model_batch_t *batch,
                                     uint32_t i, uint64_t *timestamp_out) {
    if (batch->accounts != NULL) {
        return model_account_evaluate(model, &batch->accounts[i], batch->now,
                                      timestamp_out);
    }
    return model_transfer_evaluate(model, &batch->transfers[i], batch->now,
                                   timestamp_out);
}

static void set_result(ledger_result_t *result, uint32_t code,
                       uint64_t timestamp) {
    result->result = code;
    result->reserved = 0;
    result->timestamp = timestamp;
}

/*
 * Events first..last form one closed chain (a lone event is a chain of
 * one). The first failure rolls back the chain's earlier events, which get
 * linked_event_failed; the failing event keeps its code (and, if the code
 * is transient, its id gets a failure marker, journaled after the rollback
 * so it takes the first timestamp given back); later events are not
 * evaluated. `exists` is not a failure: docs/ledger.md treats it as the
 * idempotent success of a resubmission ("gets exists even if it would now
 * fail"), and its result carries a timestamp like ok.
 */
static void model_run_chain(model_t *model, const model_batch_t *batch,
                            uint32_t first, uint32_t last,
                            ledger_result_t *expected) {
    uint32_t mark = model->undo_count;
    for (uint32_t k = first; k <= last; k++) {
        uint64_t timestamp = 0;
        uint32_t result = model_batch_evaluate(model, batch, k, &timestamp);
        set_result(&expected[k], result, timestamp);
        if (result == LEDGER_RESULT_OK || result == LEDGER_RESULT_EXISTS) {
            continue;
        }
        model_undo_to(model, mark);
        for (uint32_t j = first; j <= last; j++) {
            if (j == k) continue;
            set_result(&expected[j], LEDGER_RESULT_LINKED_EVENT_FAILED, 0);
        }
        if (batch->transfers != NULL && result_is_transient(result)) {
            model_record_failure(model, batch->transfers[k].id, batch->now);
        }
        return;
    }
}

/*
 * Runs one create_* batch through the model. A chain still open at the end
 * of the batch (its last event has `linked`) is not evaluated at all: its
 * last event gets linked_event_chain_open and every other event of it
 * linked_event_failed (docs: Linked chains).
 */
static void model_run_batch(model_t *model, const model_batch_t *batch,
                            ledger_result_t *expected) {
    uint32_t first = 0;
    while (first < batch->count) {
        uint32_t last = first;
        while (last + 1 < batch->count && model_batch_linked(batch, last)) {
            last++;
        }
        if (model_batch_linked(batch, last)) {
            TEST_REQUIRE(last == batch->count - 1);
            for (uint32_t k = first; k < last; k++) {
                set_result(&expected[k], LEDGER_RESULT_LINKED_EVENT_FAILED, 0);
            }
            set_result(&expected[last], LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN,
                       0);
        } else {
            model_run_chain(model, batch, first, last, expected);
        }
        first = last + 1;
    }
}

/* ------------------------------------------------------------------------ */
/* The model: queries                                                       */

static ledger_balance_t model_balance_at(const model_account_t *account,
                                         uint64_t timestamp) {
    ledger_balance_t zero = {0, 0, 0, 0};
    /* Binary search for the last entry with entry.timestamp <= timestamp. */
    uint32_t low = 0;
    uint32_t high = account->history_count;
    while (low < high) {
        uint32_t middle = low + (high - low) / 2;
        if (account->history[middle].timestamp <= timestamp) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return low == 0 ? zero : account->history[low - 1].balance_after;
}

/* The entries ledger_account_history must return for `filter`. */
static uint32_t model_history_select(const model_account_t *account,
                                     const ledger_history_filter_t *filter,
                                     const model_history_entry_t **out) {
    uint64_t maximum =
        filter->timestamp_max == 0 ? UINT64_MAX : filter->timestamp_max;
    bool reversed = (filter->flags & LEDGER_HISTORY_REVERSED) != 0;
    uint32_t count = 0;
    for (uint32_t k = 0; k < account->history_count && count < filter->limit;
         k++) {
        const model_history_entry_t *entry =
            &account->history[reversed ? account->history_count - 1 - k : k];
        if (entry->timestamp < filter->timestamp_min) continue;
        if (entry->timestamp > maximum) continue;
        uint32_t side = entry->is_debit ? LEDGER_HISTORY_DEBITS
                                        : LEDGER_HISTORY_CREDITS;
        if (!(filter->flags & side)) continue;
        out[count++] = entry;
    }
    return count;
}

static uint64_t model_pending_count(const model_t *model) {
    uint64_t count = 0;
    for (uint32_t i = 0; i < model->transfers_count; i++) {
        if (model->transfers[i].status == STATUS_PENDING) count++;
    }
    return count;
}

/* ------------------------------------------------------------------------ */
/* Run configuration                                                        */

enum transfer_kind {
    KIND_SINGLE,
    KIND_PENDING,
    KIND_POST,
    KIND_VOID,
    KIND_BALANCING,
    KIND_CLOSING,
    KIND_HUGE,
    KIND_DUPLICATE,
    KIND_CONFLICT,
    KIND_REFAIL,
    KIND_INVALID,
    KIND_COUNT
};

enum account_kind {
    ACCOUNT_FRESH,
    ACCOUNT_DUPLICATE,
    ACCOUNT_CONFLICT,
    ACCOUNT_INVALID,
    ACCOUNT_KIND_COUNT
};

/* Probabilities are per mille; weights are relative. */
typedef struct run_config {
    const char *name;
    uint64_t ops_divisor; /* runs (test_ops or OPS_DEFAULT) / divisor ops */
    uint64_t seed_salt;   /* so each case draws its own stream */
    uint64_t clock_start_ns;
    uint32_t pool_size;        /* accounts in the active window */
    uint32_t window_slide_ops; /* the window moves every this many ops */
    uint32_t window_slide_step;
    uint32_t ledgers_count;
    uint32_t transfer_weights[KIND_COUNT];
    uint32_t account_weights[ACCOUNT_KIND_COUNT];
    uint32_t batch_events_max;
    uint32_t chance_big_batch;
    uint32_t chance_chain; /* a chain starts at an event */
    uint32_t chance_chain_open;
    uint32_t chance_pair_chain; /* a chain opens with pending + post/void */
    uint32_t chance_timeout;
    uint32_t timeout_max_s;
    uint32_t chance_accounts_batch;
    uint32_t chance_expire_call;
    uint32_t chance_call_errors;
    uint32_t chance_clock_back;
    uint32_t chance_clock_still;
    uint32_t chance_clock_seconds;
    uint32_t clock_jump_max_s;
    uint32_t chance_group_begin;
    uint32_t chance_group_end;
    uint32_t chance_group_abort; /* of the group ends */
    uint32_t chance_checkpoint;
    /* ledger_options_t.transfer_id_buffer_max (0: the default). */
    uint32_t id_buffer_max;
    /* Transfer ids in random order (else mostly increasing). */
    bool ids_random;
    /* Results that must have occurred in a full-size run; ends with
     * LEDGER_RESULT_CODE_COUNT. */
    const uint32_t *required_results;
} run_config_t;

/* ------------------------------------------------------------------------ */
/* The harness: engine + model + generator                                  */

/* What the generator remembers of what it submitted. */
typedef struct generator {
    uint64_t transfer_sequence;
    ledger_transfer_t recent[RECENT_TRANSFERS_MAX];
    uint64_t recent_count;
    ledger_transfer_t pendings[RECENT_PENDINGS_MAX];
    uint64_t pendings_count;
    ledger_transfer_t failed[RECENT_FAILED_MAX];
    uint64_t failed_count;
} generator_t;

typedef struct harness {
    const run_config_t *config;
    uint64_t seed;
    rng_t rng;
    model_t model;
    generator_t generator;
    ledger_t *ledger;
    ledger_options_t options;
    uint64_t clock_now; /* what the injected clock returns */
    char directory[PATH_MAX];
    uint64_t ops_done;
    uint64_t batch_index;
    uint64_t batches_until_reopen;
    bool in_group;
    uint32_t group_mark; /* model undo position at ledger_write_begin */
    bool stopped;        /* a mismatch was found: the run ends */
    uint64_t result_counts[LEDGER_RESULT_CODE_COUNT];
    uint64_t expired_total;
    uint64_t groups_committed;
    uint64_t groups_aborted;
    uint64_t reopens;
    uint64_t history_pages;
} harness_t;

static uint64_t harness_clock(void *context) {
    return *(const uint64_t *)context;
}

/* Ends the run after a mismatch, saying how to replay it. */
static void harness_stop(harness_t *h, const char *what) {
    test_failures_in_case++;
    h->stopped = true;
    printf("# %s: case %s, seed=%" PRIu64 ", batch %" PRIu64
           ", ops %" PRIu64 " (replay: test_model --seed %" PRIu64 " %s)\n",
           what, h->config->name, h->seed, h->batch_index, h->ops_done,
           h->seed, h->config->name);
    fflush(stdout);
}

/* Checks an API call's return value; a nonzero one stops the run. */
static bool harness_call_ok(harness_t *h, int rc, const char *call) {
    if (rc == 0) return true;
    printf("# %s returned %d (%s): %s\n", call, rc, ledger_strerror(rc),
           ledger_last_error_message(h->ledger));
    harness_stop(h, "API call failed");
    return false;
}

static bool check_u64(harness_t *h, const char *what, uint64_t actual,
                      uint64_t expected) {
    if (actual == expected) return true;
    printf("# %s: got %" PRIu64 ", expected %" PRIu64 "\n", what, actual,
           expected);
    harness_stop(h, "value mismatch");
    return false;
}

/* For API return codes that must be a given error. */
static bool check_error(harness_t *h, const char *what, int actual,
                        int expected) {
    if (actual == expected) return true;
    printf("# %s: got %d (%s), expected %d (%s)\n", what, actual,
           ledger_strerror(actual), expected, ledger_strerror(expected));
    harness_stop(h, "unexpected return code");
    return false;
}

/* ------------------------------------------------------------------------ */
/* The harness: printing and comparing records                              */

static void print_transfer(const char *label, const ledger_transfer_t *t) {
    char id[U128_TEXT_SIZE], debit[U128_TEXT_SIZE], credit[U128_TEXT_SIZE];
    char pending[U128_TEXT_SIZE], data[U128_TEXT_SIZE];
    printf("#   %s id=%s debit=%s credit=%s amount=%" PRIu64
           " pending_id=%s timeout=%" PRIu32 " ledger=%" PRIu32
           " code=%u flags=0x%x user_data=%s/%" PRIu64 "/%" PRIu32
           " ts=%" PRIu64 "\n",
           label, u128_text(t->id, id), u128_text(t->debit_account_id, debit),
           u128_text(t->credit_account_id, credit), t->amount,
           u128_text(t->pending_id, pending), t->timeout, t->ledger,
           (unsigned)t->code, (unsigned)t->flags,
           u128_text(t->user_data_128, data), t->user_data_64, t->user_data_32,
           t->timestamp);
}

static void print_account(const char *label, const ledger_account_t *a) {
    char id[U128_TEXT_SIZE], data[U128_TEXT_SIZE];
    printf("#   %s id=%s dp=%" PRIu64 " dpo=%" PRIu64 " cp=%" PRIu64
           " cpo=%" PRIu64 " ledger=%" PRIu32 " code=%u flags=0x%x"
           " user_data=%s/%" PRIu64 "/%" PRIu32 " ts=%" PRIu64 "\n",
           label, u128_text(a->id, id), a->debits_pending, a->debits_posted,
           a->credits_pending, a->credits_posted, a->ledger, (unsigned)a->code,
           (unsigned)a->flags, u128_text(a->user_data_128, data),
           a->user_data_64, a->user_data_32, a->timestamp);
}

static bool account_equal(const ledger_account_t *a,
                          const ledger_account_t *b) {
    return ledger_u128_equal(a->id, b->id) &&
           a->debits_pending == b->debits_pending &&
           a->debits_posted == b->debits_posted &&
           a->credits_pending == b->credits_pending &&
           a->credits_posted == b->credits_posted &&
           ledger_u128_equal(a->user_data_128, b->user_data_128) &&
           a->user_data_64 == b->user_data_64 &&
           a->user_data_32 == b->user_data_32 && a->ledger == b->ledger &&
           a->code == b->code && a->flags == b->flags &&
           a->timestamp == b->timestamp;
}

/* The spec does not say whether a transfer's `linked` flag is stored, so
 * it is not compared. */
static bool transfer_equal(const ledger_transfer_t *a,
                           const ledger_transfer_t *b) {
    return ledger_u128_equal(a->id, b->id) &&
           ledger_u128_equal(a->debit_account_id, b->debit_account_id) &&
           ledger_u128_equal(a->credit_account_id, b->credit_account_id) &&
           a->amount == b->amount &&
           ledger_u128_equal(a->pending_id, b->pending_id) &&
           ledger_u128_equal(a->user_data_128, b->user_data_128) &&
           a->user_data_64 == b->user_data_64 &&
           a->user_data_32 == b->user_data_32 && a->timeout == b->timeout &&
           a->ledger == b->ledger && a->code == b->code &&
           (a->flags & ~LEDGER_TRANSFER_LINKED) ==
               (b->flags & ~LEDGER_TRANSFER_LINKED) &&
           a->timestamp == b->timestamp;
}

static bool balance_equal(const ledger_balance_t *a,
                          const ledger_balance_t *b) {
    return a->debits_pending == b->debits_pending &&
           a->debits_posted == b->debits_posted &&
           a->credits_pending == b->credits_pending &&
           a->credits_posted == b->credits_posted;
}

static void print_balance(const char *label, const ledger_balance_t *b) {
    printf("#   %s dp=%" PRIu64 " dpo=%" PRIu64 " cp=%" PRIu64 " cpo=%" PRIu64
           "\n",
           label, b->debits_pending, b->debits_posted, b->credits_pending,
           b->credits_posted);
}

static void print_batch_events(const model_batch_t *batch, uint32_t bad,
                               const ledger_result_t *expected,
                               const ledger_result_t *actual) {
    uint32_t first = bad > EVENTS_PRINTED_MAX / 2 ? bad - EVENTS_PRINTED_MAX / 2
                                                  : 0;
    uint32_t end = first + EVENTS_PRINTED_MAX < batch->count
                       ? first + EVENTS_PRINTED_MAX
                       : batch->count;
    printf("# batch of %" PRIu32 " events at now=%" PRIu64 "; events %" PRIu32
           "..%" PRIu32 ":\n",
           batch->count, batch->now, first, end - 1);
    for (uint32_t i = first; i < end; i++) {
        char label[256];
        snprintf(label, sizeof label, "[%" PRIu32 "] want %s/%" PRIu64
                 " got %s/%" PRIu64 "%s", i,
                 ledger_result_name(expected[i].result), expected[i].timestamp,
                 ledger_result_name(actual[i].result), actual[i].timestamp,
                 i == bad ? " <==" : "");
        if (batch->accounts != NULL) {
            print_account(label, &batch->accounts[i]);
        } else {
            print_transfer(label, &batch->transfers[i]);
        }
    }
}

static bool harness_compare_results(harness_t *h, const model_batch_t *batch,
                                    const ledger_result_t *expected,
                                    const ledger_result_t *actual) {
    for (uint32_t i = 0; i < batch->count; i++) {
        if (expected[i].result == actual[i].result &&
            expected[i].timestamp == actual[i].timestamp &&
            actual[i].reserved == 0) {
            continue;
        }
        printf("# %s batch %" PRIu64 " event %" PRIu32 ": expected %s (ts %"
               PRIu64 "), got %s (ts %" PRIu64 ", reserved %" PRIu32 ")\n",
               batch->accounts != NULL ? "create_accounts" : "create_transfers",
               h->batch_index, i, ledger_result_name(expected[i].result),
               expected[i].timestamp, ledger_result_name(actual[i].result),
               actual[i].timestamp, actual[i].reserved);
        print_batch_events(batch, i, expected, actual);
        harness_stop(h, "result mismatch");
        return false;
    }
    return true;
}

/* Every account of the model must look exactly the same in the engine;
 * one id that was never created is asked too and must be skipped. */
static bool harness_check_accounts(harness_t *h) {
    const model_t *model = &h->model;
    uint32_t total = model->accounts_count;
    ledger_u128_t *ids = xcalloc(LEDGER_LOOKUP_IDS_MAX, sizeof *ids);
    ledger_account_t *found = xcalloc(LEDGER_LOOKUP_IDS_MAX, sizeof *found);
    bool ok = true;
    for (uint32_t start = 0; ok && start <= total;
         start += LEDGER_LOOKUP_IDS_MAX - 1) {
        uint32_t chunk = total - start < LEDGER_LOOKUP_IDS_MAX - 1
                             ? total - start
                             : LEDGER_LOOKUP_IDS_MAX - 1;
        if (chunk > 0) {
            memcpy(ids, model->account_ids.keys + start, chunk * sizeof *ids);
        }
        ids[chunk] = u128_make(0x5A5A, start + 1); /* never created */
        uint32_t found_count = 0;
        int rc = ledger_lookup_accounts(h->ledger, ids, chunk + 1, found,
                                        &found_count);
        ok = harness_call_ok(h, rc, "ledger_lookup_accounts") &&
             check_u64(h, "lookup_accounts found count", found_count, chunk);
        for (uint32_t i = 0; ok && i < chunk; i++) {
            const ledger_account_t *want = &model->accounts[start + i].stored;
            if (account_equal(&found[i], want)) continue;
            print_account("expected", want);
            print_account("actual  ", &found[i]);
            harness_stop(h, "account mismatch");
            ok = false;
        }
        if (chunk < LEDGER_LOOKUP_IDS_MAX - 1) break;
    }
    free(ids);
    free(found);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* The generator: accounts                                                  */

/* Account number n has id n, or {3, n} for every 7th: both words of the
 * u128 matter. Transfer ids overlap these numbers on purpose: accounts and
 * transfers are separate namespaces. */
static ledger_u128_t account_id_of(uint64_t number) {
    return u128_make(number % 7 == 0 ? 3 : 0, number);
}

static uint64_t window_low(const harness_t *h) {
    const run_config_t *c = h->config;
    return 1 + (h->ops_done / c->window_slide_ops) * c->window_slide_step;
}

static uint64_t pick_account_number(harness_t *h) {
    return window_low(h) + rng_below(&h->rng, h->config->pool_size);
}

/* A number in the window with number % modulus == remainder. */
static uint64_t pick_account_number_class(harness_t *h, uint64_t modulus,
                                          uint64_t remainder) {
    uint64_t low = window_low(h);
    uint64_t number = pick_account_number(h);
    number = number - number % modulus + remainder;
    if (number < low) number += modulus;
    if (number >= low + h->config->pool_size) number -= modulus;
    return number;
}

static uint32_t pick_ledger(harness_t *h) {
    uint32_t ledgers = h->config->ledgers_count;
    /* Ledger 1 is the busiest, so most transfers find matching accounts. */
    if (rng_chance(&h->rng, 600)) return 1;
    return (uint32_t)rng_range(&h->rng, 1, ledgers);
}

static bool harness_window_needs_accounts(const harness_t *h) {
    uint64_t low = window_low(h);
    uint32_t existing = 0;
    for (uint64_t n = low; n < low + h->config->pool_size; n++) {
        if (model_account_index(&h->model, account_id_of(n)) != ID_NONE) {
            existing++;
        }
    }
    return existing * 2 < h->config->pool_size;
}

static void generate_account_fresh(harness_t *h, ledger_account_t *a) {
    const run_config_t *c = h->config;
    uint64_t number = 0;
    for (int attempt = 0; attempt < PICK_ATTEMPTS_MAX; attempt++) {
        number = window_low(h) +
                 rng_below(&h->rng, c->pool_size + c->window_slide_step);
        if (model_account_index(&h->model, account_id_of(number)) == ID_NONE) {
            break;
        }
    }
    memset(a, 0, sizeof *a);
    a->id = account_id_of(number);
    uint32_t r = (uint32_t)rng_below(&h->rng, 1000);
    if (r < 250) a->flags = LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    else if (r < 400) a->flags = LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
    if (rng_chance(&h->rng, 300)) a->flags |= LEDGER_ACCOUNT_HISTORY;
    a->ledger = pick_ledger(h);
    if (number % WHALE_MODULUS == 0) {
        /* Whales take the huge amounts: no limits, one ledger. */
        a->flags &= LEDGER_ACCOUNT_HISTORY;
        a->ledger = 1;
    }
    a->code = (uint16_t)rng_range(&h->rng, 1, 5);
    if (rng_chance(&h->rng, 500)) {
        a->user_data_128 = u128_make(0, rng_next(&h->rng));
    }
    if (rng_chance(&h->rng, 500)) a->user_data_64 = rng_next(&h->rng);
    if (rng_chance(&h->rng, 500)) a->user_data_32 = (uint32_t)rng_next(&h->rng);
}

/* A request equal to an existing account (optionally with one field
 * changed). False when there is no account yet. */
static bool generate_account_duplicate(harness_t *h, ledger_account_t *a,
                                       bool conflicting) {
    if (h->model.accounts_count == 0) return false;
    const ledger_account_t *existing = model_find_account(
        &h->model, account_id_of(pick_account_number(h)));
    if (existing == NULL) {
        uint32_t index = (uint32_t)rng_below(&h->rng, h->model.accounts_count);
        existing = &h->model.accounts[index].stored;
    }
    memset(a, 0, sizeof *a);
    a->id = existing->id;
    a->flags = existing->flags & (uint16_t)~LEDGER_ACCOUNT_CLOSED;
    a->user_data_128 = existing->user_data_128;
    a->user_data_64 = existing->user_data_64;
    a->user_data_32 = existing->user_data_32;
    a->ledger = existing->ledger;
    a->code = existing->code;
    if (!conflicting) return true;
    switch (rng_below(&h->rng, 7)) {
    case 0: a->flags ^= LEDGER_ACCOUNT_HISTORY; break;
    case 1: a->flags ^= LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS; break;
    case 2: a->user_data_128.lo++; break;
    case 3: a->user_data_64++; break;
    case 4: a->user_data_32++; break;
    case 5: a->ledger++; break;
    default: a->code++; break;
    }
    return true;
}

static void mutate_account(harness_t *h, ledger_account_t *a) {
    switch (rng_below(&h->rng, 12)) {
    case 0: a->timestamp = rng_range(&h->rng, 1, UINT64_MAX - 1); break;
    case 1: a->flags |= LEDGER_ACCOUNT_CLOSED; break;
    case 2: a->flags |= (uint16_t)(1u << rng_range(&h->rng, 5, 15)); break;
    case 3: a->id = U128_ZERO; break;
    case 4: a->id = U128_MAX; break;
    case 5:
        a->flags |= LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                    LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS;
        break;
    case 6: a->debits_pending = rng_range(&h->rng, 1, 100); break;
    case 7: a->debits_posted = rng_range(&h->rng, 1, 100); break;
    case 8: a->credits_pending = rng_range(&h->rng, 1, 100); break;
    case 9: a->credits_posted = rng_range(&h->rng, 1, 100); break;
    case 10: a->ledger = 0; break;
    default: a->code = 0; break;
    }
}

static void generate_account(harness_t *h, ledger_account_t *a) {
    uint32_t kind = rng_weighted(&h->rng, h->config->account_weights,
                                 ACCOUNT_KIND_COUNT);
    if (kind == ACCOUNT_DUPLICATE && generate_account_duplicate(h, a, false)) {
        return;
    }
    if (kind == ACCOUNT_CONFLICT && generate_account_duplicate(h, a, true)) {
        return;
    }
    generate_account_fresh(h, a);
    if (kind == ACCOUNT_INVALID) mutate_account(h, a);
}

/* ------------------------------------------------------------------------ */
/* The generator: transfers                                                 */

static void ring_push(ledger_transfer_t *ring, uint64_t *count,
                      uint32_t capacity, const ledger_transfer_t *t) {
    ring[*count % capacity] = *t;
    (*count)++;
}

/* A remembered transfer, most often one of the last few. */
static const ledger_transfer_t *ring_pick(rng_t *rng,
                                          const ledger_transfer_t *ring,
                                          uint64_t count, uint32_t capacity) {
    if (count == 0) return NULL;
    uint64_t available = count < capacity ? count : capacity;
    uint64_t recent = available < 16 ? available : 16;
    uint64_t back = rng_chance(rng, 600) ? rng_below(rng, recent)
                                         : rng_below(rng, available);
    return &ring[(count - 1 - back) % capacity];
}

static void generator_remember(harness_t *h, const ledger_transfer_t *t) {
    generator_t *g = &h->generator;
    ring_push(g->recent, &g->recent_count, RECENT_TRANSFERS_MAX, t);
    if (t->flags & LEDGER_TRANSFER_PENDING) {
        ring_push(g->pendings, &g->pendings_count, RECENT_PENDINGS_MAX, t);
    }
}

static ledger_u128_t fresh_transfer_id(harness_t *h) {
    uint64_t sequence = ++h->generator.transfer_sequence;
    if (h->config->ids_random) {
        /* Unique (the low half is the sequence), in random order; the top
         * bits clear keeps welfare's id tag away. */
        uint64_t mix = sequence;
        return u128_make(splitmix64(&mix) >> 2, sequence);
    }
    return u128_make(sequence % 5 == 0 ? 7 : 0, sequence);
}

static ledger_u128_t absent_account_id(harness_t *h) {
    return account_id_of(ACCOUNT_NUMBER_ABSENT_BASE +
                         rng_below(&h->rng, 1000));
}

/* A credit account, mostly one on `ledger` and not `debit`. */
static ledger_u128_t pick_credit(harness_t *h, ledger_u128_t debit,
                                 uint32_t ledger) {
    bool any = rng_chance(&h->rng, 30);
    ledger_u128_t id = debit;
    for (int attempt = 0; attempt < 2 * PICK_ATTEMPTS_MAX; attempt++) {
        id = account_id_of(pick_account_number(h));
        if (ledger_u128_equal(id, debit)) continue;
        const ledger_account_t *a = model_find_account(&h->model, id);
        if (any || (a != NULL && a->ledger == ledger)) return id;
    }
    return id;
}

/* Amounts are mostly small; some are exactly at the debit account's
 * limit (to hit exceeds_credits and balancing edges). */
static uint64_t generate_amount(harness_t *h, const ledger_account_t *debit) {
    uint32_t r = (uint32_t)rng_below(&h->rng, 1000);
    if (r < 400) return rng_range(&h->rng, 1, 100);
    if (r < 700) return rng_range(&h->rng, 1, 10000);
    if (r < 850) return rng_range(&h->rng, 1, 1000000000);
    if (r < 980 && debit != NULL) {
        uint64_t room = headroom(debit->credits_posted, debit->debits_posted,
                                 debit->debits_pending);
        uint64_t amount = room + rng_below(&h->rng, 3);
        return amount > 1 ? amount - 1 : 1;
    }
    return rng_range(&h->rng, 1, 10);
}

static uint32_t generate_timeout(harness_t *h) {
    const run_config_t *c = h->config;
    if (!rng_chance(&h->rng, c->chance_timeout)) return 0;
    uint32_t r = (uint32_t)rng_below(&h->rng, 1000);
    if (r < 10) return UINT32_MAX;
    if (r < 40) return (uint32_t)rng_range(&h->rng, 1, UINT32_MAX);
    return (uint32_t)rng_range(&h->rng, 1, c->timeout_max_s);
}

static void generate_user_data(harness_t *h, ledger_transfer_t *t) {
    if (rng_chance(&h->rng, 500)) {
        t->user_data_128 = u128_make(rng_below(&h->rng, 3), rng_next(&h->rng));
    }
    if (rng_chance(&h->rng, 500)) t->user_data_64 = rng_next(&h->rng);
    if (rng_chance(&h->rng, 500)) t->user_data_32 = (uint32_t)rng_next(&h->rng);
}

/* A plausible single-phase or pending transfer between window accounts. */
static void generate_basic(harness_t *h, ledger_transfer_t *t, uint16_t flags) {
    memset(t, 0, sizeof *t);
    t->id = fresh_transfer_id(h);
    t->flags = flags;
    t->debit_account_id = account_id_of(pick_account_number(h));
    const ledger_account_t *debit =
        model_find_account(&h->model, t->debit_account_id);
    uint32_t ledger = debit != NULL ? debit->ledger : pick_ledger(h);
    t->credit_account_id = pick_credit(h, t->debit_account_id, ledger);
    t->ledger = rng_chance(&h->rng, 15) ? pick_ledger(h) : ledger;
    t->code = (uint16_t)rng_range(&h->rng, 1, 3);
    t->amount = generate_amount(h, debit);
    generate_user_data(h, t);
    if (flags & LEDGER_TRANSFER_PENDING) t->timeout = generate_timeout(h);
}

static bool pending_is_unresolved(const harness_t *h, ledger_u128_t id) {
    const model_transfer_t *t = model_find_transfer(&h->model, id);
    return t != NULL && t->status == STATUS_PENDING;
}

/* A remembered pending transfer, mostly one still unresolved. */
static const ledger_transfer_t *pick_pending(harness_t *h) {
    generator_t *g = &h->generator;
    bool want_unresolved = rng_chance(&h->rng, 750);
    const ledger_transfer_t *p = NULL;
    for (int attempt = 0; attempt < PICK_ATTEMPTS_MAX; attempt++) {
        p = ring_pick(&h->rng, g->pendings, g->pendings_count,
                      RECENT_PENDINGS_MAX);
        if (p == NULL || !want_unresolved) break;
        if (pending_is_unresolved(h, p->id)) break;
    }
    return p;
}

static uint64_t resolution_amount(harness_t *h, bool post, uint64_t pending) {
    uint32_t r = (uint32_t)rng_below(&h->rng, 100);
    if (!post) {
        if (r < 60) return 0;
        if (r < 90) return pending;
        return pending + 1 + rng_below(&h->rng, 10);
    }
    if (r < 30) return 0;
    if (r < 55) return pending;
    if (r < 85) return pending > 1 ? rng_range(&h->rng, 1, pending - 1) : 0;
    if (r < 95) return pending + 1 + rng_below(&h->rng, 100);
    return rng_range(&h->rng, 1, 1000);
}

/* A post or void of `pending` (a request as the generator sent it). */
static void generate_resolution(harness_t *h, ledger_transfer_t *t,
                                uint16_t flag,
                                const ledger_transfer_t *pending) {
    memset(t, 0, sizeof *t);
    t->id = fresh_transfer_id(h);
    t->flags = flag;
    generate_user_data(h, t);
    if (pending == NULL) {
        t->pending_id = u128_make(PENDING_ID_ABSENT_HI, rng_next(&h->rng));
        return;
    }
    t->pending_id = pending->id;
    /* Posting a closing transfer closes its accounts for good; mostly void
     * them instead, so that reopening is exercised and the window stays
     * usable. */
    if ((pending->flags & TRANSFER_CLOSING) && rng_chance(&h->rng, 800)) {
        flag = LEDGER_TRANSFER_VOID_PENDING;
    }
    bool post = flag == LEDGER_TRANSFER_POST_PENDING;
    t->amount = resolution_amount(h, post, pending->amount);
    uint32_t mode = (uint32_t)rng_below(&h->rng, 3); /* zero, copy, mixed */
    bool copy[4];
    for (int i = 0; i < 4; i++) {
        copy[i] = mode == 1 || (mode == 2 && rng_chance(&h->rng, 500));
    }
    if (copy[0]) t->debit_account_id = pending->debit_account_id;
    if (copy[1]) t->credit_account_id = pending->credit_account_id;
    if (copy[2]) t->ledger = pending->ledger;
    if (copy[3]) t->code = pending->code;
    if (!rng_chance(&h->rng, 40)) return;
    switch (rng_below(&h->rng, 4)) { /* one field that does not match */
    case 0: t->debit_account_id = account_id_of(pick_account_number(h)); break;
    case 1: t->credit_account_id = account_id_of(pick_account_number(h)); break;
    case 2: t->ledger = pending->ledger + 1; break;
    default: t->code = (uint16_t)(pending->code + 1); break;
    }
}

static void generate_balancing(harness_t *h, ledger_transfer_t *t) {
    static const uint16_t choices[] = {
        LEDGER_TRANSFER_BALANCING_DEBIT, LEDGER_TRANSFER_BALANCING_CREDIT,
        LEDGER_TRANSFER_BALANCING_DEBIT | LEDGER_TRANSFER_BALANCING_CREDIT};
    uint16_t flags = choices[rng_below(&h->rng, 3)];
    if (rng_chance(&h->rng, 250)) flags |= LEDGER_TRANSFER_PENDING;
    generate_basic(h, t, flags);
    if (rng_chance(&h->rng, 400)) t->amount = UINT64_MAX;
}

/* Closing transfers only close "closable" accounts, so that most of the
 * window stays usable. */
static void generate_closing(harness_t *h, ledger_transfer_t *t) {
    static const uint16_t choices[] = {
        LEDGER_TRANSFER_CLOSING_DEBIT, LEDGER_TRANSFER_CLOSING_CREDIT,
        LEDGER_TRANSFER_CLOSING_DEBIT | LEDGER_TRANSFER_CLOSING_CREDIT};
    uint16_t closing = choices[rng_below(&h->rng, 3)];
    generate_basic(h, t, LEDGER_TRANSFER_PENDING | closing);
    if (closing & LEDGER_TRANSFER_CLOSING_DEBIT) {
        t->debit_account_id =
            account_id_of(pick_account_number_class(h, CLOSABLE_MODULUS, 1));
    }
    if (closing & LEDGER_TRANSFER_CLOSING_CREDIT) {
        t->credit_account_id =
            account_id_of(pick_account_number_class(h, CLOSABLE_MODULUS, 1));
    }
    const ledger_account_t *debit =
        model_find_account(&h->model, t->debit_account_id);
    if (debit != NULL) t->ledger = debit->ledger;
    if (t->timeout == 0 && rng_chance(&h->rng, 700)) {
        t->timeout = (uint32_t)rng_range(&h->rng, 1, h->config->timeout_max_s);
    }
}

/* Amounts near 2^64 between whale accounts: the overflow checks. */
static void generate_huge(harness_t *h, ledger_transfer_t *t) {
    bool pending = rng_chance(&h->rng, 400);
    generate_basic(h, t, pending ? LEDGER_TRANSFER_PENDING : 0);
    t->debit_account_id =
        account_id_of(pick_account_number_class(h, WHALE_MODULUS, 0));
    t->credit_account_id =
        account_id_of(pick_account_number_class(h, WHALE_MODULUS, 0));
    t->ledger = 1;
    switch (rng_below(&h->rng, 4)) {
    case 0: t->amount = UINT64_MAX - rng_below(&h->rng, 4); break;
    case 1: t->amount = UINT64_MAX / 2 + rng_below(&h->rng, 1000); break;
    case 2: t->amount = (UINT64_C(1) << 62) + rng_below(&h->rng, 1000); break;
    default: t->amount = UINT64_MAX / 3; break;
    }
}

static void change_one_field(harness_t *h, ledger_transfer_t *t) {
    static const uint16_t toggles[] = {LEDGER_TRANSFER_PENDING,
                                       LEDGER_TRANSFER_BALANCING_DEBIT,
                                       LEDGER_TRANSFER_BALANCING_CREDIT};
    switch (rng_below(&h->rng, 11)) {
    case 0: t->flags ^= toggles[rng_below(&h->rng, 3)]; break;
    case 1: t->debit_account_id.lo++; break;
    case 2: t->credit_account_id.lo++; break;
    case 3: t->amount = t->amount > 1 ? t->amount - 1 : t->amount + 1; break;
    case 4: t->pending_id.lo++; break;
    case 5: t->user_data_128.lo++; break;
    case 6: t->user_data_64++; break;
    case 7: t->user_data_32++; break;
    case 8: t->timeout++; break;
    case 9: t->ledger++; break;
    default: t->code++; break;
    }
}

/* Resubmits an earlier event: identical (exists) or with one field
 * changed (exists_with_different_*). */
static void generate_duplicate(harness_t *h, ledger_transfer_t *t,
                               bool conflicting) {
    generator_t *g = &h->generator;
    const ledger_transfer_t *earlier =
        ring_pick(&h->rng, g->recent, g->recent_count, RECENT_TRANSFERS_MAX);
    if (earlier == NULL) {
        generate_basic(h, t, 0);
        return;
    }
    *t = *earlier;
    if (conflicting) change_one_field(h, t);
}

/* Resubmits an id that failed transiently: id_already_failed. */
static void generate_refail(harness_t *h, ledger_transfer_t *t) {
    generator_t *g = &h->generator;
    const ledger_transfer_t *failed =
        ring_pick(&h->rng, g->failed, g->failed_count, RECENT_FAILED_MAX);
    if (failed == NULL) {
        generate_basic(h, t, 0);
        return;
    }
    *t = *failed;
    if (rng_chance(&h->rng, 500)) change_one_field(h, t);
}

static uint16_t exclusive_flags(harness_t *h) {
    static const uint16_t choices[] = {
        LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_POST_PENDING,
        LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_VOID_PENDING,
        LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING,
        LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_BALANCING_DEBIT,
        LEDGER_TRANSFER_VOID_PENDING | LEDGER_TRANSFER_BALANCING_CREDIT,
        LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_CLOSING_DEBIT,
        LEDGER_TRANSFER_VOID_PENDING | LEDGER_TRANSFER_CLOSING_CREDIT,
    };
    return choices[rng_below(&h->rng, sizeof choices / sizeof choices[0])];
}

/* Breaks one rule of a single-phase or pending transfer. */
static void mutate_transfer(harness_t *h, ledger_transfer_t *t) {
    rng_t *rng = &h->rng;
    switch (rng_below(rng, 17)) {
    case 0: t->timestamp = rng_range(rng, 1, UINT64_MAX - 1); break;
    case 1: t->flags |= (uint16_t)(1u << rng_range(rng, 8, 15)); break;
    case 2: t->id = U128_ZERO; break;
    case 3: t->id = U128_MAX; break;
    case 4: t->flags |= exclusive_flags(h); break;
    case 5: t->amount = 0; break;
    case 6: t->debit_account_id = rng_chance(rng, 500) ? U128_ZERO : U128_MAX;
        break;
    case 7: t->credit_account_id = rng_chance(rng, 500) ? U128_ZERO : U128_MAX;
        break;
    case 8: t->credit_account_id = t->debit_account_id; break;
    case 9: t->pending_id = u128_make(0, rng_range(rng, 1, 1000)); break;
    case 10:
        t->flags &= (uint16_t)~LEDGER_TRANSFER_PENDING;
        t->timeout = (uint32_t)rng_range(rng, 1, 60);
        break;
    case 11:
        t->flags &= (uint16_t)~LEDGER_TRANSFER_PENDING;
        t->flags |= rng_chance(rng, 500) ? LEDGER_TRANSFER_CLOSING_DEBIT
                                         : LEDGER_TRANSFER_CLOSING_CREDIT;
        break;
    case 12: t->ledger = 0; break;
    case 13: t->code = 0; break;
    case 14: t->debit_account_id = absent_account_id(h); break;
    case 15: t->credit_account_id = absent_account_id(h); break;
    default: t->ledger += (uint32_t)rng_range(rng, 1, 3); break;
    }
}

/* A transfer id the generator sent without `pending` (if any). */
static ledger_u128_t pick_non_pending_id(harness_t *h) {
    generator_t *g = &h->generator;
    for (int attempt = 0; attempt < PICK_ATTEMPTS_MAX; attempt++) {
        const ledger_transfer_t *t = ring_pick(&h->rng, g->recent,
                                               g->recent_count,
                                               RECENT_TRANSFERS_MAX);
        if (t == NULL) break;
        if (!(t->flags & LEDGER_TRANSFER_PENDING)) return t->id;
    }
    return u128_make(0, 1);
}

/* Breaks one rule of a post or void. */
static void mutate_resolution(harness_t *h, ledger_transfer_t *t) {
    switch (rng_below(&h->rng, 6)) {
    case 0: t->pending_id = U128_ZERO; break;
    case 1: t->pending_id = U128_MAX; break;
    case 2: t->pending_id = t->id; break;
    case 3: t->timeout = (uint32_t)rng_range(&h->rng, 1, 100); break;
    case 4:
        t->pending_id = u128_make(PENDING_ID_ABSENT_HI, rng_next(&h->rng));
        break;
    default: t->pending_id = pick_non_pending_id(h); break;
    }
}

static void generate_invalid(harness_t *h, ledger_transfer_t *t) {
    if (rng_chance(&h->rng, 300)) {
        uint16_t flag = rng_chance(&h->rng, 500) ? LEDGER_TRANSFER_POST_PENDING
                                                 : LEDGER_TRANSFER_VOID_PENDING;
        generate_resolution(h, t, flag, pick_pending(h));
        mutate_resolution(h, t);
    } else {
        generate_basic(h, t,
                       rng_chance(&h->rng, 300) ? LEDGER_TRANSFER_PENDING : 0);
        mutate_transfer(h, t);
    }
}

static void generate_transfer(harness_t *h, ledger_transfer_t *t) {
    switch (rng_weighted(&h->rng, h->config->transfer_weights, KIND_COUNT)) {
    case KIND_SINGLE: generate_basic(h, t, 0); break;
    case KIND_PENDING: generate_basic(h, t, LEDGER_TRANSFER_PENDING); break;
    case KIND_POST:
        generate_resolution(h, t, LEDGER_TRANSFER_POST_PENDING,
                            pick_pending(h));
        break;
    case KIND_VOID:
        generate_resolution(h, t, LEDGER_TRANSFER_VOID_PENDING,
                            pick_pending(h));
        break;
    case KIND_BALANCING: generate_balancing(h, t); break;
    case KIND_CLOSING: generate_closing(h, t); break;
    case KIND_HUGE: generate_huge(h, t); break;
    case KIND_DUPLICATE: generate_duplicate(h, t, false); break;
    case KIND_CONFLICT: generate_duplicate(h, t, true); break;
    case KIND_REFAIL: generate_refail(h, t); break;
    default: generate_invalid(h, t); break;
    }
    t->flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
}

/* `length` events chained together (a lone event when length is 1). Some
 * chains start with a pending transfer and its post or void, so that a
 * chain depends on its own earlier events. */
static void generate_chain(harness_t *h, ledger_transfer_t *events,
                           uint32_t length) {
    uint32_t k = 0;
    if (length >= 2 && rng_chance(&h->rng, h->config->chance_pair_chain)) {
        generate_basic(h, &events[0], LEDGER_TRANSFER_PENDING);
        generator_remember(h, &events[0]);
        uint16_t flag = rng_chance(&h->rng, 600) ? LEDGER_TRANSFER_POST_PENDING
                                                 : LEDGER_TRANSFER_VOID_PENDING;
        generate_resolution(h, &events[1], flag, &events[0]);
        generator_remember(h, &events[1]);
        k = 2;
    }
    for (; k < length; k++) {
        generate_transfer(h, &events[k]);
        generator_remember(h, &events[k]);
    }
    for (k = 0; k + 1 < length; k++) events[k].flags |= LEDGER_TRANSFER_LINKED;
}

static uint32_t chain_length(harness_t *h, uint32_t remaining) {
    uint32_t length = 1;
    if (rng_chance(&h->rng, h->config->chance_chain)) {
        length = (uint32_t)rng_range(&h->rng, 2, CHAIN_LENGTH_MAX);
    }
    return length < remaining ? length : remaining;
}

/* ------------------------------------------------------------------------ */
/* The harness: operations                                                  */

static void harness_count_results(harness_t *h, const ledger_result_t *results,
                                  uint32_t count) {
    for (uint32_t i = 0; i < count; i++) {
        TEST_REQUIRE(results[i].result < LEDGER_RESULT_CODE_COUNT);
        h->result_counts[results[i].result]++;
    }
}

/* Everything after a create_* call: compare, learn, commit the model. */
static void harness_after_batch(harness_t *h, const model_batch_t *batch,
                                int rc, const ledger_result_t *expected,
                                const ledger_result_t *actual) {
    h->ops_done += batch->count;
    h->batch_index++;
    harness_count_results(h, expected, batch->count);
    if (!harness_call_ok(h, rc, batch->accounts ? "ledger_create_accounts"
                                                : "ledger_create_transfers")) {
        return;
    }
    if (!harness_compare_results(h, batch, expected, actual)) return;
    for (uint32_t i = 0; batch->transfers != NULL && i < batch->count; i++) {
        if (result_is_transient(expected[i].result)) {
            generator_t *g = &h->generator;
            ring_push(g->failed, &g->failed_count, RECENT_FAILED_MAX,
                      &batch->transfers[i]);
        }
    }
    if (!h->in_group) model_commit(&h->model);
    harness_check_accounts(h);
}

static void harness_submit_accounts(harness_t *h,
                                    const ledger_account_t *events,
                                    uint32_t count) {
    ledger_result_t *expected = xcalloc(count, sizeof *expected);
    ledger_result_t *actual = xcalloc(count, sizeof *actual);
    model_batch_t batch = {events, NULL, count, h->clock_now};
    model_run_batch(&h->model, &batch, expected);
    int rc = ledger_create_accounts(h->ledger, events, count, actual);
    harness_after_batch(h, &batch, rc, expected, actual);
    free(expected);
    free(actual);
}

static void harness_submit_transfers(harness_t *h,
                                     const ledger_transfer_t *events,
                                     uint32_t count) {
    ledger_result_t *expected = xcalloc(count, sizeof *expected);
    ledger_result_t *actual = xcalloc(count, sizeof *actual);
    model_batch_t batch = {NULL, events, count, h->clock_now};
    h->expired_total += model_expire(&h->model, h->clock_now);
    model_run_batch(&h->model, &batch, expected);
    int rc = ledger_create_transfers(h->ledger, events, count, actual);
    harness_after_batch(h, &batch, rc, expected, actual);
    free(expected);
    free(actual);
}

static void harness_expire(harness_t *h) {
    uint32_t expected = model_expire(&h->model, h->clock_now);
    h->expired_total += expected;
    uint32_t actual = UINT32_MAX;
    int rc = ledger_expire_pending(h->ledger, &actual);
    h->ops_done++;
    if (!harness_call_ok(h, rc, "ledger_expire_pending")) return;
    if (!check_u64(h, "ledger_expire_pending count", actual, expected)) return;
    if (!h->in_group) model_commit(&h->model);
    harness_check_accounts(h);
}

static void harness_accounts_batch(harness_t *h, uint32_t count_max) {
    uint32_t count = (uint32_t)rng_range(&h->rng, 1, count_max);
    ledger_account_t *events = xcalloc(count, sizeof *events);
    for (uint32_t i = 0; i < count; i++) generate_account(h, &events[i]);
    for (uint32_t i = 0; i < count;) {
        uint32_t length = chain_length(h, count - i);
        for (uint32_t k = i; k + 1 < i + length; k++) {
            events[k].flags |= LEDGER_ACCOUNT_LINKED;
        }
        i += length;
    }
    if (rng_chance(&h->rng, h->config->chance_chain_open)) {
        events[count - 1].flags |= LEDGER_ACCOUNT_LINKED;
    }
    harness_submit_accounts(h, events, count);
    free(events);
}

static void harness_transfers_batch(harness_t *h) {
    const run_config_t *c = h->config;
    uint32_t count = rng_chance(&h->rng, c->chance_big_batch)
                         ? (uint32_t)rng_range(&h->rng, c->batch_events_max + 1,
                                               BATCH_EVENTS_BIG_MAX)
                         : (uint32_t)rng_range(&h->rng, 1, c->batch_events_max);
    ledger_transfer_t *events = xcalloc(count, sizeof *events);
    for (uint32_t i = 0; i < count;) {
        uint32_t length = chain_length(h, count - i);
        generate_chain(h, events + i, length);
        i += length;
    }
    if (rng_chance(&h->rng, c->chance_chain_open)) {
        events[count - 1].flags |= LEDGER_TRANSFER_LINKED;
    }
    harness_submit_transfers(h, events, count);
    free(events);
}

/* Whole-call errors apply nothing: not even the expiry that a
 * create_transfers call starts with. */
static void harness_call_errors(harness_t *h) {
    uint32_t count = LEDGER_BATCH_EVENTS_MAX + 1;
    ledger_transfer_t *transfers = xcalloc(count, sizeof *transfers);
    ledger_account_t *accounts = xcalloc(count, sizeof *accounts);
    ledger_result_t *results = xcalloc(count, sizeof *results);
    int rc = ledger_create_transfers(h->ledger, transfers, 0, results);
    bool ok = check_error(h, "create_transfers(count 0)", rc,
                          LEDGER_ERR_BATCH_EMPTY);
    rc = ledger_create_transfers(h->ledger, transfers, count, results);
    ok = ok && check_error(h, "create_transfers(count max+1)", rc,
                           LEDGER_ERR_BATCH_TOO_LARGE);
    rc = ledger_create_accounts(h->ledger, accounts, 0, results);
    ok = ok && check_error(h, "create_accounts(count 0)", rc,
                           LEDGER_ERR_BATCH_EMPTY);
    rc = ledger_create_accounts(h->ledger, accounts, count, results);
    ok = ok && check_error(h, "create_accounts(count max+1)", rc,
                           LEDGER_ERR_BATCH_TOO_LARGE);
    free(transfers);
    free(accounts);
    free(results);
    if (ok) harness_check_accounts(h);
}

static void harness_advance_clock(harness_t *h) {
    const run_config_t *c = h->config;
    uint32_t r = (uint32_t)rng_below(&h->rng, 1000);
    if (r < c->chance_clock_back) {
        /* The engine must keep timestamps increasing anyway. */
        h->clock_now -= rng_range(&h->rng, 1, 60) * NS_PER_SECOND;
    } else if (r < c->chance_clock_back + c->chance_clock_still) {
        /* Same `now` as the last call: timestamps come from last + 1. */
    } else if (r < c->chance_clock_back + c->chance_clock_still +
                       c->chance_clock_seconds) {
        h->clock_now += rng_range(&h->rng, 1, c->clock_jump_max_s) *
                            NS_PER_SECOND +
                        rng_below(&h->rng, NS_PER_SECOND);
    } else {
        h->clock_now += rng_below(&h->rng, 1000000);
    }
}

/* ------------------------------------------------------------------------ */
/* The harness: write groups, reopening, verification                       */

static void harness_group_step(harness_t *h) {
    const run_config_t *c = h->config;
    if (!h->in_group) {
        if (!rng_chance(&h->rng, c->chance_group_begin)) return;
        if (!harness_call_ok(h, ledger_write_begin(h->ledger),
                             "ledger_write_begin")) {
            return;
        }
        h->in_group = true;
        h->group_mark = h->model.undo_count;
        return;
    }
    if (!rng_chance(&h->rng, c->chance_group_end)) return;
    h->in_group = false;
    if (rng_chance(&h->rng, c->chance_group_abort)) {
        /* The engine forgets the whole group; so does the model. */
        ledger_write_abort(h->ledger);
        model_undo_to(&h->model, h->group_mark);
        h->groups_aborted++;
        harness_check_accounts(h);
        return;
    }
    if (!harness_call_ok(h, ledger_write_commit(h->ledger),
                         "ledger_write_commit")) {
        return;
    }
    model_commit(&h->model);
    h->groups_committed++;
}

static void harness_verify(harness_t *h) {
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    int rc = ledger_verify(h->ledger, &report, NULL, NULL);
    if (rc == 0) return;
    printf("# ledger_verify: %d (%s), first bad sequence %" PRIu64 ": %s\n", rc,
           ledger_strerror(rc), report.first_bad_sequence, report.message);
    harness_stop(h, "verify failed");
}

static void harness_check_stats(harness_t *h) {
    ledger_stats_t stats;
    if (!harness_call_ok(h, ledger_stats(h->ledger, &stats), "ledger_stats")) {
        return;
    }
    if (!check_u64(h, "stats.last_timestamp", stats.last_timestamp,
                   h->model.last_timestamp)) {
        return;
    }
    if (!check_u64(h, "stats.accounts_count", stats.accounts_count,
                   h->model.accounts_count)) {
        return;
    }
    check_u64(h, "stats.pending_count", stats.pending_count,
              model_pending_count(&h->model));
}

static void harness_open(harness_t *h) {
    int rc = ledger_open(h->directory, &h->options, &h->ledger);
    if (rc != 0) {
        printf("# ledger_open(%s): %d (%s): %s\n", h->directory, rc,
               ledger_strerror(rc), ledger_last_error_message(NULL));
        h->ledger = NULL;
        harness_stop(h, "open failed");
    }
}

/* Close (checkpoint) and open again (checkpoint + journal tail replay):
 * everything must be as before. */
static void harness_reopen(harness_t *h) {
    TEST_REQUIRE(!h->in_group);
    int rc = ledger_close(h->ledger);
    h->ledger = NULL;
    if (!harness_call_ok(h, rc, "ledger_close")) return;
    harness_open(h);
    if (h->stopped) return;
    h->reopens++;
    harness_verify(h);
    if (!h->stopped) harness_check_stats(h);
    if (!h->stopped) harness_check_accounts(h);
}

/* ------------------------------------------------------------------------ */
/* The harness: sampled queries                                             */

static void harness_check_transfer_sample(harness_t *h) {
    generator_t *g = &h->generator;
    ledger_u128_t ids[LOOKUP_SAMPLE_MAX];
    ledger_transfer_t expected[LOOKUP_SAMPLE_MAX];
    ledger_transfer_t actual[LOOKUP_SAMPLE_MAX];
    uint32_t count = 0;
    uint32_t expected_count = 0;
    for (uint32_t i = 0; i < LOOKUP_SAMPLE_MAX; i++) {
        const ledger_transfer_t *t;
        if (rng_chance(&h->rng, 500) && h->model.transfers_count > 0) {
            uint32_t index =
                (uint32_t)rng_below(&h->rng, h->model.transfers_count);
            t = &h->model.transfers[index].stored;
        } else {
            t = ring_pick(&h->rng, g->recent, g->recent_count,
                          RECENT_TRANSFERS_MAX);
        }
        if (t == NULL) break;
        ids[count++] = t->id;
        const model_transfer_t *stored = model_find_transfer(&h->model, t->id);
        if (stored != NULL) expected[expected_count++] = stored->stored;
    }
    if (count == 0) return;
    uint32_t found = 0;
    int rc = ledger_lookup_transfers(h->ledger, ids, count, actual, &found);
    if (!harness_call_ok(h, rc, "ledger_lookup_transfers")) return;
    if (!check_u64(h, "lookup_transfers found", found, expected_count)) return;
    for (uint32_t i = 0; i < found; i++) {
        if (transfer_equal(&actual[i], &expected[i])) continue;
        print_transfer("expected", &expected[i]);
        print_transfer("actual  ", &actual[i]);
        harness_stop(h, "transfer lookup mismatch");
        return;
    }
}

/* A timestamp worth asking balance_at about for this account. */
static uint64_t pick_history_timestamp(harness_t *h,
                                       const model_account_t *account) {
    uint64_t created = account->stored.timestamp;
    if (account->history_count == 0 || rng_chance(&h->rng, 150)) {
        uint64_t span = h->model.last_timestamp - created + 20;
        return created - 10 + rng_below(&h->rng, span);
    }
    uint32_t k = (uint32_t)rng_below(&h->rng, account->history_count);
    uint64_t timestamp = account->history[k].timestamp;
    switch (rng_below(&h->rng, 3)) {
    case 0: return timestamp - 1;
    case 1: return timestamp;
    default: return timestamp + 1;
    }
}

static void harness_check_balance_at(harness_t *h) {
    const model_t *model = &h->model;
    if (model->accounts_count == 0) return;
    for (int i = 0; i < BALANCE_AT_SAMPLES && !h->stopped; i++) {
        uint32_t index = (uint32_t)rng_below(&h->rng, model->accounts_count);
        const model_account_t *account = &model->accounts[index];
        uint64_t timestamp = rng_chance(&h->rng, 20)
                                 ? 0
                                 : pick_history_timestamp(h, account);
        ledger_balance_t expected = model_balance_at(account, timestamp);
        ledger_balance_t actual;
        memset(&actual, 0xEE, sizeof actual);
        int rc = ledger_account_balance_at(h->ledger, account->stored.id,
                                           timestamp, &actual);
        if (!harness_call_ok(h, rc, "ledger_account_balance_at")) return;
        if (balance_equal(&actual, &expected)) continue;
        char id[U128_TEXT_SIZE];
        printf("# balance_at(%s, %" PRIu64 ")\n",
               u128_text(account->stored.id, id), timestamp);
        print_balance("expected", &expected);
        print_balance("actual  ", &actual);
        harness_stop(h, "balance_at mismatch");
    }
    ledger_balance_t ignored;
    int rc = ledger_account_balance_at(h->ledger, absent_account_id(h),
                                       h->model.last_timestamp, &ignored);
    if (!h->stopped) {
        check_error(h, "balance_at(absent account)", rc,
                    LEDGER_ERR_ACCOUNT_NOT_FOUND);
    }
}

/* The transfer a history entry must carry. For an expiry, ledger.h
 * promises the pending transfer's accounts, amount, ledger and code, id
 * zero, pending_id = the pending transfer, and the expiry's timestamp. */
static ledger_transfer_t history_expected_transfer(
    const model_t *model, const model_history_entry_t *want) {
    ledger_transfer_t t = model->transfers[want->transfer_index].stored;
    if (want->kind == LEDGER_EVENT_TRANSFER) return t;
    ledger_transfer_t expiry;
    memset(&expiry, 0, sizeof expiry);
    expiry.pending_id = t.id;
    expiry.debit_account_id = t.debit_account_id;
    expiry.credit_account_id = t.credit_account_id;
    expiry.amount = t.amount;
    expiry.ledger = t.ledger;
    expiry.code = t.code;
    expiry.timestamp = want->timestamp;
    return expiry;
}

static bool history_entry_matches(const model_t *model,
                                  const model_history_entry_t *want,
                                  const ledger_history_entry_t *got) {
    if (got->kind != want->kind) return false;
    if (!balance_equal(&got->balance_after, &want->balance_after)) return false;
    ledger_transfer_t t = history_expected_transfer(model, want);
    if (want->kind == LEDGER_EVENT_TRANSFER) {
        return transfer_equal(&got->transfer, &t);
    }
    /* An expiry: only the fields ledger.h promises are compared. */
    const ledger_transfer_t *g = &got->transfer;
    return ledger_u128_equal(g->id, t.id) &&
           ledger_u128_equal(g->pending_id, t.pending_id) &&
           ledger_u128_equal(g->debit_account_id, t.debit_account_id) &&
           ledger_u128_equal(g->credit_account_id, t.credit_account_id) &&
           g->amount == t.amount && g->ledger == t.ledger &&
           g->code == t.code && g->timestamp == t.timestamp;
}

static void print_history_mismatch(const model_t *model,
                                   const ledger_history_filter_t *filter,
                                   const model_history_entry_t *want,
                                   const ledger_history_entry_t *got) {
    char id[U128_TEXT_SIZE];
    printf("# history(%s, min %" PRIu64 ", max %" PRIu64 ", limit %" PRIu32
           ", flags 0x%" PRIx32 ")\n",
           u128_text(filter->account_id, id), filter->timestamp_min,
           filter->timestamp_max, filter->limit, filter->flags);
    if (want != NULL) {
        printf("#   expected kind %" PRIu32 " at %" PRIu64 ":\n", want->kind,
               want->timestamp);
        ledger_transfer_t t = history_expected_transfer(model, want);
        print_transfer("expected", &t);
        print_balance("expected after", &want->balance_after);
    }
    if (got != NULL) {
        printf("#   actual kind %" PRIu32 ":\n", got->kind);
        print_transfer("actual  ", &got->transfer);
        print_balance("actual after", &got->balance_after);
    }
}

/* One page: the engine's answer must equal the model's. Returns how many
 * entries it had (UINT32_MAX after a mismatch). */
static uint32_t harness_check_history_page(harness_t *h,
                                           const model_account_t *account,
                                           const ledger_history_filter_t *f,
                                           const model_history_entry_t **want,
                                           ledger_history_entry_t *got) {
    uint32_t want_count = model_history_select(account, f, want);
    uint32_t got_count = UINT32_MAX;
    int rc = ledger_account_history(h->ledger, f, got, &got_count);
    h->history_pages++;
    if (!harness_call_ok(h, rc, "ledger_account_history")) return UINT32_MAX;
    for (uint32_t i = 0; i < want_count || i < got_count; i++) {
        bool have_want = i < want_count;
        bool have_got = i < got_count;
        if (have_want && have_got &&
            history_entry_matches(&h->model, want[i], &got[i])) {
            continue;
        }
        printf("# history entry %" PRIu32 " of %" PRIu32 " (engine gave %"
               PRIu32 ")\n", i, want_count, got_count);
        print_history_mismatch(&h->model, f, have_want ? want[i] : NULL,
                               have_got ? &got[i] : NULL);
        harness_stop(h, "history mismatch");
        return UINT32_MAX;
    }
    return want_count;
}

static uint32_t pick_history_limit(harness_t *h) {
    uint32_t r = (uint32_t)rng_below(&h->rng, 100);
    if (r < 10) return (uint32_t)rng_range(&h->rng, 1, 3);
    if (r < 80) return (uint32_t)rng_range(&h->rng, 4, 50);
    return LEDGER_HISTORY_LIMIT_MAX;
}

/* Walks an account's history page by page as ledger.h describes. */
static void harness_check_history(harness_t *h, uint32_t account_index,
                                  uint32_t flags, uint32_t limit) {
    const model_account_t *account = &h->model.accounts[account_index];
    ledger_history_filter_t filter = {account->stored.id, 0, 0, limit, flags};
    if (account->history_count > 0 && rng_chance(&h->rng, 400)) {
        uint32_t a = (uint32_t)rng_below(&h->rng, account->history_count);
        uint32_t b = (uint32_t)rng_below(&h->rng, account->history_count);
        filter.timestamp_min = account->history[a < b ? a : b].timestamp;
        filter.timestamp_max = account->history[a < b ? b : a].timestamp;
    }
    const model_history_entry_t **want = xcalloc(limit, sizeof *want);
    ledger_history_entry_t *got = xcalloc(limit, sizeof *got);
    uint32_t pages_max = account->history_count / limit + 2;
    for (uint32_t page = 0; page < pages_max; page++) {
        uint32_t count =
            harness_check_history_page(h, account, &filter, want, got);
        if (count == UINT32_MAX || count < limit) break;
        /* The next page starts after the last entry; stop when that
         * would leave an empty (invalid: min > max) window. */
        uint64_t last = want[count - 1]->timestamp;
        if (flags & LEDGER_HISTORY_REVERSED) {
            if (last - 1 < filter.timestamp_min) break;
            filter.timestamp_max = last - 1;
        } else {
            if (filter.timestamp_max != 0 && last + 1 > filter.timestamp_max) {
                break;
            }
            filter.timestamp_min = last + 1;
        }
    }
    free(want);
    free(got);
}

static void harness_check_history_errors(harness_t *h) {
    if (h->model.accounts_count == 0) return;
    ledger_history_entry_t entry;
    uint32_t count;
    ledger_history_filter_t good = {h->model.accounts[0].stored.id, 0, 0, 1,
                                    LEDGER_HISTORY_DEBITS};
    ledger_history_filter_t bad[5];
    for (int i = 0; i < 5; i++) bad[i] = good;
    bad[0].limit = 0;
    bad[1].flags = LEDGER_HISTORY_REVERSED;
    bad[2].flags |= 1u << 3;
    bad[3].timestamp_min = 10;
    bad[3].timestamp_max = 9;
    bad[4].account_id = absent_account_id(h);
    for (int i = 0; i < 5 && !h->stopped; i++) {
        int want = i == 4 ? LEDGER_ERR_ACCOUNT_NOT_FOUND
                          : LEDGER_ERR_INVALID_FILTER;
        int rc = ledger_account_history(h->ledger, &bad[i], &entry, &count);
        check_error(h, "account_history with a bad filter", rc, want);
    }
}

static void harness_sample_checks(harness_t *h) {
    harness_check_transfer_sample(h);
    /* History and balance_at are only asked outside write groups: ledger.h
     * promises read-your-writes inside a group only for lookups. */
    if (h->stopped || h->in_group) return;
    harness_check_balance_at(h);
    for (int i = 0; i < HISTORY_SAMPLES && !h->stopped; i++) {
        if (h->model.accounts_count == 0) break;
        uint32_t index = (uint32_t)rng_below(&h->rng, h->model.accounts_count);
        uint32_t flags = (uint32_t)rng_range(&h->rng, 1, 3);
        if (rng_chance(&h->rng, 500)) flags |= LEDGER_HISTORY_REVERSED;
        harness_check_history(h, index, flags, pick_history_limit(h));
    }
    if (!h->stopped && rng_chance(&h->rng, 100)) {
        harness_check_history_errors(h);
    }
}

/* ------------------------------------------------------------------------ */
/* The harness: life cycle and the main loop                                */

static void make_directories(const char *path) {
    char buffer[PATH_MAX];
    snprintf(buffer, sizeof buffer, "%s", path);
    for (char *p = buffer + 1; *p != '\0'; p++) {
        if (*p != '/') continue;
        *p = '\0';
        (void)mkdir(buffer, 0700);
        *p = '/';
    }
    (void)mkdir(buffer, 0700);
}

static int remove_entry(const char *path, const struct stat *info, int type,
                        struct FTW *walk) {
    (void)info;
    (void)type;
    (void)walk;
    return remove(path);
}

static uint64_t base_seed(void) {
    static uint64_t seed;
    if (seed != 0) return seed;
    seed = test_seed;
    if (seed == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        uint64_t mix = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20) ^
                       (uint64_t)getpid();
        seed = splitmix64(&mix) % UINT64_C(1000000000000) + 1;
    }
    return seed;
}

static harness_t *harness_create(const run_config_t *config) {
    harness_t *h = xcalloc(1, sizeof *h);
    h->config = config;
    h->seed = base_seed();
    rng_seed(&h->rng, h->seed ^ config->seed_salt);
    h->clock_now = config->clock_start_ns;
    h->options.checkpoint_events = CHECKPOINT_EVENTS;
    h->options.transfer_id_buffer_max = config->id_buffer_max;
    h->options.clock = harness_clock;
    h->options.clock_context = &h->clock_now;
    const char *base = getenv("BORSELLINO_TEST_TMP");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    make_directories(base);
    snprintf(h->directory, sizeof h->directory, "%s/test_model.XXXXXX", base);
    TEST_REQUIRE(mkdtemp(h->directory) != NULL);
    h->batches_until_reopen =
        rng_range(&h->rng, REOPEN_BATCHES_MIN, REOPEN_BATCHES_MAX);
    printf("# seed=%" PRIu64 " case=%s dir=%s\n", h->seed, config->name,
           h->directory);
    fflush(stdout);
    harness_open(h);
    return h;
}

static void harness_destroy(harness_t *h) {
    if (h->ledger != NULL) {
        int rc = ledger_close(h->ledger);
        h->ledger = NULL;
        harness_call_ok(h, rc, "ledger_close");
    }
    if (test_failures_in_case == 0) {
        nftw(h->directory, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        printf("# data kept in %s\n", h->directory);
    }
    model_free(&h->model);
    free(h);
}

static void harness_step(harness_t *h) {
    const run_config_t *c = h->config;
    harness_advance_clock(h);
    harness_group_step(h);
    if (h->stopped) return;
    uint32_t r = (uint32_t)rng_below(&h->rng, 1000);
    uint32_t accounts_end = c->chance_accounts_batch;
    uint32_t expire_end = accounts_end + c->chance_expire_call;
    uint32_t errors_end = expire_end + c->chance_call_errors;
    if (harness_window_needs_accounts(h)) {
        harness_accounts_batch(h, ACCOUNT_FILL_EVENTS_MAX);
    } else if (r < accounts_end) {
        harness_accounts_batch(h, ACCOUNT_BATCH_EVENTS_MAX);
    } else if (r < expire_end) {
        harness_expire(h);
    } else if (r < errors_end && !h->in_group) {
        harness_call_errors(h);
    } else {
        harness_transfers_batch(h);
    }
    if (h->stopped) return;
    if (h->batch_index % SAMPLE_CHECK_BATCHES == 0) harness_sample_checks(h);
    if (h->batches_until_reopen > 0) h->batches_until_reopen--;
    if (h->in_group || h->stopped) return;
    if (h->batches_until_reopen == 0) {
        harness_reopen(h);
        h->batches_until_reopen =
            rng_range(&h->rng, REOPEN_BATCHES_MIN, REOPEN_BATCHES_MAX);
    } else if (rng_chance(&h->rng, c->chance_checkpoint)) {
        harness_call_ok(h, ledger_checkpoint(h->ledger), "ledger_checkpoint");
    }
}

/* The end of a run: commit, look at everything once more, reopen. */
static void harness_finish(harness_t *h) {
    if (h->in_group) {
        h->in_group = false;
        if (!harness_call_ok(h, ledger_write_commit(h->ledger),
                             "ledger_write_commit")) {
            return;
        }
        model_commit(&h->model);
    }
    harness_check_transfer_sample(h);
    for (uint32_t i = 0; i < h->model.accounts_count && !h->stopped;
         i += 1 + h->model.accounts_count / 16) {
        harness_check_history(h, i,
                              LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS,
                              LEDGER_HISTORY_LIMIT_MAX);
    }
    if (!h->stopped) harness_reopen(h);
}

static void harness_report(harness_t *h, uint64_t ops, double seconds) {
    printf("# %s: %" PRIu64 " ops, %" PRIu64 " batches, %" PRIu64
           " expired, %" PRIu64 " groups committed, %" PRIu64
           " aborted, %" PRIu64 " reopens, %" PRIu64 " history pages, "
           "%.1f s\n",
           h->config->name, h->ops_done, h->batch_index, h->expired_total,
           h->groups_committed, h->groups_aborted, h->reopens,
           h->history_pages, seconds);
    printf("# results:");
    for (uint32_t code = 0; code < LEDGER_RESULT_CODE_COUNT; code++) {
        if (h->result_counts[code] == 0) continue;
        printf(" %s=%" PRIu64, ledger_result_name(code),
               h->result_counts[code]);
    }
    printf("\n");
    /* A full-size run that never reached an outcome means the generator
     * is broken, and the test would silently stop testing it. */
    bool full = ops >= OPS_DEFAULT / h->config->ops_divisor;
    const uint32_t *code = h->config->required_results;
    for (; full && code != NULL && !h->stopped &&
           *code != LEDGER_RESULT_CODE_COUNT;
         code++) {
        if (h->result_counts[*code] > 0) continue;
        printf("# never produced: %s\n", ledger_result_name(*code));
        test_failures_in_case++;
    }
}

static void run_random_case(const run_config_t *config) {
    uint64_t ops_total = test_ops != 0 ? test_ops : OPS_DEFAULT;
    uint64_t ops = ops_total / config->ops_divisor;
    harness_t *h = harness_create(config);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (!h->stopped) {
        TEST_CHECK_EQ(ledger_write_commit(h->ledger), LEDGER_ERR_NO_WRITE);
    }
    while (!h->stopped && h->ops_done < ops) harness_step(h);
    if (!h->stopped) harness_finish(h);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) +
                     (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    harness_report(h, ops, seconds);
    harness_destroy(h);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */

/* Outcomes each workload must reach in a full-size run. */
static const uint32_t required_mixed[] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_LINKED_EVENT_FAILED,
    LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN, LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO,
    LEDGER_RESULT_RESERVED_FLAG, LEDGER_RESULT_ID_MUST_NOT_BE_ZERO,
    LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS, LEDGER_RESULT_EXISTS,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT,
    LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128,
    LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT,
    LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO,
    LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING,
    LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND,
    LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER,
    LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS,
    LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND,
    LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING,
    LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT,
    LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED,
    LEDGER_RESULT_PENDING_TRANSFER_EXPIRED, LEDGER_RESULT_ID_ALREADY_FAILED,
    LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED, LEDGER_RESULT_EXCEEDS_CREDITS,
    LEDGER_RESULT_EXCEEDS_DEBITS, LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED,
    LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED, LEDGER_RESULT_CODE_COUNT};

static const uint32_t required_pending[] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED,
    LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED,
    LEDGER_RESULT_PENDING_TRANSFER_EXPIRED, LEDGER_RESULT_OVERFLOWS_TIMEOUT,
    LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED, LEDGER_RESULT_CODE_COUNT};

static const uint32_t required_chains[] = {
    LEDGER_RESULT_OK, LEDGER_RESULT_LINKED_EVENT_FAILED,
    LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN, LEDGER_RESULT_ID_ALREADY_FAILED,
    LEDGER_RESULT_EXISTS, LEDGER_RESULT_CODE_COUNT};

static const run_config_t config_mixed = {
    .name = "mixed",
    .ops_divisor = 1,
    .seed_salt = 0,
    .clock_start_ns = CLOCK_START_NS,
    .pool_size = 60,
    .window_slide_ops = 2000,
    .window_slide_step = 5,
    .ledgers_count = 3,
    .transfer_weights = {[KIND_SINGLE] = 380, [KIND_PENDING] = 150,
                         [KIND_POST] = 90, [KIND_VOID] = 50,
                         [KIND_BALANCING] = 60, [KIND_CLOSING] = 15,
                         [KIND_HUGE] = 8, [KIND_DUPLICATE] = 40,
                         [KIND_CONFLICT] = 40, [KIND_REFAIL] = 25,
                         [KIND_INVALID] = 60},
    .account_weights = {[ACCOUNT_FRESH] = 800, [ACCOUNT_DUPLICATE] = 60,
                        [ACCOUNT_CONFLICT] = 60, [ACCOUNT_INVALID] = 80},
    .batch_events_max = 50,
    .chance_big_batch = 10,
    .chance_chain = 60,
    .chance_chain_open = 40,
    .chance_pair_chain = 400,
    .chance_timeout = 500,
    .timeout_max_s = 30,
    .chance_accounts_batch = 50,
    .chance_expire_call = 40,
    .chance_call_errors = 2,
    .chance_clock_back = 20,
    .chance_clock_still = 250,
    .chance_clock_seconds = 120,
    .clock_jump_max_s = 20,
    .chance_group_begin = 30,
    .chance_group_end = 150,
    .chance_group_abort = 300,
    .chance_checkpoint = 3,
    .required_results = required_mixed,
};

static const run_config_t config_pending_expiry = {
    .name = "pending_expiry",
    .ops_divisor = 4,
    .seed_salt = 0x9E3779B97F4A7C15u,
    .clock_start_ns = CLOCK_FAR_FUTURE_NS,
    .pool_size = 40,
    .window_slide_ops = 2000,
    .window_slide_step = 4,
    .ledgers_count = 2,
    .transfer_weights = {[KIND_SINGLE] = 150, [KIND_PENDING] = 300,
                         [KIND_POST] = 200, [KIND_VOID] = 120,
                         [KIND_BALANCING] = 60, [KIND_CLOSING] = 60,
                         [KIND_HUGE] = 10, [KIND_DUPLICATE] = 20,
                         [KIND_CONFLICT] = 20, [KIND_REFAIL] = 20,
                         [KIND_INVALID] = 40},
    .account_weights = {[ACCOUNT_FRESH] = 900, [ACCOUNT_DUPLICATE] = 40,
                        [ACCOUNT_CONFLICT] = 30, [ACCOUNT_INVALID] = 30},
    .batch_events_max = 40,
    .chance_big_batch = 10,
    .chance_chain = 60,
    .chance_chain_open = 30,
    .chance_pair_chain = 500,
    .chance_timeout = 800,
    .timeout_max_s = 10,
    .chance_accounts_batch = 40,
    .chance_expire_call = 120,
    .chance_call_errors = 0,
    .chance_clock_back = 20,
    .chance_clock_still = 200,
    .chance_clock_seconds = 300,
    .clock_jump_max_s = 8,
    .chance_group_begin = 30,
    .chance_group_end = 150,
    .chance_group_abort = 300,
    .chance_checkpoint = 3,
    .required_results = required_pending,
};

static const run_config_t config_linked_chains = {
    .name = "linked_chains",
    .ops_divisor = 4,
    .seed_salt = 0xC2B2AE3D27D4EB4Fu,
    .clock_start_ns = CLOCK_START_NS,
    .pool_size = 50,
    .window_slide_ops = 2000,
    .window_slide_step = 5,
    .ledgers_count = 3,
    .transfer_weights = {[KIND_SINGLE] = 300, [KIND_PENDING] = 150,
                         [KIND_POST] = 100, [KIND_VOID] = 60,
                         [KIND_BALANCING] = 60, [KIND_CLOSING] = 20,
                         [KIND_HUGE] = 10, [KIND_DUPLICATE] = 60,
                         [KIND_CONFLICT] = 40, [KIND_REFAIL] = 40,
                         [KIND_INVALID] = 120},
    .account_weights = {[ACCOUNT_FRESH] = 700, [ACCOUNT_DUPLICATE] = 100,
                        [ACCOUNT_CONFLICT] = 100, [ACCOUNT_INVALID] = 100},
    .batch_events_max = 50,
    .chance_big_batch = 10,
    .chance_chain = 600,
    .chance_chain_open = 150,
    .chance_pair_chain = 400,
    .chance_timeout = 400,
    .timeout_max_s = 30,
    .chance_accounts_batch = 80,
    .chance_expire_call = 30,
    .chance_call_errors = 0,
    .chance_clock_back = 30,
    .chance_clock_still = 300,
    .chance_clock_seconds = 100,
    .clock_jump_max_s = 20,
    .chance_group_begin = 40,
    .chance_group_end = 150,
    .chance_group_abort = 400,
    .chance_checkpoint = 3,
    .required_results = required_chains,
};

/* The mixed workload with random transfer ids and the smallest id buffer:
 * the buffer is frozen and merged into the index every few groups, and
 * reopens rebuild it, often in the middle of a merge. */
static const run_config_t config_small_id_buffer = {
    .name = "small_id_buffer",
    .ops_divisor = 4,
    .seed_salt = 0x165667B19E3779F9u,
    .clock_start_ns = CLOCK_START_NS,
    .pool_size = 60,
    .window_slide_ops = 2000,
    .window_slide_step = 5,
    .ledgers_count = 3,
    .transfer_weights = {[KIND_SINGLE] = 380, [KIND_PENDING] = 150,
                         [KIND_POST] = 90, [KIND_VOID] = 50,
                         [KIND_BALANCING] = 60, [KIND_CLOSING] = 15,
                         [KIND_HUGE] = 8, [KIND_DUPLICATE] = 60,
                         [KIND_CONFLICT] = 40, [KIND_REFAIL] = 40,
                         [KIND_INVALID] = 60},
    .account_weights = {[ACCOUNT_FRESH] = 800, [ACCOUNT_DUPLICATE] = 60,
                        [ACCOUNT_CONFLICT] = 60, [ACCOUNT_INVALID] = 80},
    .batch_events_max = 50,
    .chance_big_batch = 10,
    .chance_chain = 200,
    .chance_chain_open = 40,
    .chance_pair_chain = 400,
    .chance_timeout = 500,
    .timeout_max_s = 30,
    .chance_accounts_batch = 50,
    .chance_expire_call = 40,
    .chance_call_errors = 0,
    .chance_clock_back = 20,
    .chance_clock_still = 250,
    .chance_clock_seconds = 120,
    .clock_jump_max_s = 20,
    .chance_group_begin = 30,
    .chance_group_end = 150,
    .chance_group_abort = 300,
    .chance_checkpoint = 3,
    .id_buffer_max = 16,
    .ids_random = true,
    .required_results = required_chains,
};

static void case_mixed(void) { run_random_case(&config_mixed); }
static void case_small_id_buffer(void) { run_random_case(&config_small_id_buffer); }
static void case_pending_expiry(void) {
    run_random_case(&config_pending_expiry);
}
static void case_linked_chains(void) { run_random_case(&config_linked_chains); }

/* ------------------------------------------------------------------------ */
/* The scripted case: the expiry bound and its order                        */

enum {
    /* Pending transfers per wave: a full batch. */
    BOUND_WAVE_EVENTS = LEDGER_BATCH_EVENTS_MAX,
    BOUND_ACCOUNTS = 3,
    /* Ids of wave 1 count down from here, wave 2 from half of it. */
    BOUND_ID_TOP = 100000,
};

/* A wave of pending transfers, one per ns, ids counting down from
 * id_top, debit account `debit`, all crediting account 3. */
static void bound_wave(harness_t *h, uint64_t id_top, uint64_t debit,
                       uint32_t timeout) {
    ledger_transfer_t *events = xcalloc(BOUND_WAVE_EVENTS, sizeof *events);
    for (uint32_t k = 0; k < BOUND_WAVE_EVENTS; k++) {
        ledger_transfer_t *t = &events[k];
        t->id = u128_make(0, id_top - k);
        t->debit_account_id = u128_make(0, debit);
        t->credit_account_id = u128_make(0, BOUND_ACCOUNTS);
        t->amount = 1 + k % 7;
        t->timeout = timeout;
        t->ledger = 1;
        t->code = 1;
        t->flags = LEDGER_TRANSFER_PENDING;
    }
    harness_submit_transfers(h, events, BOUND_WAVE_EVENTS);
    free(events);
}

/*
 * Wave 1 at T0 (timeout 2 s) and wave 2 at T0 + 1 s (timeout 1 s), each a
 * full batch of 8,190 pending transfers: event k of each wave expires at
 * T0 + 2 s + k, so every expires_at is a tie, broken by id (wave 2's ids
 * are the smaller). At T0 + 3 s all 16,380 are due: the next
 * create_transfers call may release only 8,190 of them (k < 4,095, both
 * waves), ledger_expire_pending() the other 8,190, and a third call none.
 * The history of account 3 shows the order; result timestamps show the
 * counts.
 */
static void case_expiry_bound(void) {
    static const run_config_t config = {.name = "expiry_bound",
                                        .ops_divisor = 1,
                                        .clock_start_ns = CLOCK_START_NS,
                                        .pool_size = 1,
                                        .window_slide_ops = 1,
                                        .window_slide_step = 1};
    harness_t *h = harness_create(&config);
    ledger_account_t accounts[BOUND_ACCOUNTS];
    memset(accounts, 0, sizeof accounts);
    for (uint32_t i = 0; i < BOUND_ACCOUNTS; i++) {
        accounts[i].id = u128_make(0, i + 1);
        accounts[i].ledger = 1;
        accounts[i].code = 1;
    }
    uint64_t t0 = CLOCK_START_NS + NS_PER_SECOND;
    if (!h->stopped) harness_submit_accounts(h, accounts, BOUND_ACCOUNTS);
    h->clock_now = t0;
    if (!h->stopped) bound_wave(h, BOUND_ID_TOP, 1, 2);
    h->clock_now = t0 + NS_PER_SECOND;
    if (!h->stopped) bound_wave(h, BOUND_ID_TOP / 2, 2, 1);
    h->clock_now = t0 + 3 * NS_PER_SECOND;
    ledger_transfer_t post;
    memset(&post, 0, sizeof post);
    post.id = u128_make(0, 3 * BOUND_ID_TOP);
    /* Due but not released by the first pass: still refused as expired. */
    post.pending_id = u128_make(0, BOUND_ID_TOP - 5000);
    post.flags = LEDGER_TRANSFER_POST_PENDING;
    if (!h->stopped) harness_submit_transfers(h, &post, 1);
    TEST_CHECK_EQ(h->expired_total, LEDGER_EXPIRE_BATCH_MAX);
    if (!h->stopped) harness_expire(h);
    if (!h->stopped) harness_expire(h);
    TEST_CHECK_EQ(h->expired_total, 2 * BOUND_WAVE_EVENTS);
    for (uint32_t i = 0; i < BOUND_ACCOUNTS && !h->stopped; i++) {
        uint32_t both = LEDGER_HISTORY_CREDITS | LEDGER_HISTORY_DEBITS;
        harness_check_history(h, i, both, 1000);
        if (h->stopped) break;
        harness_check_history(h, i, both | LEDGER_HISTORY_REVERSED, 777);
    }
    if (!h->stopped) harness_reopen(h);
    harness_report(h, 0, 0.0);
    harness_destroy(h);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"mixed", case_mixed},
        {"pending_expiry", case_pending_expiry},
        {"linked_chains", case_linked_chains},
        {"expiry_bound", case_expiry_bound},
        {"small_id_buffer", case_small_id_buffer},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
    printf("# seed=%" PRIu64 "\n", base_seed());
    return rc;
}
