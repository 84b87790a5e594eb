/*
 * create_transfers.c — validation and application of single-phase and
 * pending transfers, in the order of docs/ledger.md ("create_transfers");
 * post and void are in pending.c. This is the hot path: per transfer, two
 * in-memory account lookups, one id-index append and one journal append.
 */
#include <assert.h>
#include <string.h>

#include "ledger_internal.h"
#include "welfare.h"

enum {
    TRANSFER_FLAGS_KNOWN = 0xFF,
    TRANSFER_PHASE_FLAGS = LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_POST_PENDING |
                           LEDGER_TRANSFER_VOID_PENDING,
    TRANSFER_RESOLVE_FLAGS = LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING,
    TRANSFER_BALANCING_FLAGS = LEDGER_TRANSFER_BALANCING_DEBIT |
                               LEDGER_TRANSFER_BALANCING_CREDIT,
    TRANSFER_CLOSING_FLAGS = LEDGER_TRANSFER_CLOSING_DEBIT |
                             LEDGER_TRANSFER_CLOSING_CREDIT,
};

static const uint64_t NS_PER_SECOND = 1000000000ull;

bool transfer_result_is_transient(uint32_t result) {
    switch (result) {
    case LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND:
    case LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND:
    case LEDGER_RESULT_PENDING_TRANSFER_NOT_FOUND:
    case LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED:
    case LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED:
    case LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING:
    case LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING:
    case LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED:
    case LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED:
    case LEDGER_RESULT_OVERFLOWS_DEBITS:
    case LEDGER_RESULT_OVERFLOWS_CREDITS:
    case LEDGER_RESULT_OVERFLOWS_TIMEOUT:
    case LEDGER_RESULT_EXCEEDS_CREDITS:
    case LEDGER_RESULT_EXCEEDS_DEBITS:
        return true;
    default:
        return false;
    }
}

/* Steps 2-5: checks that need no state. */
static uint32_t transfer_validate_stateless(const ledger_transfer_t *transfer) {
    uint16_t flags = transfer->flags;
    if (transfer->timestamp != 0) return LEDGER_RESULT_TIMESTAMP_MUST_BE_ZERO;
    if (flags & ~TRANSFER_FLAGS_KNOWN) return LEDGER_RESULT_RESERVED_FLAG;
    if (ledger_u128_is_zero(transfer->id)) return LEDGER_RESULT_ID_MUST_NOT_BE_ZERO;
    if (ledger_u128_is_max(transfer->id)) return LEDGER_RESULT_ID_MUST_NOT_BE_INT_MAX;
    uint16_t phase = flags & TRANSFER_PHASE_FLAGS;
    if (phase & (phase - 1)) return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    if ((flags & TRANSFER_RESOLVE_FLAGS) &&
        (flags & (TRANSFER_BALANCING_FLAGS | TRANSFER_CLOSING_FLAGS))) {
        return LEDGER_RESULT_FLAGS_ARE_MUTUALLY_EXCLUSIVE;
    }
    return LEDGER_RESULT_OK;
}

/* A request field that may be zero for post/void ("take it from the
 * pending transfer") matches anything when zero. */
static bool resolve_field_matches(bool resolving, bool request_zero, bool equal) {
    return equal || (resolving && request_zero);
}

static uint32_t transfer_compare_amount(const ledger_transfer_t *transfer,
                                        const journal_record_t *existing) {
    bool resolving = (transfer->flags & TRANSFER_RESOLVE_FLAGS) != 0;
    if (transfer->flags & TRANSFER_BALANCING_FLAGS) {
        return transfer->amount >= existing->amount
                   ? LEDGER_RESULT_OK
                   : LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT;
    }
    if (resolve_field_matches(resolving, transfer->amount == 0,
                              transfer->amount == existing->amount)) {
        return LEDGER_RESULT_OK;
    }
    return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_AMOUNT;
}

