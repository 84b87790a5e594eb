/*
 * pending.c — the second phase of two-phase transfers: post, void and
 * expiry (docs/ledger.md, steps 7-16 of post and void; "Pending timeout
 * and expiry").
 *
 * Tables: `pending` maps a pending transfer's id to its status and the
 * journal sequences of its creation and resolution; `expiry` holds one key
 * (expires_at, id) per unresolved pending transfer with a timeout, so the
 * due ones are the first keys. A pending transfer is resolved exactly once,
 * and its expiry key is deleted in the same transaction.
 */
#include <assert.h>
#include <string.h>

#include "ledger_internal.h"

int pending_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                pending_entry_t *entry_out, bool *found_out) {
    uint8_t key_bytes[KEY_ID_SIZE];
    key_id_encode(id, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data;
    *found_out = false;
    int error = mdb_get(txn, ledger->dbi_pending, &key, &data);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    error = record_pending_decode(data.mv_data, data.mv_size, entry_out);
    if (error) {
        ledger_set_error(ledger, "pending table entry is damaged");
        return error;
    }
    *found_out = true;
    return 0;
}

int pending_put(ledger_t *ledger, ledger_u128_t id, const pending_entry_t *entry) {
    uint8_t key_bytes[KEY_ID_SIZE];
    uint8_t value[RECORD_PENDING_SIZE];
    key_id_encode(id, key_bytes);
    record_pending_encode(entry, value);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {sizeof(value), value};
    return store_error(mdb_put(ledger->txn, ledger->dbi_pending, &key, &data, 0));
}

int expiry_put(ledger_t *ledger, uint64_t expires_at, ledger_u128_t id) {
    uint8_t key_bytes[KEY_EXPIRY_SIZE];
    key_expiry_encode(expires_at, id, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    MDB_val data = {0, NULL};
    return store_error(mdb_put(ledger->txn, ledger->dbi_expiry, &key, &data, 0));
}

int expiry_delete(ledger_t *ledger, uint64_t expires_at, ledger_u128_t id) {
    uint8_t key_bytes[KEY_EXPIRY_SIZE];
    key_expiry_encode(expires_at, id, key_bytes);
    MDB_val key = {sizeof(key_bytes), key_bytes};
    int error = mdb_del(ledger->txn, ledger->dbi_expiry, &key, NULL);
    /* Every unresolved pending transfer with a timeout has its key. */
    assert(error != MDB_NOTFOUND);
    return store_error(error);
}

/* Steps 10-11: finds the pending transfer named by `pending_id`. */
static int pending_find(ledger_t *ledger, ledger_u128_t pending_id,
                        pending_entry_t *entry, journal_record_t *pending,
                        uint32_t *result_out) {
    bool found = false;
    int error = pending_get(ledger, ledger->txn, pending_id, entry, &found);
    if (error) return error;
    if (found) return journal_read(ledger, ledger->txn, entry->pending_sequence, pending);
    uint64_t sequence = 0;
    error = transfer_index_get(ledger, ledger->txn, pending_id, &sequence, &found);
    if (error) return error;
    *result_out = LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND;
    if (!found) return 0;
    journal_record_t existing;
    error = journal_read(ledger, ledger->txn, sequence, &existing);
    if (error) return error;
    if (existing.kind == RECORD_KIND_TRANSFER) {
        *result_out = LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING;
    }
    return 0;
}

/* Steps 12-14. */
static uint32_t pending_validate(const ledger_transfer_t *transfer,
                                 const journal_record_t *pending,
                                 const pending_entry_t *entry, uint64_t timestamp) {
    if (!ledger_u128_is_zero(transfer->debit_account_id) &&
        !ledger_u128_equal(transfer->debit_account_id, pending->debit_account_id)) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID;
    }
    if (!ledger_u128_is_zero(transfer->credit_account_id) &&
        !ledger_u128_equal(transfer->credit_account_id, pending->credit_account_id)) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID;
    }
    if (transfer->ledger != 0 && transfer->ledger != pending->ledger) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER;
    }
    if (transfer->code != 0 && transfer->code != pending->code) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CODE;
    }
    bool post = (transfer->flags & LEDGER_TRANSFER_POST_PENDING) != 0;
    if (post && transfer->amount > pending->amount) {
        return LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT;
    }
    if (!post && transfer->amount != 0 && transfer->amount != pending->amount) {
        return LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT;
    }
    if (entry->status == PENDING_STATUS_POSTED) return LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED;
    if (entry->status == PENDING_STATUS_VOIDED) return LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED;
    if (entry->status == PENDING_STATUS_EXPIRED) return LEDGER_RESULT_PENDING_TRANSFER_EXPIRED;
    if (entry->expires_at != 0 && entry->expires_at <= timestamp) {
        return LEDGER_RESULT_PENDING_TRANSFER_EXPIRED;
    }
    return LEDGER_RESULT_OK;
}

