/*
 * welfare_money.c — money in and out of the welfare circuit: funding a
 * funder (bank -> funds), granting credit to employees (funds -> pot, the
 * pot created on the first grant under a plan) and paying providers out
 * (payable -> bank). Fund and payout are one chain each. A bulk grant is
 * one operation per employee inside one group, idempotent per (grant id,
 * employee), without a chain: each entry makes every check (including the
 * core's, grant_posting_check) before its first write, so a refused entry
 * leaves nothing to roll back.
 */
#include <assert.h>
#include <stdlib.h>

#include "memory.h"
#include "welfare_internal.h"

enum { REQUEST_FUND = 1, REQUEST_PAYOUT = 2, REQUEST_GRANT_ENTRY = 3 };

/* ---- fund ---- */

static void fund_digest(const welfare_fund_t *fund, uint8_t digest[16]) {
    uint8_t bytes[64];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, REQUEST_FUND);
    codec_put_u128(&codec, fund->funder_id);
    codec_put_u64(&codec, fund->amount);
    welfare_digest(bytes, codec.at, digest);
}

static int fund_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_fund_t *fund = context;
    if (!welfare_id_valid(fund->id)) {
        *result_out = welfare_invalid(ledger, "operation id");
        return 0;
    }
    if (fund->amount == 0) {
        *result_out = welfare_invalid(ledger, "amount must not be zero");
        return 0;
    }
    uint8_t digest[16];
    fund_digest(fund, digest);
    int error = welfare_idempotency_check(ledger, fund->id, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    uint32_t number = welfare_funder_number(ledger, fund->funder_id);
    if (number == 0) {
        *result_out = WELFARE_RESULT_FUNDER_NOT_FOUND;
        return 0;
    }
    posting_t posting = {
        .code = WELFARE_POSTING_FUND,
        .debit = welfare_account_id(WELFARE_ACCOUNT_BANK, 1),
        .credit = welfare_account_id(WELFARE_ACCOUNT_FUNDER, number),
        .amount = fund->amount,
        .operation_id = fund->id,
        .funder_number = number,
    };
    uint32_t core = 0;
    error = welfare_post(ledger, &posting, &core, NULL);
    if (error) return error;
    *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_OVERFLOW);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    return store_operation_put(ledger, fund->id, digest);
}

