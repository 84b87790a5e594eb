/*
 * welfare_purchase.c — purchases: immediate (pot(s) -> provider payable,
 * payable -> fees) or held (pending pot(s) -> payable, fee at capture),
 * capture (at most the held amount; the rest is released), void, and the
 * automatic expiry of holds. Fringe categories count against the
 * employee's cap of the fiscal year at the moment of the choice (purchase
 * or hold); a release gives back what was not captured.
 *
 * The purchase record ('O', under the purchase id) keeps, per pot, what was taken and refunded,
 * so that refunds go back where the money came from.
 */
#include "welfare_internal.h"
#include "welfare_pots.h"

enum { REQUEST_PURCHASE = 10, REQUEST_CAPTURE = 11, REQUEST_VOID = 12 };

static const uint64_t NS_PER_SECOND = 1000000000ull;

/* Idempotency of a purchase: its record holds the request. An id used by
 * another operation kind is taken. */
static int purchase_idempotency(ledger_t *ledger, const welfare_purchase_t *purchase,
                                uint32_t *result_out) {
    purchase_record_t stored;
    bool found = false;
    bool other = false;
    int error = store_purchase_or_other_get(ledger, NULL, purchase->id, &stored, &found, &other);
    if (error) return error;
    if (found) {
        bool same = ledger_u128_equal(stored.employee_id, purchase->employee_id) &&
                    ledger_u128_equal(stored.provider_id, purchase->provider_id) &&
                    ledger_u128_equal(stored.reference, purchase->reference) &&
                    stored.requested_amount == purchase->amount &&
                    stored.hold_timeout_s == purchase->hold_timeout_s &&
                    stored.category == purchase->category;
        *result_out = same ? WELFARE_RESULT_EXISTS : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        return 0;
    }
    /* The same key may hold another operation kind's record. */
    if (other) *result_out = WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
    return 0;
}

static uint32_t purchase_validate(ledger_t *ledger, const welfare_purchase_t *purchase) {
    if (!welfare_id_valid(purchase->id)) return welfare_invalid(ledger, "purchase id");
    if (purchase->amount == 0) return welfare_invalid(ledger, "amount must not be zero");
    if (purchase->category == 0 || purchase->category > WELFARE_CATEGORY_ID_MAX) {
        return welfare_invalid(ledger, "category must be 1..63");
    }
    if (purchase->hold_timeout_s > WELFARE_HOLD_TIMEOUT_MAX_S) {
        return welfare_invalid(ledger, "hold timeout above 90 days");
    }
    return WELFARE_RESULT_OK;
}

/* Everything a purchase needs to know before it moves money. */
typedef struct purchase_plan {
    employee_record_t employee;
    provider_record_t provider;
    welfare_category_t category;
    employee_pots_t eligible;
    pot_split_t split;
    uint32_t year;
    uint32_t funder_number;
} purchase_plan_t;

/* Who and what: employee, provider, category. */
static int purchase_parties(ledger_t *ledger, const welfare_purchase_t *purchase,
                            purchase_plan_t *plan, uint32_t *result_out) {
    bool found = false;
    int error = store_employee_get(ledger, NULL, purchase->employee_id, &plan->employee, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
        return 0;
    }
    if (plan->employee.offboarded) {
        *result_out = WELFARE_RESULT_POT_CLOSED;
        return 0;
    }
    error = store_provider_get(ledger, NULL, purchase->provider_id, &plan->provider, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_PROVIDER_NOT_FOUND;
        return 0;
    }
    error = store_category_get(ledger, NULL, purchase->category, &plan->category, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_CATEGORY_NOT_FOUND;
    } else if (!(plan->provider.categories & (UINT64_C(1) << purchase->category))) {
        *result_out = WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER;
    }
    return 0;
}