/* Step 6 for an id that exists: compare with the stored transfer. */
static uint32_t transfer_compare(const ledger_transfer_t *transfer,
                                 const journal_record_t *existing) {
    bool resolving = (transfer->flags & TRANSFER_RESOLVE_FLAGS) != 0;
    uint16_t linked = LEDGER_TRANSFER_LINKED;
    if ((transfer->flags & ~linked) != (existing->flags & ~linked)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_FLAGS;
    }
    if (!resolve_field_matches(resolving, ledger_u128_is_zero(transfer->debit_account_id),
                               ledger_u128_equal(transfer->debit_account_id,
                                                 existing->debit_account_id))) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID;
    }
    if (!resolve_field_matches(resolving, ledger_u128_is_zero(transfer->credit_account_id),
                               ledger_u128_equal(transfer->credit_account_id,
                                                 existing->credit_account_id))) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID;
    }
    uint32_t amount_result = transfer_compare_amount(transfer, existing);
    if (amount_result != LEDGER_RESULT_OK) return amount_result;
    if (!ledger_u128_equal(transfer->pending_id, existing->pending_id)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_PENDING_ID;
    }
    if (!ledger_u128_equal(transfer->user_data_128, existing->user_data_128)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_128;
    }
    if (transfer->user_data_64 != existing->user_data_64) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_64;
    }
    if (transfer->user_data_32 != existing->user_data_32) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_USER_DATA_32;
    }
    if (transfer->timeout != existing->timeout) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_TIMEOUT;
    }
    if (!resolve_field_matches(resolving, transfer->ledger == 0,
                               transfer->ledger == existing->ledger)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_LEDGER;
    }
    if (!resolve_field_matches(resolving, transfer->code == 0,
                               transfer->code == existing->code)) {
        return LEDGER_RESULT_EXISTS_WITH_DIFFERENT_CODE;
    }
    return LEDGER_RESULT_EXISTS;
}

/* Step 6: *result_out stays OK when the id is new. */
static int transfer_check_existing(ledger_t *ledger,
                                   const ledger_transfer_t *transfer,
                                   uint32_t *result_out, uint64_t *timestamp_out) {
    uint64_t sequence = 0;
    bool found = false;
    int error = transfer_index_get(ledger, ledger->txn, transfer->id, &sequence,
                                   &found);
    if (error || !found) return error;
    journal_record_t existing;
    error = journal_read(ledger, ledger->txn, sequence, &existing);
    if (error) return error;
    if (existing.kind == RECORD_KIND_FAILED) {
        *result_out = LEDGER_RESULT_ID_ALREADY_FAILED;
        return 0;
    }
    *result_out = transfer_compare(transfer, &existing);
    *timestamp_out = existing.timestamp;
    return 0;
}

/* Steps 7-15: the fields of a single-phase or pending transfer. */
static uint32_t transfer_validate_fields(const ledger_transfer_t *transfer) {
    if (ledger_u128_is_zero(transfer->debit_account_id)) {
        return LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
    }
    if (ledger_u128_is_max(transfer->debit_account_id)) {
        return LEDGER_RESULT_DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
    }
    if (ledger_u128_is_zero(transfer->credit_account_id)) {
        return LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO;
    }
    if (ledger_u128_is_max(transfer->credit_account_id)) {
        return LEDGER_RESULT_CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX;
    }
    if (ledger_u128_equal(transfer->debit_account_id, transfer->credit_account_id)) {
        return LEDGER_RESULT_ACCOUNTS_MUST_BE_DIFFERENT;
    }
    if (!ledger_u128_is_zero(transfer->pending_id)) return LEDGER_RESULT_PENDING_ID_MUST_BE_ZERO;
    bool pending = (transfer->flags & LEDGER_TRANSFER_PENDING) != 0;
    if (transfer->timeout != 0 && !pending) {
        return LEDGER_RESULT_TIMEOUT_RESERVED_FOR_PENDING_TRANSFER;
    }
    if ((transfer->flags & TRANSFER_CLOSING_FLAGS) && !pending) {
        return LEDGER_RESULT_CLOSING_TRANSFER_MUST_BE_PENDING;
    }
    if (transfer->ledger == 0) return LEDGER_RESULT_LEDGER_MUST_NOT_BE_ZERO;
    if (transfer->code == 0) return LEDGER_RESULT_CODE_MUST_NOT_BE_ZERO;
    if (transfer->amount == 0) return LEDGER_RESULT_AMOUNT_MUST_NOT_BE_ZERO;
    return LEDGER_RESULT_OK;
}

/* Step 20: the amount a balancing transfer moves. */
static uint64_t transfer_balanced_amount(const ledger_transfer_t *transfer,
                                         const account_slot_t *debit,
                                         const account_slot_t *credit) {
    uint64_t amount = transfer->amount;
    if (transfer->flags & LEDGER_TRANSFER_BALANCING_DEBIT) {
        const ledger_balance_t *b = &debit->balance;
        /* Compared in 128 bits: debits may exceed credits. */
        __extension__ unsigned __int128 debits =
            (unsigned __int128)b->debits_posted + b->debits_pending;
        uint64_t room = debits >= b->credits_posted
                            ? 0 : (uint64_t)(b->credits_posted - debits);
        if (room < amount) amount = room;
    }
    if (transfer->flags & LEDGER_TRANSFER_BALANCING_CREDIT) {
        const ledger_balance_t *b = &credit->balance;
        __extension__ unsigned __int128 credits =
            (unsigned __int128)b->credits_posted + b->credits_pending;
        uint64_t room = credits >= b->debits_posted
                            ? 0 : (uint64_t)(b->debits_posted - credits);
        if (room < amount) amount = room;
    }
    return amount;
}

