/*
 * welfare_sweep.c — the end of credit: what a plan's expiry policy does
 * with credit left in (or coming back into) a pot that can no longer be
 * spent, the expiry sweep of a whole plan, and offboarding an employee.
 *
 * Policies: back to the funder (pot -> funds), forfeited (pot -> the
 * platform's forfeited account), or carried over into the employee's pot
 * of the plan's next plan (pot -> pot, same funder). A carry-over that
 * cannot land (the next pot is closed or the employee has too many pots,
 * or the chain of next plans is longer than SETTLE_DEPTH_MAX) goes back to
 * the funder, so credit is never stuck. Offboarding treats carry-over as
 * back to the funder: the employee is leaving.
 *
 * A sweep is one chain in one group (one audited batch): every posting
 * carries the sweep's id. Workload: up to ~100,000 pots per plan.
 */
#include <stdlib.h>

#include "welfare_internal.h"

enum { REQUEST_SWEEP = 30, REQUEST_OFFBOARD = 31, SETTLE_DEPTH_MAX = 8 };

static int settle_post(ledger_t *ledger, uint32_t code, ledger_u128_t from,
                       ledger_u128_t to, uint64_t amount, ledger_u128_t operation_id,
                       uint32_t funder_number, uint32_t *result_out) {
    posting_t posting = {
        .code = code,
        .debit = from,
        .credit = to,
        .amount = amount,
        .operation_id = operation_id,
        .funder_number = funder_number,
    };
    uint32_t core = 0;
    int error = welfare_post(ledger, &posting, &core, NULL);
    if (!error) *result_out = welfare_from_core(ledger, core, WELFARE_RESULT_INSUFFICIENT_POT_BALANCE);
    return error;
}

static void report_add(welfare_sweep_report_t *report, uint32_t policy, uint64_t amount) {
    if (report == NULL) return;
    if (policy == WELFARE_EXPIRY_FORFEIT) {
        report->forfeited += amount;
    } else if (policy == WELFARE_EXPIRY_CARRY_OVER) {
        report->carried_over += amount;
    } else {
        report->expired_back += amount;
    }
}

/* Carry-over: the employee's pot of the next plan, or false to fall back. */
static int carry_target(ledger_t *ledger, ledger_u128_t employee_id, const welfare_plan_t *plan,
                        welfare_plan_t *next_out, pot_record_t *pot_out, bool *usable_out) {
    *usable_out = false;
    bool found = false;
    int error = store_plan_get(ledger, NULL, plan->next_plan_id, next_out, &found);
    if (error || !found) return error;
    employee_record_t employee;
    error = store_employee_get(ledger, NULL, employee_id, &employee, &found);
    if (error || !found) return error;
    uint32_t result = WELFARE_RESULT_OK;
    error = welfare_pot_ensure(ledger, employee_id, &employee, next_out, pot_out, &result);
    *usable_out = !error && result == WELFARE_RESULT_OK;
    return error;
}

static int settle(ledger_t *ledger, ledger_u128_t employee_id, const welfare_plan_t *plan,
                  uint64_t pot_number, uint64_t amount, ledger_u128_t operation_id,
                  bool offboarding, uint32_t depth, welfare_sweep_report_t *report,
                  uint32_t *result_out) {
    uint32_t funder_number = welfare_funder_number(ledger, plan->funder_id);
    ledger_u128_t pot = welfare_account_id(WELFARE_ACCOUNT_POT, pot_number);
    uint32_t policy = plan->expiry_policy;
    if (policy == WELFARE_EXPIRY_CARRY_OVER && (offboarding || depth >= SETTLE_DEPTH_MAX)) {
        policy = WELFARE_EXPIRY_BACK_TO_FUNDER;
    }
    if (policy == WELFARE_EXPIRY_CARRY_OVER) {
        welfare_plan_t next;
        pot_record_t next_pot;
        bool usable = false;
        int error = carry_target(ledger, employee_id, plan, &next, &next_pot, &usable);
        if (error) return error;
        if (usable) {
            error = settle_post(ledger, WELFARE_POSTING_CARRY_OVER, pot,
                                welfare_account_id(WELFARE_ACCOUNT_POT, next_pot.number), amount,
                                operation_id, funder_number, result_out);
            if (error || *result_out != WELFARE_RESULT_OK) return error;
            report_add(report, policy, amount);
            /* Carried into a plan that has ended too: it moves on. */
            if (ledger->now < next.valid_until) return 0;
            return settle(ledger, employee_id, &next, next_pot.number, amount, operation_id,
                          false, depth + 1, NULL, result_out);
        }
        policy = WELFARE_EXPIRY_BACK_TO_FUNDER;
    }
    bool forfeit = policy == WELFARE_EXPIRY_FORFEIT;
    ledger_u128_t to = forfeit ? welfare_account_id(WELFARE_ACCOUNT_FORFEITED, 1)
                               : welfare_account_id(WELFARE_ACCOUNT_FUNDER, funder_number);
    int error = settle_post(ledger, forfeit ? WELFARE_POSTING_FORFEIT : WELFARE_POSTING_EXPIRE_BACK,
                            pot, to, amount, operation_id, funder_number, result_out);
    if (!error && *result_out == WELFARE_RESULT_OK) report_add(report, policy, amount);
    return error;
}