/* Which pots pay, and the fringe cap. */
static int purchase_pots(ledger_t *ledger, const welfare_purchase_t *purchase,
                         purchase_plan_t *plan, uint32_t *result_out) {
    employee_pots_t all;
    int error = welfare_pots_load(ledger, NULL, &plan->employee, &all);
    if (error) return error;
    *result_out = welfare_pots_eligible(&all, purchase->category, ledger->now, &plan->eligible);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    plan->year = welfare_fiscal_year(ledger->now);
    if (plan->category.fiscal_basis == WELFARE_BASIS_FRINGE) {
        error = welfare_fringe_check(ledger, purchase->employee_id, plan->year,
                                     purchase->amount, result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
    }
    *result_out = welfare_pots_select(&plan->eligible, purchase->amount, true, &plan->split);
    plan->funder_number = plan->employee.funder_number;
    return 0;
}

/* The pot postings (pending for a hold); fills the record's pots. */
static int purchase_post_pots(ledger_t *ledger, const welfare_purchase_t *purchase,
                              const purchase_plan_t *plan, purchase_record_t *record,
                              uint32_t *result_out) {
    bool hold = purchase->hold_timeout_s != 0;
    ledger_u128_t payable = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, plan->provider.number);
    for (uint32_t i = 0; i < plan->split.count; i++) {
        const pot_candidate_t *pot = &plan->eligible.pots[plan->split.index[i]];
        posting_t posting = {
            .code = WELFARE_POSTING_PURCHASE,
            .debit = pot->account_id,
            .credit = payable,
            .amount = plan->split.amount[i],
            .flags = hold ? LEDGER_TRANSFER_PENDING : 0,
            .operation_id = purchase->id,
            .user_data_64 = posting_user_data_64(purchase->category, plan->category.fiscal_basis, plan->year,
                                                 plan->provider.number),
            .funder_number = plan->funder_number,
        };
        uint32_t core = 0;
        ledger_u128_t transfer_id;
        int error = welfare_post(ledger, &posting, &core, &transfer_id);
        if (error) return error;
        *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
        if (*result_out != WELFARE_RESULT_OK) return 0;
        purchase_pot_t *slot = &record->pots[i];
        memset(slot, 0, sizeof(*slot));
        slot->plan_id = pot->plan.id;
        slot->pot_number = pot->pot_number;
        slot->amount = plan->split.amount[i];
        if (hold) slot->pending_id = transfer_id;
    }
    record->pots_count = plan->split.count;
    return 0;
}

/* payable -> fees for a captured amount. */
static int purchase_post_fee(ledger_t *ledger, ledger_u128_t operation_id,
                             const purchase_record_t *record, uint32_t provider_number,
                             uint32_t funder_number, uint64_t fee, uint32_t *result_out) {
    if (fee == 0) return 0;
    posting_t posting = {
        .code = WELFARE_POSTING_FEE,
        .debit = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, provider_number),
        .credit = welfare_account_id(WELFARE_ACCOUNT_FEES, 1),
        .amount = fee,
        .operation_id = operation_id,
        .user_data_64 = posting_user_data_64(record->category, record->basis, record->fiscal_year,
                                             provider_number),
        .funder_number = funder_number,
    };
    uint32_t core = 0;
    int error = welfare_post(ledger, &posting, &core, NULL);
    if (error) return error;
    *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_PAYABLE_INSUFFICIENT);
    return 0;
}

/* Writes the record (which is also its idempotency record), the indexes
 * and the cap usage. */
static int purchase_record_all(ledger_t *ledger, const welfare_purchase_t *purchase,
                               purchase_record_t *record) {
    int error = store_purchase_put(ledger, purchase->id, record);
    if (!error && record->fringe) {
        error = welfare_fringe_add(ledger, purchase->employee_id, record->fiscal_year,
                                   record->amount, false);
    }
    if (!error && record->state == PURCHASE_HELD) {
        if (ledger->welfare_hold_next_due > record->hold_expires_at) {
            ledger->welfare_hold_next_due = record->hold_expires_at;
        }
        error = store_hold_index_put(ledger, record->hold_expires_at, purchase->id);
        if (!error) error = store_employee_hold_put(ledger, purchase->employee_id, purchase->id);
    }
    return error;
}

/* Overflow of the payable or fees accounts is refused before any write
 * (the purchase runs without a nested chain: see purchase_body). */