int welfare_fund(ledger_t *ledger, const welfare_fund_t *fund, uint32_t *result_out) {
    if (fund == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run(ledger, fund_body, (void *)fund, result_out);
}

/* ---- pots ---- */

/* Does the employee have a pot of the plan? Their record lists every pot
 * pot_create made (and nothing removes one), so a pot not listed needs no
 * lookup: a bulk grant's first grant creates most of its pots. */
static bool pot_listed(const employee_record_t *employee, ledger_u128_t plan_id) {
    for (uint32_t i = 0; i < employee->pots_count; i++) {
        if (ledger_u128_equal(employee->pots[i].plan_id, plan_id)) return true;
    }
    return false;
}

/* The checks of welfare_pot_ensure, reading only: *found_out tells whether
 * the pot exists (then in *pot_out); *result_out POT_CLOSED or TOO_MANY_POTS
 * when it cannot be used or created. */
static int pot_check(ledger_t *ledger, ledger_u128_t employee_id,
                     const employee_record_t *employee, const welfare_plan_t *plan,
                     pot_record_t *pot_out, bool *found_out, uint32_t *result_out) {
    *found_out = false;
    if (pot_listed(employee, plan->id)) {
        int error = store_pot_get(ledger, NULL, employee_id, plan->id, pot_out, found_out);
        if (error) return error;
        if (!*found_out) {
            ledger_set_error(ledger, "an employee's record lists a pot that is missing");
            return LEDGER_ERR_CORRUPT;
        }
        if (pot_out->closed) *result_out = WELFARE_RESULT_POT_CLOSED;
        return 0;
    }
    if (employee->offboarded) {
        *result_out = WELFARE_RESULT_POT_CLOSED;
    } else if (employee->pots_count >= WELFARE_POTS_PER_EMPLOYEE_MAX) {
        *result_out = WELFARE_RESULT_TOO_MANY_POTS;
    }
    return 0;
}

/* Creates the pot that pot_check found missing and allowed: its account,
 * its record (with `granted` already counted), the plan's index and the
 * employee's list. */
static int pot_create(ledger_t *ledger, ledger_u128_t employee_id, employee_record_t *employee,
                      const welfare_plan_t *plan, uint64_t granted, pot_record_t *pot_out) {
    assert(employee->pots_count < WELFARE_POTS_PER_EMPLOYEE_MAX);
    memset(pot_out, 0, sizeof(*pot_out));
    pot_out->granted = granted;
    int error = welfare_next_pot_number(ledger, &pot_out->number);
    if (!error) error = welfare_account_create(ledger, WELFARE_ACCOUNT_POT, pot_out->number, employee_id);
    if (!error) error = store_pot_put(ledger, employee_id, plan->id, pot_out);
    if (!error) error = store_plan_pot_index_put(ledger, plan->id, employee_id);
    if (error) return error;
    employee->pots[employee->pots_count].plan_id = plan->id;
    employee->pots[employee->pots_count].pot_number = pot_out->number;
    employee->pots_count++;
    return store_employee_put(ledger, employee_id, employee);
}

int welfare_pot_ensure(ledger_t *ledger, ledger_u128_t employee_id,
                       employee_record_t *employee, const welfare_plan_t *plan,
                       pot_record_t *pot_out, uint32_t *result_out) {
    bool found = false;
    int error = pot_check(ledger, employee_id, employee, plan, pot_out, &found, result_out);
    if (error || found || *result_out != WELFARE_RESULT_OK) return error;
    return pot_create(ledger, employee_id, employee, plan, 0, pot_out);
}

/* ---- grant ---- */

/* A grant's entries in employee-id order: entries[i] was index[i] of the
 * request; results[i] is room for a result. One allocation. */
typedef struct grant_sorted {
    welfare_grant_entry_t *entries;
    uint32_t *index;
    uint32_t *results;
} grant_sorted_t;

enum { GRANT_PREFETCH_RING = 8 };

typedef struct grant_context {
    ledger_u128_t grant_id;
    ledger_u128_t plan_id;
    const welfare_grant_entry_t *entries; /* as requested */
    uint32_t count;
    /* The order the entries run in (grant_order): employee-id order, or
     * NULL for request order. Decided in the group, at the first entry. */
    grant_sorted_t *sorted;
    /* In employee-id order, no entry of the grant existed between the
     * first and the last employee of the request: an entry needs a lookup
     * only after one of the same employee. */
    bool fresh;
    /* grant_prefetch: the cache hashes of the employee and pot of the
     * entries ahead, by entry index modulo the ring's size. */
    uint64_t employee_hashes[GRANT_PREFETCH_RING];
    uint64_t pot_hashes[GRANT_PREFETCH_RING];
} grant_context_t;

/* A grant's employees are spread over the registry cache: each entry's
 * employee record and pot would be a cache miss (slot, then entry). The
 * slots of the entry GRANT_PREFETCH_RING ahead are fetched, then the
 * records of the one half as far ahead. */
static void grant_prefetch(ledger_t *ledger, grant_context_t *grant,
                           const welfare_grant_entry_t *entries, uint32_t index) {
    uint32_t ahead = index + GRANT_PREFETCH_RING;
    if (ahead < grant->count) {
        uint32_t slot = ahead % GRANT_PREFETCH_RING;
        grant->employee_hashes[slot] = store_cache_hash_u128('E', entries[ahead].employee_id);
        grant->pot_hashes[slot] = store_cache_hash_pot(entries[ahead].employee_id, grant->plan_id);
        store_cache_prefetch(ledger, grant->employee_hashes[slot], 1);
        store_cache_prefetch(ledger, grant->pot_hashes[slot], 1);
    }
    ahead = index + GRANT_PREFETCH_RING / 2;
    if (index >= GRANT_PREFETCH_RING / 2 && ahead < grant->count) {
        uint32_t slot = ahead % GRANT_PREFETCH_RING;
        store_cache_prefetch(ledger, grant->employee_hashes[slot], 2);
        store_cache_prefetch(ledger, grant->pot_hashes[slot], 2);
    }
}

static void grant_digest(const grant_context_t *grant, const welfare_grant_entry_t *entry,
                         uint8_t digest[16]) {
    uint8_t bytes[64];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, REQUEST_GRANT_ENTRY);
    codec_put_u128(&codec, grant->plan_id);
    codec_put_u64(&codec, entry->amount);
    welfare_digest(bytes, codec.at, digest);
}

