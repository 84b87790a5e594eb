/*
 * welfare_pots.h — pot listing, eligibility and selection, the fringe cap
 * and fee arithmetic, shared by purchases, reimbursements and the wallet
 * (welfare_pots.c). Internal to ledger/.
 */
#ifndef BORSELLINO_WELFARE_POTS_H
#define BORSELLINO_WELFARE_POTS_H

#include "welfare_internal.h"

/* One pot with its plan and its spendable amount now. */
typedef struct pot_candidate {
    welfare_plan_t plan;
    uint64_t pot_number;
    bool closed;
    ledger_u128_t account_id;
    uint64_t available; /* credits posted - debits posted - debits pending */
} pot_candidate_t;

typedef struct employee_pots {
    uint32_t count;
    pot_candidate_t pots[WELFARE_POTS_PER_EMPLOYEE_MAX]; /* earliest expiry first */
} employee_pots_t;

/* How a payment is spread: amount[i] from eligible pot index[i]. */
typedef struct pot_split {
    uint32_t count;
    uint32_t index[WELFARE_PURCHASE_POTS_MAX];
    uint64_t amount[WELFARE_PURCHASE_POTS_MAX];
} pot_split_t;

/* All pots of an employee (txn NULL = the open group's). */
int welfare_pots_load(ledger_t *ledger, MDB_txn *txn, const employee_record_t *employee,
                      employee_pots_t *pots_out);

/* The open pots whose plan allows `category` and runs at `now`. Returns
 * OK, NO_ELIGIBLE_POT (no pot at all), CATEGORY_NOT_ALLOWED_BY_PLAN,
 * POT_EXPIRED or PLAN_NOT_STARTED. */
uint32_t welfare_pots_eligible(const employee_pots_t *all, uint32_t category, uint64_t now,
                               employee_pots_t *eligible_out);

/* Chooses the pots (welfare.h, "Pot selection"); split_wanted false for
 * reimbursements. Returns OK, INSUFFICIENT_POT_BALANCE or
 * TOO_MANY_POTS_FOR_SPLIT. */
uint32_t welfare_pots_select(const employee_pots_t *eligible, uint64_t amount,
                             bool split_wanted, pot_split_t *split_out);

/* Sets *result_out to FRINGE_CAP_EXCEEDED when `amount` more would take the
 * employee's fringe usage of `year` above the cap (leaves it otherwise). */
int welfare_fringe_check(ledger_t *ledger, ledger_u128_t employee_id, uint32_t year,
                         uint64_t amount, uint32_t *result_out);
/* Adds (or subtracts) to the fringe usage of `year`. */
int welfare_fringe_add(ledger_t *ledger, ledger_u128_t employee_id, uint32_t year,
                       uint64_t amount, bool subtract);

/* floor(amount × fee_bps / 10000). */
uint64_t welfare_fee(uint64_t amount, uint32_t fee_bps);
/* floor(a × b / c), c > 0, the result fitting 64 bits. */
uint64_t welfare_mul_div(uint64_t a, uint64_t b, uint64_t c);

#endif
