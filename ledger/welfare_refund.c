/*
 * welfare_refund.c — money going back: refunds of purchases (provider
 * payable -> the pot(s) the purchase came from, with the matching share of
 * the platform fee returned) and reimbursements of expenses the employee
 * paid (pot -> bank, against a receipt that can be used once, ever).
 *
 * Refund arithmetic: after refunding R of a captured amount A with fee F,
 * the fee returned so far is floor(F × R / A); each refund returns the
 * difference, so a full refund returns exactly F and no cent drifts.
 */
#include <time.h>

#include "welfare_internal.h"
#include "welfare_pots.h"

enum { REQUEST_REFUND = 20, REQUEST_REIMBURSE = 21 };

typedef struct refund_request {
    ledger_u128_t id;
    ledger_u128_t purchase_id;
    uint64_t amount;
} refund_request_t;

static int refund_begin(ledger_t *ledger, const refund_request_t *request,
                        purchase_record_t *purchase, uint8_t digest[16], uint32_t *result_out) {
    if (!welfare_id_valid(request->id)) {
        *result_out = welfare_invalid(ledger, "operation id");
        return 0;
    }
    if (request->amount == 0) {
        *result_out = welfare_invalid(ledger, "amount must not be zero");
        return 0;
    }
    uint8_t bytes[64];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, REQUEST_REFUND);
    codec_put_u128(&codec, request->purchase_id);
    codec_put_u64(&codec, request->amount);
    welfare_digest(bytes, codec.at, digest);
    int error = welfare_idempotency_check(ledger, request->id, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    bool found = false;
    error = store_purchase_get(ledger, NULL, request->purchase_id, purchase, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_PURCHASE_NOT_FOUND;
    } else if (purchase->state != PURCHASE_CAPTURED) {
        *result_out = WELFARE_RESULT_PURCHASE_NOT_CAPTURED;
    } else if (request->amount > purchase->amount - purchase->refunded) {
        *result_out = WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE;
    }
    return 0;
}

/* fees -> payable: the fee share of this refund. */
static int refund_fee(ledger_t *ledger, const refund_request_t *request,
                      purchase_record_t *purchase, uint32_t provider_number,
                      uint32_t funder_number, uint32_t *result_out) {
    uint64_t fee_total = welfare_mul_div(purchase->fee, purchase->refunded + request->amount,
                                         purchase->amount);
    uint64_t fee_back = fee_total - purchase->fee_refunded;
    purchase->fee_refunded = fee_total;
    if (fee_back == 0) return 0;
    posting_t posting = {
        .code = WELFARE_POSTING_FEE_REFUND,
        .debit = welfare_account_id(WELFARE_ACCOUNT_FEES, 1),
        .credit = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, provider_number),
        .amount = fee_back,
        .operation_id = request->id,
        .user_data_64 = posting_user_data_64(purchase->category, purchase->basis, purchase->fiscal_year,
                                             provider_number),
        .funder_number = funder_number,
    };
    uint32_t core = 0;
    int error = welfare_post(ledger, &posting, &core, NULL);
    if (!error) *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_OVERFLOW);
    return error;
}

/* payable -> pots, the last pot of a split first. */
static int refund_pots(ledger_t *ledger, const refund_request_t *request,
                       purchase_record_t *purchase, uint32_t provider_number,
                       uint32_t funder_number, uint32_t *result_out) {
    uint64_t remaining = request->amount;
    for (uint32_t k = purchase->pots_count; k > 0 && remaining > 0; k--) {
        purchase_pot_t *slot = &purchase->pots[k - 1];
        uint64_t room = slot->amount - slot->refunded;
        uint64_t give = room < remaining ? room : remaining;
        if (give == 0) continue;
        posting_t posting = {
            .code = WELFARE_POSTING_REFUND,
            .debit = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, provider_number),
            .credit = welfare_account_id(WELFARE_ACCOUNT_POT, slot->pot_number),
            .amount = give,
            .operation_id = request->id,
            .user_data_64 = posting_user_data_64(purchase->category, purchase->basis, purchase->fiscal_year,
                                                 provider_number),
            .funder_number = funder_number,
        };
        uint32_t core = 0;
        int error = welfare_post(ledger, &posting, &core, NULL);
        if (error) return error;
        *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_PAYABLE_INSUFFICIENT);
        if (*result_out != WELFARE_RESULT_OK) return 0;
        error = welfare_pot_returned(ledger, purchase->employee_id, slot, give, request->id,
                                     result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
        slot->refunded += give;
        remaining -= give;
    }
    if (remaining != 0) return LEDGER_ERR_CORRUPT; /* per-pot records disagree */
    return 0;
}

