/*
 * welfare_registry.c — funders, providers, employees, plans and cap-class
 * declarations. Each entity is keyed by its own id: creating it again with
 * the same fields is EXISTS, with other fields EXISTS_WITH_DIFFERENT_FIELDS.
 * Funders (companies and public funders alike) and providers get an
 * account and a number (carried in postings, so statements can attribute
 * journal records without a lookup). No personal data: ids are opaque.
 *
 * Invariant: every body decides any refusal before its first write, so
 * each runs without a savepoint of its own (welfare_run_direct), alone or
 * many in one group (welfare_register).
 */
#include "welfare_internal.h"

enum { FISCAL_YEAR_MIN = 2000, FISCAL_YEAR_MAX = 2199 };

/* Takes the next number of a counter (0 funders, 1 providers, 2 pots). */
static int platform_next(ledger_t *ledger, uint64_t *number_out, int which) {
    platform_record_t platform;
    bool found = false;
    int error = store_platform_get(ledger, NULL, &platform, &found);
    if (error) return error;
    if (!found) return LEDGER_ERR_CORRUPT;
    uint64_t *counter = which == 0 ? &platform.funders_count
                        : which == 1 ? &platform.providers_count
                                     : &platform.pots_count;
    if (*counter >= UINT32_MAX) return LEDGER_ERR_STORAGE_FULL;
    *counter += 1;
    *number_out = *counter;
    return store_platform_put(ledger, &platform);
}

int welfare_next_pot_number(ledger_t *ledger, uint64_t *number_out) {
    return platform_next(ledger, number_out, 2);
}

/* ---- funders ---- */

static int funder_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_funder_t *funder = context;
    if (!welfare_id_valid(funder->id)) {
        *result_out = welfare_invalid(ledger, "funder id");
        return 0;
    }
    if (funder->kind != WELFARE_FUNDER_COMPANY && funder->kind != WELFARE_FUNDER_PUBLIC) {
        *result_out = welfare_invalid(ledger, "funder kind");
        return 0;
    }
    funder_record_t record;
    bool found = false;
    int error = store_funder_get(ledger, NULL, funder->id, &record, &found);
    if (error) return error;
    if (found) {
        *result_out = record.kind == funder->kind ? WELFARE_RESULT_EXISTS
                                                  : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        return 0;
    }
    uint64_t number = 0;
    error = platform_next(ledger, &number, 0);
    if (!error) error = welfare_account_create(ledger, WELFARE_ACCOUNT_FUNDER, number, funder->id);
    if (error) return error;
    record.kind = funder->kind;
    record.number = (uint32_t)number;
    return store_funder_put(ledger, funder->id, &record);
}

int welfare_create_funder(ledger_t *ledger, const welfare_funder_t *funder,
                          uint32_t *result_out) {
    if (funder == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_direct(ledger, funder_body, (void *)funder, result_out);
}

uint32_t welfare_funder_number(ledger_t *ledger, ledger_u128_t funder_id) {
    funder_record_t record;
    bool found = false;
    if (store_funder_get(ledger, NULL, funder_id, &record, &found) != 0 || !found) return 0;
    return record.number;
}

/* ---- providers ---- */

static uint32_t categories_check(ledger_t *ledger, uint64_t categories, int *error_out) {
    *error_out = 0;
    if (categories == 0 || (categories & 1u)) {
        return welfare_invalid(ledger, "categories must name ids 1..63, at least one");
    }
    for (uint32_t id = 1; id <= WELFARE_CATEGORY_ID_MAX; id++) {
        if (!(categories & (UINT64_C(1) << id))) continue;
        welfare_category_t category;
        bool found = false;
        *error_out = store_category_get(ledger, NULL, id, &category, &found);
        if (*error_out) return WELFARE_RESULT_OK;
        if (!found) {
            ledger_set_error(ledger, "category %u is not in the catalog", id);
            return WELFARE_RESULT_CATEGORY_NOT_FOUND;
        }
    }
    return WELFARE_RESULT_OK;
}

static int provider_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_provider_t *provider = context;
    if (!welfare_id_valid(provider->id)) {
        *result_out = welfare_invalid(ledger, "provider id");
        return 0;
    }
    if (provider->fee_bps > WELFARE_FEE_BPS_MAX) {
        *result_out = welfare_invalid(ledger, "fee_bps above 10000 (100%)");
        return 0;
    }
    int error = 0;
    *result_out = categories_check(ledger, provider->categories, &error);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    provider_record_t record;
    bool found = false;
    error = store_provider_get(ledger, NULL, provider->id, &record, &found);
    if (error) return error;
    if (found) {
        bool same = record.fee_bps == provider->fee_bps && record.categories == provider->categories;
        *result_out = same ? WELFARE_RESULT_EXISTS : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        return 0;
    }
    uint64_t number = 0;
    error = platform_next(ledger, &number, 1);
    if (!error) error = welfare_account_create(ledger, WELFARE_ACCOUNT_PROVIDER, number, provider->id);
    if (error) return error;
    record.fee_bps = provider->fee_bps;
    record.categories = provider->categories;
    record.number = (uint32_t)number;
    return store_provider_put(ledger, provider->id, &record);
}