/* The checks on the plan and the employee; fills the records. */
static int grant_check(ledger_t *ledger, const grant_context_t *grant,
                       const welfare_grant_entry_t *entry, welfare_plan_t *plan,
                       employee_record_t *employee, uint32_t *result_out) {
    bool found = false;
    int error = store_plan_get(ledger, NULL, grant->plan_id, plan, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_PLAN_NOT_FOUND;
        return 0;
    }
    error = store_employee_get(ledger, NULL, entry->employee_id, employee, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
    } else if (!ledger_u128_equal(employee->funder_id, plan->funder_id)) {
        *result_out = WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER;
    } else if (employee->offboarded) {
        *result_out = WELFARE_RESULT_POT_CLOSED;
    } else if (ledger->now >= plan->valid_until) {
        *result_out = WELFARE_RESULT_POT_EXPIRED;
    }
    return 0;
}

/* What the core would answer to the grant's posting (funder -> pot,
 * posted), asked before anything is written, mapped as welfare_from_core
 * maps it. A pot still to be created is an account as
 * welfare_account_create makes it: empty, open, in WELFARE_LEDGER. */
static uint32_t grant_posting_check(ledger_t *ledger, ledger_u128_t funder_account,
                                    uint64_t pot_number, bool pot_exists, uint64_t amount) {
    account_slot_t created;
    memset(&created, 0, sizeof(created));
    created.ledger = WELFARE_LEDGER;
    created.flags = welfare_account_flags(WELFARE_ACCOUNT_POT);
    ledger_transfer_t transfer;
    memset(&transfer, 0, sizeof(transfer));
    transfer.debit_account_id = funder_account;
    transfer.credit_account_id = welfare_account_id(WELFARE_ACCOUNT_POT, pot_number);
    transfer.amount = amount;
    transfer.ledger = WELFARE_LEDGER;
    const account_slot_t *debit = accounts_find(&ledger->accounts, funder_account);
    const account_slot_t *credit =
        pot_exists ? accounts_find(&ledger->accounts, transfer.credit_account_id) : &created;
    uint32_t core = debit == NULL    ? LEDGER_RESULT_DEBIT_ACCOUNT_NOT_FOUND
                    : credit == NULL ? LEDGER_RESULT_CREDIT_ACCOUNT_NOT_FOUND
                                     : transfer_posted_check(&transfer, debit, credit);
    return welfare_from_core(ledger, core, WELFARE_RESULT_INSUFFICIENT_FUNDS);
}

/* `lookup` false: the entry is known to be new (grant_context_t.fresh). */
static int grant_entry(ledger_t *ledger, const grant_context_t *grant,
                       const welfare_grant_entry_t *entry, bool lookup, uint32_t *result_out) {
    if (entry->amount == 0) {
        *result_out = welfare_invalid(ledger, "amount must not be zero");
        return 0;
    }
    uint8_t digest[16];
    uint8_t stored[16];
    bool found = false;
    grant_digest(grant, entry, digest);
    int error = lookup ? store_grant_entry_get(ledger, grant->grant_id, entry->employee_id,
                                               stored, &found)
                       : 0;
    if (error) return error;
    if (found) {
        *result_out = memcmp(stored, digest, 16) == 0 ? WELFARE_RESULT_EXISTS
                                                      : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        return 0;
    }
    welfare_plan_t plan;
    employee_record_t employee;
    error = grant_check(ledger, grant, entry, &plan, &employee, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    /* Every refusal comes before the first write (the entry runs without
     * a chain: welfare_grant), in the order in which the chained version
     * gave them: the pot, its granted sum, the limit, then the posting. */
    pot_record_t pot;
    bool pot_exists = false;
    error = pot_check(ledger, entry->employee_id, &employee, &plan, &pot, &pot_exists, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    uint64_t granted = pot_exists ? pot.granted : 0;
    if (granted > UINT64_MAX - entry->amount) {
        *result_out = WELFARE_RESULT_OVERFLOW;
        return 0;
    }
    if (plan.grant_limit_per_employee != 0 &&
        granted + entry->amount > plan.grant_limit_per_employee) {
        *result_out = WELFARE_RESULT_GRANT_LIMIT_EXCEEDED;
        return 0;
    }
    uint32_t number = welfare_funder_number(ledger, plan.funder_id);
    ledger_u128_t funder_account = welfare_account_id(WELFARE_ACCOUNT_FUNDER, number);
    *result_out = grant_posting_check(ledger, funder_account, pot_exists ? pot.number : 0,
                                      pot_exists, entry->amount);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    /* Every check is done: from here on nothing is refused. A new pot is
     * written once, with this grant already counted. */
    if (!pot_exists) {
        error = pot_create(ledger, entry->employee_id, &employee, &plan, entry->amount, &pot);
        if (error) return error;
    }
    posting_t posting = {
        .code = WELFARE_POSTING_GRANT,
        .debit = funder_account,
        .credit = welfare_account_id(WELFARE_ACCOUNT_POT, pot.number),
        .amount = entry->amount,
        .operation_id = grant->grant_id,
        .funder_number = number,
    };
    uint32_t core = 0;
    error = welfare_post(ledger, &posting, &core, NULL);
    if (error) return error;
    /* Should the core refuse anyway (a bug in the check above), the result
     * makes direct_entry fail the whole group: nothing half-applied. */
    *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_INSUFFICIENT_FUNDS);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    if (pot_exists) {
        pot.granted += entry->amount;
        error = store_pot_put(ledger, entry->employee_id, plan.id, &pot);
        if (error) return error;
    }
    return store_grant_entry_put(ledger, grant->grant_id, entry->employee_id, digest);
}

/*
 * The order of a grant's entries. Entries of different employees interact
 * only through the funder's funds: when those cover the whole grant, no
 * entry can be refused for them, and running the entries in employee-id
 * order (entries of one employee keep their order) gives every entry the
 * result it gets in request order. That order makes the rows of the pots,
 * grant entries and employees, all keyed by employee id, adjacent in their
 * B-trees: each leaf is found and written once for many entries instead of
 * once per entry, about twice the speed for a large grant. When the funds
 * may run short, the entries run in request order, so the ones refused are
 * the last of the request. Only the journal's order and the pots' numbers
 * differ between the two orders.
 */
static bool grant_funds_cover(ledger_t *ledger, ledger_u128_t plan_id,
                              const welfare_grant_entry_t *entries, uint32_t count) {
    welfare_plan_t plan;
    bool found = false;
    if (count < 2 || store_plan_get(ledger, NULL, plan_id, &plan, &found) != 0 || !found) {
        return false;
    }
    uint32_t number = welfare_funder_number(ledger, plan.funder_id);
    if (number == 0) return false;
    uint64_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (entries[i].amount > UINT64_MAX - total) return false;
        total += entries[i].amount;
    }
    return total <= welfare_available(ledger, welfare_account_id(WELFARE_ACCOUNT_FUNDER, number));
}

