/*
 * welfare_rules.c — rules as data: the category catalog (each category's
 * fiscal basis and whether it may be reimbursed) and the fringe-cap table
 * by fiscal year. Both live in the welfare table and are replaced by
 * loading new rows (borsellino welfare rules load), never by recompiling.
 * The defaults written into a new data directory are the 2024–2027 law
 * (art. 51 c.3 TUIR): €1,000, or €2,000 with dependent children; the
 * ordinary €258.23 for any year without its own row. data/welfare-rules.csv
 * holds the same rows as a loadable file.
 */
#include <ctype.h>

#include "welfare_internal.h"

static const welfare_category_t default_categories[] = {
    {1, WELFARE_BASIS_F_BIS, true, "education"},
    {2, WELFARE_BASIS_F_BIS, true, "canteen-and-school"},
    {3, WELFARE_BASIS_F_BIS, true, "summer-camps"},
    {4, WELFARE_BASIS_F_TER, true, "elderly-care"},
    {5, WELFARE_BASIS_F_QUATER, false, "long-term-care-insurance"},
    {6, WELFARE_BASIS_D_BIS, true, "public-transport"},
    {7, WELFARE_BASIS_F, false, "recreation-and-culture"},
    {8, WELFARE_BASIS_F, false, "health-and-wellness"},
    {9, WELFARE_BASIS_FRINGE, false, "shopping-vouchers"},
    {10, WELFARE_BASIS_FRINGE, true, "utilities"},
};

static const welfare_fringe_cap_t default_caps[] = {
    {0, 25823, 25823},
    {2024, 100000, 200000},
    {2025, 100000, 200000},
    {2026, 100000, 200000},
    {2027, 100000, 200000},
};

enum { FISCAL_YEAR_MIN = 2000, FISCAL_YEAR_MAX = 2199 };

int welfare_rules_defaults(ledger_t *ledger) {
    int error = 0;
    for (size_t i = 0; i < sizeof(default_categories) / sizeof(default_categories[0]) && !error; i++) {
        error = store_category_put(ledger, &default_categories[i]);
    }
    for (size_t i = 0; i < sizeof(default_caps) / sizeof(default_caps[0]) && !error; i++) {
        error = store_cap_put(ledger, &default_caps[i]);
    }
    return error;
}

static uint32_t category_validate(ledger_t *ledger, const welfare_category_t *category) {
    if (category->id == 0 || category->id > WELFARE_CATEGORY_ID_MAX) {
        return welfare_invalid(ledger, "category id must be 1..63");
    }
    if (category->fiscal_basis == 0 || category->fiscal_basis >= WELFARE_BASIS_COUNT) {
        return welfare_invalid(ledger, "unknown fiscal basis");
    }
    if (category->reimbursable && category->fiscal_basis == WELFARE_BASIS_F) {
        return welfare_invalid(ledger, "lett. f services are in kind only, never reimbursed");
    }
    size_t length = strnlen(category->name, WELFARE_NAME_SIZE);
    if (length == 0 || length == WELFARE_NAME_SIZE) {
        return welfare_invalid(ledger, "category name must be 1..31 bytes");
    }
    for (size_t i = 0; i < length; i++) {
        if (!isprint((unsigned char)category->name[i])) {
            return welfare_invalid(ledger, "category name must be printable");
        }
    }
    return WELFARE_RESULT_OK;
}

static int category_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_category_t *category = context;
    *result_out = category_validate(ledger, category);
    if (*result_out != WELFARE_RESULT_OK) return 0;
    return store_category_put(ledger, category);
}

