/*
 * convert.c — copies values between the ledger's structs (ledger.h) and the
 * protobuf-c messages (borsellino.pb-c.h). See convert.h for ownership.
 *
 * Invariants:
 * - A value survives ledger -> proto -> ledger unchanged, field by field.
 * - Nothing here allocates: sub-messages of *_to_proto point into
 *   caller-provided storage, and *_from_proto only copies.
 * - A NULL sub-message (absent on the wire) reads as zero, which is what a
 *   proto3 reader of any language would see for an absent field.
 *
 * Workload: once per event or looked-up record, up to batch_events_max
 * (8190) times per request, on the server's threads; cheap field copies.
 */
#include <assert.h>
#include <stddef.h>

#include "convert.h"

/* The ledger's 16-bit fields; code and flags are uint32 on the wire. */
enum { CONVERT_U16_MAX = 0xFFFF };

/* ------------------------------------------------------------------------ */
/* U128 and Balance                                                         */

ledger_u128_t convert_u128_from_proto(const Borsellino__V1__U128 *value) {
    ledger_u128_t out = {0, 0};
    if (value != NULL) {
        out.hi = value->hi;
        out.lo = value->lo;
    }
    return out;
}

void convert_u128_to_proto(ledger_u128_t value, Borsellino__V1__U128 *out) {
    assert(out != NULL);
    borsellino__v1__u128__init(out);
    out->hi = value.hi;
    out->lo = value.lo;
}

void convert_balance_to_proto(const ledger_balance_t *in,
                              Borsellino__V1__Balance *out) {
    assert(in != NULL);
    assert(out != NULL);
    borsellino__v1__balance__init(out);
    out->debits_pending = in->debits_pending;
    out->debits_posted = in->debits_posted;
    out->credits_pending = in->credits_pending;
    out->credits_posted = in->credits_posted;
}

void convert_balance_from_proto(const Borsellino__V1__Balance *in,
                                ledger_balance_t *out) {
    assert(out != NULL);
    ledger_balance_t zero = {0, 0, 0, 0};
    *out = zero;
    if (in == NULL) {
        return;
    }
    out->debits_pending = in->debits_pending;
    out->debits_posted = in->debits_posted;
    out->credits_pending = in->credits_pending;
    out->credits_posted = in->credits_posted;
}

/* ------------------------------------------------------------------------ */
/* Account                                                                  */

bool convert_account_fits(const Borsellino__V1__Account *in) {
    assert(in != NULL);
    return in->code <= CONVERT_U16_MAX && in->flags <= CONVERT_U16_MAX;
}

void convert_account_from_proto(const Borsellino__V1__Account *in,
                                ledger_account_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    ledger_account_t zero = {0};
    *out = zero;
    out->id = convert_u128_from_proto(in->id);
    out->debits_pending = in->debits_pending;
    out->debits_posted = in->debits_posted;
    out->credits_pending = in->credits_pending;
    out->credits_posted = in->credits_posted;
    out->user_data_128 = convert_u128_from_proto(in->user_data_128);
    out->user_data_64 = in->user_data_64;
    out->user_data_32 = in->user_data_32;
    out->ledger = in->ledger;
    out->code = (uint16_t)(in->code & CONVERT_U16_MAX);
    out->flags = (uint16_t)(in->flags & CONVERT_U16_MAX);
    out->timestamp = in->timestamp;
}

void convert_account_to_proto(const ledger_account_t *in,
                              Borsellino__V1__Account *out,
                              convert_account_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__account__init(out);
    convert_u128_to_proto(in->id, &storage->id);
    convert_u128_to_proto(in->user_data_128, &storage->user_data_128);
    out->id = &storage->id;
    out->debits_pending = in->debits_pending;
    out->debits_posted = in->debits_posted;
    out->credits_pending = in->credits_pending;
    out->credits_posted = in->credits_posted;
    out->user_data_128 = &storage->user_data_128;
    out->user_data_64 = in->user_data_64;
    out->user_data_32 = in->user_data_32;
    out->ledger = in->ledger;
    out->code = in->code;
    out->flags = in->flags;
    out->timestamp = in->timestamp;
}

/* ------------------------------------------------------------------------ */
/* Transfer                                                                 */

bool convert_transfer_fits(const Borsellino__V1__Transfer *in) {
    assert(in != NULL);
    return in->code <= CONVERT_U16_MAX && in->flags <= CONVERT_U16_MAX;
}

void convert_transfer_from_proto(const Borsellino__V1__Transfer *in,
                                 ledger_transfer_t *out) {
    assert(in != NULL);
    assert(out != NULL);
    ledger_transfer_t zero = {0};
    *out = zero;
    out->id = convert_u128_from_proto(in->id);
    out->debit_account_id = convert_u128_from_proto(in->debit_account_id);
    out->credit_account_id = convert_u128_from_proto(in->credit_account_id);
    out->amount = in->amount;
    out->pending_id = convert_u128_from_proto(in->pending_id);
    out->user_data_128 = convert_u128_from_proto(in->user_data_128);
    out->user_data_64 = in->user_data_64;
    out->user_data_32 = in->user_data_32;
    out->timeout = in->timeout;
    out->ledger = in->ledger;
    out->code = (uint16_t)(in->code & CONVERT_U16_MAX);
    out->flags = (uint16_t)(in->flags & CONVERT_U16_MAX);
    out->timestamp = in->timestamp;
}

void convert_transfer_to_proto(const ledger_transfer_t *in,
                               Borsellino__V1__Transfer *out,
                               convert_transfer_storage_t *storage) {
    assert(in != NULL);
    assert(out != NULL);
    assert(storage != NULL);
    borsellino__v1__transfer__init(out);
    convert_u128_to_proto(in->id, &storage->id);
    convert_u128_to_proto(in->debit_account_id, &storage->debit_account_id);
    convert_u128_to_proto(in->credit_account_id, &storage->credit_account_id);
    convert_u128_to_proto(in->pending_id, &storage->pending_id);
    convert_u128_to_proto(in->user_data_128, &storage->user_data_128);
    out->id = &storage->id;
    out->debit_account_id = &storage->debit_account_id;
    out->credit_account_id = &storage->credit_account_id;
    out->amount = in->amount;
    out->pending_id = &storage->pending_id;
    out->user_data_128 = &storage->user_data_128;
    out->user_data_64 = in->user_data_64;
    out->user_data_32 = in->user_data_32;
    out->timeout = in->timeout;
    out->ledger = in->ledger;
    out->code = in->code;
    out->flags = in->flags;
    out->timestamp = in->timestamp;
}