typedef struct grant_order {
    ledger_u128_t employee_id;
    uint32_t index;
} grant_order_t;

static int grant_order_compare(const void *a, const void *b) {
    const grant_order_t *x = a;
    const grant_order_t *y = b;
    int order = ledger_u128_compare(x->employee_id, y->employee_id);
    if (order != 0) return order;
    return x->index < y->index ? -1 : x->index > y->index; /* stable */
}

/* NULL when out of memory (the grant then runs in request order). */
static grant_sorted_t *grant_sort(const welfare_grant_entry_t *entries, uint32_t count) {
    size_t size = sizeof(grant_sorted_t) + (size_t)count * (sizeof(welfare_grant_entry_t) +
                                                            sizeof(grant_order_t) + 2 * sizeof(uint32_t));
    grant_sorted_t *sorted = memory_alloc(size);
    if (sorted == NULL) return NULL;
    sorted->entries = (welfare_grant_entry_t *)(void *)(sorted + 1);
    grant_order_t *order = (grant_order_t *)(void *)(sorted->entries + count);
    sorted->index = (uint32_t *)(void *)(order + count);
    sorted->results = sorted->index + count;
    for (uint32_t i = 0; i < count; i++) order[i] = (grant_order_t){entries[i].employee_id, i};
    qsort(order, count, sizeof(*order), grant_order_compare);
    for (uint32_t i = 0; i < count; i++) {
        sorted->index[i] = order[i].index;
        sorted->entries[i] = entries[order[i].index];
    }
    return sorted;
}

/* Runs the index-th entry in the grant's order, deciding the order at
 * the first one (inside the group, where the funds can be read; a group
 * run again after map growth decides again). */
static int grant_ordered_entry(ledger_t *ledger, void *context, uint32_t index,
                               uint32_t *result_out) {
    grant_context_t *grant = context;
    if (index == 0) {
        memory_free(grant->sorted);
        grant->sorted = grant_funds_cover(ledger, grant->plan_id, grant->entries, grant->count)
                            ? grant_sort(grant->entries, grant->count)
                            : NULL;
        grant->fresh = false;
        if (grant->sorted != NULL) {
            bool any = true;
            int error = store_grant_entries_between(ledger, grant->grant_id,
                                                    grant->sorted->entries[0].employee_id,
                                                    grant->sorted->entries[grant->count - 1].employee_id,
                                                    &any);
            if (error) return error;
            grant->fresh = !any;
        }
    }
    const welfare_grant_entry_t *entries =
        grant->sorted != NULL ? grant->sorted->entries : grant->entries;
    grant_prefetch(ledger, grant, entries, index);
    if (grant->sorted == NULL) return grant_entry(ledger, grant, &entries[index], true, result_out);
    const welfare_grant_entry_t *entry = &entries[index];
    bool lookup = !grant->fresh || (index > 0 && ledger_u128_equal(entry[-1].employee_id,
                                                                   entry->employee_id));
    return grant_entry(ledger, grant, entry, lookup, result_out);
}

