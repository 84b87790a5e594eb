/*
 * verify.c — verification of a ledger from scratch (ledger_verify).
 *
 * Trusts nothing cached: it walks the journal from sequence 1, checks every
 * checksum, sequence number, timestamp order and the SHA-256 chain, and
 * recomputes every account's balances and flags from the events' amounts
 * alone, with its own tables (it shares no state with the engine). Each
 * record's stored back pointers and "balance after" values must equal the
 * recomputation; the id index must hold exactly one entry per indexed
 * record that must be there (at or below the transfer id watermark, or
 * appended: transfer_index.c), pointing at it, and for the others at most
 * one, else the live id buffer must hold it (compared as a multiset:
 * verify_index); Σ debits =
 * Σ credits must hold per ledger; the checkpoint table must equal the
 * recomputed state at the checkpoint sequence; and the live in-memory
 * balances must equal the final recomputed state. Every signed checkpoint
 * (signing.c) must match the recomputed chain head and trial balance at its
 * sequence and carry a valid signature, and none may lie past the end of
 * the journal.
 *
 * Memory: one entry per account and per pending transfer ever created
 * (resolved ones included, so that posts can be checked).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"
#include "welfare.h"
#include "memory.h"

typedef struct verify_account {
    ledger_u128_t id;
    uint32_t ledger;
    uint16_t code;
    uint16_t flags;
    ledger_balance_t balance;
    uint64_t last_sequence;
} verify_account_t;

typedef struct verify_pending {
    ledger_u128_t id;
    ledger_u128_t debit_account_id;
    ledger_u128_t credit_account_id;
    uint64_t amount;
    uint16_t flags;
    bool resolved;
} verify_pending_t;

/* A plain open-addressing map from u128 ids to element indexes. */
typedef struct verify_map {
    uint32_t *buckets; /* 0 empty, else index + 1 */
    uint64_t mask;
    uint32_t count;
} verify_map_t;

typedef struct verify {
    ledger_t *ledger;
    MDB_txn *txn;
    ledger_verify_report_t *report;
    verify_account_t *accounts;
    uint32_t accounts_count, accounts_capacity;
    verify_map_t accounts_map;
    verify_pending_t *pendings;
    uint32_t pendings_count, pendings_capacity;
    verify_map_t pendings_map;
    uint8_t previous_hash[RECORD_HASH_SIZE];
    uint64_t previous_timestamp;
    /* Signed checkpoints (audit.h): the next one to meet in the walk. */
    const uint8_t *public_key; /* NULL: signatures are not checked */
    uint64_t index_sum[2];     /* verify_index: the records the index must hold */
    uint64_t index_count;
    uint64_t index_watermark;  /* transfer_index.c: records up to it are in the B-tree */
    ledger_u128_t index_id_max; /* the largest indexed id of the walk so far */
    bool index_id_seen;
    ledger_signed_checkpoint_t next_signed;
    bool next_signed_valid;
} verify_t;

static int verify_fail(verify_t *verify, uint64_t sequence, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int verify_fail(verify_t *verify, uint64_t sequence, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(verify->report->message, sizeof(verify->report->message), format,
              arguments);
    va_end(arguments);
    verify->report->first_bad_sequence = sequence;
    return LEDGER_ERR_VERIFY_FAILED;
}

static uint64_t map_hash(ledger_u128_t id) {
    uint64_t x = (id.hi ^ 0x5bd1e995u) * 0xff51afd7ed558ccdull ^ id.lo;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 29);
}

/* Finds `id`; the element array is passed as (base, stride) so that the
 * map serves accounts and pendings alike. */
static int64_t map_find(const verify_map_t *map, const void *base, size_t stride,
                        ledger_u128_t id) {
    if (map->buckets == NULL) return -1;
    for (uint64_t b = map_hash(id) & map->mask;; b = (b + 1) & map->mask) {
        uint32_t entry = map->buckets[b];
        if (entry == 0) return -1;
        const ledger_u128_t *key =
            (const ledger_u128_t *)((const char *)base + (entry - 1) * stride);
        if (ledger_u128_equal(*key, id)) return entry - 1;
    }
}