int welfare_set_category(ledger_t *ledger, const welfare_category_t *category,
                         uint32_t *result_out) {
    if (category == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run(ledger, category_body, (void *)category, result_out);
}

static int cap_body(ledger_t *ledger, void *context, uint32_t *result_out) {
    const welfare_fringe_cap_t *cap = context;
    if (cap->year != 0 && (cap->year < FISCAL_YEAR_MIN || cap->year > FISCAL_YEAR_MAX)) {
        *result_out = welfare_invalid(ledger, "year must be 0 (default) or 2000..2199");
        return 0;
    }
    if (cap->with_children < cap->standard) {
        *result_out = welfare_invalid(ledger, "with_children must be >= standard");
        return 0;
    }
    welfare_fringe_cap_t existing;
    bool found = false;
    int error = store_cap_get(ledger, NULL, cap->year, &existing, &found);
    if (error) return error;
    uint32_t rows = 0;
    if (!found) error = store_cap_rows_count(ledger, &rows);
    if (error) return error;
    if (!found && rows >= WELFARE_FRINGE_CAP_ROWS_MAX) {
        *result_out = welfare_invalid(ledger, "the fringe-cap table is full (128 rows)");
        return 0;
    }
    return store_cap_put(ledger, cap);
}

int welfare_set_fringe_cap(ledger_t *ledger, const welfare_fringe_cap_t *cap,
                           uint32_t *result_out) {
    if (cap == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    return welfare_run(ledger, cap_body, (void *)cap, result_out);
}

/* The cap in `txn` (NULL = the open group's). */
static int cap_lookup(ledger_t *ledger, MDB_txn *txn, uint32_t year, uint32_t cap_class,
                      uint64_t *cap_out) {
    welfare_fringe_cap_t cap;
    bool found = false;
    int error = store_cap_get(ledger, txn, year, &cap, &found);
    if (!error && !found) error = store_cap_get(ledger, txn, 0, &cap, &found);
    if (error) return error;
    if (!found) {
        *cap_out = 0;
        return 0;
    }
    *cap_out = cap_class == WELFARE_CAP_WITH_CHILDREN ? cap.with_children : cap.standard;
    return 0;
}

int welfare_cap_in_group(ledger_t *ledger, uint32_t year, uint32_t cap_class,
                         uint64_t *cap_out) {
    return cap_lookup(ledger, NULL, year, cap_class, cap_out);
}

int welfare_fringe_cap_for(ledger_t *ledger, uint32_t year, uint32_t cap_class,
                           uint64_t *cap_out) {
    if (ledger == NULL || cap_out == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    if (cap_class != WELFARE_CAP_STANDARD && cap_class != WELFARE_CAP_WITH_CHILDREN) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    error = cap_lookup(ledger, txn, year, cap_class, cap_out);
    ledger_read_end(ledger, txn);
    return error;
}

typedef struct category_list {
    uint32_t ids[WELFARE_CATEGORY_ID_MAX];
    uint32_t count;
} category_list_t;

static int category_visit(void *context, welfare_codec_t *key_rest, welfare_codec_t *value) {
    (void)value;
    category_list_t *list = context;
    if (list->count == WELFARE_CATEGORY_ID_MAX) return 1;
    list->ids[list->count++] = codec_get_u32_be(key_rest);
    return 0;
}

int welfare_list_categories(ledger_t *ledger, welfare_category_t *categories_out,
                            uint32_t capacity, uint32_t *count_out) {
    if (ledger == NULL || count_out == NULL || (capacity > 0 && categories_out == NULL)) {
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    MDB_txn *txn = NULL;
    int error = ledger_read_begin(ledger, &txn);
    if (error) return error;
    category_list_t list = {{0}, 0};
    welfare_key_t prefix;
    key_begin(&prefix, 'K');
    error = store_scan(ledger, txn, &prefix, category_visit, &list);
    uint32_t written = 0;
    for (uint32_t i = 0; i < list.count && written < capacity && !error; i++) {
        bool found = false;
        error = store_category_get(ledger, txn, list.ids[i], &categories_out[written], &found);
        if (found) written++;
    }
    ledger_read_end(ledger, txn);
    *count_out = written;
    return error;
}

static const char *const result_names[] = {
    "ok", "exists", "exists_with_different_fields", "invalid_field",
    "funder_not_found", "provider_not_found", "employee_not_found",
    "plan_not_found", "category_not_found", "purchase_not_found",
    "employee_of_another_funder", "next_plan_invalid", "insufficient_funds",
    "grant_limit_exceeded", "plan_not_started", "pot_expired",
    "category_not_allowed_by_plan", "category_not_sold_by_provider",
    "fringe_cap_exceeded", "insufficient_pot_balance", "pot_closed",
    "no_eligible_pot", "hold_not_pending", "capture_exceeds_hold",
    "refund_exceeds_purchase", "purchase_not_captured",
    "category_not_reimbursable", "receipt_required", "amount_exceeds_receipt",
    "receipt_already_reimbursed", "payable_insufficient", "plan_not_ended",
    "employee_offboarded", "too_many_pots", "overflow",
    "too_many_pots_for_split",
};

_Static_assert(sizeof(result_names) / sizeof(result_names[0]) == WELFARE_RESULT_CODE_COUNT,
               "one name per welfare result");

const char *welfare_result_name(uint32_t result) {
    return result < WELFARE_RESULT_CODE_COUNT ? result_names[result] : "unknown";
}