int welfare_create_provider(ledger_t *ledger, const welfare_provider_t *provider,
                            uint32_t *result_out) {
    if (provider == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_direct(ledger, provider_body, (void *)provider, result_out);
}

/* ---- employees ---- */

static int employee_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_employee_t *employee = context;
    if (!welfare_id_valid(employee->id)) {
        *result_out = welfare_invalid(ledger, "employee id");
        return 0;
    }
    employee_record_t record;
    bool found = false;
    int error = store_employee_get(ledger, NULL, employee->id, &record, &found);
    if (error) return error;
    if (found) {
        *result_out = ledger_u128_equal(record.funder_id, employee->funder_id)
                          ? WELFARE_RESULT_EXISTS
                          : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        return 0;
    }
    uint32_t funder_number = welfare_funder_number(ledger, employee->funder_id);
    if (funder_number == 0) {
        *result_out = WELFARE_RESULT_FUNDER_NOT_FOUND;
        return 0;
    }
    memset(&record, 0, sizeof(record));
    record.funder_id = employee->funder_id;
    record.funder_number = funder_number;
    error = store_employee_put(ledger, employee->id, &record);
    if (!error) error = store_funder_employee_put(ledger, employee->funder_id, employee->id);
    return error;
}

int welfare_create_employee(ledger_t *ledger, const welfare_employee_t *employee,
                            uint32_t *result_out) {
    if (employee == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_direct(ledger, employee_body, (void *)employee, result_out);
}

typedef struct cap_class_request {
    ledger_u128_t employee_id;
    uint32_t year;
    uint32_t cap_class;
} cap_class_request_t;

static int cap_class_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const cap_class_request_t *request = context;
    if (request->year < FISCAL_YEAR_MIN || request->year > FISCAL_YEAR_MAX) {
        *result_out = welfare_invalid(ledger, "year must be 2000..2199");
        return 0;
    }
    if (request->cap_class != WELFARE_CAP_STANDARD &&
        request->cap_class != WELFARE_CAP_WITH_CHILDREN) {
        *result_out = welfare_invalid(ledger, "cap class");
        return 0;
    }
    employee_record_t employee;
    bool found = false;
    int error = store_employee_get(ledger, NULL, request->employee_id, &employee, &found);
    if (error) return error;
    if (!found) {
        *result_out = WELFARE_RESULT_EMPLOYEE_NOT_FOUND;
        return 0;
    }
    return store_u64_put(ledger, 'C', request->employee_id, request->year, request->cap_class);
}

int welfare_set_cap_class(ledger_t *ledger, ledger_u128_t employee_id, uint32_t year,
                          uint32_t cap_class, uint32_t *result_out) {
    cap_class_request_t request = {employee_id, year, cap_class};
    return welfare_run_direct(ledger, cap_class_body, &request, result_out);
}

/* ---- plans ---- */