static int map_insert(verify_map_t *map, const void *base, size_t stride,
                      ledger_u128_t id, uint32_t index) {
    if ((uint64_t)(map->count + 1) * 2 > map->mask + 1 || map->buckets == NULL) {
        uint64_t size = map->buckets ? (map->mask + 1) * 2 : 1024;
        uint32_t *buckets = memory_calloc(size, sizeof(uint32_t));
        if (buckets == NULL) return LEDGER_ERR_NO_MEMORY;
        verify_map_t grown = {buckets, size - 1, 0};
        for (uint32_t i = 0; i < map->count; i++) {
            const ledger_u128_t *key = (const ledger_u128_t *)((const char *)base + i * stride);
            uint64_t b = map_hash(*key) & grown.mask;
            while (grown.buckets[b] != 0) b = (b + 1) & grown.mask;
            grown.buckets[b] = i + 1;
            grown.count++;
        }
        memory_free(map->buckets);
        *map = grown;
    }
    uint64_t b = map_hash(id) & map->mask;
    while (map->buckets[b] != 0) b = (b + 1) & map->mask;
    map->buckets[b] = index + 1;
    map->count++;
    return 0;
}

static int array_grow(void **array, uint32_t *capacity, uint32_t count, size_t size) {
    if (count < *capacity) return 0;
    uint32_t grown = *capacity ? *capacity * 2 : 1024;
    void *bigger = memory_realloc(*array, (size_t)grown * size);
    if (bigger == NULL) return LEDGER_ERR_NO_MEMORY;
    *array = bigger;
    *capacity = grown;
    return 0;
}

static verify_account_t *verify_account_find(verify_t *verify, ledger_u128_t id) {
    int64_t index = map_find(&verify->accounts_map, verify->accounts,
                             sizeof(verify_account_t), id);
    return index < 0 ? NULL : &verify->accounts[index];
}

static verify_pending_t *verify_pending_find(verify_t *verify, ledger_u128_t id) {
    int64_t index = map_find(&verify->pendings_map, verify->pendings,
                             sizeof(verify_pending_t), id);
    return index < 0 ? NULL : &verify->pendings[index];
}

static int verify_account_create(verify_t *verify, const journal_record_t *record) {
    if (verify_account_find(verify, record->id) != NULL) {
        return verify_fail(verify, record->sequence, "account created twice");
    }
    int error = array_grow((void **)&verify->accounts, &verify->accounts_capacity,
                           verify->accounts_count, sizeof(verify_account_t));
    if (error) return error;
    verify_account_t *account = &verify->accounts[verify->accounts_count];
    memset(account, 0, sizeof(*account));
    account->id = record->id;
    account->ledger = record->ledger;
    account->code = record->code;
    account->flags = record->flags;
    account->last_sequence = record->sequence;
    if (record->debit.flags_after != record->flags) {
        return verify_fail(verify, record->sequence, "account record flags disagree");
    }
    error = map_insert(&verify->accounts_map, verify->accounts,
                       sizeof(verify_account_t), record->id, verify->accounts_count);
    if (error) return error;
    verify->accounts_count++;
    return 0;
}

static bool checked_add(uint64_t *value, uint64_t amount) {
    if (*value > UINT64_MAX - amount) return false;
    *value += amount;
    return true;
}

static bool checked_sub(uint64_t *value, uint64_t amount) {
    if (*value < amount) return false;
    *value -= amount;
    return true;
}