static bool add_overflows(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b;
}

/* Steps 21-25 for amount `amount` at timestamp `timestamp`. */
static uint32_t transfer_validate_balances(const ledger_transfer_t *transfer,
                                           const account_slot_t *debit,
                                           const account_slot_t *credit,
                                           uint64_t amount, uint64_t timestamp) {
    const ledger_balance_t *d = &debit->balance;
    const ledger_balance_t *c = &credit->balance;
    bool pending = (transfer->flags & LEDGER_TRANSFER_PENDING) != 0;
    if (pending && add_overflows(d->debits_pending, amount)) return LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING;
    if (pending && add_overflows(c->credits_pending, amount)) return LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING;
    if (!pending && add_overflows(d->debits_posted, amount)) return LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED;
    if (!pending && add_overflows(c->credits_posted, amount)) return LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED;
    if (add_overflows(d->debits_pending, d->debits_posted) ||
        add_overflows(d->debits_pending + d->debits_posted, amount)) {
        return LEDGER_RESULT_OVERFLOWS_DEBITS;
    }
    if (add_overflows(c->credits_pending, c->credits_posted) ||
        add_overflows(c->credits_pending + c->credits_posted, amount)) {
        return LEDGER_RESULT_OVERFLOWS_CREDITS;
    }
    if (pending && transfer->timeout != 0 &&
        (uint64_t)transfer->timeout > (UINT64_MAX - timestamp) / NS_PER_SECOND) {
        return LEDGER_RESULT_OVERFLOWS_TIMEOUT;
    }
    if ((debit->flags & LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS) &&
        d->debits_pending + d->debits_posted + amount > d->credits_posted) {
        return LEDGER_RESULT_EXCEEDS_CREDITS;
    }
    if ((credit->flags & LEDGER_ACCOUNT_CREDITS_MUST_NOT_EXCEED_DEBITS) &&
        c->credits_pending + c->credits_posted + amount > c->debits_posted) {
        return LEDGER_RESULT_EXCEEDS_DEBITS;
    }
    return LEDGER_RESULT_OK;
}

/* Steps 18-19: what the two accounts found allow. */
static uint32_t transfer_accounts_check(const ledger_transfer_t *transfer,
                                        const account_slot_t *debit,
                                        const account_slot_t *credit) {
    if (debit->ledger != credit->ledger) return LEDGER_RESULT_ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER;
    if (transfer->ledger != debit->ledger) {
        return LEDGER_RESULT_TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS;
    }
    if (debit->flags & LEDGER_ACCOUNT_CLOSED) return LEDGER_RESULT_DEBIT_ACCOUNT_ALREADY_CLOSED;
    if (credit->flags & LEDGER_ACCOUNT_CLOSED) return LEDGER_RESULT_CREDIT_ACCOUNT_ALREADY_CLOSED;
    return LEDGER_RESULT_OK;
}

/* Steps 16-19: the accounts. */
static uint32_t transfer_find_accounts(ledger_t *ledger,
                                       const ledger_transfer_t *transfer,
                                       account_slot_t **debit_out,
                                       account_slot_t **credit_out) {
    account_slot_t *debit = accounts_find(&ledger->accounts, transfer->debit_account_id);
    if (debit == NULL) return LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND;
    account_slot_t *credit = accounts_find(&ledger->accounts, transfer->credit_account_id);
    if (credit == NULL) return LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND;
    uint32_t result = transfer_accounts_check(transfer, debit, credit);
    if (result != LEDGER_RESULT_OK) return result;
    *debit_out = debit;
    *credit_out = credit;
    return LEDGER_RESULT_OK;
}

uint32_t transfer_posted_check(const ledger_transfer_t *transfer, const account_slot_t *debit,
                               const account_slot_t *credit) {
    assert((transfer->flags & (LEDGER_TRANSFER_PENDING | LEDGER_TRANSFER_POST_PENDING |
                               LEDGER_TRANSFER_VOID_PENDING)) == 0);
    uint32_t result = transfer_accounts_check(transfer, debit, credit);
    if (result != LEDGER_RESULT_OK) return result;
    return transfer_validate_balances(transfer, debit, credit, transfer->amount, 0);
}