/* The sides of a record that releases `pending` and posts `posted` of it;
 * voiding (or expiring) a closing transfer reopens the accounts it closed. */
static void pending_release_sides(journal_record_t *record,
                                  const journal_record_t *pending,
                                  const account_slot_t *debit,
                                  const account_slot_t *credit, uint64_t posted,
                                  bool reopen) {
    record->debit.balance_after = debit->balance;
    record->credit.balance_after = credit->balance;
    record->debit.flags_after = debit->flags;
    record->credit.flags_after = credit->flags;
    assert(debit->balance.debits_pending >= pending->amount);
    assert(credit->balance.credits_pending >= pending->amount);
    record->debit.balance_after.debits_pending -= pending->amount;
    record->credit.balance_after.credits_pending -= pending->amount;
    record->debit.balance_after.debits_posted += posted;
    record->credit.balance_after.credits_posted += posted;
    if (reopen && (pending->flags & LEDGER_TRANSFER_CLOSING_DEBIT)) {
        record->debit.flags_after &= (uint16_t)~LEDGER_ACCOUNT_CLOSED;
    }
    if (reopen && (pending->flags & LEDGER_TRANSFER_CLOSING_CREDIT)) {
        record->credit.flags_after &= (uint16_t)~LEDGER_ACCOUNT_CLOSED;
    }
}

/* Marks the pending transfer resolved by record `resolved_sequence`. */
static int pending_resolve(ledger_t *ledger, ledger_u128_t pending_id,
                           pending_entry_t *entry, uint8_t status,
                           uint64_t resolved_sequence) {
    if (entry->expires_at != 0) {
        int error = expiry_delete(ledger, entry->expires_at, pending_id);
        if (error) return error;
    }
    entry->status = status;
    entry->resolved_sequence = resolved_sequence;
    assert(ledger->pending_count > 0);
    ledger->pending_count--;
    return pending_put(ledger, pending_id, entry);
}

static void pending_accounts(ledger_t *ledger, const journal_record_t *pending,
                             account_slot_t **debit, account_slot_t **credit) {
    *debit = accounts_find(&ledger->accounts, pending->debit_account_id);
    *credit = accounts_find(&ledger->accounts, pending->credit_account_id);
    /* A pending transfer's accounts existed when it was created, and
     * accounts are never deleted. */
    assert(*debit != NULL);
    assert(*credit != NULL);
}

static uint32_t pending_validate_overflow(const account_slot_t *debit,
                                          const account_slot_t *credit,
                                          uint64_t posted) {
    if (debit->balance.debits_posted > UINT64_MAX - posted) {
        return LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED;
    }
    if (credit->balance.credits_posted > UINT64_MAX - posted) {
        return LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED;
    }
    return LEDGER_RESULT_OK;
}

static uint32_t pending_validate_request(const ledger_transfer_t *transfer) {
    if (ledger_u128_is_zero(transfer->pending_id)) return LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_ZERO;
    if (ledger_u128_is_max(transfer->pending_id)) return LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_INT_MAX;
    if (ledger_u128_equal(transfer->pending_id, transfer->id)) {
        return LEDGER_RESULT_PENDING_ID_MUST_BE_DIFFERENT;
    }
    if (transfer->timeout != 0) return LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    return LEDGER_RESULT_OK;
}