/* Compares a record side with the recomputed account and advances it. */
static int verify_side(verify_t *verify, const journal_record_t *record,
                       verify_account_t *account, const record_side_t *side,
                       const char *name) {
    if (side->previous_sequence != account->last_sequence) {
        return verify_fail(verify, record->sequence,
                           "%s back pointer is %llu, the account's previous record is %llu",
                           name, (unsigned long long)side->previous_sequence,
                           (unsigned long long)account->last_sequence);
    }
    if (memcmp(&side->balance_after, &account->balance, sizeof(account->balance)) != 0) {
        return verify_fail(verify, record->sequence,
                           "%s balance after the event differs from the recomputation",
                           name);
    }
    if (side->flags_after != account->flags) {
        return verify_fail(verify, record->sequence, "%s flags differ from the recomputation",
                           name);
    }
    const ledger_balance_t *b = &account->balance;
    if ((account->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (__extension__(unsigned __int128)b->debits_pending) + b->debits_posted > b->credits_posted) {
        return verify_fail(verify, record->sequence, "%s debits exceed credits", name);
    }
    if ((account->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        (__extension__(unsigned __int128)b->credits_pending) + b->credits_posted > b->debits_posted) {
        return verify_fail(verify, record->sequence, "%s credits exceed debits", name);
    }
    account->last_sequence = record->sequence;
    return 0;
}

static int verify_pending_add(verify_t *verify, const journal_record_t *record) {
    int error = array_grow((void **)&verify->pendings, &verify->pendings_capacity,
                           verify->pendings_count, sizeof(verify_pending_t));
    if (error) return error;
    verify_pending_t *pending = &verify->pendings[verify->pendings_count];
    pending->id = record->id;
    pending->debit_account_id = record->debit_account_id;
    pending->credit_account_id = record->credit_account_id;
    pending->amount = record->amount;
    pending->flags = record->flags;
    pending->resolved = false;
    error = map_insert(&verify->pendings_map, verify->pendings,
                       sizeof(verify_pending_t), record->id, verify->pendings_count);
    if (!error) verify->pendings_count++;
    return error;
}

/* Post, void or expiry: release the pending amount, post `posted`. */
static int verify_release(verify_t *verify, const journal_record_t *record,
                          verify_account_t *debit, verify_account_t *credit,
                          uint64_t posted, bool reopen) {
    verify_pending_t *pending = verify_pending_find(verify, record->pending_id);
    if (pending == NULL || pending->resolved) {
        return verify_fail(verify, record->sequence,
                           "resolves a pending transfer that is missing or resolved");
    }
    if (!ledger_u128_equal(pending->debit_account_id, debit->id) ||
        !ledger_u128_equal(pending->credit_account_id, credit->id) ||
        posted > pending->amount) {
        return verify_fail(verify, record->sequence,
                           "does not match the pending transfer it resolves");
    }
    pending->resolved = true;
    if (!checked_sub(&debit->balance.debits_pending, pending->amount) ||
        !checked_sub(&credit->balance.credits_pending, pending->amount) ||
        !checked_add(&debit->balance.debits_posted, posted) ||
        !checked_add(&credit->balance.credits_posted, posted)) {
        return verify_fail(verify, record->sequence, "balance underflow or overflow");
    }
    if (reopen && (pending->flags & LEDGER_TRANSFER_CLOSING_DEBIT)) debit->flags &= (uint16_t)~LEDGER_ACCOUNT_CLOSED;
    if (reopen && (pending->flags & LEDGER_TRANSFER_CLOSING_CREDIT)) credit->flags &= (uint16_t)~LEDGER_ACCOUNT_CLOSED;
    return 0;
}

static int verify_movement(verify_t *verify, const journal_record_t *record,
                           verify_account_t *debit, verify_account_t *credit) {
    uint16_t flags = record->flags;
    if (record->kind == RECORD_KIND_EXPIRY) {
        return verify_release(verify, record, debit, credit, 0, true);
    }
    if (flags & LEDGER_TRANSFER_POST_PENDING) {
        return verify_release(verify, record, debit, credit, record->amount, false);
    }
    if (flags & LEDGER_TRANSFER_VOID_PENDING) {
        return verify_release(verify, record, debit, credit, 0, true);
    }
    bool pending = (flags & LEDGER_TRANSFER_PENDING) != 0;
    bool ok = pending ? checked_add(&debit->balance.debits_pending, record->amount) &&
                            checked_add(&credit->balance.credits_pending, record->amount)
                      : checked_add(&debit->balance.debits_posted, record->amount) &&
                            checked_add(&credit->balance.credits_posted, record->amount);
    if (!ok) return verify_fail(verify, record->sequence, "balance overflow");
    if (!pending) return 0;
    if (flags & LEDGER_TRANSFER_CLOSING_DEBIT) debit->flags |= LEDGER_ACCOUNT_CLOSED;
    if (flags & LEDGER_TRANSFER_CLOSING_CREDIT) credit->flags |= LEDGER_ACCOUNT_CLOSED;
    return verify_pending_add(verify, record);
}

/* The transfer id index is checked as a multiset: the walk sums a mix of
 * (id, sequence) over every record the index must hold, a cursor pass over
 * the index sums the same over its entries, and the two sums and counts
 * must agree (a lookup per record would cost more than the rest of the
 * walk). Only when they differ is the journal walked again, looking every
 * id up, to name the first record the index does not point at. */
static uint64_t index_mix(ledger_u128_t id, uint64_t sequence, uint64_t key) {
    uint64_t x = (id.hi ^ key) * 0x9E3779B97F4A7C15ull ^ id.lo;
    x = (x ^ (x >> 31)) * 0xD6E8FEB86659FD93ull ^ sequence * key;
    x = (x ^ (x >> 32)) * 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

static void index_sum_add(uint64_t sum[2], ledger_u128_t id, uint64_t sequence) {
    sum[0] += index_mix(id, sequence, 0x94D049BB133111EBull);
    sum[1] += index_mix(id, sequence, 0x2545F4914F6CDD1Dull);
}

/* Whether an indexed record must be in the B-tree (transfer_index.c): at
 * or below the watermark, or an id larger than every indexed id before it
 * (appended). Otherwise it may be in the B-tree or in the id buffer.
 * Called for every indexed record in journal order, with the walk's own
 * running maximum. */
static bool index_required(uint64_t watermark, ledger_u128_t *id_max, bool *id_seen,
                           ledger_u128_t id, uint64_t sequence) {
    bool appended = !*id_seen || ledger_u128_compare(id, *id_max) > 0;
    if (appended) *id_max = id;
    *id_seen = true;
    return appended || sequence <= watermark;
}

/* A record that may be in either place: if the B-tree has its id, it must
 * point here (and counts in the sums), else the live id buffer must. */
static int verify_index_either(verify_t *verify, const journal_record_t *record) {
    uint8_t key_bytes[KEY_ID_SIZE];
    key_id_encode(record->id, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val found;
    int error = mdb_get(verify->txn, verify->ledger->dbi_transfer_ids, &key, &found);
    if (error == 0) {
        if (found.mv_size != 8 || get_u64(found.mv_data) != record->sequence) {
            return verify_fail(verify, record->sequence,
                               "transfer id index does not point at this record");
        }
        index_sum_add(verify->index_sum, record->id, record->sequence);
        verify->index_count++;
        return 0;
    }
    if (error != MDB_NOTFOUND) return error;
    uint64_t sequence = 0;
    if (id_buffer_find(&verify->ledger->id_buffer, record->id, &sequence) &&
        sequence == record->sequence) {
        return 0;
    }
    return verify_fail(verify, record->sequence,
                       "transfer id is neither in the index nor in the id buffer");
}

static int verify_index_points_here(verify_t *verify, const journal_record_t *record) {
    if (welfare_transfer_id_is(record->id)) {
        /* Welfare transfers are indexed by their own sequence (journal.c). */
        if (record->id.lo == record->sequence) return 0;
        return verify_fail(verify, record->sequence, "welfare transfer id is not its sequence");
    }
    if (!index_required(verify->index_watermark, &verify->index_id_max, &verify->index_id_seen,
                        record->id, record->sequence)) {
        return verify_index_either(verify, record);
    }
    index_sum_add(verify->index_sum, record->id, record->sequence);
    verify->index_count++;
    return 0;
}

/* The slow pass, after a mismatch: the first record the index misses
 * (records that may be in either place were checked by the walk). */
static int verify_index_locate(verify_t *verify) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(verify->txn, verify->ledger->dbi_journal, &cursor);
    ledger_u128_t id_max = {0, 0};
    bool id_seen = false;
    MDB_val key;
    MDB_val data;
    for (int op = MDB_FIRST; !error; op = MDB_NEXT) {
        error = mdb_cursor_get(cursor, &key, &data, (MDB_cursor_op)op);
        journal_record_t record;
        if (error || record_journal_decode(data.mv_data, data.mv_size, &record) != 0) break;
        bool indexed = (record.kind == RECORD_KIND_FAILED || record.kind == RECORD_KIND_TRANSFER) &&
                       !welfare_transfer_id_is(record.id);
        if (!indexed || !index_required(verify->index_watermark, &id_max, &id_seen, record.id,
                                        record.sequence)) {
            continue;
        }
        uint8_t key_bytes[KEY_ID_SIZE];
        key_id_encode(record.id, key_bytes);
        MDB_val id_key = {sizeof(key_bytes), key_bytes};
        MDB_val found;
        int lookup = mdb_get(verify->txn, verify->ledger->dbi_transfer_ids, &id_key, &found);
        if (lookup == MDB_NOTFOUND || (lookup == 0 && (found.mv_size != 8 ||
                                                       get_u64(found.mv_data) != record.sequence))) {
            error = verify_fail(verify, record.sequence,
                                "transfer id index does not point at this record");
        } else {
            error = lookup;
        }
    }
    mdb_cursor_close(cursor);
    if (error != MDB_NOTFOUND) return error;
    return verify_fail(verify, 0, "transfer id index holds entries for no journal record");
}

/* The watermark as the directory records it; a format-1 directory (served
 * read-only) had every id in the B-tree. */
static int verify_watermark_read(verify_t *verify) {
    bool found = false;
    int error = store_meta_get_u64(verify->ledger, verify->txn, "transfer_ids_watermark",
                                   &verify->index_watermark, &found);
    if (error) return error;
    if (!found) {
        uint8_t version[4] = {0};
        error = store_meta_get_bytes(verify->ledger, verify->txn, "format_version", version,
                                     sizeof(version), &found);
        if (error) return error;
        if (!found || get_u32(version) != 1) {
            return verify_fail(verify, 0, "meta has no transfer_ids_watermark");
        }
        verify->index_watermark = UINT64_MAX;
    }
    return 0;
}

static int verify_index(verify_t *verify) {
    uint64_t last = verify->ledger->sequence;
    if (verify->index_watermark != UINT64_MAX && verify->index_watermark > last) {
        return verify_fail(verify, last + 1,
                           "transfer_ids_watermark %llu is past the end of the journal (%llu)",
                           (unsigned long long)verify->index_watermark, (unsigned long long)last);
    }
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(verify->txn, verify->ledger->dbi_transfer_ids, &cursor);
    if (error) return error;
    uint64_t sum[2] = {0, 0};
    uint64_t count = 0;
    MDB_val key;
    MDB_val data;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST); error == 0;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        if (key.mv_size != KEY_ID_SIZE || data.mv_size != 8) {
            count = UINT64_MAX; /* malformed: certainly not the journal's */
            break;
        }
        index_sum_add(sum, key_id_decode(key.mv_data), get_u64(data.mv_data));
        count++;
    }
    mdb_cursor_close(cursor);
    if (error != 0 && error != MDB_NOTFOUND && count != UINT64_MAX) return error;
    if (count == verify->index_count && sum[0] == verify->index_sum[0] &&
        sum[1] == verify->index_sum[1]) {
        return 0;
    }
    return verify_index_locate(verify);
}

static int verify_transfer(verify_t *verify, const journal_record_t *record) {
    verify_account_t *debit = verify_account_find(verify, record->debit_account_id);
    verify_account_t *credit = verify_account_find(verify, record->credit_account_id);
    if (debit == NULL || credit == NULL || debit == credit) {
        return verify_fail(verify, record->sequence, "names a missing account");
    }
    if (debit->ledger != record->ledger || credit->ledger != record->ledger) {
        return verify_fail(verify, record->sequence, "ledger differs from its accounts'");
    }
    if (record->kind == RECORD_KIND_TRANSFER) {
        int error = verify_index_points_here(verify, record);
        if (error) return error;
    }
    int error = verify_movement(verify, record, debit, credit);
    if (!error) error = verify_side(verify, record, debit, &record->debit, "debit account");
    if (!error) error = verify_side(verify, record, credit, &record->credit, "credit account");
    return error;
}

static int verify_record_bytes(verify_t *verify, uint64_t expected, MDB_val *key,
                               MDB_val *data, journal_record_t *record) {
    int error = record_journal_decode(data->mv_data, data->mv_size, record);
    if (error) {
        return verify_fail(verify, expected, "record fails its checksum or format check");
    }
    if (key->mv_size != KEY_SEQUENCE_SIZE || key_sequence_decode(key->mv_data) != expected) {
        return verify_fail(verify, expected, "journal sequence %llu is missing",
                           (unsigned long long)expected);
    }
    if (record->sequence != expected) {
        return verify_fail(verify, expected, "journal sequence %llu holds the record of "
                           "sequence %llu: records were moved or swapped",
                           (unsigned long long)expected, (unsigned long long)record->sequence);
    }
    uint8_t hash[RECORD_HASH_SIZE];
    record_chain_hash(verify->previous_hash, data->mv_data, hash);
    if (memcmp(hash, record->hash, RECORD_HASH_SIZE) != 0) {
        return verify_fail(verify, expected, "hash chain broken: the record's hash does "
                                             "not follow from the previous record");
    }
    if (record->timestamp <= verify->previous_timestamp) {
        return verify_fail(verify, expected, "timestamp does not increase");
    }
    memcpy(verify->previous_hash, hash, RECORD_HASH_SIZE);
    verify->previous_timestamp = record->timestamp;
    return 0;
}

static int verify_record(verify_t *verify, const journal_record_t *record) {
    switch (record->kind) {
    case RECORD_KIND_ACCOUNT:
        return verify_account_create(verify, record);
    case RECORD_KIND_TRANSFER:
    case RECORD_KIND_EXPIRY:
        return verify_transfer(verify, record);
    default: /* failure marker: its id must stay failed in the index */
        return verify_index_points_here(verify, record);
    }
}

/* The checkpoint table must equal the recomputed state at its sequence. */
static int verify_checkpoint(verify_t *verify) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(verify->txn, verify->ledger->dbi_accounts, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    uint64_t entries = 0;
    uint64_t sequence = verify->ledger->checkpoint_sequence;
    for (error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST); error == 0;
         error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
        ledger_account_t account;
        uint64_t last_sequence = 0;
        entries++;
        if (record_account_decode(data.mv_data, data.mv_size, &account, &last_sequence)) {
            error = verify_fail(verify, 0, "a checkpoint record fails its checksum");
            break;
        }
        verify_account_t *expected = verify_account_find(verify, account.id);
        ledger_balance_t balance = {account.debits_pending, account.debits_posted,
                                    account.credits_pending, account.credits_posted};
        if (expected == NULL || expected->last_sequence != last_sequence ||
            expected->flags != account.flags ||
            memcmp(&expected->balance, &balance, sizeof(balance)) != 0) {
            error = verify_fail(verify, sequence,
                                "checkpoint disagrees with the journal for an account");
            break;
        }
    }
    mdb_cursor_close(cursor);
    if (error != MDB_NOTFOUND) return error;
    if (entries != verify->accounts_count) {
        return verify_fail(verify, sequence, "checkpoint holds %llu accounts, the journal %u",
                           (unsigned long long)entries, verify->accounts_count);
    }
    return 0;
}

