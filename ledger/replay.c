/*
 * replay.c — rebuilding the in-memory state on open, and writing
 * checkpoints.
 *
 * Open = load the account table as of the checkpoint sequence, then replay
 * the journal records after it, in order. Replay is deterministic and
 * needs no validation: every transfer or expiry record carries both
 * accounts' balances and flags after it, so replay sets them, and checks
 * each record's back pointer against the account's last sequence (a pair
 * assertion between the writer and the reader of the journal). The full
 * recomputation from amounts alone is ledger_verify()'s job.
 *
 * A checkpoint writes every account changed since the previous one, and
 * the sequence it covers, inside the current write group.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc32c.h"
#include "ledger_internal.h"
#include "memory.h"

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static int checkpoint_load(ledger_t *ledger, MDB_txn *txn) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_accounts, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST); error == 0;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        ledger_account_t account;
        account_slot_t slot;
        memset(&slot, 0, sizeof(slot));
        error = record_account_decode(data.mv_data, data.mv_size, &account,
                                      &slot.last_sequence);
        if (!error && (key.mv_size != KEY_ID_SIZE ||
                       !ledger_u128_equal(key_id_decode(key.mv_data), account.id))) {
            error = LEDGER_ERR_CORRUPT;
        }
        if (error) {
            ledger_set_error(ledger, "account checkpoint record is damaged");
            break;
        }
        slot.id = account.id;
        slot.balance = (ledger_balance_t){account.debits_pending, account.debits_posted,
                                          account.credits_pending, account.credits_posted};
        slot.user_data_128 = account.user_data_128;
        slot.user_data_64 = account.user_data_64;
        slot.user_data_32 = account.user_data_32;
        slot.ledger = account.ledger;
        slot.code = account.code;
        slot.flags = account.flags;
        slot.timestamp = account.timestamp;
        error = accounts_insert(&ledger->accounts, &slot, false, false);
        if (error) break;
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

static int replay_account(ledger_t *ledger, const journal_record_t *record) {
    if (accounts_find(&ledger->accounts, record->id) != NULL) {
        ledger_set_error(ledger, "journal record %llu creates an existing account",
                         (unsigned long long)record->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    account_slot_t slot;
    memset(&slot, 0, sizeof(slot));
    slot.id = record->id;
    slot.user_data_128 = record->user_data_128;
    slot.user_data_64 = record->user_data_64;
    slot.user_data_32 = record->user_data_32;
    slot.ledger = record->ledger;
    slot.code = record->code;
    slot.flags = record->flags;
    slot.timestamp = record->timestamp;
    slot.last_sequence = record->sequence;
    return accounts_insert(&ledger->accounts, &slot, false, true);
}

static int replay_side(ledger_t *ledger, const journal_record_t *record,
                       ledger_u128_t account_id, const record_side_t *side) {
    account_slot_t *slot = accounts_find(&ledger->accounts, account_id);
    if (slot == NULL || slot->last_sequence != side->previous_sequence) {
        ledger_set_error(ledger,
                         "journal record %llu does not follow its account's "
                         "previous record",
                         (unsigned long long)record->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    int error = accounts_reserve(&ledger->accounts, 1);
    if (error) return error;
    account_state_t state = {side->balance_after, record->sequence, side->flags_after};
    accounts_set_state(&ledger->accounts, slot, &state, false);
    return 0;
}

static int replay_record(ledger_t *ledger, const journal_record_t *record) {
    switch (record->kind) {
    case RECORD_KIND_ACCOUNT:
        return replay_account(ledger, record);
    case RECORD_KIND_TRANSFER:
    case RECORD_KIND_EXPIRY: {
        int error = replay_side(ledger, record, record->debit_account_id, &record->debit);
        if (error) return error;
        return replay_side(ledger, record, record->credit_account_id, &record->credit);
    }
    default:
        return 0; /* failure markers move no money */
    }
}

/* Replay reads records in windows of REPLAY_WINDOW, four in flight, one
 * pipeline stage each: window k+3 is read from the cursor and its record
 * bytes prefetched (journal pages are not contiguous in the file), the
 * account buckets of window k+2 are prefetched (its bytes have arrived),
 * the slots of window k+1 (its buckets have arrived), and window k is
 * applied. Each stage's cache misses then overlap with the others' work. */
