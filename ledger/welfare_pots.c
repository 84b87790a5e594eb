/*
 * welfare_pots.c — an employee's pots, which of them may pay for a
 * category now, and how a payment is spread over them (docs/welfare.md,
 * "Pot selection"); and the fringe-benefit cap per employee × fiscal year.
 *
 * An employee has at most WELFARE_POTS_PER_EMPLOYEE_MAX pots, so every
 * list here is a small fixed array, sorted earliest expiry first (ties by
 * plan id) so that the choice is deterministic and replayable.
 */
#include "welfare_internal.h"
#include "welfare_pots.h"

static bool pot_before(const pot_candidate_t *a, const pot_candidate_t *b) {
    if (a->plan.valid_until != b->plan.valid_until) return a->plan.valid_until < b->plan.valid_until;
    if (a->plan.id.hi != b->plan.id.hi) return a->plan.id.hi < b->plan.id.hi;
    return a->plan.id.lo < b->plan.id.lo;
}

static void pots_sort(employee_pots_t *pots) {
    for (uint32_t i = 1; i < pots->count; i++) {
        pot_candidate_t moving = pots->pots[i];
        uint32_t j = i;
        while (j > 0 && pot_before(&moving, &pots->pots[j - 1])) {
            pots->pots[j] = pots->pots[j - 1];
            j--;
        }
        pots->pots[j] = moving;
    }
}

int welfare_pots_load(ledger_t *ledger, MDB_txn *txn, const employee_record_t *employee,
                      employee_pots_t *pots_out) {
    int error = 0;
    pots_out->count = 0;
    for (uint32_t i = 0; i < employee->pots_count && !error; i++) {
        pot_candidate_t *pot = &pots_out->pots[pots_out->count];
        bool found = false;
        error = store_plan_get(ledger, txn, employee->pots[i].plan_id, &pot->plan, &found);
        if (!error && !found) error = LEDGER_ERR_CORRUPT;
        if (error) break;
        pot->pot_number = employee->pots[i].pot_number;
        pot->closed = employee->offboarded;
        pot->account_id = welfare_account_id(WELFARE_ACCOUNT_POT, pot->pot_number);
        pot->available = welfare_available(ledger, pot->account_id);
        pots_out->count++;
    }
    if (!error) pots_sort(pots_out);
    return error;
}

uint32_t welfare_pots_eligible(const employee_pots_t *all, uint32_t category, uint64_t now,
                               employee_pots_t *eligible_out) {
    bool allowed = false;
    bool ended = false;
    eligible_out->count = 0;
    if (all->count == 0) return WELFARE_RESULT_NO_ELIGIBLE_POT;
    for (uint32_t i = 0; i < all->count; i++) {
        const pot_candidate_t *pot = &all->pots[i];
        if (pot->closed || !(pot->plan.categories & (UINT64_C(1) << category))) continue;
        allowed = true;
        if (now >= pot->plan.valid_until) {
            ended = true;
        } else if (now >= pot->plan.valid_from) {
            eligible_out->pots[eligible_out->count++] = *pot;
        }
    }
    if (eligible_out->count > 0) return WELFARE_RESULT_OK;
    if (!allowed) return WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN;
    return ended ? WELFARE_RESULT_POT_EXPIRED : WELFARE_RESULT_PLAN_NOT_STARTED;
}

/* The earliest pot covering `amount` alone, or count when none does. */
static uint32_t first_covering(const employee_pots_t *eligible, uint64_t amount) {
    for (uint32_t i = 0; i < eligible->count; i++) {
        if (eligible->pots[i].available >= amount) return i;
    }
    return eligible->count;
}