int pending_post_or_void(ledger_t *ledger, const ledger_transfer_t *transfer,
                         uint32_t *result_out, uint64_t *timestamp_out) {
    *result_out = pending_validate_request(transfer);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    pending_entry_t entry;
    journal_record_t pending;
    int error = pending_find(ledger, transfer->pending_id, &entry, &pending, result_out);
    if (error || *result_out != LEDGER_RESULT_OK) return error;
    uint64_t timestamp = ledger_timestamp_next(ledger);
    *result_out = pending_validate(transfer, &pending, &entry, timestamp);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    bool post = (transfer->flags & LEDGER_TRANSFER_POST_PENDING) != 0;
    uint64_t posted = post ? (transfer->amount == 0 ? pending.amount : transfer->amount) : 0;
    account_slot_t *debit = NULL;
    account_slot_t *credit = NULL;
    pending_accounts(ledger, &pending, &debit, &credit);
    *result_out = pending_validate_overflow(debit, credit, posted);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    journal_record_t record;
    record_from_transfer(transfer, &record);
    record.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    record.debit_account_id = pending.debit_account_id;
    record.credit_account_id = pending.credit_account_id;
    record.ledger = pending.ledger;
    record.code = pending.code;
    record.amount = post ? posted : pending.amount;
    record.timestamp = timestamp;
    pending_release_sides(&record, &pending, debit, credit, posted, !post);
    error = transfer_commit_record(ledger, &record, debit, credit);
    if (!error) error = transfer_index_put(ledger, transfer->id, record.sequence);
    if (!error) {
        error = pending_resolve(ledger, transfer->pending_id, &entry,
                                post ? PENDING_STATUS_POSTED : PENDING_STATUS_VOIDED,
                                record.sequence);
    }
    *timestamp_out = timestamp;
    return error;
}

/* Expires the pending transfer `pending_id`, due at `expires_at`. */
static int pending_expire_one(ledger_t *ledger, ledger_u128_t pending_id) {
    pending_entry_t entry;
    journal_record_t pending;
    bool found = false;
    int error = pending_get(ledger, ledger->txn, pending_id, &entry, &found);
    if (error) return error;
    if (!found || entry.status != PENDING_STATUS_PENDING) {
        ledger_set_error(ledger, "expiry table names a transfer that is not pending");
        return LEDGER_ERR_CORRUPT;
    }
    error = journal_read(ledger, ledger->txn, entry.pending_sequence, &pending);
    if (error) return error;
    account_slot_t *debit = NULL;
    account_slot_t *credit = NULL;
    pending_accounts(ledger, &pending, &debit, &credit);
    journal_record_t record;
    memset(&record, 0, sizeof(record));
    record.kind = RECORD_KIND_EXPIRY;
    record.pending_id = pending_id;
    record.debit_account_id = pending.debit_account_id;
    record.credit_account_id = pending.credit_account_id;
    record.ledger = pending.ledger;
    record.code = pending.code;
    record.amount = pending.amount;
    record.timestamp = ledger_timestamp_next(ledger);
    pending_release_sides(&record, &pending, debit, credit, 0, true);
    error = transfer_commit_record(ledger, &record, debit, credit);
    if (error) return error;
    return pending_resolve(ledger, pending_id, &entry, PENDING_STATUS_EXPIRED,
                           record.sequence);
}

/* The first expiry key, if it is due at `now`. */
static int expiry_first_due(ledger_t *ledger, uint64_t now, ledger_u128_t *id_out,
                            bool *due_out) {
    MDB_cursor *cursor = NULL;
    *due_out = false;
    int error = mdb_cursor_open(ledger->txn, ledger->dbi_expiry, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
    mdb_cursor_close(cursor);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    if (key.mv_size != KEY_EXPIRY_SIZE) return LEDGER_ERR_CORRUPT;
    uint64_t expires_at = 0;
    key_expiry_decode(key.mv_data, &expires_at, id_out);
    *due_out = expires_at <= now;
    return 0;
}

int pending_expire_due(ledger_t *ledger, uint32_t *expired_count_out) {
    *expired_count_out = 0;
    while (*expired_count_out < LEDGER_EXPIRE_BATCH_MAX) {
        ledger_u128_t id;
        bool due = false;
        int error = expiry_first_due(ledger, ledger->now, &id, &due);
        if (error || !due) return error;
        error = pending_expire_one(ledger, id);
        if (error) return error;
        (*expired_count_out)++;
    }
    return 0;
}