enum { REPLAY_WINDOW = 32, REPLAY_WINDOWS_IN_FLIGHT = 4 };

typedef struct replay_window {
    MDB_val keys[REPLAY_WINDOW];
    MDB_val values[REPLAY_WINDOW];
    uint32_t count;
} replay_window_t;

static void replay_prefetch(const ledger_t *ledger, const replay_window_t *window,
                            int stage) {
    for (uint32_t i = 0; i < window->count; i++) {
        if (window->values[i].mv_size != RECORD_JOURNAL_SIZE) continue;
        const uint8_t *bytes = window->values[i].mv_data;
        if (stage == 0) {
            for (uint32_t offset = 0; offset < RECORD_JOURNAL_SIZE; offset += 64) {
                __builtin_prefetch(bytes + offset);
            }
            __builtin_prefetch(bytes + RECORD_JOURNAL_SIZE - 1);
            continue;
        }
        ledger_u128_t ids[2] = {key_id_decode_le(bytes + 40), key_id_decode_le(bytes + 56)};
        for (int side = 0; side < 2; side++) {
            if (stage == 1) accounts_prefetch_bucket(&ledger->accounts, ids[side]);
            else accounts_prefetch_slot(&ledger->accounts, ids[side]);
        }
    }
}

static int replay_window_apply(ledger_t *ledger, const replay_window_t *window,
                               uint64_t *expected) {
    for (uint32_t i = 0; i < window->count; i++) {
        journal_record_t record;
        int error = record_journal_decode(window->values[i].mv_data,
                                          window->values[i].mv_size, &record);
        if (!error && (record.sequence != *expected ||
                       window->keys[i].mv_size != KEY_SEQUENCE_SIZE ||
                       key_sequence_decode(window->keys[i].mv_data) != *expected)) {
            error = LEDGER_ERR_CORRUPT;
        }
        if (error) {
            ledger_set_error(ledger, "journal record %llu is damaged or out of order",
                             (unsigned long long)*expected);
            return error;
        }
        if (record.sequence > ledger->checkpoint_sequence) {
            error = replay_record(ledger, &record);
            if (error) return error;
            ledger->replayed_events++;
        }
        ledger->sequence = record.sequence;
        memcpy(ledger->chain_head, record.hash, RECORD_HASH_SIZE);
        ledger->last_timestamp = record.timestamp;
        (*expected)++;
    }
    return 0;
}

/* Fills `window` from the cursor; returns 0, MDB_NOTFOUND at the end (the
 * window may still hold records) or an error. */
static int replay_window_read(MDB_cursor *cursor, replay_window_t *window,
                              MDB_cursor_op *op) {
    window->count = 0;
    while (window->count < REPLAY_WINDOW) {
        MDB_val *key = &window->keys[window->count];
        int error = mdb_cursor_get(cursor, key, &window->values[window->count], *op);
        *op = MDB_NEXT;
        if (error) return error;
        window->count++;
    }
    return 0;
}

/* Replays records after the checkpoint; leaves sequence, chain head and
 * last timestamp at the last record. */