static int refund_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const refund_request_t *request = context;
    purchase_record_t purchase;
    uint8_t digest[16];
    int error = refund_begin(ledger, request, &purchase, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    provider_record_t provider;
    employee_record_t employee;
    bool found_provider = false;
    bool found_employee = false;
    error = store_provider_get(ledger, NULL, purchase.provider_id, &provider, &found_provider);
    if (!error) error = store_employee_get(ledger, NULL, purchase.employee_id, &employee, &found_employee);
    if (error) return error;
    if (!found_provider || !found_employee) return LEDGER_ERR_CORRUPT;
    uint32_t funder_number = welfare_funder_number(ledger, employee.funder_id);
    error = refund_fee(ledger, request, &purchase, provider.number, funder_number, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    error = refund_pots(ledger, request, &purchase, provider.number, funder_number, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    purchase.refunded += request->amount;
    if (purchase.fringe) {
        error = welfare_fringe_add(ledger, purchase.employee_id, purchase.fiscal_year,
                                   request->amount, true);
    }
    if (!error) error = store_purchase_put(ledger, request->purchase_id, &purchase);
    if (!error) error = store_operation_put(ledger, request->id, digest);
    return error;
}

int welfare_refund(ledger_t *ledger, ledger_u128_t id, ledger_u128_t purchase_id,
                   uint64_t amount, uint32_t *result_out) {
    refund_request_t request = {id, purchase_id, amount};
    return welfare_run(ledger, refund_body, &request, result_out);
}

/* ---- reimbursement ---- */

/* A calendar date YYYYMMDD from 2000 on, not after today in Italian time
 * (a receipt cannot come from the future). */
static bool receipt_date_valid(uint32_t date, uint64_t now) {
    static const uint32_t days_in_month[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    uint32_t year = date / 10000;
    uint32_t month = date / 100 % 100;
    uint32_t day = date % 100;
    if (year < 2000 || year > 2199 || month < 1 || month > 12 || day < 1) return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    uint32_t days = days_in_month[month - 1] + (month == 2 && leap ? 1 : 0);
    if (day > days) return false;
    time_t seconds = (time_t)(now / 1000000000ull) + 3600;
    struct tm today;
    gmtime_r(&seconds, &today);
    uint32_t today_date = (uint32_t)(today.tm_year + 1900) * 10000 +
                          (uint32_t)(today.tm_mon + 1) * 100 + (uint32_t)today.tm_mday;
    return date <= today_date;
}

static bool hash_is_zero(const uint8_t hash[32]) {
    for (int i = 0; i < 32; i++) {
        if (hash[i] != 0) return false;
    }
    return true;
}

static void reimbursement_digest(const welfare_reimbursement_t *request, uint8_t digest[16]) {
    uint8_t bytes[128];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, REQUEST_REIMBURSE);
    codec_put_u128(&codec, request->employee_id);
    codec_put_u32(&codec, request->category);
    codec_put_u32(&codec, request->receipt_date);
    codec_put_u64(&codec, request->amount);
    codec_put_u64(&codec, request->receipt_amount);
    codec_put_bytes(&codec, request->receipt_hash, 32);
    welfare_digest(bytes, codec.at, digest);
}

/* Employee, category and receipt checks, in the documented order. */
static int reimbursement_check(ledger_t *ledger, const welfare_reimbursement_t *request,
                               employee_record_t *employee, welfare_category_t *category,
                               uint32_t *result_out) {
    bool found = false;
    int error = store_employee_get(ledger, NULL, request->employee_id, employee, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
        return 0;
    }
    if (employee->offboarded) {
        *result_out = WELFARE_RESULT_POT_CLOSED;
        return 0;
    }
    error = store_category_get(ledger, NULL, request->category, category, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_CATEGORY_NOT_FOUND;
    } else if (!category->reimbursable) {
        *result_out = WELFARE_RESULT_CATEGORY_NOT_REIMBURSABLE;
    } else if (hash_is_zero(request->receipt_hash)) {
        *result_out = WELFARE_RESULT_RECEIPT_REQUIRED;
    } else if (request->amount > request->receipt_amount) {
        *result_out = WELFARE_RESULT_AMOUNT_EXCEEDS_RECEIPT;
    } else {
        error = store_receipt_get(ledger, request->receipt_hash, &found);
        if (!error && found) *result_out = WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED;
    }
    return error;
}

static int reimburse_post(ledger_t *ledger, const welfare_reimbursement_t *request,
                          const pot_candidate_t *pot, uint32_t basis, uint32_t year,
                          uint32_t funder_number, uint32_t *result_out) {
    posting_t posting = {
        .code = WELFARE_POSTING_REIMBURSEMENT,
        .debit = pot->account_id,
        .credit = welfare_account_id(WELFARE_ACCOUNT_BANK, 1),
        .amount = request->amount,
        .operation_id = request->id,
        .user_data_64 = posting_user_data_64(request->category, basis, year, 0),
        .funder_number = funder_number,
    };
    uint32_t core = 0;
    int error = welfare_post(ledger, &posting, &core, NULL);
    if (!error) {
        *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    }
    return error;
}

static int reimburse_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_reimbursement_t *request = context;
    if (!welfare_id_valid(request->id)) {
        *result_out = welfare_invalid(ledger, "operation id");
    } else if (request->amount == 0) {
        *result_out = welfare_invalid(ledger, "amount must not be zero");
    } else if (request->category == 0 || request->category > WELFARE_CATEGORY_ID_MAX) {
        *result_out = welfare_invalid(ledger, "category must be 1..63");
    } else if (!receipt_date_valid(request->receipt_date, ledger->now)) {
        *result_out = welfare_invalid(ledger, "receipt date must be a calendar date YYYYMMDD "
                                              "from 2000 on, not in the future");
    }
    if (*result_out != WELFARE_RESULT_OK) return 0;
    uint8_t digest[16];
    reimbursement_digest(request, digest);
    int error = welfare_idempotency_check(ledger, request->id, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    employee_record_t employee;
    welfare_category_t category;
    error = reimbursement_check(ledger, request, &employee, &category, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    employee_pots_t all;
    employee_pots_t eligible;
    error = welfare_pots_load(ledger, NULL, &employee, &all);
    if (error) return error;
    *result_out = welfare_pots_eligible(&all, request->category, ledger->now, &eligible);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    /* The tax moment of a reimbursement is the receipt's date. */
    uint32_t year = request->receipt_date / 10000;
    bool fringe = category.fiscal_basis == WELFARE_BASIS_FRINGE;
    if (fringe) {
        error = welfare_fringe_check(ledger, request->employee_id, year, request->amount, result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
    }
    pot_split_t split;
    *result_out = welfare_pots_select(&eligible, request->amount, false, &split);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    error = reimburse_post(ledger, request, &eligible.pots[split.index[0]], category.fiscal_basis, year,
                           welfare_funder_number(ledger, employee.funder_id), result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    if (fringe) error = welfare_fringe_add(ledger, request->employee_id, year, request->amount, false);
    if (!error) error = store_receipt_put(ledger, request->receipt_hash, request->id);
    if (!error) error = store_operation_put(ledger, request->id, digest);
    return error;
}

int welfare_reimburse(ledger_t *ledger, const welfare_reimbursement_t *reimbursement,
                      uint32_t *result_out) {
    if (reimbursement == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run(ledger, reimburse_body, (void *)reimbursement, result_out);
}