/* Loads the first signed checkpoint with sequence >= sequence_min. */
static int verify_signed_next(verify_t *verify, uint64_t sequence_min) {
    uint32_t count = 0;
    int error = signing_cursor_read(verify->ledger, verify->txn, sequence_min,
                                    &verify->next_signed, 1, &count);
    if (error == LEDGER_ERR_CORRUPT) {
        return verify_fail(verify, sequence_min, "%s", verify->ledger->error_message);
    }
    verify->next_signed_valid = !error && count == 1;
    return error;
}

/* The recomputed state right after record `sequence` must be the signed
 * one: the same chain head, the same trial balance, a valid signature. */
static int verify_signed_here(verify_t *verify) {
    const ledger_signed_checkpoint_t *signed_checkpoint = &verify->next_signed;
    uint64_t sequence = signed_checkpoint->sequence;
    if (memcmp(signed_checkpoint->chain_head, verify->previous_hash, RECORD_HASH_SIZE) != 0) {
        return verify_fail(verify, sequence, "signed checkpoint at sequence %llu: the journal's "
                           "chain head there is not the signed one (history up to it was "
                           "rewritten)", (unsigned long long)sequence);
    }
    trial_rows_t rows;
    trial_rows_init(&rows);
    int error = 0;
    for (uint32_t i = 0; i < verify->accounts_count && !error; i++) {
        const verify_account_t *account = &verify->accounts[i];
        error = trial_rows_add(&rows, account->ledger, account->code, &account->balance);
    }
    uint8_t digest[LEDGER_DIGEST_SIZE];
    if (!error) trial_rows_finish(&rows, digest);
    trial_rows_free(&rows);
    if (error) return error;
    if (memcmp(digest, signed_checkpoint->trial_balance_digest, sizeof(digest)) != 0) {
        return verify_fail(verify, sequence, "signed checkpoint at sequence %llu: the trial "
                           "balance recomputed there is not the signed one",
                           (unsigned long long)sequence);
    }
    if (verify->public_key != NULL &&
        !ledger_checkpoint_signature_valid(verify->public_key, signed_checkpoint)) {
        return verify_fail(verify, sequence, "signed checkpoint at sequence %llu: the signature "
                           "does not verify under the public key",
                           (unsigned long long)sequence);
    }
    verify->report->signatures_checked++;
    verify->report->last_signed_sequence = sequence;
    return verify_signed_next(verify, sequence + 1);
}