int welfare_pot_settle(ledger_t *ledger, ledger_u128_t employee_id,
                       const welfare_plan_t *plan, uint64_t pot_number, uint64_t amount,
                       ledger_u128_t operation_id, bool offboarding,
                       welfare_sweep_report_t *report, uint32_t *result_out) {
    if (amount == 0) return 0;
    return settle(ledger, employee_id, plan, pot_number, amount, operation_id, offboarding, 0,
                  report, result_out);
}

/* ---- sweep ---- */

typedef struct sweep_request {
    ledger_u128_t id;
    ledger_u128_t subject_id; /* the plan, or the employee */
    welfare_sweep_report_t report;
} sweep_request_t;

static int sweep_begin(ledger_t *ledger, sweep_request_t *request, uint32_t kind,
                       uint8_t digest[16], uint32_t *result_out) {
    memset(&request->report, 0, sizeof(request->report));
    if (!welfare_id_valid(request->id)) {
        *result_out = welfare_invalid(ledger, "operation id");
        return 0;
    }
    uint8_t bytes[32];
    welfare_codec_t codec = {bytes, sizeof(bytes), 0, false};
    codec_put_u32(&codec, kind);
    codec_put_u128(&codec, request->subject_id);
    welfare_digest(bytes, codec.at, digest);
    return welfare_idempotency_check(ledger, request->id, digest, result_out);
}

static int sweep_pots(ledger_t *ledger, sweep_request_t *request, const welfare_plan_t *plan,
                      const store_ids_t *employees, uint32_t *result_out) {
    for (uint32_t i = 0; i < employees->count; i++) {
        pot_record_t pot;
        bool found = false;
        int error = store_pot_get(ledger, NULL, employees->ids[i], plan->id, &pot, &found);
        if (error) return error;
        if (!found) return LEDGER_ERR_CORRUPT;
        uint64_t available = welfare_available(ledger, welfare_account_id(WELFARE_ACCOUNT_POT, pot.number));
        if (available == 0) continue;
        error = welfare_pot_settle(ledger, employees->ids[i], plan, pot.number, available,
                                   request->id, false, &request->report, result_out);
        if (error || *result_out != WELFARE_RESULT_OK) return error;
        request->report.pots_swept++;
    }
    return 0;
}

static int sweep_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    sweep_request_t *request = context;
    uint8_t digest[16];
    int error = sweep_begin(ledger, request, REQUEST_SWEEP, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    welfare_plan_t plan;
    bool found = false;
    error = store_plan_get(ledger, NULL, request->subject_id, &plan, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_PLAN_NOT_FOUND;
        return 0;
    }
    if (ledger->now < plan.valid_until) {
        *result_out = WELFARE_RESULT_PLAN_NOT_ENDED;
        return 0;
    }
    store_ids_t employees;
    error = store_ids_under(ledger, NULL, 'X', plan.id, &employees);
    if (!error) error = sweep_pots(ledger, request, &plan, &employees, result_out);
    store_ids_free(&employees);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    return store_operation_put(ledger, request->id, digest);
}

/* Runs a sweep or an offboarding of `subject_id`; the report is zero unless
 * it was applied. */
