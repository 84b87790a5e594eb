/*
 * cli_results.c — every per-event result code (ledger.h's enum
 * ledger_result_code, the protocol's Result) and every welfare result
 * (welfare.h's enum welfare_result, the protocol's WelfareResult) as a
 * sentence for people: what happened and, when it failed, what to change.
 * The snake_case names come from ledger_result_name() and
 * welfare_result_name(); this file adds the explanation.
 *
 * Invariant: each table has one entry per code, in code order (checked by
 * static assertions), so a new code cannot be added without its sentence.
 */
#include "cli.h"
#include "welfare.h"

static const char *const cli_result_messages[] = {
    [LEDGER_RESULT_OK] = "done",
    [LEDGER_RESULT_LINKED_EVENT_FAILED] =
        "not applied because another event of its linked chain failed",
    [LEDGER_RESULT_LINKED_EVENT_CHAIN_OPEN] =
        "the last event of the batch has the linked flag, so its chain never ends; "
        "remove linked from the last event",
    [LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO] =
        "the timestamp must be 0: the server assigns it",
    [LEDGER_RESULT_RESERVED_FLAG] =
        "a flag is not allowed here (unknown, or 'closed', which only closing transfers set)",
    [LEDGER_RESULT_ID_MUST_NOT_BE_ZERO] = "the id must not be 0",
    [LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX] = "the id must not be 2^128-1 (reserved)",
    [LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE] =
        "these flags cannot be combined (e.g. pending with post/void, or both "
        "must_not_exceed limits on one account)",
    [LEDGER_RESULT_DEBITS_PENDING_MUST_BE_ZERO] = "a new account must have debits_pending 0",
    [LEDGER_RESULT_DEBITS_POSTED_MUST_BE_ZERO] = "a new account must have debits_posted 0",
    [LEDGER_RESULT_CREDITS_PENDING_MUST_BE_ZERO] = "a new account must have credits_pending 0",
    [LEDGER_RESULT_CREDITS_POSTED_MUST_BE_ZERO] = "a new account must have credits_posted 0",
    [LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO] = "the ledger (currency) must not be 0",
    [LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO] = "the code must not be 0 (use 1..65535)",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS] =
        "an account or transfer with this id already exists with different flags",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128] =
        "this id already exists with a different user_data_128",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64] =
        "this id already exists with a different user_data_64",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32] =
        "this id already exists with a different user_data_32",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER] =
        "this id already exists with a different ledger",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE] = "this id already exists with a different code",
    [LEDGER_RESULT_EXISTS] =
        "already exists with the same fields (a safe retry: nothing changed)",
    [LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO] = "the debit account id must not be 0",
    [LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX] =
        "the debit account id must not be 2^128-1",
    [LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO] = "the credit account id must not be 0",
    [LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX] =
        "the credit account id must not be 2^128-1",
    [LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT] =
        "the debit and credit accounts must be different",
    [LEDGER_RESULT_PENDING_ID_MUST_BE_ZERO] =
        "pending_id is only for posting or voiding a pending transfer",
    [LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_ZERO] =
        "posting or voiding needs the id of the pending transfer",
    [LEDGER_RESULT_PENDING_ID_MUST_NOT_BE_INT_MAX] = "the pending id must not be 2^128-1",
    [LEDGER_RESULT_PENDING_ID_MUST_BE_DIFFERENT] =
        "the post/void transfer needs its own id, different from the pending transfer's",
    [LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER] =
        "a timeout is only allowed on a pending transfer",
    [LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO] = "the amount must not be 0",
    [LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING] =
        "closing_debit/closing_credit need the pending flag",
    [LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND] = "the debit account does not exist",
    [LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND] = "the credit account does not exist",
    [LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER] =
        "the two accounts are in different ledgers (currencies); a transfer moves money "
        "within one ledger",
    [LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS] =
        "the transfer's ledger is not the accounts' ledger",
    [LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND] = "no transfer has this pending id",
    [LEDGER_RESULT_PENDING_TRANSFER_NOT_PENDING] =
        "the transfer named by the pending id is not a pending transfer",
    [LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID] =
        "the pending transfer has a different debit account",
    [LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID] =
        "the pending transfer has a different credit account",
    [LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_LEDGER] =
        "the pending transfer has a different ledger",
    [LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_CODE] =
        "the pending transfer has a different code",
    [LEDGER_RESULT_EXCEEDS_PENDING_TRANSFER_AMOUNT] =
        "the amount to post is more than the pending transfer reserved",
    [LEDGER_RESULT_PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT] =
        "a void must release the whole pending amount (give no amount, or exactly it)",
    [LEDGER_RESULT_PENDING_TRANSFER_ALREADY_POSTED] = "the pending transfer was already posted",
    [LEDGER_RESULT_PENDING_TRANSFER_ALREADY_VOIDED] = "the pending transfer was already voided",
    [LEDGER_RESULT_PENDING_TRANSFER_EXPIRED] =
        "the pending transfer expired (its timeout passed): its reservation was released",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID] =
        "a transfer with this id already exists with a different debit account",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID] =
        "a transfer with this id already exists with a different credit account",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT] =
        "a transfer with this id already exists with a different amount",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID] =
        "a transfer with this id already exists with a different pending id",
    [LEDGER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT] =
        "a transfer with this id already exists with a different timeout",
    [LEDGER_RESULT_ID_ALREADY_FAILED] =
        "a transfer with this id was refused before; ids of refused transfers cannot be "
        "reused: choose a new id",
    [LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING] =
        "the debit account's debits_pending would overflow",
    [LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING] =
        "the credit account's credits_pending would overflow",
    [LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED] = "the debit account's debits_posted would overflow",
    [LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED] =
        "the credit account's credits_posted would overflow",
    [LEDGER_RESULT_OVERFLOWS_DEBITS] =
        "the debit account's debits (pending + posted) would overflow",
    [LEDGER_RESULT_OVERFLOWS_CREDITS] =
        "the credit account's credits (pending + posted) would overflow",
    [LEDGER_RESULT_OVERFLOWS_TIMEOUT] = "the timeout is too far in the future",
    [LEDGER_RESULT_EXCEEDS_CREDITS] =
        "insufficient funds: the debit account may not owe more than its credits "
        "(debits_must_not_exceed_credits)",
    [LEDGER_RESULT_EXCEEDS_DEBITS] =
        "the credit account may not receive more than its debits "
        "(credits_must_not_exceed_debits)",
    [LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED] = "the debit account is closed",
    [LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED] = "the credit account is closed",
    [LEDGER_RESULT_ID_RESERVED] =
        "the id is in a range reserved for the welfare layer (top 32 bits 0xFFFFFFFD for "
        "accounts, 0xFFFFFFFE for transfers): choose another id",
    [LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED] =
        "the transfer touches a welfare account: welfare money moves only through "
        "`borsellino welfare` operations",
    [LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN] =
        "welfare credit can never be paid out as cash (employee pot to bank)",
    [LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN] =
        "welfare credit can never move from one employee's pot to another's",
};

