/*
 * welfare_run.c — how one welfare operation runs: inside the caller's write
 * group (or its own), after the platform is ensured and due holds are
 * voided, its body runs in ONE linked chain (a nested LMDB transaction plus
 * an in-memory savepoint). A body that ends with any result but OK is
 * rolled back whole, so a refused operation leaves no trace, neither in
 * the core journal nor in the welfare table.
 *
 * Also here: the postings (core transfers with welfare ids), welfare
 * accounts, idempotency records and the small shared checks.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "welfare_internal.h"

ledger_u128_t welfare_account_id(uint32_t kind, uint64_t number) {
    ledger_u128_t id = {((uint64_t)WELFARE_ACCOUNT_ID_TAG << 32) | kind, number};
    return id;
}

bool welfare_id_valid(ledger_u128_t id) {
    if (ledger_u128_is_zero(id) || ledger_u128_is_max(id)) return false;
    uint32_t tag = (uint32_t)(id.hi >> 32);
    return tag != WELFARE_ACCOUNT_ID_TAG && tag != WELFARE_TRANSFER_ID_TAG;
}

uint32_t welfare_invalid(ledger_t *ledger, const char *what) {
    ledger_set_error(ledger, "invalid field: %s", what);
    return WELFARE_RESULT_INVALID_FIELD;
}

void welfare_digest(const void *bytes, size_t size, uint8_t digest_out[16]) {
    uint8_t full[RECORD_HASH_SIZE];
    record_sha256(bytes, size, full);
    memcpy(digest_out, full, 16);
}

int welfare_idempotency_check(ledger_t *ledger, ledger_u128_t id, const uint8_t digest[16],
                              uint32_t *result_out) {
    uint8_t stored[16];
    bool found = false;
    int error = store_operation_get(ledger, id, stored, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_OK;
    } else {
        *result_out = memcmp(stored, digest, 16) == 0
                          ? WELFARE_RESULT_EXISTS
                          : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    }
    return 0;
}

const account_slot_t *welfare_slot(const ledger_t *ledger, ledger_u128_t account_id) {
    const account_slot_t *slot = accounts_find(&ledger->accounts, account_id);
    assert(slot != NULL);
    return slot;
}

uint64_t welfare_available(const ledger_t *ledger, ledger_u128_t account_id) {
    const ledger_balance_t *balance = &welfare_slot(ledger, account_id)->balance;
    uint64_t out = balance->debits_posted + balance->debits_pending;
    assert(out >= balance->debits_posted);
    assert(balance->credits_posted >= out);
    return balance->credits_posted - out;
}

uint16_t welfare_account_flags(uint32_t kind) {
    /* The bank is the outside world: it goes negative as money comes in.
     * Every other welfare account is credit-normal and never negative. */
    uint16_t flags = kind == WELFARE_ACCOUNT_BANK ? 0 : LEDGER_ACCOUNT_DEBITS_MUST_NOT_EXCEED_CREDITS;
    return (uint16_t)(flags | LEDGER_ACCOUNT_HISTORY);
}

