/*
 * convert_welfare.c — copies the welfare layer's values (ledger/welfare.h)
 * to and from their protocol messages (WelfareCategory, WelfarePlan, ...).
 * The conventions are convert.c's, declared in convert.h:
 *
 * - A value survives welfare -> proto -> welfare unchanged, field by field
 *   (fields filled only by lookups included).
 * - Nothing allocates: U128 sub-messages of *_to_proto point into
 *   caller-provided storage, a category's name points at the welfare
 *   struct's own name; *_from_proto only copies, and a NULL sub-message
 *   reads as zero.
 * - What the C types cannot hold (a negative enum number, a name of
 *   WELFARE_NAME_SIZE bytes or more) is caught by the *_fits checks, which
 *   callers make before *_from_proto; *_from_proto of a value that does not
 *   fit stores 0 (enums) or an empty name, never a truncated one.
 *
 * Workload: a few conversions per welfare request (up to 16 pots, 1,024
 * movements or 63 categories per response); cheap field copies.
 */
#include <assert.h>
#include <string.h>

#include "convert.h"

/* Enum fields are int on the wire side and uint32_t in welfare.h. */
static uint32_t convert_enum_from_proto(int value) {
    return value < 0 ? 0u : (uint32_t)value;
}

bool convert_welfare_enum_fits(int value) {
    return value >= 0;
}

/* ------------------------------------------------------------------------ */
/* Rules                                                                    */

bool convert_welfare_category_fits(const Borsellino__V1__WelfareCategory *in) {
    assert(in != NULL);
    size_t length = in->name != NULL ? strlen(in->name) : 0;
    return convert_welfare_enum_fits(in->fiscal_basis) && length < WELFARE_NAME_SIZE;
}

void convert_welfare_category_from_proto(const Borsellino__V1__WelfareCategory *in,
                                         welfare_category_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_category_t zero = {0};
    *out = zero;
    out->id = in->id;
    out->fiscal_basis = convert_enum_from_proto(in->fiscal_basis);
    out->reimbursable = in->reimbursable != 0;
    size_t length = in->name != NULL ? strlen(in->name) : 0;
    if (length < WELFARE_NAME_SIZE) memcpy(out->name, in->name != NULL ? in->name : "", length);
    out->name[length < WELFARE_NAME_SIZE ? length : 0] = '\0';
}

void convert_welfare_category_to_proto(const welfare_category_t *in,
                                       Borsellino__V1__WelfareCategory *out) {
    assert(in != NULL);
    assert(out != NULL);
    assert(memchr(in->name, '\0', sizeof(in->name)) != NULL);
    borsellino__v1__welfare_category__init(out);
    out->id = in->id;
    out->fiscal_basis = (Borsellino__V1__WelfareFiscalBasis)in->fiscal_basis;
    out->reimbursable = in->reimbursable;
    out->name = (char *)in->name;
}

void convert_welfare_fringe_cap_from_proto(const Borsellino__V1__WelfareFringeCap *in,
                                           welfare_fringe_cap_t *out) {
    assert(out != NULL);
    welfare_fringe_cap_t zero = {0, 0, 0};
    *out = zero;
    if (in == NULL) return;
    out->year = in->year;
    out->standard = in->standard;
    out->with_children = in->with_children;
}