static bool plan_same(const welfare_plan_t *a, const welfare_plan_t *b) {
    return ledger_u128_equal(a->funder_id, b->funder_id) && a->valid_from == b->valid_from &&
           a->valid_until == b->valid_until && a->categories == b->categories &&
           a->expiry_policy == b->expiry_policy && a->flags == b->flags &&
           ledger_u128_equal(a->next_plan_id, b->next_plan_id) &&
           a->grant_limit_per_employee == b->grant_limit_per_employee;
}

static uint32_t plan_validate(ledger_t *ledger, const welfare_plan_t *plan) {
    if (!welfare_id_valid(plan->id)) return welfare_invalid(ledger, "plan id");
    if (plan->valid_until <= plan->valid_from) {
        return welfare_invalid(ledger, "valid_until must be after valid_from");
    }
    if (plan->expiry_policy < WELFARE_EXPIRY_BACK_TO_FUNDER ||
        plan->expiry_policy > WELFARE_EXPIRY_CARRY_OVER) {
        return welfare_invalid(ledger, "expiry policy");
    }
    if (plan->flags & ~(uint32_t)WELFARE_PLAN_SPLIT_ALLOWED) return welfare_invalid(ledger, "plan flags");
    bool carry = plan->expiry_policy == WELFARE_EXPIRY_CARRY_OVER;
    if (carry != !ledger_u128_is_zero(plan->next_plan_id)) {
        return welfare_invalid(ledger, "next_plan_id is required with carry-over, and only then");
    }
    return WELFARE_RESULT_OK;
}

static int plan_next_check(ledger_t *ledger, const welfare_plan_t *plan, uint32_t *result_out) {
    if (plan->expiry_policy != WELFARE_EXPIRY_CARRY_OVER) return 0;
    welfare_plan_t next;
    bool found = false;
    if (ledger_u128_equal(plan->next_plan_id, plan->id)) {
        *result_out = WELFARE_RESULT_NEXT_PLAN_INVALID;
        return 0;
    }
    int error = store_plan_get(ledger, NULL, plan->next_plan_id, &next, &found);
    if (error) return error;
    if (!found || !ledger_u128_equal(next.funder_id, plan->funder_id)) {
        *result_out = WELFARE_RESULT_NEXT_PLAN_INVALID;
    }
    return 0;
}

static int plan_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_plan_t *plan = context;
    *result_out = plan_validate(ledger, plan);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    welfare_plan_t existing;
    bool found = false;
    int error = store_plan_get(ledger, NULL, plan->id, &existing, &found);
    if (error) return error;
    if (found) {
        *result_out = plan_same(plan, &existing) ? WELFARE_RESULT_EXISTS
                                                 : WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS;
        return 0;
    }
    if (welfare_funder_number(ledger, plan->funder_id) == 0) {
        *result_out = WELFARE_RESULT_FUNDER_NOT_FOUND;
        return 0;
    }
    *result_out = categories_check(ledger, plan->categories, &error);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    error = plan_next_check(ledger, plan, result_out);
    if (error || *result_out != WELFARE_RESULT_OK) return error;
    return store_plan_put(ledger, plan);
}