_Static_assert(sizeof cli_result_messages / sizeof cli_result_messages[0] ==
                   LEDGER_RESULT_CODE_COUNT,
               "one sentence per result code");

const char *cli_result_message(uint32_t result) {
    if (result >= LEDGER_RESULT_CODE_COUNT || cli_result_messages[result] == NULL) {
        return "the server answered with a result this client does not know (is it newer?)";
    }
    return cli_result_messages[result];
}

bool cli_result_succeeded(uint32_t result) {
    return result == LEDGER_RESULT_OK || result == LEDGER_RESULT_EXISTS;
}

/* ---- welfare results (welfare.h's enum welfare_result) ---- */

static const char *const cli_welfare_result_messages[] = {
    [WELFARE_RESULT_OK] = "done",
    [WELFARE_RESULT_EXISTS] = "already done with the same fields: a safe retry, nothing changed",
    [WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS] =
        "this id was already used for something different: use a new id, or send exactly "
        "the same fields to retry",
    [WELFARE_RESULT_INVALID_FIELD] = "a field is out of range",
    [WELFARE_RESULT_FUNDER_NOT_FOUND] = "no funder has this id",
    [WELFARE_RESULT_PROVIDER_NOT_FOUND] = "no provider has this id",
    [WELFARE_RESULT_EMPLOYEE_NOT_FOUND] = "no employee has this id",
    [WELFARE_RESULT_PLAN_NOT_FOUND] = "no plan has this id",
    [WELFARE_RESULT_CATEGORY_NOT_FOUND] = "the category is not in the catalog",
    [WELFARE_RESULT_PURCHASE_NOT_FOUND] = "no purchase has this id",
    [WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER] =
        "the employee belongs to another funder than the plan's",
    [WELFARE_RESULT_NEXT_PLAN_INVALID] =
        "the carry-over plan is missing, belongs to another funder, or is the plan itself",
    [WELFARE_RESULT_INSUFFICIENT_FUNDS] = "the funder's budget does not cover the grant",
    [WELFARE_RESULT_GRANT_LIMIT_EXCEEDED] =
        "the plan's per-employee grant limit would be exceeded",
    [WELFARE_RESULT_PLAN_NOT_STARTED] = "the plan has not started yet",
    [WELFARE_RESULT_POT_EXPIRED] = "the plan has ended: its pots can no longer be used",
    [WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN] =
        "none of the employee's plans allows this category",
    [WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER] = "the provider does not sell this category",
    [WELFARE_RESULT_FRINGE_CAP_EXCEEDED] =
        "it would take the employee's fringe benefits of the year above the cap (one cent "
        "over makes them all taxable)",
    [WELFARE_RESULT_INSUFFICIENT_POT_BALANCE] =
        "the employee's eligible pots do not hold enough credit",
    [WELFARE_RESULT_POT_CLOSED] = "the employee was offboarded: their pots are closed",
    [WELFARE_RESULT_NO_ELIGIBLE_POT] = "the employee has no pot at all: no credit was ever granted to them",
    [WELFARE_RESULT_HOLD_NOT_PENDING] =
        "the purchase is not an open hold (captured, voided or expired already)",
    [WELFARE_RESULT_CAPTURE_EXCEEDS_HOLD] = "the capture is more than the held amount",
    [WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE] =
        "the refund is more than was purchased and not yet refunded",
    [WELFARE_RESULT_PURCHASE_NOT_CAPTURED] =
        "the purchase is a hold that was never captured: void it instead",
    [WELFARE_RESULT_CATEGORY_NOT_REIMBURSABLE] = "this category is not reimbursable",
    [WELFARE_RESULT_RECEIPT_REQUIRED] = "a reimbursement needs the receipt's SHA-256",
    [WELFARE_RESULT_AMOUNT_EXCEEDS_RECEIPT] = "the amount is more than the receipt's total",
    [WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED] = "this receipt was already reimbursed",
    [WELFARE_RESULT_PAYABLE_INSUFFICIENT] = "the provider's payable does not cover it",
    [WELFARE_RESULT_PLAN_NOT_ENDED] = "the plan has not ended yet: nothing to sweep",
    [WELFARE_RESULT_EMPLOYEE_OFFBOARDED] = "the employee was already offboarded",
    [WELFARE_RESULT_TOO_MANY_POTS] = "the employee already holds the most pots allowed (16)",
    [WELFARE_RESULT_OVERFLOW] = "an amount or a running total would overflow",
    [WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT] = "the split would need more than 4 pots",
};

_Static_assert(sizeof cli_welfare_result_messages / sizeof cli_welfare_result_messages[0] ==
                   WELFARE_RESULT_CODE_COUNT,
               "one sentence per welfare result");

const char *cli_welfare_result_message(uint32_t result) {
    if (result >= WELFARE_RESULT_CODE_COUNT || cli_welfare_result_messages[result] == NULL) {
        return "the server answered with a result this client does not know (is it newer?)";
    }
    return cli_welfare_result_messages[result];
}

bool cli_welfare_result_succeeded(uint32_t result) {
    return result == WELFARE_RESULT_OK || result == WELFARE_RESULT_EXISTS;
}