void convert_welfare_fringe_cap_to_proto(const welfare_fringe_cap_t *in,
                                         Borsellino__V1__WelfareFringeCap *out) {
    assert(in != NULL);
    assert(out != NULL);
    borsellino__v1__welfare_fringe_cap__init(out);
    out->year = in->year;
    out->standard = in->standard;
    out->with_children = in->with_children;
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */

bool convert_welfare_funder_fits(const Borsellino__V1__WelfareFunder *in) {
    assert(in != NULL);
    return convert_welfare_enum_fits(in->kind);
}

void convert_welfare_funder_from_proto(const Borsellino__V1__WelfareFunder *in,
                                       welfare_funder_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_funder_t zero = {0};
    *out = zero;
    out->id = convert_u128_from_proto(in->id);
    out->kind = convert_enum_from_proto(in->kind);
    out->account_id = convert_u128_from_proto(in->account_id);
    out->number = in->number;
}

void convert_welfare_funder_to_proto(const welfare_funder_t *in,
                                     Borsellino__V1__WelfareFunder *out,
                                     convert_welfare_funder_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__welfare_funder__init(out);
    convert_u128_to_proto(in->id, &storage->id);
    convert_u128_to_proto(in->account_id, &storage->account_id);
    out->id = &storage->id;
    out->kind = (Borsellino__V1__WelfareFunderKind)in->kind;
    out->account_id = &storage->account_id;
    out->number = in->number;
}

void convert_welfare_provider_from_proto(const Borsellino__V1__WelfareProvider *in,
                                         welfare_provider_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_provider_t zero = {0};
    *out = zero;
    out->id = convert_u128_from_proto(in->id);
    out->fee_bps = in->fee_bps;
    out->categories = in->categories;
    out->account_id = convert_u128_from_proto(in->account_id);
    out->number = in->number;
}

void convert_welfare_provider_to_proto(const welfare_provider_t *in,
                                       Borsellino__V1__WelfareProvider *out,
                                       convert_welfare_provider_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__welfare_provider__init(out);
    convert_u128_to_proto(in->id, &storage->id);
    convert_u128_to_proto(in->account_id, &storage->account_id);
    out->id = &storage->id;
    out->fee_bps = in->fee_bps;
    out->categories = in->categories;
    out->account_id = &storage->account_id;
    out->number = in->number;
}

void convert_welfare_employee_from_proto(const Borsellino__V1__WelfareEmployee *in,
                                         welfare_employee_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_employee_t zero = {0};
    *out = zero;
    out->id = convert_u128_from_proto(in->id);
    out->funder_id = convert_u128_from_proto(in->funder_id);
    out->offboarded = in->offboarded != 0;
}

void convert_welfare_employee_to_proto(const welfare_employee_t *in,
                                       Borsellino__V1__WelfareEmployee *out,
                                       convert_welfare_employee_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__welfare_employee__init(out);
    convert_u128_to_proto(in->id, &storage->id);
    convert_u128_to_proto(in->funder_id, &storage->funder_id);
    out->id = &storage->id;
    out->funder_id = &storage->funder_id;
    out->offboarded = in->offboarded;
}

bool convert_welfare_plan_fits(const Borsellino__V1__WelfarePlan *in) {
    assert(in != NULL);
    return convert_welfare_enum_fits(in->expiry_policy);
}

void convert_welfare_plan_from_proto(const Borsellino__V1__WelfarePlan *in,
                                     welfare_plan_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_plan_t zero = {0};
    *out = zero;
    out->id = convert_u128_from_proto(in->id);
    out->funder_id = convert_u128_from_proto(in->funder_id);
    out->valid_from = in->valid_from;
    out->valid_until = in->valid_until;
    out->categories = in->categories;
    out->expiry_policy = convert_enum_from_proto(in->expiry_policy);
    out->flags = in->flags;
    out->next_plan_id = convert_u128_from_proto(in->next_plan_id);
    out->grant_limit_per_employee = in->grant_limit_per_employee;
}

void convert_welfare_plan_to_proto(const welfare_plan_t *in, Borsellino__V1__WelfarePlan *out,
                                   convert_welfare_plan_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__welfare_plan__init(out);
    convert_u128_to_proto(in->id, &storage->id);
    convert_u128_to_proto(in->funder_id, &storage->funder_id);
    convert_u128_to_proto(in->next_plan_id, &storage->next_plan_id);
    out->id = &storage->id;
    out->funder_id = &storage->funder_id;
    out->valid_from = in->valid_from;
    out->valid_until = in->valid_until;
    out->categories = in->categories;
    out->expiry_policy = (Borsellino__V1__WelfareExpiryPolicy)in->expiry_policy;
    out->flags = in->flags;
    out->next_plan_id = &storage->next_plan_id;
    out->grant_limit_per_employee = in->grant_limit_per_employee;
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */

void convert_welfare_pot_from_proto(const Borsellino__V1__WelfarePot *in, welfare_pot_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_pot_t zero = {0};
    *out = zero;
    out->plan_id = convert_u128_from_proto(in->plan_id);
    out->account_id = convert_u128_from_proto(in->account_id);
    out->available = in->available;
    out->held = in->held;
    out->balance = in->balance;
    out->granted = in->granted;
    out->valid_from = in->valid_from;
    out->valid_until = in->valid_until;
    out->categories = in->categories;
    out->expired = in->expired != 0;
    out->closed = in->closed != 0;
}

void convert_welfare_pot_to_proto(const welfare_pot_t *in, Borsellino__V1__WelfarePot *out,
                                  convert_welfare_pot_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__welfare_pot__init(out);
    convert_u128_to_proto(in->plan_id, &storage->plan_id);
    convert_u128_to_proto(in->account_id, &storage->account_id);
    out->plan_id = &storage->plan_id;
    out->account_id = &storage->account_id;
    out->available = in->available;
    out->held = in->held;
    out->balance = in->balance;
    out->granted = in->granted;
    out->valid_from = in->valid_from;
    out->valid_until = in->valid_until;
    out->categories = in->categories;
    out->expired = in->expired;
    out->closed = in->closed;
}

void convert_welfare_movement_from_proto(const Borsellino__V1__WelfareMovement *in,
                                         welfare_movement_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    welfare_movement_t zero = {0};
    *out = zero;
    out->timestamp = in->timestamp;
    out->operation_id = convert_u128_from_proto(in->operation_id);
    out->plan_id = convert_u128_from_proto(in->plan_id);
    out->posting = convert_enum_from_proto(in->posting);
    out->category = in->category;
    out->amount = in->amount;
    out->held = in->held != 0;
    out->pot_balance_after = in->pot_balance_after;
}

void convert_welfare_movement_to_proto(const welfare_movement_t *in,
                                       Borsellino__V1__WelfareMovement *out,
                                       convert_welfare_movement_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__welfare_movement__init(out);
    convert_u128_to_proto(in->operation_id, &storage->operation_id);
    convert_u128_to_proto(in->plan_id, &storage->plan_id);
    out->timestamp = in->timestamp;
    out->operation_id = &storage->operation_id;
    out->plan_id = &storage->plan_id;
    out->posting = (Borsellino__V1__WelfarePosting)in->posting;
    out->category = in->category;
    out->amount = in->amount;
    out->held = in->held;
    out->pot_balance_after = in->pot_balance_after;
}

void convert_welfare_sweep_report_from_proto(const Borsellino__V1__WelfareSweepReport *in,
                                             welfare_sweep_report_t *out) {
    assert(out != NULL);
    welfare_sweep_report_t zero = {0, 0, 0, 0, 0};
    *out = zero;
    if (in == NULL) return;
    out->pots_swept = in->pots_swept;
    out->holds_voided = in->holds_voided;
    out->expired_back = in->expired_back;
    out->forfeited = in->forfeited;
    out->carried_over = in->carried_over;
}

void convert_welfare_sweep_report_to_proto(const welfare_sweep_report_t *in,
                                           Borsellino__V1__WelfareSweepReport *out) {
    assert(in != NULL);
    assert(out != NULL);
    borsellino__v1__welfare_sweep_report__init(out);
    out->pots_swept = in->pots_swept;
    out->holds_voided = in->holds_voided;
    out->expired_back = in->expired_back;
    out->forfeited = in->forfeited;
    out->carried_over = in->carried_over;
}