/* After the walk: a signed checkpoint past the journal's end means records
 * that were once there are gone. */
static int verify_signed_end(verify_t *verify, uint64_t last_sequence) {
    if (!verify->next_signed_valid) return 0;
    return verify_fail(verify, last_sequence + 1, "signed checkpoint at sequence %llu is past "
                       "the end of the journal (%llu): records after %llu are missing",
                       (unsigned long long)verify->next_signed.sequence,
                       (unsigned long long)last_sequence, (unsigned long long)last_sequence);
}

/* Read-ahead of the walk: records are read VERIFY_AHEAD ahead of the one
 * checked, so that the hash buckets of their accounts can be prefetched
 * when they are read and the accounts themselves halfway (two memory
 * misses per account lookup otherwise dominate the walk). The MDB_val
 * pointers stay valid for the whole read transaction. */
enum { VERIFY_AHEAD = 16 };

typedef struct verify_ahead {
    MDB_val keys[VERIFY_AHEAD];
    MDB_val values[VERIFY_AHEAD];
    uint32_t count; /* records read and not yet checked */
    uint32_t head;  /* ring index of the next one to check */
    int read_error; /* MDB_NOTFOUND at the end */
    bool started;   /* the cursor is positioned */
} verify_ahead_t;

/* stage 0: the buckets of both accounts; stage 1: the accounts. */
static void verify_prefetch(const verify_t *verify, const MDB_val *data, int stage) {
    if (data->mv_size != RECORD_JOURNAL_SIZE || verify->accounts_map.buckets == NULL) return;
    const uint8_t *bytes = data->mv_data;
    for (int side = 0; side < 2; side++) {
        const uint8_t *id_bytes = bytes + (side == 0 ? 40 : 56);
        ledger_u128_t id = {get_u64(id_bytes), get_u64(id_bytes + 8)};
        uint64_t b = map_hash(id) & verify->accounts_map.mask;
        if (stage == 0) {
            __builtin_prefetch(&verify->accounts_map.buckets[b]);
        } else if (verify->accounts_map.buckets[b] != 0) {
            __builtin_prefetch(&verify->accounts[verify->accounts_map.buckets[b] - 1]);
        }
    }
}

