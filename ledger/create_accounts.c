/*
 * create_accounts.c — validation and creation of accounts, in the order of
 * docs/ledger.md ("create_accounts"). Accounts live in memory; creating one
 * appends an ACCOUNT record to the journal (the checkpoint writes it to the
 * accounts table later).
 */
#include <string.h>

#include "ledger_internal.h"
#include "welfare.h"

enum {
    ACCOUNT_FLAGS_KNOWN = LEDGER_ACCOUNT_LINKED |
                          LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS |
                          LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS |
                          LEDGER_ACCOUNT_HISTORY,
    /* Flags kept in the account (LINKED is per request only). */
    ACCOUNT_FLAGS_STORED = ACCOUNT_FLAGS_KNOWN & ~LEDGER_ACCOUNT_LINKED,
};

/* Steps 2-8: checks that need no state. */
static uint32_t account_validate(const ledger_account_t *account) {
    if (account->timestamp != 0) return LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO;
    if (account->flags & ~ACCOUNT_FLAGS_KNOWN) return LEDGER_RESULT_RESERVED_FLAG;
    if (ledger_u128_is_zero(account->id)) return LEDGER_RESULT_ID_MUST_NOT_BE_ZERO;
    if (ledger_u128_is_max(account->id)) return LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX;
    if ((account->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        (account->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS)) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    if (account->debits_pending != 0) return LEDGER_RESULT_DEBITS_PENDING_MUST_BE_ZERO;
    if (account->debits_posted != 0) return LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO;
    if (account->credits_pending != 0) return LEDGER_RESULT_CREDITS_PENDING_MUST_BE_ZERO;
    if (account->credits_posted != 0) return LEDGER_RESULT_CREDITS_POSTED_MUST_BE_ZERO;
    if (account->ledger == 0) return LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO;
    if (account->code == 0) return LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO;
    return LEDGER_RESULT_OK;
}

/* Step 9: the id exists; compare field by field. */
static uint32_t account_compare(const ledger_account_t *account,
                                const account_slot_t *existing) {
    uint16_t existing_flags = existing->flags & ACCOUNT_FLAGS_STORED;
    if ((account->flags & ACCOUNT_FLAGS_STORED) != existing_flags) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS;
    }
    if (!ledger_u128_equal(account->user_data_128, existing->user_data_128)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128;
    }
    if (account->user_data_64 != existing->user_data_64) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64;
    }
    if (account->user_data_32 != existing->user_data_32) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32;
    }
    if (account->ledger != existing->ledger) return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER;
    if (account->code != existing->code) return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE;
    return LEDGER_RESULT_EXISTS;
}

static int account_create(ledger_t *ledger, const ledger_account_t *account,
                          uint64_t *timestamp_out) {
    account_slot_t slot;
    memset(&slot, 0, sizeof(slot));
    slot.id = account->id;
    slot.user_data_128 = account->user_data_128;
    slot.user_data_64 = account->user_data_64;
    slot.user_data_32 = account->user_data_32;
    slot.ledger = account->ledger;
    slot.code = account->code;
    slot.flags = account->flags & ACCOUNT_FLAGS_STORED;
    slot.timestamp = ledger_timestamp_next(ledger);
    journal_record_t record;
    memset(&record, 0, sizeof(record));
    record.kind = RECORD_KIND_ACCOUNT;
    record.timestamp = slot.timestamp;
    record.id = slot.id;
    record.user_data_128 = slot.user_data_128;
    record.user_data_64 = slot.user_data_64;
    record.user_data_32 = slot.user_data_32;
    record.ledger = slot.ledger;
    record.code = slot.code;
    record.flags = slot.flags;
    record.debit.flags_after = slot.flags;
    /* Memory first: if it fails nothing was written; if the journal append
     * then fails, the caller rolls the group back, undo included. */
    slot.last_sequence = ledger->sequence + 1;
    int error = accounts_insert(&ledger->accounts, &slot, true, true);
    if (error) return error;
    error = journal_append(ledger, &record);
    if (error) return error;
    *timestamp_out = slot.timestamp;
    return 0;
}

/* Validates and creates one account; shared by the public batch path and
 * the welfare layer (account_create_privileged). */
static int account_process_one(ledger_t *ledger, const ledger_account_t *account,
                               uint32_t *result_out, uint64_t *timestamp_out) {
    *result_out = account_validate(account);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    const account_slot_t *existing = accounts_find(&ledger->accounts, account->id);
    if (existing != NULL) {
        *result_out = account_compare(account, existing);
        *timestamp_out = existing->timestamp;
        return 0;
    }
    return account_create(ledger, account, timestamp_out);
}

int account_create_privileged(ledger_t *ledger, const ledger_account_t *account,
                              uint32_t *result_out, uint64_t *timestamp_out) {
    return account_process_one(ledger, account, result_out, timestamp_out);
}

static int account_process(ledger_t *ledger, const void *events, uint32_t index,
                           uint32_t *result_out, uint64_t *timestamp_out) {
    const ledger_account_t *account = (const ledger_account_t *)events + index;
    /* Welfare accounts are created by the welfare layer only (welfare.h). */
    if ((uint32_t)(account->id.hi >> 32) == WELFARE_ACCOUNT_ID_TAG &&
        account_validate(account) == LEDGER_RESULT_OK) {
        *result_out = LEDGER_RESULT_ID_RESERVED;
        return 0;
    }
    return account_process_one(ledger, account, result_out, timestamp_out);
}

static bool account_linked(const void *events, uint32_t index) {
    const ledger_account_t *account = (const ledger_account_t *)events + index;
    return (account->flags & LEDGER_ACCOUNT_LINKED) != 0;
}

/* Account results are never transient: nothing to record. */
static int account_record_failure(ledger_t *ledger, const void *events,
                                  uint32_t index, uint32_t result) {
    (void)ledger;
    (void)events;
    (void)index;
    (void)result;
    return 0;
}

static const batch_ops_t account_batch_ops = {
    .process = account_process,
    .linked = account_linked,
    .record_failure = account_record_failure,
};

int ledger_create_accounts(ledger_t *ledger, const ledger_account_t *accounts,
                           uint32_t count, ledger_result_t *results) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count == 0) return LEDGER_ERR_BATCH_EMPTY;
    if (count > LEDGER_BATCH_EVENTS_MAX) return LEDGER_ERR_BATCH_TOO_LARGE;
    if (accounts == NULL || results == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    bool retry = false;
    int error = 0;
    do {
        bool auto_group = false;
        error = ledger_write_auto_begin(ledger, &auto_group);
        if (error) return error;
        ledger->now = ledger->options.clock(ledger->options.clock_context);
        error = batch_run(ledger, &account_batch_ops, accounts, count, results);
        error = ledger_write_auto_end(ledger, auto_group, error);
        error = ledger_write_settle(ledger, auto_group, error, &retry);
    } while (retry);
    return error;
}
