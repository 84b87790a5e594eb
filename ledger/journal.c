/*
 * journal.c — appending to and reading the journal, and the transfer id
 * index.
 *
 * The journal is the truth: a record is appended for every accepted event
 * (and for every transient failure, so that the id stays failed). Records
 * are never updated or deleted. Appends use MDB_APPEND (the key is the next
 * sequence, always the largest), so a journal append touches only the
 * right-most leaf page. The id index uses MDB_APPEND too whenever the id is
 * larger than every id so far, which is the case for time-ordered ids; an
 * id larger than the maximum also cannot exist, so its lookup is skipped.
 */
#include <assert.h>
#include <string.h>

#include "ledger_internal.h"
#include "welfare.h"

int journal_append(ledger_t *ledger, journal_record_t *record) {
    assert(ledger->txn != NULL);
    assert(record->timestamp == ledger_timestamp_next(ledger));
    record->sequence = ledger->sequence + 1;
    uint8_t bytes[RECORD_JOURNAL_SIZE];
    record_journal_encode(record, ledger->chain_head, bytes);
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(record->sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {sizeof(bytes), bytes};
    MDB_cursor *cursor = group_cursor(ledger, GROUP_CURSOR_JOURNAL, ledger->dbi_journal);
    int error = cursor != NULL ? mdb_cursor_put(cursor, &key, &data, MDB_APPEND)
                               : mdb_put(ledger->txn, ledger->dbi_journal, &key, &data, MDB_APPEND);
    if (error) return store_error(error);
    ledger->sequence = record->sequence;
    memcpy(ledger->chain_head, record->hash, RECORD_HASH_SIZE);
    ledger->last_timestamp = record->timestamp;
    return 0;
}

int journal_read(ledger_t *ledger, MDB_txn *txn, uint64_t sequence,
                 journal_record_t *record_out) {
    uint8_t key_bytes[KEY_SEQUENCE_SIZE];
    key_sequence_encode(sequence, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    int error = mdb_get(txn, ledger->dbi_journal, &key, &data);
    if (error == MDB_NOTFOUND) {
        ledger_set_error(ledger, "journal record %llu is missing",
                         (unsigned long long)sequence);
        return LEDGER_ERR_CORRUPT;
    }
    if (error) return error;
    error = record_journal_decode(data.mv_data, data.mv_size, record_out);
    if (error) {
        ledger_set_error(ledger, "journal record %llu is damaged (%s)",
                         (unsigned long long)sequence, ledger_strerror(error));
        return error;
    }
    if (record_out->sequence != sequence) {
        ledger_set_error(ledger, "journal record %llu says it is %llu",
                         (unsigned long long)sequence,
                         (unsigned long long)record_out->sequence);
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

/* Welfare transfers (welfare.h) are not in the index: their id's low half
 * is the sequence of their own record, so the journal is the index. This
 * keeps the index append-only for time-ordered client ids, and spares two
 * B-tree writes per purchase. */
static bool transfer_id_is_derived(ledger_u128_t id) {
    return (uint32_t)(id.hi >> 32) == WELFARE_TRANSFER_ID_TAG;
}

static int derived_index_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                             uint64_t *sequence_out, bool *found_out) {
    if (id.lo == 0 || id.lo > ledger->sequence) return 0;
    journal_record_t record;
    int error = journal_read(ledger, txn, id.lo, &record);
    if (error) return error;
    if (record.kind == RECORD_KIND_TRANSFER && ledger_u128_equal(record.id, id)) {
        *sequence_out = id.lo;
        *found_out = true;
    }
    return 0;
}

int transfer_index_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                       uint64_t *sequence_out, bool *found_out) {
    *found_out = false;
    if (transfer_id_is_derived(id)) return derived_index_get(ledger, txn, id, sequence_out, found_out);
    if (u128_compare(id, ledger->transfer_id_max) > 0) return 0;
    uint8_t key_bytes[KEY_ID_SIZE];
    key_id_encode(id, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    int error = mdb_get(txn, ledger->dbi_transfer_ids, &key, &data);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    if (data.mv_size != 8) {
        ledger_set_error(ledger, "transfer id index entry has size %zu",
                         data.mv_size);
        return LEDGER_ERR_CORRUPT;
    }
    *sequence_out = get_u64(data.mv_data);
    *found_out = true;
    return 0;
}

int transfer_index_put(ledger_t *ledger, ledger_u128_t id, uint64_t sequence) {
    if (transfer_id_is_derived(id)) {
        assert(id.lo == sequence);
        return 0;
    }
    uint8_t key_bytes[KEY_ID_SIZE];
    uint8_t value[8];
    key_id_encode(id, key_bytes);
    put_u64(value, sequence);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {sizeof(value), value};
    bool append = u128_compare(id, ledger->transfer_id_max) > 0;
    unsigned int flags = append ? MDB_APPEND : MDB_NOOVERWRITE;
    int error = mdb_put(ledger->txn, ledger->dbi_transfer_ids, &key, &data, flags);
    /* The id was checked absent before; KEYEXIST here is a bug. */
    assert(error != MDB_KEYEXIST);
    if (error) return store_error(error);
    if (append) ledger->transfer_id_max = id;
    return 0;
}

int journal_append_failure(ledger_t *ledger, const ledger_transfer_t *transfer,
                           uint32_t result) {
    journal_record_t record;
    record_from_transfer(transfer, &record);
    record.kind = RECORD_KIND_FAILED;
    record.result = (uint16_t)result;
    record.timestamp = ledger_timestamp_next(ledger);
    int error = journal_append(ledger, &record);
    if (error) return error;
    return transfer_index_put(ledger, transfer->id, record.sequence);
}