int welfare_grant(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t plan_id,
                  const welfare_grant_entry_t *entries, uint32_t count,
                  uint32_t *results_out) {
    if (ledger == NULL || entries == NULL || results_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count == 0 || count > WELFARE_GRANT_EMPLOYEES_MAX) return LEDGER_ERR_INVALID_ARGUMENT;
    if (!welfare_id_valid(grant_id)) {
        ledger_set_error(ledger, "invalid field: grant id");
        for (uint32_t i = 0; i < count; i++) results_out[i] = WELFARE_RESULT_INVALID_FIELD;
        return 0;
    }
    /* One nested transaction per employee cost more than the entry itself:
     * grant_entry refuses only before its first write, so it runs without
     * a chain (a refusal after a write would fail the whole group). */
    grant_context_t grant = {.grant_id = grant_id, .plan_id = plan_id, .entries = entries,
                             .count = count};
    int error = welfare_run_direct_entries(ledger, grant_ordered_entry, &grant, count, results_out);
    grant_sorted_t *sorted = grant.sorted;
    if (sorted != NULL) {
        /* results_out[i] is the result of the i-th entry run. */
        memcpy(sorted->results, results_out, count * sizeof(*results_out));
        for (uint32_t i = 0; i < count; i++) results_out[sorted->index[i]] = sorted->results[i];
        memory_free(sorted);
    }
    return error;
}

/* ---- payout ---- */

typedef struct payout_context {
    ledger_u128_t id;
    ledger_u128_t provider_id;
    uint64_t amount;
    ledger_u128_t reference;
    uint64_t paid;
} payout_context_t;

static int payout_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    payout_context_t *payout = context;
    payout->paid = 0;
    if (!welfare_id_valid(payout->id)) {
        *result_out = welfare_invalid(ledger, "operation id");
        return 0;
    }
    uint8_t bytes[80];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, REQUEST_PAYOUT);
    codec_put_u128(&codec, payout->provider_id);
    codec_put_u64(&codec, payout->amount);
    codec_put_u128(&codec, payout->reference);
    uint8_t digest[16];
    welfare_digest(bytes, codec.at, digest);
    int error = welfare_idempotency_check(ledger, payout->id, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    provider_record_t provider;
    bool found = false;
    error = store_provider_get(ledger, NULL, payout->provider_id, &provider, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_PROVIDER_NOT_FOUND;
        return 0;
    }
    ledger_u128_t payable = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, provider.number);
    uint64_t available = welfare_available(ledger, payable);
    uint64_t amount = payout->amount == 0 ? available : payout->amount;
    if (amount > available) {
        *result_out = WELFARE_RESULT_PAYABLE_INSUFFICIENT;
        return 0;
    }
    if (amount > 0) {
        posting_t posting = {
            .code = WELFARE_POSTING_PAYOUT,
            .debit = payable,
            .credit = welfare_account_id(WELFARE_ACCOUNT_BANK, 1),
            .amount = amount,
            .operation_id = payout->id,
            .user_data_64 = posting_user_data_64(0, 0, 0, provider.number),
        };
        uint32_t core = 0;
        error = welfare_post(ledger, &posting, &core, NULL);
        if (error) return error;
        *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_PAYABLE_INSUFFICIENT);
        if (*result_out != WELFARE_RESULT_OK) return 0;
    }
    payout->paid = amount;
    return store_operation_put(ledger, payout->id, digest);
}

int welfare_payout(ledger_t *ledger, ledger_u128_t id, ledger_u128_t provider_id,
                   uint64_t amount, ledger_u128_t reference, uint32_t *result_out,
                   uint64_t *paid_out) {
    payout_context_t payout = {id, provider_id, amount, reference, 0};
    int error = welfare_run(ledger, payout_body, &payout, result_out);
    if (paid_out != NULL) *paid_out = error == 0 ? payout.paid : 0;
    return error;
}