static int replay_journal(ledger_t *ledger, MDB_txn *txn) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_journal, &cursor);
    if (error) return error;
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    uint64_t start = ledger->checkpoint_sequence == 0 ? 1 : ledger->checkpoint_sequence;
    key_sequence_encode(start, key_bytes);
    replay_window_t windows[REPLAY_WINDOWS_IN_FLIGHT];
    windows[0].keys[0] = (MDB_val){sizeof(key_bytes), key_bytes};
    MDB_cursor_op op = MDB_SET_RANGE;
    uint64_t expected = start;
    int read_error = 0;
    /* Fill the pipeline: windows 0..2 read, 0..1 bucket-prefetched, 0
     * slot-prefetched. */
    for (uint32_t w = 0; w + 1 < REPLAY_WINDOWS_IN_FLIGHT; w++) {
        windows[w].count = 0;
        if (read_error == 0) read_error = replay_window_read(cursor, &windows[w], &op);
        replay_prefetch(ledger, &windows[w], 0);
    }
    if (read_error != 0 && read_error != MDB_NOTFOUND) error = read_error;
    replay_prefetch(ledger, &windows[0], 1);
    replay_prefetch(ledger, &windows[1], 1);
    replay_prefetch(ledger, &windows[0], 2);
    for (uint32_t k = 0; !error && windows[k % REPLAY_WINDOWS_IN_FLIGHT].count > 0; k++) {
        replay_window_t *ahead = &windows[(k + 3) % REPLAY_WINDOWS_IN_FLIGHT];
        ahead->count = 0;
        if (read_error == 0) {
            read_error = replay_window_read(cursor, ahead, &op);
            replay_prefetch(ledger, ahead, 0);
        }
        if (read_error != 0 && read_error != MDB_NOTFOUND) error = read_error;
        replay_prefetch(ledger, &windows[(k + 2) % REPLAY_WINDOWS_IN_FLIGHT], 1);
        replay_prefetch(ledger, &windows[(k + 1) % REPLAY_WINDOWS_IN_FLIGHT], 2);
        if (!error) {
            error = replay_window_apply(ledger, &windows[k % REPLAY_WINDOWS_IN_FLIGHT],
                                        &expected);
        }
    }
    mdb_cursor_close(cursor);
    if (!error && ledger->sequence < ledger->checkpoint_sequence) {
        uint64_t last = 0;
        (void)store_journal_last(ledger, txn, &last); /* for the message only */
        ledger_set_error(ledger, "the checkpoint covers the journal up to sequence %llu but "
                                 "the journal ends at %llu: records %llu..%llu are missing",
                         (unsigned long long)ledger->checkpoint_sequence,
                         (unsigned long long)last, (unsigned long long)(last + 1),
                         (unsigned long long)ledger->checkpoint_sequence);
        error = LEDGER_ERR_CORRUPT;
    }
    return error;
}

/* The chain head written at the last commit must be the last record's. */
static int replay_check_head(ledger_t *ledger, MDB_txn *txn) {
    uint8_t head[8 + RECORD_HASH_SIZE];
    bool found = false;
    int error = store_meta_get_bytes(ledger, txn, "chain_head", head, sizeof(head),
                                     &found);
    if (error) return error;
    if (!found) {
        if (ledger->sequence == 0) return 0;
        ledger_set_error(ledger, "meta has no chain head but the journal has records");
        return LEDGER_ERR_CORRUPT;
    }
    if (get_u64(head) != ledger->sequence ||
        memcmp(head + 8, ledger->chain_head, RECORD_HASH_SIZE) != 0) {
        ledger_set_error(ledger, "chain head in meta (sequence %llu) does not match "
                                 "the journal's last record (sequence %llu)",
                         (unsigned long long)get_u64(head),
                         (unsigned long long)ledger->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

static int replay_indexes(ledger_t *ledger, MDB_txn *txn) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_transfer_ids, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    error = mdb_cursor_get(cursor, &key, &data, MDB_LAST);
    mdb_cursor_close(cursor);
    if (error == 0) {
        if (key.mv_size != KEY_ID_SIZE) return LEDGER_ERR_CORRUPT;
        ledger->transfer_id_max = key_id_decode(key.mv_data);
    } else if (error != MDB_NOTFOUND) {
        return error;
    }
    bool found = false;
    error = store_meta_get_u64(ledger, txn, "pending_count", &ledger->pending_count, &found);
    if (error) return error;
    return transfer_index_open(ledger, txn);
}

/* Cache lines below a record fetched ahead by the open's checksum scan:
 * about the next two records. */
enum { JOURNAL_SCAN_PREFETCH_LINES = 9 };

/* Checks the checksum and sequence of every record the checkpoint covers
 * (replay checks the rest), so that a damaged journal is refused at open,
 * never served. A CRC per record over the map, no decoding: a few million
 * records per second. The hash chain is ledger_verify()'s job. */
static int journal_scan_checksums(ledger_t *ledger, MDB_txn *txn) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_journal, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    uint64_t expected = 1;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
         error == 0 && expected < ledger->checkpoint_sequence;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT), expected++) {
        const uint8_t *bytes = data.mv_data;
        /* LMDB fills a page from its end down, so the next records in key
         * order lie just below this one: fetch them while this one is
         * checked. */
        for (int line = 1; line <= JOURNAL_SCAN_PREFETCH_LINES; line++) {
            __builtin_prefetch(bytes - 64 * line);
        }
        bool intact = key.mv_size == KEY_SEQUENCE_SIZE &&
                      key_sequence_decode(key.mv_data) == expected &&
                      data.mv_size == RECORD_JOURNAL_SIZE &&
                      get_u32(bytes) == crc32c(bytes + 4, RECORD_JOURNAL_SIZE - 4);
        if (!intact) {
            ledger_set_error(ledger, "journal record %llu is damaged or missing",
                             (unsigned long long)expected);
            error = LEDGER_ERR_CORRUPT;
            break;
        }
    }
    mdb_cursor_close(cursor);
    if (error == MDB_NOTFOUND) error = 0;
    return error;
}