/* Tops the ring up; the newest records get their buckets prefetched, the
 * middle one its accounts. */
static void verify_ahead_fill(const verify_t *verify, MDB_cursor *cursor, verify_ahead_t *ahead) {
    while (ahead->count < VERIFY_AHEAD && ahead->read_error == 0) {
        uint32_t slot = (ahead->head + ahead->count) % VERIFY_AHEAD;
        MDB_cursor_op op = ahead->started ? MDB_NEXT : MDB_FIRST;
        ahead->started = true;
        ahead->read_error = mdb_cursor_get(cursor, &ahead->keys[slot], &ahead->values[slot], op);
        if (ahead->read_error) break;
        /* The record itself: five cache lines, read for real VERIFY_AHEAD
         * records later. */
        const char *record = ahead->values[slot].mv_data;
        for (size_t line = 0; line < ahead->values[slot].mv_size; line += 64) {
            __builtin_prefetch(record + line);
        }
        verify_prefetch(verify, &ahead->values[slot], 0);
        ahead->count++;
    }
    if (ahead->count > VERIFY_AHEAD / 2) {
        verify_prefetch(verify, &ahead->values[(ahead->head + VERIFY_AHEAD / 2) % VERIFY_AHEAD], 1);
    }
}

/* Checks one record read from the journal, then what hangs on its
 * sequence (the checkpoint table, a signed checkpoint). */
