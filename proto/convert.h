/*
 * convert.h — conversion between the ledger's values (ledger/ledger.h) and
 * the protocol's messages (borsellino.pb-c.h), shared by the server and the
 * command-line client. The only part of proto/ that knows ledger.h; it
 * knows nothing of storage.
 *
 * Ownership: *_to_proto functions fill caller-provided protobuf structs
 * and point their U128/Balance sub-message fields at caller-provided
 * storage (passed in), so nothing is allocated; the caller keeps that
 * storage alive until the message is packed. *_from_proto functions copy
 * into ledger structs and cannot fail; a missing (NULL) sub-message reads
 * as zero. Callers check *_fits first: code and flags are 32-bit on the
 * wire but 16-bit in the ledger, and *_from_proto keeps only the low
 * 16 bits of a value that does not fit.
 */
#ifndef BORSELLINO_PROTO_CONVERT_H
#define BORSELLINO_PROTO_CONVERT_H

#include "borsellino.pb-c.h"
#include "ledger.h"

/* Storage for the sub-messages of one converted Transfer / Account. */
typedef struct convert_transfer_storage {
    Borsellino__V1__U128 id, debit_account_id, credit_account_id, pending_id,
        user_data_128;
} convert_transfer_storage_t;

typedef struct convert_account_storage {
    Borsellino__V1__U128 id, user_data_128;
} convert_account_storage_t;

ledger_u128_t convert_u128_from_proto(const Borsellino__V1__U128 *value);
void convert_u128_to_proto(ledger_u128_t value, Borsellino__V1__U128 *out);

void convert_account_from_proto(const Borsellino__V1__Account *in,
                                ledger_account_t *out);
void convert_account_to_proto(const ledger_account_t *in,
                              Borsellino__V1__Account *out,
                              convert_account_storage_t *storage);

void convert_transfer_from_proto(const Borsellino__V1__Transfer *in,
                                 ledger_transfer_t *out);
void convert_transfer_to_proto(const ledger_transfer_t *in,
                               Borsellino__V1__Transfer *out,
                               convert_transfer_storage_t *storage);

void convert_balance_to_proto(const ledger_balance_t *in,
                              Borsellino__V1__Balance *out);
void convert_balance_from_proto(const Borsellino__V1__Balance *in,
                                ledger_balance_t *out);

/* The check to make before *_from_proto: false when a value does not fit
 * the ledger's types (a code above 65535, flags above 16 bits), true
 * otherwise. Nothing else can fail; invalid values that do fit (a zero code,
 * a reserved flag bit, nonzero balances on create) are the ledger's to
 * reject with a result code. */
bool convert_account_fits(const Borsellino__V1__Account *in);
bool convert_transfer_fits(const Borsellino__V1__Transfer *in);

#endif