uint32_t welfare_pots_select(const employee_pots_t *eligible, uint64_t amount,
                             bool split_wanted, pot_split_t *split_out) {
    split_out->count = 0;
    if (eligible->count == 0) return WELFARE_RESULT_NO_ELIGIBLE_POT;
    if (eligible->pots[0].available >= amount) {
        split_out->index[0] = 0;
        split_out->amount[0] = amount;
        split_out->count = 1;
        return WELFARE_RESULT_OK;
    }
    bool too_many = false;
    if (split_wanted) {
        /* Splitting is considered only when the split pots together cover
         * the amount; then it takes them in order, at most
         * WELFARE_PURCHASE_POTS_MAX. */
        uint64_t splittable = 0;
        for (uint32_t i = 0; i < eligible->count; i++) {
            const pot_candidate_t *pot = &eligible->pots[i];
            if (pot->plan.flags & WELFARE_PLAN_SPLIT_ALLOWED) {
                /* Kept <= amount, so the sum cannot overflow. */
                uint64_t add = pot->available;
                splittable = add > amount - splittable ? amount : splittable + add;
            }
        }
        uint64_t remaining = splittable >= amount ? amount : 0;
        for (uint32_t i = 0; i < eligible->count && remaining > 0; i++) {
            const pot_candidate_t *pot = &eligible->pots[i];
            if (!(pot->plan.flags & WELFARE_PLAN_SPLIT_ALLOWED) || pot->available == 0) continue;
            if (split_out->count == WELFARE_PURCHASE_POTS_MAX) {
                too_many = true;
                break;
            }
            uint64_t take = pot->available < remaining ? pot->available : remaining;
            split_out->index[split_out->count] = i;
            split_out->amount[split_out->count] = take;
            split_out->count++;
            remaining -= take;
        }
        if (splittable >= amount && !too_many) return WELFARE_RESULT_OK;
        split_out->count = 0;
    }
    uint32_t alone = first_covering(eligible, amount);
    if (alone == eligible->count) {
        return too_many ? WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT
                        : WELFARE_RESULT_INSUFFICIENT_POT_BALANCE;
    }
    split_out->index[0] = alone;
    split_out->amount[0] = amount;
    split_out->count = 1;
    return WELFARE_RESULT_OK;
}

/* ---- fringe cap ---- */

int welfare_fringe_check(ledger_t *ledger, ledger_u128_t employee_id, uint32_t year,
                         uint64_t amount, uint32_t *result_out) {
    uint64_t cap_class = WELFARE_CAP_STANDARD;
    uint64_t used = 0;
    uint64_t cap = 0;
    bool found = false;
    int error = store_u64_get(ledger, NULL, 'C', employee_id, year, &cap_class, &found);
    if (!error) error = store_u64_get(ledger, NULL, 'U', employee_id, year, &used, &found);
    if (!error) error = welfare_cap_in_group(ledger, year, (uint32_t)cap_class, &cap);
    if (error) return error;
    /* The cap is a cliff: one cent over makes the whole benefit taxable. */
    if (amount > cap || used > cap - amount) *result_out = WELFARE_RESULT_FRINGE_CAP_EXCEEDED;
    return 0;
}

int welfare_fringe_add(ledger_t *ledger, ledger_u128_t employee_id, uint32_t year,
                       uint64_t amount, bool subtract) {
    uint64_t used = 0;
    bool found = false;
    int error = store_u64_get(ledger, NULL, 'U', employee_id, year, &used, &found);
    if (error) return error;
    if (subtract) {
        if (amount > used) {
            ledger_set_error(ledger, "fringe usage would go below zero");
            return LEDGER_ERR_CORRUPT;
        }
        used -= amount;
    } else {
        if (used > UINT64_MAX - amount) return LEDGER_ERR_CORRUPT;
        used += amount;
    }
    return store_u64_put(ledger, 'U', employee_id, year, used);
}

uint64_t welfare_fee(uint64_t amount, uint32_t fee_bps) {
    /* floor(amount × bps / 10000) without 128-bit arithmetic:
     * amount = q·10000 + r, so the floor is q·bps + floor(r·bps / 10000). */
    uint64_t q = amount / 10000;
    uint64_t r = amount % 10000;
    return q * fee_bps + (r * fee_bps) / 10000;
}

uint64_t welfare_mul_div(uint64_t a, uint64_t b, uint64_t c) {
    __extension__ typedef unsigned __int128 u128_t;
    u128_t product = (u128_t)a * b;
    return (uint64_t)(product / c);
}