static int sweep_run(ledger_t *ledger, welfare_body_fn body, ledger_u128_t id,
                     ledger_u128_t subject_id, uint32_t *result_out,
                     welfare_sweep_report_t *report_out) {
    sweep_request_t request = {id, subject_id, {0}};
    int error = welfare_run(ledger, body, &request, result_out);
    if (report_out != NULL) {
        bool ok = error == 0 && *result_out == WELFARE_RESULT_OK;
        if (ok) {
            *report_out = request.report;
        } else {
            memset(report_out, 0, sizeof(*report_out));
        }
    }
    return error;
}

int welfare_sweep(ledger_t *ledger, ledger_u128_t id, ledger_u128_t plan_id,
                  uint32_t *result_out, welfare_sweep_report_t *report_out) {
    return sweep_run(ledger, sweep_body, id, plan_id, result_out, report_out);
}

/* ---- offboarding ---- */

/* Voids every open hold of the employee. */
static int offboard_holds(ledger_t *ledger, sweep_request_t *request, uint32_t *result_out) {
    store_ids_t holds;
    int error = store_ids_under(ledger, NULL, 'W', request->subject_id, &holds);
    for (uint32_t i = 0; i < holds.count && !error && *result_out == WELFARE_RESULT_OK; i++) {
        purchase_record_t purchase;
        bool found = false;
        error = store_purchase_get(ledger, NULL, holds.ids[i], &purchase, &found);
        if (!error && (!found || purchase.state != PURCHASE_HELD)) error = LEDGER_ERR_CORRUPT;
        if (!error) {
            error = welfare_hold_release(ledger, request->id, holds.ids[i], &purchase,
                                         PURCHASE_VOIDED, result_out);
        }
        if (!error && *result_out == WELFARE_RESULT_OK) request->report.holds_voided++;
    }
    store_ids_free(&holds);
    return error;
}

/* Empties every pot per its plan (carry-over: back to the funder), closes
 * it, and marks the employee offboarded. The employee record is read here,
 * after the holds: releasing one may have carried credit into a new pot. */
static int offboard_pots(ledger_t *ledger, sweep_request_t *request, uint32_t *result_out) {
    employee_record_t employee;
    bool found = false;
    int error = store_employee_get(ledger, NULL, request->subject_id, &employee, &found);
    if (!error && !found) error = LEDGER_ERR_CORRUPT;
    for (uint32_t i = 0; i < employee.pots_count && !error; i++) {
        const employee_pot_ref_t *ref = &employee.pots[i];
        welfare_plan_t plan;
        pot_record_t pot;
        bool found_plan = false;
        bool found_pot = false;
        error = store_plan_get(ledger, NULL, ref->plan_id, &plan, &found_plan);
        if (!error) error = store_pot_get(ledger, NULL, request->subject_id, ref->plan_id, &pot, &found_pot);
        if (!error && (!found_plan || !found_pot)) error = LEDGER_ERR_CORRUPT;
        if (error) break;
        uint64_t available = welfare_available(ledger, welfare_account_id(WELFARE_ACCOUNT_POT, pot.number));
        if (available > 0) {
            error = welfare_pot_settle(ledger, request->subject_id, &plan, pot.number, available,
                                       request->id, true, &request->report, result_out);
            if (error || *result_out != WELFARE_RESULT_OK) return error;
            request->report.pots_swept++;
        }
        pot.closed = true;
        error = store_pot_put(ledger, request->subject_id, ref->plan_id, &pot);
    }
    if (error) return error;
    employee.offboarded = true;
    return store_employee_put(ledger, request->subject_id, &employee);
}

static int offboard_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    sweep_request_t *request = context;
    uint8_t digest[16];
    int error = sweep_begin(ledger, request, REQUEST_OFFBOARD, digest, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    employee_record_t employee;
    bool found = false;
    error = store_employee_get(ledger, NULL, request->subject_id, &employee, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
        return 0;
    }
    if (employee.offboarded) {
        *result_out = WELFARE_RESULT_EMPLOYEE_OFFBOARDED;
        return 0;
    }
    error = offboard_holds(ledger, request, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    error = offboard_pots(ledger, request, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    return store_operation_put(ledger, request->id, digest);
}

int welfare_offboard(ledger_t *ledger, ledger_u128_t id, ledger_u128_t employee_id,
                     uint32_t *result_out, welfare_sweep_report_t *report_out) {
    return sweep_run(ledger, offboard_body, id, employee_id, result_out, report_out);
}