static uint32_t purchase_overflow_check(const ledger_t *ledger, const purchase_plan_t *plan,
                                        uint64_t amount) {
    ledger_u128_t payable = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, plan->provider.number);
    const ledger_balance_t *balance = &welfare_slot(ledger, payable)->balance;
    const ledger_balance_t *fees = &welfare_slot(ledger, welfare_account_id(WELFARE_ACCOUNT_FEES, 1))->balance;
    if (balance->credits_posted > UINT64_MAX - amount ||
        balance->credits_pending > UINT64_MAX - amount ||
        balance->credits_posted + balance->credits_pending > UINT64_MAX - amount ||
        fees->credits_posted > UINT64_MAX - amount) {
        return WELFARE_RESULT_OVERFLOW;
    }
    return WELFARE_RESULT_OK;
}

static int purchase_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_purchase_t *purchase = context;
    *result_out = purchase_validate(ledger, purchase);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    int error = purchase_idempotency(ledger, purchase, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    purchase_plan_t plan;
    error = purchase_parties(ledger, purchase, &plan, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    error = purchase_pots(ledger, purchase, &plan, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    *result_out = purchase_overflow_check(ledger, &plan, purchase->amount);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    /* Every check is done: from here on nothing is refused. */
    purchase_record_t record;
    memset(&record, 0, sizeof(record));
    record.employee_id = purchase->employee_id;
    record.provider_id = purchase->provider_id;
    record.reference = purchase->reference;
    record.requested_amount = purchase->amount;
    record.hold_timeout_s = purchase->hold_timeout_s;
    record.category = purchase->category;
    record.fiscal_year = plan.year;
    record.fee_bps = plan.provider.fee_bps;
    record.amount = purchase->amount;
    record.basis = plan.category.fiscal_basis;
    record.fringe = plan.category.fiscal_basis == WELFARE_BASIS_FRINGE;
    record.state = purchase->hold_timeout_s != 0 ? PURCHASE_HELD : PURCHASE_CAPTURED;
    if (record.state == PURCHASE_HELD) {
        record.hold_expires_at = ledger->now + (uint64_t)purchase->hold_timeout_s * NS_PER_SECOND;
    }
    error = purchase_post_pots(ledger, purchase, &plan, &record, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    if (record.state == PURCHASE_CAPTURED) {
        record.fee = welfare_fee(record.amount, record.fee_bps);
        error = purchase_post_fee(ledger, purchase->id, &record, plan.provider.number,
                                  plan.funder_number, record.fee, result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
    }
    return purchase_record_all(ledger, purchase, &record);
}

int welfare_purchase(ledger_t *ledger, const welfare_purchase_t *purchase,
                     uint32_t *result_out) {
    if (purchase == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    /* The hot path: every check precedes the first write, so it needs no
     * nested chain (welfare_run_direct). */
    return welfare_run_direct(ledger, purchase_body, (void *)purchase, result_out);
}

/* How far ahead the prefetch stages of welfare_purchases run, in
 * purchases: each stage needs the memory the previous one fetched (the
 * cache slot holds the entry's address, the entry the pot numbers, the
 * account bucket the slot index), and one purchase (microseconds) is
 * ample time for a fetch to land, so the stages are one purchase apart. */
enum {
    AHEAD_SLOT = 4,     /* cache slots of the employee (and fringe usage) */
    AHEAD_ENTRY = 3,    /* their cache entries */
    AHEAD_BUCKET = 2,   /* the buckets of the employee's pot accounts */
    AHEAD_ACCOUNT = 1,  /* the pot account slots */
    AHEAD_RING = 8,     /* > AHEAD_SLOT, a power of two */
    AHEAD_POTS_MAX = 4, /* pots prefetched per employee */
};

/* What the stages learnt about one upcoming purchase. */
typedef struct purchase_ahead {
    uint32_t index; /* the purchase it describes, UINT32_MAX before stage 1 */
    uint32_t pots_count;
    uint64_t employee_hash;
    uint64_t class_hash; /* fringe only: the 'C' and 'U' keys of the year */
    uint64_t used_hash;
    bool fringe;
    uint64_t pot_numbers[AHEAD_POTS_MAX];
} purchase_ahead_t;

typedef struct purchases_batch {
    const welfare_purchase_t *purchases;
    uint32_t count;
    uint32_t year;              /* the fiscal year of the group's clock */
    uint64_t fringe_known;      /* categories whose basis was looked up */
    uint64_t fringe_categories; /* ... and found to be fringe */
    purchase_ahead_t ahead[AHEAD_RING];
} purchases_batch_t;

/* Is `category` fringe? Asked of the registry cache (memory only: a
 * prefetch never reads LMDB) until it knows, then remembered for the batch
 * (a hint: the catalog does not change during a batch, and a wrong guess
 * only wastes a fetch). */
static bool ahead_fringe(ledger_t *ledger, purchases_batch_t *batch, uint32_t category) {
    if (category == 0 || category > WELFARE_CATEGORY_ID_MAX) return false;
    uint64_t bit = UINT64_C(1) << category;
    uint32_t basis = 0;
    if (!(batch->fringe_known & bit) && store_category_basis_cached(ledger, category, &basis)) {
        if (basis == WELFARE_BASIS_FRINGE) batch->fringe_categories |= bit;
        batch->fringe_known |= bit;
    }
    return (batch->fringe_categories & bit) != 0;
}

/* Stage 1: the keys' hashes, computed once, and their cache slots. */
static void ahead_slots(ledger_t *ledger, purchases_batch_t *batch, uint32_t index) {
    const welfare_purchase_t *purchase = &batch->purchases[index];
    purchase_ahead_t *ahead = &batch->ahead[index % AHEAD_RING];
    ahead->index = index;
    ahead->pots_count = 0;
    ahead->employee_hash = store_cache_hash_u128('E', purchase->employee_id);
    store_cache_prefetch(ledger, ahead->employee_hash, 1);
    ahead->fringe = ahead_fringe(ledger, batch, purchase->category);
    if (ahead->fringe) {
        ahead->class_hash = store_cache_hash_employee_year('C', purchase->employee_id, batch->year);
        ahead->used_hash = store_cache_hash_employee_year('U', purchase->employee_id, batch->year);
        store_cache_prefetch(ledger, ahead->class_hash, 1);
        store_cache_prefetch(ledger, ahead->used_hash, 1);
    }
}

/* Stages 2 to 4, for the purchase `index` whose stage 1 ran (else none). */
static void ahead_stage(ledger_t *ledger, purchases_batch_t *batch, uint32_t index, int stage) {
    purchase_ahead_t *ahead = &batch->ahead[index % AHEAD_RING];
    if (ahead->index != index) return;
    if (stage == 2) {
        store_cache_prefetch(ledger, ahead->employee_hash, 2);
        if (ahead->fringe) {
            store_cache_prefetch(ledger, ahead->class_hash, 2);
            store_cache_prefetch(ledger, ahead->used_hash, 2);
        }
    } else if (stage == 3) {
        ahead->pots_count = store_employee_pot_numbers(ledger, batch->purchases[index].employee_id,
                                                       ahead->employee_hash, ahead->pot_numbers,
                                                       AHEAD_POTS_MAX);
        for (uint32_t i = 0; i < ahead->pots_count; i++) {
            accounts_prefetch_bucket(&ledger->accounts,
                                     welfare_account_id(WELFARE_ACCOUNT_POT, ahead->pot_numbers[i]));
        }
    } else {
        for (uint32_t i = 0; i < ahead->pots_count; i++) {
            accounts_prefetch_slot(&ledger->accounts,
                                   welfare_account_id(WELFARE_ACCOUNT_POT, ahead->pot_numbers[i]));
        }
    }
}

/* Hides the cache misses of the purchases a few places ahead behind the
 * work on this one. Hints only: the stages read memory (the registry cache
 * and the account table, never LMDB) and change nothing but `batch`. */
static void purchases_prefetch(ledger_t *ledger, purchases_batch_t *batch, uint32_t index) {
    if (index == 0) batch->year = welfare_fiscal_year(ledger->now);
    if (index + AHEAD_SLOT < batch->count) ahead_slots(ledger, batch, index + AHEAD_SLOT);
    if (index + AHEAD_ENTRY < batch->count) ahead_stage(ledger, batch, index + AHEAD_ENTRY, 2);
    if (index + AHEAD_BUCKET < batch->count) ahead_stage(ledger, batch, index + AHEAD_BUCKET, 3);
    if (index + AHEAD_ACCOUNT < batch->count) ahead_stage(ledger, batch, index + AHEAD_ACCOUNT, 4);
}

static int purchases_entry(ledger_t *ledger, void *context, uint32_t index, uint32_t *result_out) {
    purchases_batch_t *batch = context;
    purchases_prefetch(ledger, batch, index);
    return purchase_body(ledger, (void *)&batch->purchases[index], result_out);
}

int welfare_purchases(ledger_t *ledger, const welfare_purchase_t *purchases, uint32_t count,
                      uint32_t *results_out) {
    if (purchases == NULL || results_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count == 0 || count > LEDGER_BATCH_EVENTS_MAX) return LEDGER_ERR_INVALID_ARGUMENT;
    purchases_batch_t batch;
    memset(&batch, 0, sizeof(batch));
    batch.purchases = purchases;
    batch.count = count;
    for (uint32_t i = 0; i < AHEAD_RING; i++) batch.ahead[i].index = UINT32_MAX;
    return welfare_run_direct_entries(ledger, purchases_entry, &batch, count, results_out);
}

/* ---- releasing and capturing holds ---- */

/* After credit came back into the pot of `slot`: if that pot cannot keep it
 * (plan ended, pot closed), it follows the plan's expiry policy now. */
int welfare_pot_returned(ledger_t *ledger, ledger_u128_t employee_id,
                         const purchase_pot_t *slot, uint64_t amount,
                         ledger_u128_t operation_id, uint32_t *result_out) {
    if (amount == 0) return 0;
    welfare_plan_t plan;
    pot_record_t pot;
    bool found_plan = false;
    bool found_pot = false;
    int error = store_plan_get(ledger, NULL, slot->plan_id, &plan, &found_plan);
    if (!error) error = store_pot_get(ledger, NULL, employee_id, slot->plan_id, &pot, &found_pot);
    if (error) return error;
    if (!found_plan || !found_pot) return LEDGER_ERR_CORRUPT;
    if (!pot.closed && ledger->now < plan.valid_until) return 0;
    return welfare_pot_settle(ledger, employee_id, &plan, pot.number, amount, operation_id,
                              pot.closed, NULL, result_out);
}

/* The user data and funder number a purchase's postings carry. */
typedef struct purchase_tags {
    uint64_t user_data_64;
    uint32_t funder_number;
    uint32_t provider_number;
} purchase_tags_t;

static int purchase_tags(ledger_t *ledger, const purchase_record_t *purchase,
                         purchase_tags_t *tags_out) {
    provider_record_t provider;
    employee_record_t employee;
    bool found_provider = false;
    bool found_employee = false;
    int error = store_provider_get(ledger, NULL, purchase->provider_id, &provider, &found_provider);
    if (!error) error = store_employee_get(ledger, NULL, purchase->employee_id, &employee, &found_employee);
    if (error) return error;
    if (!found_provider || !found_employee) return LEDGER_ERR_CORRUPT;
    tags_out->provider_number = provider.number;
    tags_out->funder_number = welfare_funder_number(ledger, employee.funder_id);
    tags_out->user_data_64 = posting_user_data_64(purchase->category, purchase->basis, purchase->fiscal_year,
                                                  provider.number);
    return 0;
}

/* Posts (amount > 0) or voids (amount 0) the pending transfer of a pot. */
static int hold_resolve(ledger_t *ledger, ledger_u128_t operation_id, const purchase_pot_t *slot,
                        uint64_t amount, const purchase_tags_t *tags, uint32_t *result_out) {
    posting_t posting = {
        .code = WELFARE_POSTING_PURCHASE,
        .amount = amount,
        .flags = amount > 0 ? LEDGER_TRANSFER_POST_PENDING : LEDGER_TRANSFER_VOID_PENDING,
        .pending_id = slot->pending_id,
        .operation_id = operation_id,
        .user_data_64 = tags->user_data_64,
        .funder_number = tags->funder_number,
    };
    uint32_t core = 0;
    int error = welfare_post(ledger, &posting, &core, NULL);
    if (error) return error;
    *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_HOLD_NOT_PENDING);
    return 0;
}

/* The hold is no longer open: indexes and cap usage of what was not taken. */
static int hold_close(ledger_t *ledger, ledger_u128_t purchase_id, purchase_record_t *purchase,
                      uint64_t released) {
    int error = store_hold_index_delete(ledger, purchase->hold_expires_at, purchase_id);
    if (!error) error = store_employee_hold_delete(ledger, purchase->employee_id, purchase_id);
    if (!error && purchase->fringe && released > 0) {
        error = welfare_fringe_add(ledger, purchase->employee_id, purchase->fiscal_year,
                                   released, true);
    }
    if (!error) error = store_purchase_put(ledger, purchase_id, purchase);
    return error;
}

int welfare_hold_release(ledger_t *ledger, ledger_u128_t operation_id,
                         ledger_u128_t purchase_id, purchase_record_t *purchase,
                         uint32_t final_state, uint32_t *result_out) {
    purchase_tags_t tags;
    int tags_error = purchase_tags(ledger, purchase, &tags);
    if (tags_error) return tags_error;
    for (uint32_t i = 0; i < purchase->pots_count; i++) {
        int error = hold_resolve(ledger, operation_id, &purchase->pots[i], 0, &tags, result_out);
        if (!error && *result_out == WELFARE_RESULT_OK) {
            error = welfare_pot_returned(ledger, purchase->employee_id, &purchase->pots[i],
                                         purchase->pots[i].amount, operation_id, result_out);
        }
        if (error || *result_out != WELFARE_RESULT_OK) return error;
    }
    uint64_t released = purchase->amount;
    purchase->state = final_state;
    return hold_close(ledger, purchase_id, purchase, released);
}

typedef struct hold_request {
    ledger_u128_t id;
    ledger_u128_t purchase_id;
    uint64_t amount;
    uint32_t kind; /* REQUEST_CAPTURE or REQUEST_VOID */
} hold_request_t;

/* Common start of capture and void: id, idempotency, an open hold. */
static int hold_request_begin(ledger_t *ledger, const hold_request_t *request,
                              purchase_record_t *purchase, uint8_t digest[16],
                              uint32_t *result_out) {
    if (!welfare_id_valid(request->id)) {
        *result_out = welfare_invalid(ledger, "operation id");
        return 0;
    }
    uint8_t bytes[64];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, request->kind);
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
    } else if (purchase->state != PURCHASE_HELD || purchase->hold_expires_at <= ledger->now) {
        /* A hold past its timeout is expired even if the expiry pass has
         * not reached it yet (it releases at most LEDGER_EXPIRE_BATCH_MAX
         * per call), as the core refuses to post an expired pending. */
        *result_out = WELFARE_RESULT_HOLD_NOT_PENDING;
    }
    return 0;
}

/* Posts `captured` across the hold's pots in order, voiding the rest. */
static int capture_pots(ledger_t *ledger, const hold_request_t *request,
                        purchase_record_t *purchase, uint64_t captured,
                        const purchase_tags_t *tags, uint32_t *result_out) {
    uint64_t remaining = captured;
    for (uint32_t i = 0; i < purchase->pots_count; i++) {
        purchase_pot_t *slot = &purchase->pots[i];
        uint64_t take = slot->amount < remaining ? slot->amount : remaining;
        int error = hold_resolve(ledger, request->id, slot, take, tags, result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
        error = welfare_pot_returned(ledger, purchase->employee_id, slot, slot->amount - take,
                                     request->id, result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
        slot->amount = take;
        remaining -= take;
    }
    return 0;
}

static int capture_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const hold_request_t *request = context;
    purchase_record_t purchase;
    uint8_t digest[16];
    int error = hold_request_begin(ledger, request, &purchase, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    uint64_t captured = request->amount == 0 ? purchase.amount : request->amount;
    if (captured > purchase.amount) {
        *result_out = WELFARE_RESULT_CAPTURE_EXCEEDS_HOLD;
        return 0;
    }
    purchase_tags_t tags;
    error = purchase_tags(ledger, &purchase, &tags);
    if (error) return error;
    error = capture_pots(ledger, request, &purchase, captured, &tags, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    uint64_t released = purchase.amount - captured;
    purchase.amount = captured;
    purchase.fee = welfare_fee(captured, purchase.fee_bps);
    purchase.state = PURCHASE_CAPTURED;
    error = purchase_post_fee(ledger, request->id, &purchase, tags.provider_number,
                              tags.funder_number, purchase.fee, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    error = hold_close(ledger, request->purchase_id, &purchase, released);
    if (!error) error = store_operation_put(ledger, request->id, digest);
    return error;
}

int welfare_capture(ledger_t *ledger, ledger_u128_t id, ledger_u128_t purchase_id,
                    uint64_t amount, uint32_t *result_out) {
    hold_request_t request = {id, purchase_id, amount, REQUEST_CAPTURE};
    return welfare_run(ledger, capture_body, &request, result_out);
}

static int void_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const hold_request_t *request = context;
    purchase_record_t purchase;
    uint8_t digest[16];
    int error = hold_request_begin(ledger, request, &purchase, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    error = welfare_hold_release(ledger, request->id, request->purchase_id, &purchase,
                                 PURCHASE_VOIDED, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    return store_operation_put(ledger, request->id, digest);
}

int welfare_void(ledger_t *ledger, ledger_u128_t id, ledger_u128_t purchase_id,
                 uint32_t *result_out) {
    hold_request_t request = {id, purchase_id, 0, REQUEST_VOID};
    return welfare_run(ledger, void_body, &request, result_out);
}

/* ---- expiry of holds ---- */

/* Expires one due hold in its own chain; *done_out false when none is due
 * (or when the expiry was refused, which leaves it for the next call). */
static int expire_one(ledger_t *ledger, bool *done_out) {
    uint64_t expires_at = 0;
    ledger_u128_t purchase_id;
    bool found = false;
    *done_out = false;
    int error = store_hold_index_first_due(ledger, ledger->now, &expires_at, &purchase_id, &found);
    if (error || !found) return error;
    error = ledger_chain_begin(ledger);
    if (error) return error;
    purchase_record_t purchase;
    bool found_purchase = false;
    uint32_t result = WELFARE_RESULT_OK;
    error = store_purchase_get(ledger, NULL, purchase_id, &purchase, &found_purchase);
    if (!error && (!found_purchase || purchase.state != PURCHASE_HELD)) error = LEDGER_ERR_CORRUPT;
    if (!error) {
        error = welfare_hold_release(ledger, purchase_id, purchase_id, &purchase,
                                     PURCHASE_EXPIRED, &result);
    }
    if (error || result != WELFARE_RESULT_OK) {
        ledger_chain_rollback(ledger);
        return error;
    }
    error = ledger_chain_commit(ledger);
    *done_out = error == 0;
    return error;
}

/* Remembers when the next hold is due, so that operations between two
 * expiries do not look at the index at all. */
static int next_due_refresh(ledger_t *ledger) {
    uint64_t expires_at = UINT64_MAX;
    ledger_u128_t purchase_id;
    bool due = false;
    int error = store_hold_index_first(ledger, 0, &expires_at, &purchase_id, &due);
    if (!error) ledger->welfare_hold_next_due = expires_at;
    return error;
}

int welfare_expire_due(ledger_t *ledger, uint32_t *expired_count_out) {
    uint32_t expired = 0;
    int error = 0;
    if (expired_count_out != NULL) *expired_count_out = 0;
    uint64_t next_due = ledger->welfare_hold_next_due;
    if (next_due != 0 && ledger->now < next_due) return 0;
    for (bool done = true; done && expired < LEDGER_EXPIRE_BATCH_MAX && !error;) {
        error = expire_one(ledger, &done);
        if (done) expired++;
    }
    if (!error) error = next_due_refresh(ledger);
    if (expired_count_out != NULL) *expired_count_out = expired;
    return error;
}

int welfare_expire_holds(ledger_t *ledger, uint32_t *expired_count_out) {
    uint32_t expired = 0;
    int error = welfare_run_group(ledger, NULL, NULL, 0, NULL, false, &expired);
    if (expired_count_out != NULL) *expired_count_out = error == 0 ? expired : 0;
    return error;
}
