/*
 * journal.c — appending to and reading the journal.
 *
 * The journal is the truth: a record is appended for every accepted event
 * (and for every transient failure, so that the id stays failed). Records
 * are never updated or deleted. Appends use MDB_APPEND (the key is the next
 * sequence, always the largest), so a journal append touches only the
 * right-most leaf page. The transfer id index is transfer_index.c's.
 */
#include <assert.h>
#include <string.h>

#include "ledger_internal.h"

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