int welfare_create_plan(ledger_t *ledger, const welfare_plan_t *plan, uint32_t *result_out) {
    if (plan == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_direct(ledger, plan_body, (void *)plan, result_out);
}

/* ---- many at once ---- */

static int register_entry(ledger_t *ledger, void *context, uint32_t index,
                          uint32_t *result_out) {
    const welfare_register_entry_t *entry = &((const welfare_register_entry_t *)context)[index];
    switch (entry->kind) {
    case WELFARE_REGISTER_FUNDER:
        return funder_body(ledger, (void *)&entry->u.funder, result_out);
    case WELFARE_REGISTER_PROVIDER:
        return provider_body(ledger, (void *)&entry->u.provider, result_out);
    case WELFARE_REGISTER_EMPLOYEE:
        return employee_body(ledger, (void *)&entry->u.employee, result_out);
    case WELFARE_REGISTER_CAP_CLASS: {
        cap_class_request_t request = {entry->u.cap_class.employee_id, entry->u.cap_class.year,
                                       entry->u.cap_class.cap_class};
        return cap_class_body(ledger, &request, result_out);
    }
    case WELFARE_REGISTER_PLAN:
        return plan_body(ledger, (void *)&entry->u.plan, result_out);
    default:
        *result_out = welfare_invalid(ledger, "registry entry kind");
        return 0;
    }
}

int welfare_register(ledger_t *ledger, const welfare_register_entry_t *entries, uint32_t count,
                     uint32_t *results_out) {
    if (ledger == NULL || entries == NULL || results_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (count == 0 || count > LEDGER_BATCH_EVENTS_MAX) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run_direct_entries(ledger, register_entry, (void *)entries, count, results_out);
}

/* ---- lookups ---- */

int welfare_lookup_funder(ledger_t *ledger, ledger_u128_t id, welfare_funder_t *funder_out,
                          bool *found_out) {
    if (ledger == NULL || funder_out == NULL || found_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    funder_record_t record;
    error = store_funder_get(ledger, txn, id, &record, found_out);
    ledger_read_end(ledger, txn);
    if (error || !*found_out) return error;
    memset(funder_out, 0, sizeof(*funder_out));
    funder_out->id = id;
    funder_out->kind = record.kind;
    funder_out->number = record.number;
    funder_out->account_id = welfare_account_id(WELFARE_ACCOUNT_FUNDER, record.number);
    return 0;
}

int welfare_lookup_provider(ledger_t *ledger, ledger_u128_t id,
                            welfare_provider_t *provider_out, bool *found_out) {
    if (ledger == NULL || provider_out == NULL || found_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    provider_record_t record;
    error = store_provider_get(ledger, txn, id, &record, found_out);
    ledger_read_end(ledger, txn);
    if (error || !*found_out) return error;
    memset(provider_out, 0, sizeof(*provider_out));
    provider_out->id = id;
    provider_out->fee_bps = record.fee_bps;
    provider_out->categories = record.categories;
    provider_out->number = record.number;
    provider_out->account_id = welfare_account_id(WELFARE_ACCOUNT_PROVIDER, record.number);
    return 0;
}

int welfare_lookup_employee(ledger_t *ledger, ledger_u128_t id,
                            welfare_employee_t *employee_out, bool *found_out) {
    if (ledger == NULL || employee_out == NULL || found_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    employee_record_t record;
    error = store_employee_get(ledger, txn, id, &record, found_out);
    ledger_read_end(ledger, txn);
    if (error || !*found_out) return error;
    employee_out->id = id;
    employee_out->funder_id = record.funder_id;
    employee_out->offboarded = record.offboarded;
    return 0;
}

int welfare_lookup_purchase(ledger_t *ledger, ledger_u128_t id,
                            welfare_purchase_info_t *purchase_out, bool *found_out) {
    if (ledger == NULL || purchase_out == NULL || found_out == NULL) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    memset(purchase_out, 0, sizeof(*purchase_out));
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    purchase_record_t record;
    error = store_purchase_get(ledger, txn, id, &record, found_out);
    ledger_read_end(ledger, txn);
    if (error || !*found_out) return error;
    purchase_out->employee_id = record.employee_id;
    purchase_out->provider_id = record.provider_id;
    purchase_out->category = record.category;
    purchase_out->held = record.state == PURCHASE_HELD;
    purchase_out->captured = record.state == PURCHASE_CAPTURED;
    purchase_out->amount = record.amount;
    purchase_out->refunded = record.refunded;
    purchase_out->fee = record.fee;
    purchase_out->fee_refunded = record.fee_refunded;
    return 0;
}

int welfare_lookup_plan(ledger_t *ledger, ledger_u128_t id, welfare_plan_t *plan_out,
                        bool *found_out) {
    if (ledger == NULL || plan_out == NULL || found_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = store_plan_get(ledger, txn, id, plan_out, found_out);
    ledger_read_end(ledger, txn);
    return error;
}