static int verify_one(verify_t *verify, uint64_t expected, MDB_val *key, MDB_val *data) {
    journal_record_t record;
    int error = verify_record_bytes(verify, expected, key, data, &record);
    if (!error) error = verify_record(verify, &record);
    if (!error && record.sequence == verify->ledger->checkpoint_sequence) {
        error = verify_checkpoint(verify);
    }
    if (!error && verify->next_signed_valid && record.sequence == verify->next_signed.sequence) {
        error = verify_signed_here(verify);
    }
    return error;
}

static int verify_journal(verify_t *verify, ledger_progress_fn progress,
                          void *progress_context) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(verify->txn, verify->ledger->dbi_journal, &cursor);
    if (error) return error;
    uint64_t total = verify->ledger->sequence;
    uint64_t expected = 1;
    if (verify->ledger->checkpoint_sequence == 0) error = verify_checkpoint(verify);
    if (!error) error = verify_signed_next(verify, 0);
    if (!error && verify->next_signed_valid && verify->next_signed.sequence == 0) {
        error = verify_signed_here(verify);
    }
    verify_ahead_t ahead;
    memset(&ahead, 0, sizeof(ahead));
    while (!error) {
        verify_ahead_fill(verify, cursor, &ahead);
        if (ahead.count == 0) {
            error = ahead.read_error;
            break;
        }
        error = verify_one(verify, expected, &ahead.keys[ahead.head], &ahead.values[ahead.head]);
        ahead.head = (ahead.head + 1) % VERIFY_AHEAD;
        ahead.count--;
        verify->report->records_checked++;
        if (progress != NULL && (expected & 0xFFFF) == 0) {
            progress(progress_context, expected, total);
        }
        expected++;
    }
    mdb_cursor_close(cursor);
    if (error == MDB_NOTFOUND) error = 0;
    if (!error) error = verify_signed_end(verify, expected - 1);
    if (!error && expected - 1 != total) {
        error = verify_fail(verify, expected, "journal ends at %llu, the ledger says %llu",
                            (unsigned long long)(expected - 1), (unsigned long long)total);
    }
    if (progress != NULL && !error) progress(progress_context, total, total);
    return error;
}