int transfer_commit_record(ledger_t *ledger, journal_record_t *record,
                           account_slot_t *debit, account_slot_t *credit) {
    int error = accounts_reserve(&ledger->accounts, 2);
    if (error) return error;
    uint64_t sequence = ledger->sequence + 1;
    record->debit.previous_sequence = debit->last_sequence;
    record->credit.previous_sequence = credit->last_sequence;
    account_state_t debit_state = {record->debit.balance_after, sequence,
                                   record->debit.flags_after};
    account_state_t credit_state = {record->credit.balance_after, sequence,
                                    record->credit.flags_after};
    accounts_set_state(&ledger->accounts, debit, &debit_state, true);
    accounts_set_state(&ledger->accounts, credit, &credit_state, true);
    return journal_append(ledger, record);
}

/* Applies a validated single-phase or pending transfer. */
static int transfer_apply(ledger_t *ledger, const ledger_transfer_t *transfer,
                          account_slot_t *debit, account_slot_t *credit,
                          uint64_t amount, uint64_t timestamp) {
    journal_record_t record;
    record_from_transfer(transfer, &record);
    record.flags &= (uint16_t)~LEDGER_TRANSFER_LINKED;
    record.amount = amount;
    record.timestamp = timestamp;
    record.debit.balance_after = debit->balance;
    record.credit.balance_after = credit->balance;
    record.debit.flags_after = debit->flags;
    record.credit.flags_after = credit->flags;
    bool pending = (transfer->flags & LEDGER_TRANSFER_PENDING) != 0;
    if (pending) {
        record.debit.balance_after.debits_pending += amount;
        record.credit.balance_after.credits_pending += amount;
        if (transfer->flags & LEDGER_TRANSFER_CLOSING_DEBIT) record.debit.flags_after |= LEDGER_ACCOUNT_CLOSED;
        if (transfer->flags & LEDGER_TRANSFER_CLOSING_CREDIT) record.credit.flags_after |= LEDGER_ACCOUNT_CLOSED;
    } else {
        record.debit.balance_after.debits_posted += amount;
        record.credit.balance_after.credits_posted += amount;
    }
    int error = transfer_commit_record(ledger, &record, debit, credit);
    if (!error) error = transfer_index_put(ledger, transfer->id, record.sequence);
    if (error || !pending) return error;
    pending_entry_t entry = {PENDING_STATUS_PENDING, record.sequence, 0, 0};
    if (transfer->timeout != 0) {
        entry.expires_at = timestamp + (uint64_t)transfer->timeout * NS_PER_SECOND;
        error = expiry_put(ledger, entry.expires_at, transfer->id);
        if (error) return error;
    }
    ledger->pending_count++;
    return pending_put(ledger, transfer->id, &entry);
}

/* The welfare kind (account code) encoded in a welfare account id, or 0. */
static uint32_t welfare_kind_of(ledger_u128_t id) {
    if ((uint32_t)(id.hi >> 32) != WELFARE_ACCOUNT_ID_TAG) return 0;
    return (uint32_t)(id.hi & 0xFFFF);
}

/* Refuses a public transfer that would move welfare money outside the
 * welfare operations: each forbidden kind of move has its own result. */
static uint32_t transfer_check_reserved(const ledger_transfer_t *transfer) {
    if (welfare_transfer_id_is(transfer->id)) {
        return LEDGER_RESULT_ID_RESERVED;
    }
    if (welfare_transfer_id_is(transfer->pending_id)) {
        return LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED;
    }
    uint32_t debit_kind = welfare_kind_of(transfer->debit_account_id);
    uint32_t credit_kind = welfare_kind_of(transfer->credit_account_id);
    if (debit_kind == WELFARE_ACCOUNT_POT && credit_kind == WELFARE_ACCOUNT_BANK) {
        return LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN;
    }
    if (debit_kind == WELFARE_ACCOUNT_POT && credit_kind == WELFARE_ACCOUNT_POT) {
        return LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN;
    }
    if (debit_kind != 0 || credit_kind != 0) return LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED;
    return LEDGER_RESULT_OK;
}

static int transfer_process(ledger_t *ledger, const void *events, uint32_t index,
                            uint32_t *result_out, uint64_t *timestamp_out) {
    const ledger_transfer_t *transfer = (const ledger_transfer_t *)events + index;
    *result_out = transfer_validate_stateless(transfer);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    *result_out = transfer_check_reserved(transfer);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    return transfer_submit(ledger, transfer, result_out, timestamp_out);
}

