/*
 * query.c — reads: lookups by id, account history and balance at a time.
 *
 * Accounts are read from memory. Transfers are found through the id index
 * and read from the journal. History walks an account's back pointers
 * (each record names the previous record of each of its accounts), newest
 * first; oldest-first results keep the last `limit` records seen in a ring,
 * since a backwards walk meets the oldest last.
 */
#include <string.h>

#include "ledger_internal.h"
#include "memory.h"

int ledger_lookup_accounts(ledger_t *ledger, const ledger_u128_t *ids,
                           uint32_t count, ledger_account_t *accounts_out,
                           uint32_t *found_count_out) {
    if (ledger == NULL || found_count_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count > LEDGER_LOOKUP_IDS_MAX) return LEDGER_ERR_BATCH_TOO_LARGE;
    if (count > 0 && (ids == NULL || accounts_out == NULL)) return LEDGER_ERR_INVALID_ARGUMENT;
    uint32_t found = 0;
    for (uint32_t i = 0; i < count; i++) {
        const account_slot_t *slot = accounts_find(&ledger->accounts, ids[i]);
        if (slot == NULL) continue;
        accounts_slot_to_account(slot, &accounts_out[found++]);
    }
    *found_count_out = found;
    return 0;
}

int ledger_lookup_transfers(ledger_t *ledger, const ledger_u128_t *ids,
                            uint32_t count, ledger_transfer_t *transfers_out,
                            uint32_t *found_count_out) {
    if (ledger == NULL || found_count_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count > LEDGER_LOOKUP_IDS_MAX) return LEDGER_ERR_BATCH_TOO_LARGE;
    if (count > 0 && (ids == NULL || transfers_out == NULL)) return LEDGER_ERR_INVALID_ARGUMENT;
    *found_count_out = 0;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    uint32_t found = 0;
    for (uint32_t i = 0; i < count && !error; i++) {
        uint64_t sequence = 0;
        bool exists = false;
        error = transfer_index_get(ledger, txn, ids[i], &sequence, &exists);
        if (error || !exists) continue;
        journal_record_t record;
        error = journal_read(ledger, txn, sequence, &record);
        if (error || record.kind != RECORD_KIND_TRANSFER) continue;
        record_to_transfer(&record, &transfers_out[found++]);
    }
    ledger_read_end(ledger, txn);
    if (error) return error;
    *found_count_out = found;
    return 0;
}

static int history_filter_check(const ledger_history_filter_t *filter) {
    uint32_t known = LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS |
                     LEDGER_HISTORY_REVERSED;
    if (filter->limit == 0 || filter->limit > LEDGER_HISTORY_LIMIT_MAX) {
        return LEDGER_ERR_INVALID_FILTER;
    }
    if (filter->flags & ~known) return LEDGER_ERR_INVALID_FILTER;
    if (!(filter->flags & (LEDGER_HISTORY_DEBITS | LEDGER_HISTORY_CREDITS))) {
        return LEDGER_ERR_INVALID_FILTER;
    }
    if (filter->timestamp_max != 0 && filter->timestamp_min > filter->timestamp_max) {
        return LEDGER_ERR_INVALID_FILTER;
    }
    return 0;
}

/* The side of `record` that belongs to `account_id`, and whether the
 * account is its debit side. */
static const record_side_t *record_side_of(const journal_record_t *record,
                                           ledger_u128_t account_id, bool *debit_out) {
    *debit_out = ledger_u128_equal(record->debit_account_id, account_id);
    return *debit_out ? &record->debit : &record->credit;
}

static void history_entry_fill(const journal_record_t *record,
                               const record_side_t *side,
                               ledger_history_entry_t *entry) {
    memset(entry, 0, sizeof(*entry));
    entry->kind = record->kind;
    record_to_transfer(record, &entry->transfer);
    entry->balance_after = side->balance_after;
}

/* Walks back from the newest record; keeps matching ones in `entries`
 * (a ring of `limit` when oldest-first). */
static int history_walk(ledger_t *ledger, MDB_txn *txn, const account_slot_t *slot,
                        const ledger_history_filter_t *filter,
                        ledger_history_entry_t *entries, uint32_t *count_out) {
    bool reversed = (filter->flags & LEDGER_HISTORY_REVERSED) != 0;
    uint64_t seen = 0;
    uint64_t sequence = slot->last_sequence;
    while (sequence != 0) {
        journal_record_t record;
        int error = journal_read(ledger, txn, sequence, &record);
        if (error) return error;
        if (record.kind == RECORD_KIND_ACCOUNT) break;
        if (record.timestamp < filter->timestamp_min) break;
        bool debit = false;
        const record_side_t *side = record_side_of(&record, slot->id, &debit);
        sequence = side->previous_sequence;
        if (filter->timestamp_max != 0 && record.timestamp > filter->timestamp_max) continue;
        uint32_t wanted = debit ? LEDGER_HISTORY_DEBITS : LEDGER_HISTORY_CREDITS;
        if (!(filter->flags & wanted)) continue;
        history_entry_fill(&record, side, &entries[seen % filter->limit]);
        seen++;
        if (reversed && seen == filter->limit) break;
    }
    uint32_t count = seen < filter->limit ? (uint32_t)seen : filter->limit;
    if (!reversed) {
        /* The ring holds the `count` oldest, newest first from position
         * (seen - 1) backwards: reorder oldest first. */
        ledger_history_entry_t *ordered = memory_alloc((size_t)count * sizeof(*ordered));
        if (count > 0 && ordered == NULL) return LEDGER_ERR_NO_MEMORY;
        for (uint32_t i = 0; i < count; i++) {
            ordered[i] = entries[(seen - 1 - i) % filter->limit];
        }
        memcpy(entries, ordered, (size_t)count * sizeof(*ordered));
        memory_free(ordered);
    }
    *count_out = count;
    return 0;
}

int ledger_account_history(ledger_t *ledger, const ledger_history_filter_t *filter,
                           ledger_history_entry_t *entries_out, uint32_t *count_out) {
    if (ledger == NULL || filter == NULL || entries_out == NULL || count_out == NULL) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    *count_out = 0;
    int error = history_filter_check(filter);
    if (error) return error;
    const account_slot_t *slot = accounts_find(&ledger->accounts, filter->account_id);
    if (slot == NULL) return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    MDB_txn *txn = NULL;
    error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = history_walk(ledger, txn, slot, filter, entries_out, count_out);
    ledger_read_end(ledger, txn);
    return error;
}

int ledger_account_balance_at(ledger_t *ledger, ledger_u128_t account_id,
                              uint64_t timestamp, ledger_balance_t *balance_out) {
    if (ledger == NULL || balance_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    memset(balance_out, 0, sizeof(*balance_out));
    const account_slot_t *slot = accounts_find(&ledger->accounts, account_id);
    if (slot == NULL) return LEDGER_ERR_ACCOUNT_NOT_FOUND;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    uint64_t sequence = slot->last_sequence;
    while (sequence != 0 && !error) {
        journal_record_t record;
        error = journal_read(ledger, txn, sequence, &record);
        if (error || record.kind == RECORD_KIND_ACCOUNT) break;
        bool debit = false;
        const record_side_t *side = record_side_of(&record, account_id, &debit);
        if (record.timestamp <= timestamp) {
            *balance_out = side->balance_after;
            break;
        }
        sequence = side->previous_sequence;
    }
    ledger_read_end(ledger, txn);
    return error;
}
