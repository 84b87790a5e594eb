/*
 * audit_journal.c — the journal as an auditor reads it (audit.h): a stream
 * of decoded entries (ledger_journal_scan), the raw bytes of one record
 * with the chain hash before it (ledger_journal_record_bytes, for
 * inclusion proofs), and the sequence of the record that created a
 * transfer (ledger_transfer_sequence).
 *
 * Invariants:
 * - a scan reads one LMDB snapshot (a read transaction of its own) from
 *   start to end, so a concurrent writer cannot make it see half a group;
 * - every record handed out passed its checksum, and its key, its stored
 *   sequence and the expected next sequence agree (a gap is corruption:
 *   the journal is dense from 1);
 * - memory is constant: one decoded record at a time, nothing kept.
 * The chain is not checked here (that is ledger_verify's job); the hash
 * of every record is handed out so that a reader can check it.
 *
 * Workload: exports and trial balances over the whole journal (10^7
 * records and more), so the walk does no allocation and decodes each
 * record once.
 */
#include <assert.h>
#include <string.h>

#include "audit_internal.h"

enum {
    /* Bytes below the current record that the walk prefetches: LMDB fills
     * a leaf page from its end downwards, so appended records follow each
     * other at decreasing addresses, and the next one or two sit just
     * below the current one. Prefetching them with the current record
     * overlaps their cache misses with the checksum of this one (a hint:
     * harmless where the layout differs). Measured on a 10M-record journal
     * (2 cores, warm page cache): 3.0 s -> 1.3 s for the checksums alone;
     * 320 beat 0, 600, 1,100 and 2,000. */
    WALK_PREFETCH_BELOW = 320,
    WALK_CACHE_LINE = 64,
};

/* Prefetches the record at `data` and what lies just below it. */
static void walk_prefetch(const MDB_val *data) {
    const char *bytes = data->mv_data;
    for (int offset = -WALK_PREFETCH_BELOW; offset < RECORD_JOURNAL_SIZE; offset += WALK_CACHE_LINE) {
        __builtin_prefetch(bytes + offset);
    }
}

int audit_snapshot_begin(ledger_t *ledger, MDB_txn **txn_out) {
    if (ledger->txn_group != NULL) return LEDGER_ERR_WRITE_OPEN;
    *txn_out = NULL;
    int error = mdb_txn_begin(ledger->env, NULL, MDB_RDONLY, txn_out);
    if (!error) error = durability_read_gate(ledger, *txn_out);
    if (error && *txn_out != NULL) {
        mdb_txn_abort(*txn_out);
        *txn_out = NULL;
    }
    return error;
}

