/*
 * names.c — the names of result codes and the descriptions of errors.
 * The tables are indexed by the public numbers, which never change.
 */
#include <lmdb.h>
#include <string.h>

#include "ledger.h"

static const char *const result_names[LEDGER_RESULT_CODE_COUNT] = {
    "ok", "linked_event_failed", "linked_event_chain_open",
    "timestamp_must_be_zero", "reserved_flag", "id_must_not_be_zero",
    "id_must_not_be_int_max", "flags_are_mutually_exclusive",
    "debits_pending_must_be_zero", "debits_posted_must_be_zero",
    "credits_pending_must_be_zero", "credits_posted_must_be_zero",
    "ledger_must_not_be_zero", "code_must_not_be_zero",
    "exists_with_different_flags", "exists_with_different_user_data_128",
    "exists_with_different_user_data_64", "exists_with_different_user_data_32",
    "exists_with_different_ledger", "exists_with_different_code", "exists",
    "debit_account_id_must_not_be_zero", "debit_account_id_must_not_be_int_max",
    "credit_account_id_must_not_be_zero",
    "credit_account_id_must_not_be_int_max", "accounts_must_be_different",
    "pending_id_must_be_zero", "pending_id_must_not_be_zero",
    "pending_id_must_not_be_int_max", "pending_id_must_be_different",
    "timeout_reserved_for_pending_transfer", "amount_must_not_be_zero",
    "closing_transfer_must_be_pending", "debit_account_not_found",
    "credit_account_not_found", "accounts_must_have_the_same_ledger",
    "transfer_must_have_the_same_ledger_as_accounts",
    "pending_transfer_not_found", "pending_transfer_not_pending",
    "pending_transfer_has_different_debit_account_id",
    "pending_transfer_has_different_credit_account_id",
    "pending_transfer_has_different_ledger",
    "pending_transfer_has_different_code", "exceeds_pending_transfer_amount",
    "pending_transfer_has_different_amount", "pending_transfer_already_posted",
    "pending_transfer_already_voided", "pending_transfer_expired",
    "exists_with_different_debit_account_id",
    "exists_with_different_credit_account_id", "exists_with_different_amount",
    "exists_with_different_pending_id", "exists_with_different_timeout",
    "id_already_failed", "overflows_debits_pending",
    "overflows_credits_pending", "overflows_debits_posted",
    "overflows_credits_posted", "overflows_debits", "overflows_credits",
    "overflows_timeout", "exceeds_credits", "exceeds_debits",
    "debit_account_already_closed", "credit_account_already_closed",
    "id_reserved", "welfare_account_reserved", "welfare_cash_out_forbidden",
    "welfare_transfer_between_employees_forbidden",
};

_Static_assert(sizeof(result_names) / sizeof(result_names[0]) ==
                   LEDGER_RESULT_CODE_COUNT,
               "one name per result code");

const char *ledger_result_name(uint32_t result) {
    if (result >= LEDGER_RESULT_CODE_COUNT || result_names[result] == NULL) {
        return "unknown";
    }
    return result_names[result];
}

static const char *const error_descriptions[] = {
    "invalid argument",
    "batch is empty",
    "batch has more events than allowed (8190)",
    "data directory was written by a newer borsellino format",
    "data is corrupt (bad checksum or structure)",
    "not a borsellino data directory",
    "a write group is already open",
    "no write group is open",
    "the write group failed earlier and can only be aborted",
    "storage is full",
    "account not found",
    "invalid history filter",
    "out of memory",
    "verification failed",
    "the write group outgrew the map, which was grown: submit the group again",
    "the checkpoint signing key is missing, unreadable or not this directory's",
    "the ledger was opened read-only",
    "the data directory is in use by another committing process",
    "the last write group was never made durable: open the directory for writing to roll it back",
};

_Static_assert(sizeof(error_descriptions) / sizeof(error_descriptions[0]) ==
                   LEDGER_ERR_BASE - LEDGER_ERR_LAST + 1,
               "one description per ledger error");

const char *ledger_strerror(int error) {
    if (error == 0) return "success";
    if (error <= LEDGER_ERR_BASE && error >= LEDGER_ERR_LAST) {
        return error_descriptions[LEDGER_ERR_BASE - error];
    }
    /* mdb_strerror knows MDB_* codes and falls back to strerror(errno). */
    return mdb_strerror(error);
}