/* Data read from disk is not trusted: balances that do not balance after
 * loading the checkpoint and replaying are an error, not an assertion. */
static int replay_check_totals(ledger_t *ledger) {
    uint32_t ledger_id = 0;
    if (accounts_totals_balanced(&ledger->accounts, &ledger_id)) return 0;
    ledger_set_error(ledger, "ledger %u does not balance after loading the checkpoint and "
                     "replaying the journal: the checkpoint table disagrees with the journal",
                     ledger_id);
    return LEDGER_ERR_CORRUPT;
}

int replay_open(ledger_t *ledger) {
    uint64_t started_ns = monotonic_ns();
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = journal_scan_checksums(ledger, txn);
    if (!error) error = checkpoint_load(ledger, txn);
    if (!error) error = replay_journal(ledger, txn);
    if (!error) error = replay_check_head(ledger, txn);
    if (!error) error = replay_indexes(ledger, txn);
    ledger_read_end(ledger, txn);
    if (!error) error = replay_check_totals(ledger);
    if (error) return error;
    accounts_totals_recheck(&ledger->accounts);
    ledger->replay_ns = monotonic_ns() - started_ns;
    return 0;
}

/* A dirty slot's sort key. The ids are gathered into one array before the
 * sort, so that the sort reads it in order instead of two slots at random
 * per comparison: with 1 M accounts, qsort of the slot numbers through the
 * slots was 17% of the writer's time, and qsort of these keys still 9%. */
typedef struct dirty_key {
    ledger_u128_t id;
    uint32_t index;
} dirty_key_t;

enum {
    DIRTY_DIGIT_BITS = 16,
    DIRTY_DIGITS = 128 / DIRTY_DIGIT_BITS,
    DIRTY_DIGIT_VALUES = 1 << DIRTY_DIGIT_BITS,
};

static uint32_t dirty_digit(ledger_u128_t id, int digit) {
    uint64_t half = digit < DIRTY_DIGITS / 2 ? id.lo : id.hi;
    int shift = (digit % (DIRTY_DIGITS / 2)) * DIRTY_DIGIT_BITS;
    return (uint32_t)(half >> shift) & (DIRTY_DIGIT_VALUES - 1);
}

/* Sorts `keys` by id: a least-significant-digit radix sort through
 * `spare` (as large), skipping a digit all keys share (the high digits of
 * small ids). `counts` holds DIRTY_DIGIT_VALUES entries. Returns whichever
 * of the two arrays holds the result. Linear: a 1 M-key sort costs a few
 * passes over 24 MB instead of twenty rounds of comparisons. */
static dirty_key_t *dirty_keys_sort(dirty_key_t *keys, dirty_key_t *spare, uint32_t count,
                                    uint32_t *counts) {
    for (int digit = 0; digit < DIRTY_DIGITS; digit++) {
        memset(counts, 0, DIRTY_DIGIT_VALUES * sizeof(*counts));
        for (uint32_t i = 0; i < count; i++) counts[dirty_digit(keys[i].id, digit)]++;
        if (count == 0 || counts[dirty_digit(keys[0].id, digit)] == count) continue;
        uint32_t offset = 0;
        for (uint32_t value = 0; value < DIRTY_DIGIT_VALUES; value++) {
            uint32_t bucket = counts[value];
            counts[value] = offset;
            offset += bucket;
        }
        for (uint32_t i = 0; i < count; i++) {
            spare[counts[dirty_digit(keys[i].id, digit)]++] = keys[i];
        }
        dirty_key_t *sorted = spare;
        spare = keys;
        keys = sorted;
    }
    return keys;
}

