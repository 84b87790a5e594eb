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
 *
 * The welfare layer's values (welfare.h) are converted the same way, in
 * convert_welfare.c; a category's name in a *_to_proto message points at
 * the ledger struct's own name (keep that struct alive too).
 */
#ifndef BORSELLINO_PROTO_CONVERT_H
#define BORSELLINO_PROTO_CONVERT_H

#include "borsellino.pb-c.h"
#include "ledger.h"
#include "welfare.h"

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

/*
 * A create_transfers Request body decoded by hand, straight into ledger
 * transfers (transfers_wire.c), for the server's hot path.
 *
 * Returns true when `body` is a plain create_transfers call of 1 to
 * count_max events: then *batch_out holds the request id, the event count,
 * and either the converted transfers (malloc'd, owned by the caller) or,
 * when an event does not fit (convert_transfer_fits), unfit = 1 + the
 * first such index and transfers NULL. Returns false for anything else
 * (another operation, an empty or too large batch, unknown or repeated
 * fields, malformed bytes, no memory), with nothing allocated: decode
 * such a body with frame_request_decode. Whenever it returns true, the
 * values equal protobuf-c's decoding followed by convert_transfer_fits and
 * convert_transfer_from_proto.
 */
/*
 * A create_transfers Request holding only its id and its event count
 * (create_transfers->n_transfers = count, transfers NULL), released with
 * frame_request_free: the server's Request for a batch decoded by
 * convert_create_transfers_decode. NULL when out of memory.
 */
Borsellino__V1__Request *convert_transfers_request_shell(uint64_t request_id, uint32_t count);

typedef struct convert_transfers_batch {
    uint64_t request_id;
    uint32_t count;
    uint32_t unfit;
    ledger_transfer_t *transfers;
} convert_transfers_batch_t;

bool convert_create_transfers_decode(const uint8_t *body, size_t size, uint32_t count_max,
                                     convert_transfers_batch_t *batch_out);

/*
 * The client's side: a create_transfers Request (request_id, transfers) as
 * one frame, encoded by hand: the bytes frame_encode_request gives for the
 * Request built with convert_transfer_to_proto, except that zero ids
 * (U128 sub-messages) are left out rather than sent empty; both decode to
 * the same values. Returns FRAME_OK, FRAME_ERR_NO_MEMORY or
 * FRAME_ERR_ENCODE (too large); *frame_out is malloc'd, freed by the
 * caller.
 */
int convert_create_transfers_encode(uint64_t request_id, const ledger_transfer_t *transfers,
                                    uint32_t count, uint8_t **frame_out,
                                    size_t *frame_size_out);

/* ------------------------------------------------------------------------ */
/* Welfare (convert_welfare.c)                                              */

typedef struct convert_welfare_funder_storage {
    Borsellino__V1__U128 id, account_id;
} convert_welfare_funder_storage_t;

typedef struct convert_welfare_provider_storage {
    Borsellino__V1__U128 id, account_id;
} convert_welfare_provider_storage_t;

typedef struct convert_welfare_employee_storage {
    Borsellino__V1__U128 id, funder_id;
} convert_welfare_employee_storage_t;

typedef struct convert_welfare_plan_storage {
    Borsellino__V1__U128 id, funder_id, next_plan_id;
} convert_welfare_plan_storage_t;

typedef struct convert_welfare_pot_storage {
    Borsellino__V1__U128 plan_id, account_id;
} convert_welfare_pot_storage_t;

typedef struct convert_welfare_movement_storage {
    Borsellino__V1__U128 operation_id, plan_id;
} convert_welfare_movement_storage_t;

/* The *_fits checks of welfare messages: false when an enum field is
 * negative (the ledger's enums are unsigned) or, for a category, when the
 * name does not fit WELFARE_NAME_SIZE with its NUL. Enum numbers that fit
 * but are unknown (or 0, "unspecified") are the welfare layer's to refuse
 * with WELFARE_RESULT_INVALID_FIELD. */
bool convert_welfare_category_fits(const Borsellino__V1__WelfareCategory *in);
bool convert_welfare_funder_fits(const Borsellino__V1__WelfareFunder *in);
bool convert_welfare_plan_fits(const Borsellino__V1__WelfarePlan *in);
/* The same check for a lone enum value (a cap class, say). */
bool convert_welfare_enum_fits(int value);

void convert_welfare_category_from_proto(const Borsellino__V1__WelfareCategory *in,
                                         welfare_category_t *out);
void convert_welfare_category_to_proto(const welfare_category_t *in,
                                       Borsellino__V1__WelfareCategory *out);

void convert_welfare_fringe_cap_from_proto(const Borsellino__V1__WelfareFringeCap *in,
                                           welfare_fringe_cap_t *out);
void convert_welfare_fringe_cap_to_proto(const welfare_fringe_cap_t *in,
                                         Borsellino__V1__WelfareFringeCap *out);

void convert_welfare_funder_from_proto(const Borsellino__V1__WelfareFunder *in,
                                       welfare_funder_t *out);
void convert_welfare_funder_to_proto(const welfare_funder_t *in,
                                     Borsellino__V1__WelfareFunder *out,
                                     convert_welfare_funder_storage_t *storage);

void convert_welfare_provider_from_proto(const Borsellino__V1__WelfareProvider *in,
                                         welfare_provider_t *out);
void convert_welfare_provider_to_proto(const welfare_provider_t *in,
                                       Borsellino__V1__WelfareProvider *out,
                                       convert_welfare_provider_storage_t *storage);

void convert_welfare_employee_from_proto(const Borsellino__V1__WelfareEmployee *in,
                                         welfare_employee_t *out);
void convert_welfare_employee_to_proto(const welfare_employee_t *in,
                                       Borsellino__V1__WelfareEmployee *out,
                                       convert_welfare_employee_storage_t *storage);

void convert_welfare_plan_from_proto(const Borsellino__V1__WelfarePlan *in,
                                     welfare_plan_t *out);
void convert_welfare_plan_to_proto(const welfare_plan_t *in, Borsellino__V1__WelfarePlan *out,
                                   convert_welfare_plan_storage_t *storage);

void convert_welfare_pot_from_proto(const Borsellino__V1__WelfarePot *in, welfare_pot_t *out);
void convert_welfare_pot_to_proto(const welfare_pot_t *in, Borsellino__V1__WelfarePot *out,
                                  convert_welfare_pot_storage_t *storage);

void convert_welfare_movement_from_proto(const Borsellino__V1__WelfareMovement *in,
                                         welfare_movement_t *out);
void convert_welfare_movement_to_proto(const welfare_movement_t *in,
                                       Borsellino__V1__WelfareMovement *out,
                                       convert_welfare_movement_storage_t *storage);

void convert_welfare_sweep_report_from_proto(const Borsellino__V1__WelfareSweepReport *in,
                                             welfare_sweep_report_t *out);
void convert_welfare_sweep_report_to_proto(const welfare_sweep_report_t *in,
                                           Borsellino__V1__WelfareSweepReport *out);

#endif