int transfer_submit(ledger_t *ledger, const ledger_transfer_t *transfer,
                    uint32_t *result_out, uint64_t *timestamp_out) {
    *result_out = transfer_validate_stateless(transfer);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    int error = transfer_check_existing(ledger, transfer, result_out, timestamp_out);
    if (error || *result_out != LEDGER_RESULT_OK) return error;
    if (transfer->flags & TRANSFER_RESOLVE_FLAGS) {
        return pending_post_or_void(ledger, transfer, result_out, timestamp_out);
    }
    *result_out = transfer_validate_fields(transfer);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    account_slot_t *debit = NULL;
    account_slot_t *credit = NULL;
    *result_out = transfer_find_accounts(ledger, transfer, &debit, &credit);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    uint64_t amount = transfer_balanced_amount(transfer, debit, credit);
    uint64_t timestamp = ledger_timestamp_next(ledger);
    *result_out = transfer_validate_balances(transfer, debit, credit, amount, timestamp);
    if (*result_out != LEDGER_RESULT_OK) return 0;
    *timestamp_out = timestamp;
    return transfer_apply(ledger, transfer, debit, credit, amount, timestamp);
}

static bool transfer_linked(const void *events, uint32_t index) {
    const ledger_transfer_t *transfer = (const ledger_transfer_t *)events + index;
    return (transfer->flags & LEDGER_TRANSFER_LINKED) != 0;
}

static int transfer_record_failure(ledger_t *ledger, const void *events,
                                   uint32_t index, uint32_t result) {
    if (!transfer_result_is_transient(result)) return 0;
    const ledger_transfer_t *transfer = (const ledger_transfer_t *)events + index;
    return journal_append_failure(ledger, transfer, result);
}

static void transfer_prefetch(const ledger_t *ledger, const void *events,
                              uint32_t index, int stage) {
    const ledger_transfer_t *transfer = (const ledger_transfer_t *)events + index;
    if (stage == 3) {
        accounts_prefetch_probe(&ledger->accounts, transfer->debit_account_id);
        accounts_prefetch_probe(&ledger->accounts, transfer->credit_account_id);
        return;
    }
    if (stage == 2) {
        accounts_prefetch_slot(&ledger->accounts, transfer->debit_account_id);
        accounts_prefetch_slot(&ledger->accounts, transfer->credit_account_id);
        return;
    }
    accounts_prefetch_bucket(&ledger->accounts, transfer->debit_account_id);
    accounts_prefetch_bucket(&ledger->accounts, transfer->credit_account_id);
    /* The filter's line is read by the id's lookup, or written when the
     * id is indexed, so it is fetched for every id; the buffer is read
     * only when the filter says "maybe" (about 1% of new ids). */
    id_filter_prefetch(&ledger->id_filter, transfer->id);
    /* An id below both floors goes into the buffer (transfer_index_put). */
    if (ledger_u128_compare(transfer->id, ledger->transfer_id_group_floor) <= 0 &&
        ledger_u128_compare(transfer->id, ledger->transfer_id_recent_floor) <= 0) {
        id_buffer_prefetch_add(&ledger->id_buffer, transfer->id);
    }
}

static const batch_ops_t transfer_batch_ops = {
    .process = transfer_process,
    .linked = transfer_linked,
    .record_failure = transfer_record_failure,
    .prefetch = transfer_prefetch,
    .event_size = sizeof(ledger_transfer_t),
};

int ledger_create_transfers(ledger_t *ledger,
                            const ledger_transfer_t *transfers, uint32_t count,
                            ledger_result_t *results) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count == 0) return LEDGER_ERR_BATCH_EMPTY;
    if (count > LEDGER_BATCH_EVENTS_MAX) return LEDGER_ERR_BATCH_TOO_LARGE;
    if (transfers == NULL || results == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    bool retry = false;
    int error = 0;
    do {
        bool auto_group = false;
        error = ledger_write_auto_begin(ledger, &auto_group);
        if (error) return error;
        ledger->now = ledger->options.clock(ledger->options.clock_context);
        uint32_t expired = 0;
        error = pending_expire_due(ledger, &expired);
        if (!error) error = batch_run(ledger, &transfer_batch_ops, transfers, count, results);
        error = ledger_write_auto_end(ledger, auto_group, error);
        error = ledger_write_settle(ledger, auto_group, error, &retry);
    } while (retry);
    return error;
}