/* Decodes the record under `key`, which must be `expected`. */
static int walk_decode(ledger_t *ledger, uint64_t expected, const MDB_val *key,
                       const MDB_val *data, journal_record_t *record) {
    uint64_t sequence = key->mv_size == KEY_SEQUENCE_SIZE ? key_sequence_decode(key->mv_data) : 0;
    if (sequence != expected) {
        ledger_set_error(ledger, "journal record %llu is missing (the next key is %llu)",
                         (unsigned long long)expected, (unsigned long long)sequence);
        return LEDGER_ERR_CORRUPT;
    }
    int error = record_journal_decode(data->mv_data, data->mv_size, record);
    if (error) {
        ledger_set_error(ledger, "journal record %llu fails its checksum or format check (%s)",
                         (unsigned long long)expected, ledger_strerror(error));
        return error;
    }
    if (record->sequence != expected) {
        ledger_set_error(ledger, "journal record %llu says it is %llu",
                         (unsigned long long)expected, (unsigned long long)record->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

int audit_journal_walk(ledger_t *ledger, MDB_txn *txn, uint64_t sequence_min,
                       uint64_t sequence_max, audit_journal_visit_fn visit, void *context) {
    assert(ledger != NULL && txn != NULL);
    assert(visit != NULL);
    uint64_t expected = sequence_min == 0 ? 1 : sequence_min;
    if (sequence_max != 0 && expected > sequence_max) return 0;
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_journal, &cursor);
    if (error) return error;
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(expected, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    for (MDB_cursor_op op = MDB_SET_RANGE;; op = MDB_NEXT) {
        error = mdb_cursor_get(cursor, &key, &data, op);
        if (error) break;
        if (sequence_max != 0 && key.mv_size == KEY_SEQUENCE_SIZE &&
            key_sequence_decode(key.mv_data) > sequence_max) {
            break;
        }
        walk_prefetch(&data);
        journal_record_t record;
        error = walk_decode(ledger, expected, &key, &data, &record);
        if (!error) error = visit(context, &record);
        if (error) break;
        expected++;
    }
    mdb_cursor_close(cursor);
    return error == MDB_NOTFOUND ? 0 : error;
}

/* ---- ledger_journal_scan ---- */

typedef struct scan_context {
    ledger_journal_fn callback;
    void *context;
} scan_context_t;

static void entry_from_record(const journal_record_t *record, ledger_journal_entry_t *entry) {
    /* record_journal_decode refused every other kind. */
    assert(record->kind >= RECORD_KIND_ACCOUNT && record->kind <= RECORD_KIND_FAILED);
    memset(entry, 0, sizeof(*entry));
    entry->sequence = record->sequence;
    entry->kind = record->kind;
    entry->result = record->kind == RECORD_KIND_FAILED ? record->result : 0;
    record_to_transfer(record, &entry->transfer);
    entry->debit_after = record->debit.balance_after;
    entry->credit_after = record->credit.balance_after;
    memcpy(entry->chain_hash, record->hash, LEDGER_DIGEST_SIZE);
}

static int scan_visit(void *context, const journal_record_t *record) {
    const scan_context_t *scan = context;
    ledger_journal_entry_t entry;
    entry_from_record(record, &entry);
    return scan->callback(scan->context, &entry);
}

_Static_assert((int)LEDGER_EVENT_FAILED == (int)RECORD_KIND_FAILED, "failure markers");
_Static_assert((int)LEDGER_DIGEST_SIZE == (int)RECORD_HASH_SIZE, "chain hash size");
_Static_assert((int)LEDGER_JOURNAL_RECORD_SIZE == (int)RECORD_JOURNAL_SIZE, "record size");

int ledger_journal_scan(ledger_t *ledger, uint64_t sequence_min, uint64_t sequence_max,
                        ledger_journal_fn callback, void *context) {
    if (ledger == NULL || callback == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (sequence_max != 0 && sequence_min > sequence_max) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_txn *txn = NULL;
    int error = audit_snapshot_begin(ledger, &txn);
    if (error) return error;
    scan_context_t scan = {callback, context};
    error = audit_journal_walk(ledger, txn, sequence_min, sequence_max, scan_visit, &scan);
    mdb_txn_abort(txn);
    return error;
}

/* ---- raw record bytes ---- */

/* Copies record `sequence` (checked) into `bytes`; *found_out false when
 * the journal has no such key. */
static int record_bytes_get(ledger_t *ledger, MDB_txn *txn, uint64_t sequence,
                            uint8_t bytes[RECORD_JOURNAL_SIZE], bool *found_out) {
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    *found_out = false;
    int error = mdb_get(txn, ledger->dbi_journal, &key, &data);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    journal_record_t record;
    error = walk_decode(ledger, sequence, &key, &data, &record);
    if (error) return error;
    memcpy(bytes, data.mv_data, RECORD_JOURNAL_SIZE);
    *found_out = true;
    return 0;
}

static int record_and_previous(ledger_t *ledger, MDB_txn *txn, uint64_t sequence,
                               uint8_t record_out[LEDGER_JOURNAL_RECORD_SIZE],
                               uint8_t previous_hash_out[LEDGER_DIGEST_SIZE]) {
    bool found = false;
    int error = record_bytes_get(ledger, txn, sequence, record_out, &found);
    if (error) return error;
    if (!found) {
        ledger_set_error(ledger, "the journal has no record %llu", (unsigned long long)sequence);
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    memset(previous_hash_out, 0, LEDGER_DIGEST_SIZE);
    if (sequence == 1) return 0;
    uint8_t previous[RECORD_JOURNAL_SIZE];
    error = record_bytes_get(ledger, txn, sequence - 1, previous, &found);
    if (!error && !found) {
        ledger_set_error(ledger, "journal record %llu is missing", (unsigned long long)(sequence - 1));
        error = LEDGER_ERR_CORRUPT;
    }
    if (!error) memcpy(previous_hash_out, previous + RECORD_HASH_OFFSET, LEDGER_DIGEST_SIZE);
    return error;
}

int ledger_journal_record_bytes(ledger_t *ledger, uint64_t sequence,
                                uint8_t record_out[LEDGER_JOURNAL_RECORD_SIZE],
                                uint8_t previous_hash_out[LEDGER_DIGEST_SIZE]) {
    if (ledger == NULL || record_out == NULL || previous_hash_out == NULL || sequence == 0) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = record_and_previous(ledger, txn, sequence, record_out, previous_hash_out);
    ledger_read_end(ledger, txn);
    return error;
}

/* ---- transfer id -> sequence ---- */

int ledger_transfer_sequence(ledger_t *ledger, ledger_u128_t id, uint64_t *sequence_out,
                             bool *found_out) {
    if (ledger == NULL || sequence_out == NULL || found_out == NULL) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    *sequence_out = 0;
    *found_out = false;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    uint64_t sequence = 0;
    bool indexed = false;
    /* Welfare ids (top 32 bits WELFARE_TRANSFER_ID_TAG) are not in the
     * index: transfer_index_get finds them through their own sequence. */
    error = transfer_index_get(ledger, txn, id, &sequence, &indexed);
    journal_record_t record;
    if (!error && indexed) error = journal_read(ledger, txn, sequence, &record);
    ledger_read_end(ledger, txn);
    if (error || !indexed) return error;
    /* The index also keeps failed ids (their failure marker): no transfer. */
    if (record.kind != RECORD_KIND_TRANSFER) return 0;
    *sequence_out = sequence;
    *found_out = true;
    return 0;
}