int welfare_account_create(ledger_t *ledger, uint32_t kind, uint64_t number,
                           ledger_u128_t owner_id) {
    ledger_account_t account;
    memset(&account, 0, sizeof(account));
    account.id = welfare_account_id(kind, number);
    account.user_data_128 = owner_id;
    account.ledger = WELFARE_LEDGER;
    account.code = (uint16_t)kind;
    account.flags = welfare_account_flags(kind);
    uint32_t result = 0;
    uint64_t timestamp = 0;
    int error = account_create_privileged(ledger, &account, &result, &timestamp);
    if (error) return error;
    if (result != LEDGER_RESULT_OK) {
        ledger_set_error(ledger, "welfare account %u/%llu: %s", kind,
                         (unsigned long long)number, ledger_result_name(result));
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

int welfare_post(ledger_t *ledger, const posting_t *posting, uint32_t *core_result_out,
                 ledger_u128_t *id_out) {
    ledger_transfer_t transfer;
    memset(&transfer, 0, sizeof(transfer));
    /* The record this transfer appends gets the next sequence: using it as
     * the id makes ids unique without a counter of their own. */
    transfer.id.hi = (uint64_t)WELFARE_TRANSFER_ID_TAG << 32;
    transfer.id.lo = ledger->sequence + 1;
    transfer.debit_account_id = posting->debit;
    transfer.credit_account_id = posting->credit;
    transfer.amount = posting->amount;
    transfer.pending_id = posting->pending_id;
    transfer.user_data_128 = posting->operation_id;
    transfer.user_data_64 = posting->user_data_64;
    transfer.user_data_32 = posting->funder_number;
    transfer.ledger = WELFARE_LEDGER;
    transfer.code = (uint16_t)posting->code;
    transfer.flags = posting->flags;
    if (posting->flags & (LEDGER_TRANSFER_POST_PENDING | LEDGER_TRANSFER_VOID_PENDING)) {
        /* Taken from the pending transfer. */
        memset(&transfer.debit_account_id, 0, sizeof(transfer.debit_account_id));
        memset(&transfer.credit_account_id, 0, sizeof(transfer.credit_account_id));
        transfer.ledger = 0;
        transfer.code = 0;
    }
    uint64_t timestamp = 0;
    int error = transfer_submit(ledger, &transfer, core_result_out, &timestamp);
    if (!error && id_out != NULL) *id_out = transfer.id;
    return error;
}

/* ---- the platform ---- */

int welfare_platform_ensure_in_group(ledger_t *ledger) {
    if (ledger->welfare_platform_ready) return 0;
    platform_record_t platform;
    bool found = false;
    int error = store_platform_get(ledger, NULL, &platform, &found);
    /* Found, it was committed or written in this group; a rollback clears
     * the flag (savepoint_restore). */
    ledger->welfare_platform_ready = !error && found;
    if (error || found) return error;
    ledger_u128_t zero = {0, 0};
    error = welfare_account_create(ledger, WELFARE_ACCOUNT_BANK, 1, zero);
    if (!error) error = welfare_account_create(ledger, WELFARE_ACCOUNT_FEES, 1, zero);
    if (!error) error = welfare_account_create(ledger, WELFARE_ACCOUNT_FORFEITED, 1, zero);
    if (error) return error;
    memset(&platform, 0, sizeof(platform));
    error = store_platform_put(ledger, &platform);
    if (!error) error = welfare_rules_defaults(ledger);
    return error;
}

int welfare_platform(ledger_t *ledger, welfare_platform_t *platform_out) {
    if (ledger == NULL || platform_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    platform_out->bank_account_id = welfare_account_id(WELFARE_ACCOUNT_BANK, 1);
    platform_out->fees_account_id = welfare_account_id(WELFARE_ACCOUNT_FEES, 1);
    platform_out->forfeited_account_id = welfare_account_id(WELFARE_ACCOUNT_FORFEITED, 1);
    return 0;
}

static int platform_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    (void)ledger;
    (void)context;
    *result_out = WELFARE_RESULT_OK;
    return 0;
}

int welfare_platform_ensure(ledger_t *ledger) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    uint32_t result = 0;
    return welfare_run(ledger, platform_body, NULL, &result);
}

/* ---- the runner ---- */

uint32_t welfare_from_core(ledger_t *ledger, uint32_t core_result, uint32_t when_exceeds) {
    switch (core_result) {
    case LEDGER_RESULT_OK: return WELFARE_RESULT_OK;
    case LEDGER_RESULT_EXCEEDS_CREDITS: return when_exceeds;
    case LEDGER_RESULT_OVERFLOWS_DEBITS_PENDING:
    case LEDGER_RESULT_OVERFLOWS_CREDITS_PENDING:
    case LEDGER_RESULT_OVERFLOWS_DEBITS_POSTED:
    case LEDGER_RESULT_OVERFLOWS_CREDITS_POSTED:
    case LEDGER_RESULT_OVERFLOWS_DEBITS:
    case LEDGER_RESULT_OVERFLOWS_CREDITS:
        return WELFARE_RESULT_OVERFLOW;
    default:
        /* The layer validated the posting: any other refusal is a bug.
         * Refuse the operation (nothing is applied) and say why. */
        ledger_set_error(ledger, "welfare posting refused by the core: %s",
                         ledger_result_name(core_result));
        return WELFARE_RESULT_INVALID_FIELD;
    }
}

/* Runs one entry in a chain inside the open group. */
static int run_entry(ledger_t *ledger, welfare_entry_fn body, void *context,
                     uint32_t index, uint32_t *result_out) {
    int error = ledger_chain_begin(ledger);
    if (error) return error;
    *result_out = WELFARE_RESULT_OK;
    error = body(ledger, context, index, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) {
        ledger_chain_rollback(ledger);
        return error;
    }
    return ledger_chain_commit(ledger);
}

/* One entry without a chain: a refusal after a write fails the group. */
static int direct_entry(ledger_t *ledger, welfare_entry_fn body, void *context, uint32_t index,
                        uint32_t *result_out) {
    uint64_t sequence = ledger->sequence;
    uint64_t undo_mark = ledger->accounts.undo_count;
    *result_out = WELFARE_RESULT_OK;
    int error = body(ledger, context, index, result_out);
    bool wrote = ledger->sequence != sequence || ledger->accounts.undo_count != undo_mark;
    if (!error && *result_out != WELFARE_RESULT_OK && wrote) {
        ledger_set_error(ledger, "a welfare operation was refused after it had written "
                                 "(%s): the group is rolled back",
                         welfare_result_name(*result_out));
        return LEDGER_ERR_CORRUPT;
    }
    return error;
}

/* Inside the group: the platform, due holds, then the entries. */
static int run_in_group(ledger_t *ledger, welfare_entry_fn body, void *context,
                        uint32_t count, uint32_t *results_out, bool chained,
                        uint32_t *expired_out) {
    int error = welfare_platform_ensure_in_group(ledger);
    if (!error) error = welfare_expire_due(ledger, expired_out);
    for (uint32_t i = 0; i < count && !error; i++) {
        error = chained ? run_entry(ledger, body, context, i, &results_out[i])
                        : direct_entry(ledger, body, context, i, &results_out[i]);
    }
    return error;
}

int welfare_run_group(ledger_t *ledger, welfare_entry_fn body, void *context, uint32_t count,
                      uint32_t *results_out, bool chained, uint32_t *expired_out) {
    if (ledger == NULL || (count > 0 && results_out == NULL)) return LEDGER_ERR_INVALID_ARGUMENT;
    if (ledger->options.read_only) return LEDGER_ERR_INVALID_ARGUMENT;
    bool retry = false;
    int error = 0;
    do {
        bool auto_group = false;
        error = ledger_write_auto_begin(ledger, &auto_group);
        if (error) return error;
        ledger->now = ledger->options.clock(ledger->options.clock_context);
        error = run_in_group(ledger, body, context, count, results_out, chained, expired_out);
        error = ledger_write_auto_end(ledger, auto_group, error);
        error = ledger_write_settle(ledger, auto_group, error, &retry);
    } while (retry);
    return error;
}

int welfare_run_entries(ledger_t *ledger, welfare_entry_fn body, void *context,
                        uint32_t count, uint32_t *results_out) {
    if (results_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_group(ledger, body, context, count, results_out, true, NULL);
}

int welfare_run_direct_entries(ledger_t *ledger, welfare_entry_fn body, void *context,
                               uint32_t count, uint32_t *results_out) {
    if (results_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_group(ledger, body, context, count, results_out, false, NULL);
}

/* welfare_run_direct: one entry whose body ignores the index. */
typedef struct direct {
    welfare_body_fn body;
    void *context;
} direct_t;

static int direct_single(ledger_t *ledger, void *context, uint32_t index, uint32_t *result_out) {
    (void)index;
    const direct_t *direct = context;
    return direct->body(ledger, direct->context, result_out);
}

int welfare_run_direct(ledger_t *ledger, welfare_body_fn body, void *context,
                       uint32_t *result_out) {
    direct_t direct = {body, context};
    return welfare_run_direct_entries(ledger, direct_single, &direct, 1, result_out);
}

/* welfare_run: one entry whose body ignores the index. */
typedef struct single {
    welfare_body_fn body;
    void *context;
} single_t;

static int single_entry(ledger_t *ledger, void *context, uint32_t index,
                        uint32_t *result_out) {
    (void)index;
    single_t *single = context;
    return single->body(ledger, single->context, result_out);
}

int welfare_run(ledger_t *ledger, welfare_body_fn body, void *context,
                uint32_t *result_out) {
    single_t single = {body, context};
    return welfare_run_entries(ledger, single_entry, &single, 1, result_out);
}

uint32_t welfare_fiscal_year(uint64_t timestamp_ns) {
    /* Europe/Rome is UTC+1 at every new year: the fiscal year is the UTC
     * year one hour later. Days-from-civil inverse (Howard Hinnant). */
    int64_t days = (int64_t)((timestamp_ns / 1000000000ull + 3600) / 86400);
    days += 719468;
    int64_t era = days / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 -
                           day_of_era / 146096) / 365;
    int64_t year = year_of_era + era * 400;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_index = (5 * day_of_year + 2) / 153;
    int64_t month = month_index < 10 ? month_index + 3 : month_index - 9;
    return (uint32_t)(year + (month <= 2 ? 1 : 0));
}