static int checkpoint_put_account(ledger_t *ledger, MDB_cursor *cursor,
                                  const account_slot_t *slot) {
    ledger_account_t account;
    accounts_slot_to_account(slot, &account);
    uint8_t key_bytes[KEY_ID_SIZE];
    uint8_t value[RECORD_ACCOUNT_SIZE];
    key_id_encode(slot->id, key_bytes);
    record_account_encode(&account, slot->last_sequence, value);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {sizeof(value), value};
    int error = cursor != NULL ? mdb_cursor_put(cursor, &key, &data, 0)
                               : mdb_put(ledger->txn_group, ledger->dbi_accounts, &key, &data, 0);
    return store_error(error);
}

/* Without memory for the sort, the accounts go in the order they were
 * dirtied: slower, the same result (a slot listed twice is written twice). */
static int checkpoint_write_unsorted(ledger_t *ledger, MDB_cursor *cursor) {
    const accounts_t *accounts = &ledger->accounts;
    int error = 0;
    for (uint32_t i = 0; i < accounts->dirty_count && !error; i++) {
        uint32_t index = accounts->dirty_slots[i];
        if (index < accounts->slots_count) {
            error = checkpoint_put_account(ledger, cursor, &accounts->slots[index]);
        }
    }
    return error;
}

/* The accounts go in id order (the table's key order) through one cursor,
 * so each put lands on the leaf the last one left instead of descending
 * the B-tree for an account picked at random: with 1 M accounts a
 * checkpoint rewrites most of them. Dirty slots past the table's end
 * (undone creations) are skipped, and a slot listed twice is written once.
 * The sort's memory (48 bytes per dirty account) is taken for the
 * checkpoint only. */
static int checkpoint_write_accounts(ledger_t *ledger) {
    accounts_t *accounts = &ledger->accounts;
    MDB_cursor *cursor = group_cursor(ledger, GROUP_CURSOR_ACCOUNTS, ledger->dbi_accounts);
    size_t keys_size = ((size_t)accounts->dirty_count + 1) * sizeof(dirty_key_t);
    uint32_t *counts = memory_alloc(DIRTY_DIGIT_VALUES * sizeof(*counts));
    dirty_key_t *keys = memory_alloc(keys_size);
    dirty_key_t *spare = memory_alloc(keys_size);
    int error = 0;
    if (counts == NULL || keys == NULL || spare == NULL) {
        error = checkpoint_write_unsorted(ledger, cursor);
    } else {
        uint32_t keys_count = 0;
        for (uint32_t i = 0; i < accounts->dirty_count; i++) {
            uint32_t index = accounts->dirty_slots[i];
            if (index >= accounts->slots_count) continue;
            keys[keys_count++] = (dirty_key_t){accounts->slots[index].id, index};
        }
        const dirty_key_t *sorted = dirty_keys_sort(keys, spare, keys_count, counts);
        for (uint32_t i = 0; i < keys_count && !error; i++) {
            /* A slot undone and created again is listed twice. */
            int order = i == 0 ? -1 : ledger_u128_compare(sorted[i - 1].id, sorted[i].id);
            assert(order <= 0);
            if (order == 0) continue;
            error = checkpoint_put_account(ledger, cursor, &accounts->slots[sorted[i].index]);
        }
    }
    memory_free(counts);
    memory_free(keys);
    memory_free(spare);
    return error;
}

int checkpoint_write(ledger_t *ledger) {
    accounts_t *accounts = &ledger->accounts;
    int error = checkpoint_write_accounts(ledger);
    if (error) return error;
    error = store_meta_put_u64(ledger, ledger->txn_group, "checkpoint_sequence",
                                   ledger->sequence);
    if (error) return error;
    accounts_totals_recheck(accounts);
    /* Every checkpoint is signed, in the same transaction (audit.h). */
    ledger_signed_checkpoint_t signed_checkpoint;
    error = signing_checkpoint_put(ledger, ledger->txn_group, &signed_checkpoint);
    if (error) return error;
    ledger->checkpoint_sequence = ledger->sequence;
    return 0;
}