/* Σ debits = Σ credits per ledger, posted and pending. */
static int verify_totals(verify_t *verify) {
    for (uint32_t i = 0; i < verify->accounts_count; i++) {
        uint32_t ledger = verify->accounts[i].ledger;
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) seen = verify->accounts[j].ledger == ledger;
        if (seen) continue;
        __extension__ unsigned __int128 dp = 0, dpo = 0, cp = 0, cpo = 0;
        for (uint32_t j = i; j < verify->accounts_count; j++) {
            const verify_account_t *account = &verify->accounts[j];
            if (account->ledger != ledger) continue;
            dp += account->balance.debits_pending;
            dpo += account->balance.debits_posted;
            cp += account->balance.credits_pending;
            cpo += account->balance.credits_posted;
        }
        verify->report->ledgers_checked++;
        if (dpo != cpo) {
            return verify_fail(verify, 0, "ledger %u: posted debits differ from posted credits",
                               ledger);
        }
        if (dp != cp) {
            return verify_fail(verify, 0, "ledger %u: pending debits differ from pending credits",
                               ledger);
        }
    }
    return 0;
}

/* The engine's live balances must equal the recomputation. */
static int verify_live(verify_t *verify) {
    const accounts_t *live = &verify->ledger->accounts;
    if (live->slots_count != verify->accounts_count) {
        return verify_fail(verify, 0, "engine holds %u accounts, the journal creates %u",
                           live->slots_count, verify->accounts_count);
    }
    for (uint32_t i = 0; i < verify->accounts_count; i++) {
        const verify_account_t *expected = &verify->accounts[i];
        const account_slot_t *slot = accounts_find(live, expected->id);
        verify->report->accounts_checked++;
        if (slot == NULL || slot->flags != expected->flags ||
            slot->last_sequence != expected->last_sequence ||
            memcmp(&slot->balance, &expected->balance, sizeof(slot->balance)) != 0) {
            return verify_fail(verify, expected->last_sequence,
                               "live balances of an account differ from the journal");
        }
    }
    return 0;
}

/* The key signatures are checked with: the one given, which must be the
 * directory's own when the directory records one; else the directory's. */
static int verify_key_choose(verify_t *verify, const uint8_t *given,
                             uint8_t key[LEDGER_PUBLIC_KEY_SIZE]) {
    bool found = false;
    int error = store_meta_get_bytes(verify->ledger, verify->txn, "signing_public_key", key,
                                     LEDGER_PUBLIC_KEY_SIZE, &found);
    if (error) return error;
    if (given != NULL && found && memcmp(given, key, LEDGER_PUBLIC_KEY_SIZE) != 0) {
        return verify_fail(verify, 0, "the data directory's public key is not the one given: "
                           "its checkpoints are signed by another key");
    }
    if (given != NULL) {
        memcpy(key, given, LEDGER_PUBLIC_KEY_SIZE);
        verify->report->key_source = LEDGER_VERIFY_KEY_GIVEN;
    } else if (found) {
        verify->report->key_source = LEDGER_VERIFY_KEY_DIRECTORY;
    }
    verify->public_key = given != NULL || found ? key : NULL;
    return 0;
}

int ledger_verify_signed(ledger_t *ledger, const uint8_t *public_key,
                         ledger_verify_report_t *report, ledger_progress_fn progress,
                         void *progress_context) {
    if (ledger == NULL || report == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (ledger->txn_group != NULL) return LEDGER_ERR_WRITE_OPEN;
    memset(report, 0, sizeof(*report));
    verify_t verify;
    memset(&verify, 0, sizeof(verify));
    verify.ledger = ledger;
    verify.report = report;
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    int error = ledger_read_begin(ledger, &verify.txn);
    if (error) return error;
    error = verify_key_choose(&verify, public_key, key);
    if (!error) error = verify_watermark_read(&verify);
    if (!error) error = verify_journal(&verify, progress, progress_context);
    if (!error) error = verify_index(&verify);
    if (!error) error = verify_totals(&verify);
    if (!error) error = verify_live(&verify);
    if (!error && memcmp(verify.previous_hash, ledger->chain_head, RECORD_HASH_SIZE) != 0) {
        error = verify_fail(&verify, ledger->sequence, "engine chain head differs from the journal's");
    }
    ledger_read_end(ledger, verify.txn);
    memory_free(verify.accounts);
    memory_free(verify.accounts_map.buckets);
    memory_free(verify.pendings);
    memory_free(verify.pendings_map.buckets);
    return error;
}

int ledger_verify(ledger_t *ledger, ledger_verify_report_t *report,
                  ledger_progress_fn progress, void *progress_context) {
    return ledger_verify_signed(ledger, NULL, report, progress, progress_context);
}
