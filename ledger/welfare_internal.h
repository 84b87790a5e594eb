/*
 * welfare_internal.h — what the welfare_*.c files share: the records of the
 * `welfare` LMDB table, their explicit byte encodings, and the operation
 * runner that turns one welfare operation into one linked chain.
 *
 * The `welfare` table holds every piece of welfare state, keyed by a
 * one-byte record type then the record's key (big-endian numbers, so that
 * keys sort by them):
 *   'P'                        platform: account counters
 *   'F' funder id              funder
 *   'V' provider id            provider
 *   'E' employee id            employee
 *   'L' plan id                plan
 *   'T' employee id, plan id   pot (the employee's pots sort together)
 *   'X' plan id, employee id   index: the pots of a plan (for sweeps)
 *   'C' employee id, year      cap class declared for a fiscal year
 *   'U' employee id, year      fringe used in a fiscal year (cents)
 *   'H' expires_at, purchase   index: open holds by expiry
 *   'W' employee id, purchase  index: an employee's open holds
 *   'M' funder id, employee id index: a funder's employees
 *   'R' receipt hash           reimbursed receipt -> operation id
 *   'O' operation id           idempotency: kind + digest of the request,
 *                              or the purchase record of a purchase id
 *   'G' grant id, employee id  one entry of a bulk grant
 *   'K' category id            category of the catalog
 *   'Y' year                   fringe-cap row
 * All of it is written in the same LMDB transaction (and the same chain)
 * as the core transfers of the operation, so it commits or rolls back with
 * them. Every value starts with a format version byte.
 */
#ifndef BORSELLINO_WELFARE_INTERNAL_H
#define BORSELLINO_WELFARE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ledger_internal.h"
#include "welfare.h"

enum { WELFARE_RECORD_VERSION = 1, WELFARE_KEY_SIZE_MAX = 40,
       WELFARE_VALUE_SIZE_MAX = 512 };

/* ---- byte codec: explicit little-endian values, big-endian keys ---- */

typedef struct welfare_codec {
    uint8_t *bytes;
    size_t size; /* capacity (writing) or length (reading) */
    size_t at;
    bool failed; /* read past the end, or wrote past the capacity */
} welfare_codec_t;

void codec_put_u8(welfare_codec_t *codec, uint8_t value);
void codec_put_u32(welfare_codec_t *codec, uint32_t value);
void codec_put_u64(welfare_codec_t *codec, uint64_t value);
void codec_put_u128(welfare_codec_t *codec, ledger_u128_t value);
void codec_put_bytes(welfare_codec_t *codec, const void *bytes, size_t size);
/* Big-endian, for keys. */
void codec_put_u32_be(welfare_codec_t *codec, uint32_t value);
void codec_put_u64_be(welfare_codec_t *codec, uint64_t value);
void codec_put_u128_be(welfare_codec_t *codec, ledger_u128_t value);
uint8_t codec_get_u8(welfare_codec_t *codec);
uint32_t codec_get_u32(welfare_codec_t *codec);
uint64_t codec_get_u64(welfare_codec_t *codec);
ledger_u128_t codec_get_u128(welfare_codec_t *codec);
void codec_get_bytes(welfare_codec_t *codec, void *bytes, size_t size);
ledger_u128_t codec_get_u128_be(welfare_codec_t *codec);
uint64_t codec_get_u64_be(welfare_codec_t *codec);
uint32_t codec_get_u32_be(welfare_codec_t *codec);

/* A key under construction. */
typedef struct welfare_key {
    uint8_t bytes[WELFARE_KEY_SIZE_MAX];
    welfare_codec_t codec;
} welfare_key_t;

void key_begin(welfare_key_t *key, char type);

/* ---- records ---- */

typedef struct platform_record {
    uint64_t funders_count;
    uint64_t providers_count;
    uint64_t pots_count;
} platform_record_t;

typedef struct funder_record {
    uint32_t kind;
    uint32_t number;
} funder_record_t;

typedef struct provider_record {
    uint32_t fee_bps;
    uint32_t number;
    uint64_t categories;
} provider_record_t;

typedef struct employee_pot_ref {
    ledger_u128_t plan_id;
    uint64_t pot_number;
} employee_pot_ref_t;

/* An employee, with the list of its pots (so the purchase path finds them
 * with one read). Offboarding closes every pot at once: a pot is closed
 * exactly when its employee is offboarded. */
typedef struct employee_record {
    ledger_u128_t funder_id;
    uint32_t funder_number;
    uint32_t pots_count;
    bool offboarded;
    employee_pot_ref_t pots[WELFARE_POTS_PER_EMPLOYEE_MAX];
} employee_record_t;

typedef struct pot_record {
    uint64_t number; /* the pot account's id.lo */
    uint64_t granted;
    bool closed;
} pot_record_t;

enum purchase_state {
    PURCHASE_CAPTURED = 1, /* immediate, or a captured hold */
    PURCHASE_HELD = 2,
    PURCHASE_VOIDED = 3,
    PURCHASE_EXPIRED = 4,
};

typedef struct purchase_pot {
    ledger_u128_t plan_id;
    uint64_t pot_number;
    uint64_t amount;   /* held, then captured (or spent) from this pot */
    uint64_t refunded;
    ledger_u128_t pending_id; /* the hold's pending transfer, or zero */
} purchase_pot_t;

typedef struct purchase_record {
    /* The request as submitted (idempotency compares these). */
    ledger_u128_t employee_id;
    ledger_u128_t provider_id;
    ledger_u128_t reference;
    uint64_t requested_amount;
    uint32_t hold_timeout_s;
    uint32_t category;
    uint32_t fiscal_year;
    uint32_t state;    /* enum purchase_state */
    uint32_t fee_bps;  /* the provider's rate at the time of the purchase */
    uint32_t basis;    /* the category's fiscal basis at the time of the purchase */
    uint64_t amount;   /* held (while held), else captured/spent */
    uint64_t refunded;
    uint64_t fee;
    uint64_t fee_refunded;
    uint64_t hold_expires_at; /* 0 for immediate purchases */
    bool fringe;
    uint32_t pots_count;
    purchase_pot_t pots[WELFARE_PURCHASE_POTS_MAX];
} purchase_record_t;

/* Reads (found_out false when absent) and writes of records, in
 * ledger->txn or `txn`. */
int store_platform_get(ledger_t *ledger, MDB_txn *txn, platform_record_t *out, bool *found_out);
int store_platform_put(ledger_t *ledger, const platform_record_t *record);
int store_funder_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, funder_record_t *out, bool *found_out);
int store_funder_put(ledger_t *ledger, ledger_u128_t id, const funder_record_t *record);
int store_provider_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, provider_record_t *out, bool *found_out);
int store_provider_put(ledger_t *ledger, ledger_u128_t id, const provider_record_t *record);
int store_employee_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, employee_record_t *out, bool *found_out);
int store_employee_put(ledger_t *ledger, ledger_u128_t id, const employee_record_t *record);
int store_plan_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, welfare_plan_t *out, bool *found_out);
int store_plan_put(ledger_t *ledger, const welfare_plan_t *plan);
int store_pot_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t employee_id,
                  ledger_u128_t plan_id, pot_record_t *out, bool *found_out);
int store_pot_put(ledger_t *ledger, ledger_u128_t employee_id, ledger_u128_t plan_id,
                  const pot_record_t *record);
int store_plan_pot_index_put(ledger_t *ledger, ledger_u128_t plan_id, ledger_u128_t employee_id);
int store_u64_get(ledger_t *ledger, MDB_txn *txn, char type, ledger_u128_t employee_id,
                  uint32_t year, uint64_t *value_out, bool *found_out);
int store_u64_put(ledger_t *ledger, char type, ledger_u128_t employee_id, uint32_t year,
                  uint64_t value);
int store_purchase_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id, purchase_record_t *out, bool *found_out);
/* As store_purchase_get; *other_out tells that another operation kind
 * holds the id (then *found_out is false). */
int store_purchase_or_other_get(ledger_t *ledger, MDB_txn *txn, ledger_u128_t id,
                                purchase_record_t *out, bool *found_out, bool *other_out);
int store_purchase_put(ledger_t *ledger, ledger_u128_t id, const purchase_record_t *record);
int store_hold_index_put(ledger_t *ledger, uint64_t expires_at, ledger_u128_t purchase_id);
int store_hold_index_delete(ledger_t *ledger, uint64_t expires_at, ledger_u128_t purchase_id);
/* The earliest hold index entry due at `now`; *found_out false if none. */
/* The first hold index entry: *expires_at_out gets its expiry (when there
 * is one); *found_out is true only when it is due at `due_at`. */
int store_hold_index_first(ledger_t *ledger, uint64_t due_at, uint64_t *expires_at_out,
                           ledger_u128_t *purchase_id_out, bool *found_out);
int store_hold_index_first_due(ledger_t *ledger, uint64_t now, uint64_t *expires_at_out,
                               ledger_u128_t *purchase_id_out, bool *found_out);
/* Index of an employee's open holds: 'W' employee id, purchase id. */
int store_employee_hold_put(ledger_t *ledger, ledger_u128_t employee_id, ledger_u128_t purchase_id);
int store_employee_hold_delete(ledger_t *ledger, ledger_u128_t employee_id, ledger_u128_t purchase_id);
/* Prefetching for batches (welfare_purchases, welfare_grant), by the
 * registry cache hash of a record's key: of 'E' (and other type + id
 * keys), of 'C' and 'U' (type, employee id, year), of a pot. store_cache_prefetch: stage 1 the cache
 * slot, stage 2 the entry (welfare_cache_prefetch); hints only, and
 * nothing outside a write group. */
uint64_t store_cache_hash_u128(char type, ledger_u128_t id);
uint64_t store_cache_hash_employee_year(char type, ledger_u128_t employee_id, uint32_t year);
uint64_t store_cache_hash_pot(ledger_u128_t employee_id, ledger_u128_t plan_id);
void store_cache_prefetch(ledger_t *ledger, uint64_t hash, int stage);
/* The pot account numbers (at most numbers_max) of an employee whose
 * record is in the registry cache (`hash` = its key's), for prefetching
 * the core accounts; 0 when not cached. Reads memory only. */
uint32_t store_employee_pot_numbers(ledger_t *ledger, ledger_u128_t employee_id, uint64_t hash,
                                    uint64_t *numbers_out, uint32_t numbers_max);
/* The fiscal basis of a category whose record is in the registry cache;
 * false when it is not. Reads memory only and sets no error. */
bool store_category_basis_cached(ledger_t *ledger, uint32_t id, uint32_t *basis_out);

/* Index of a funder's employees: 'M' funder id, employee id. */
int store_funder_employee_put(ledger_t *ledger, ledger_u128_t funder_id, ledger_u128_t employee_id);
int store_receipt_get(ledger_t *ledger, const uint8_t hash[32], bool *found_out);
int store_receipt_put(ledger_t *ledger, const uint8_t hash[32], ledger_u128_t operation_id);
int store_category_get(ledger_t *ledger, MDB_txn *txn, uint32_t id, welfare_category_t *out, bool *found_out);
int store_category_put(ledger_t *ledger, const welfare_category_t *category);
int store_cap_get(ledger_t *ledger, MDB_txn *txn, uint32_t year, welfare_fringe_cap_t *out, bool *found_out);
int store_cap_put(ledger_t *ledger, const welfare_fringe_cap_t *cap);
int store_cap_rows_count(ledger_t *ledger, uint32_t *count_out);
/* Idempotency records: a digest of the request under the operation id. */
int store_operation_get(ledger_t *ledger, ledger_u128_t id, uint8_t digest_out[16], bool *found_out);
int store_operation_put(ledger_t *ledger, ledger_u128_t id, const uint8_t digest[16]);
int store_grant_entry_get(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t employee_id,
                          uint8_t digest_out[16], bool *found_out);
int store_grant_entry_put(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t employee_id,
                          const uint8_t digest[16]);
/* Is there an entry of grant `grant_id` for an employee id in [first,
 * last] (in ledger->txn)? One cursor positioning, where a lookup per entry
 * would descend the B-tree once each. */
int store_grant_entries_between(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t first,
                                ledger_u128_t last, bool *any_out);

/* Iteration over records whose key starts with `prefix` (type + leading
 * key fields). `visit` gets the key after the prefix and the value; it
 * returns 0 to go on, 1 to stop, or an error. */
typedef int (*store_visit_fn)(void *context, welfare_codec_t *key_rest,
                              welfare_codec_t *value);
int store_scan(ledger_t *ledger, MDB_txn *txn, const welfare_key_t *prefix,
               store_visit_fn visit, void *context);

/* The ids that follow `type` + `id` in the keys under that prefix (the
 * employees of a plan 'X' or of a funder 'M', the holds of an employee
 * 'W'), in key order. The caller frees the list with store_ids_free(). */
typedef struct store_ids {
    ledger_u128_t *ids;
    uint32_t count;
    uint32_t capacity;
} store_ids_t;
int store_ids_under(ledger_t *ledger, MDB_txn *txn, char type, ledger_u128_t id,
                    store_ids_t *list_out);
void store_ids_free(store_ids_t *list);

/* ---- operations (welfare_run.c) ---- */

/* An operation body: runs inside a chain (ledger->txn is the chain's),
 * writes its result; returns 0 or a core error. A result other than OK
 * rolls the chain back. */
typedef int (*welfare_body_fn)(ledger_t *ledger, void *context, uint32_t *result_out);

/* Runs `body` as one operation: joins or opens the write group, reads the
 * clock, ensures the platform, voids due holds, then runs the body in a
 * chain. Returns 0 (result in *result_out) or a core error. */
int welfare_run(ledger_t *ledger, welfare_body_fn body, void *context,
                uint32_t *result_out);

/* As welfare_run, without the nested chain, for a body that refuses only
 * before its first write. Should it refuse after writing anyway (a bug),
 * the whole group fails (nothing is half-applied) with LEDGER_ERR_CORRUPT. */
int welfare_run_direct(ledger_t *ledger, welfare_body_fn body, void *context,
                       uint32_t *result_out);

/* Inside a group: the platform exists (creates it and the default rules
 * when missing). */
int welfare_platform_ensure_in_group(ledger_t *ledger);

/* Writes the default catalog and cap table (welfare_rules.c). */
int welfare_rules_defaults(ledger_t *ledger);

/* The fringe cap of `class` in `year`, read in the open group. */
int welfare_cap_in_group(ledger_t *ledger, uint32_t year, uint32_t cap_class,
                         uint64_t *cap_out);

/* Inside a group: voids due holds (welfare_spend.c). */
int welfare_expire_due(ledger_t *ledger, uint32_t *expired_count_out);

/* The id of a welfare account. */
ledger_u128_t welfare_account_id(uint32_t kind, uint64_t number);

/* The flags of a welfare account of `kind` (welfare_account_create). */
uint16_t welfare_account_flags(uint32_t kind);

/* Creates a welfare account (kind = enum welfare_account_kind). */
int welfare_account_create(ledger_t *ledger, uint32_t kind, uint64_t number,
                           ledger_u128_t owner_id);

/* One posting of the current operation. */
typedef struct posting {
    uint32_t code;          /* enum welfare_posting */
    ledger_u128_t debit;
    ledger_u128_t credit;
    uint64_t amount;
    uint16_t flags;         /* LEDGER_TRANSFER_PENDING / POST / VOID */
    ledger_u128_t pending_id;
    ledger_u128_t operation_id;
    uint64_t user_data_64;
    uint32_t funder_number;
} posting_t;

/* Submits `posting`; *core_result_out gets the core result. The id is
 * assigned (the next journal sequence, in the welfare transfer range) and
 * returned in *id_out (may be NULL). */
int welfare_post(ledger_t *ledger, const posting_t *posting, uint32_t *core_result_out,
                 ledger_u128_t *id_out);

/* user_data_64 of a posting: category (bits 0..7), its fiscal basis at the
 * time of the operation (8..15, so that later catalog changes never
 * re-classify the past), fiscal year (16..31), provider number (32..63). */
static inline uint64_t posting_user_data_64(uint32_t category, uint32_t basis, uint32_t year,
                                            uint32_t provider_number) {
    return (uint64_t)(category & 0xFF) | ((uint64_t)(basis & 0xFF) << 8) |
           ((uint64_t)(year & 0xFFFF) << 16) | ((uint64_t)provider_number << 32);
}

/* ---- the journal, for statements and reconciliation (welfare_query.c) ---- */

/* Is this journal record a welfare posting? */
bool welfare_is_posting(const journal_record_t *record);
/* Is this posting money spent (an immediate purchase or a capture), not a
 * hold or its release? */
bool welfare_posting_spends(const journal_record_t *record);

typedef void (*welfare_journal_visit_fn)(void *context, const journal_record_t *record);
/* Calls `visit` for every welfare posting with timestamp in [min, max]
 * (0 = no bound), in journal order, in its own read transaction. */
int welfare_journal_scan(ledger_t *ledger, uint64_t timestamp_min, uint64_t timestamp_max,
                         welfare_journal_visit_fn visit, void *context);

/* Balance helpers on the in-memory core account. */
const account_slot_t *welfare_slot(const ledger_t *ledger, ledger_u128_t account_id);
uint64_t welfare_available(const ledger_t *ledger, ledger_u128_t account_id);

/* Idempotency: compares the request digest with a stored one. *result_out
 * gets OK (new), EXISTS or EXISTS_WITH_DIFFERENT_FIELDS. */
int welfare_idempotency_check(ledger_t *ledger, ledger_u128_t id,
                              const uint8_t digest[16], uint32_t *result_out);
/* The digest of an encoded request. */
void welfare_digest(const void *bytes, size_t size, uint8_t digest_out[16]);

/* Is `id` a usable operation or entity id (not 0, not max, not reserved)? */
bool welfare_id_valid(ledger_u128_t id);

/* Sets INVALID_FIELD with a message naming the field. */
uint32_t welfare_invalid(ledger_t *ledger, const char *what);

/* Moves `amount` that just arrived in a pot which cannot keep it (its plan
 * ended, or it is closed) according to the plan's expiry policy
 * (welfare_sweep.c). offboarding: carry-over becomes back-to-funder. */
int welfare_pot_settle(ledger_t *ledger, ledger_u128_t employee_id,
                       const welfare_plan_t *plan, uint64_t pot_number, uint64_t amount,
                       ledger_u128_t operation_id, bool offboarding,
                       welfare_sweep_report_t *report, uint32_t *result_out);

/* The employee's pot of `plan`, created (welfare_money.c) when missing;
 * *result_out TOO_MANY_POTS or POT_CLOSED when it cannot be used. */
int welfare_pot_ensure(ledger_t *ledger, ledger_u128_t employee_id,
                       employee_record_t *employee, const welfare_plan_t *plan,
                       pot_record_t *pot_out, uint32_t *result_out);

/* Takes the next pot number (welfare_registry.c). */
int welfare_next_pot_number(ledger_t *ledger, uint64_t *number_out);

/* A body run once per entry of a bulk operation, each in its own chain. */
typedef int (*welfare_entry_fn)(ledger_t *ledger, void *context, uint32_t index,
                                uint32_t *result_out);
/* Runs `count` entries in one group (welfare_run's rules, per entry). */
int welfare_run_entries(ledger_t *ledger, welfare_entry_fn body, void *context,
                        uint32_t count, uint32_t *results_out);

/* The one driver behind the runners: joins or opens the write group (and
 * runs it again after map growth), reads the clock, ensures the platform,
 * voids due holds (their count into *expired_out, which may be NULL), then
 * runs `count` entries, each in its own chain when `chained`, else
 * directly (welfare_run_direct's rule). count may be 0. */
int welfare_run_group(ledger_t *ledger, welfare_entry_fn body, void *context, uint32_t count,
                      uint32_t *results_out, bool chained, uint32_t *expired_out);

/* welfare_run_direct for `count` entries in one group (welfare_purchases). */
int welfare_run_direct_entries(ledger_t *ledger, welfare_entry_fn body, void *context,
                               uint32_t count, uint32_t *results_out);

/* Maps a core result of a welfare posting to a welfare result:
 * EXCEEDS_CREDITS gives `when_exceeds`, overflows give OVERFLOW. */
uint32_t welfare_from_core(ledger_t *ledger, uint32_t core_result, uint32_t when_exceeds);

/* The funder's number (for postings); 0 when unknown. */
uint32_t welfare_funder_number(ledger_t *ledger, ledger_u128_t funder_id);

/* After `amount` came back into the pot of `slot` (a void, a capture's
 * remainder, a refund): if that pot cannot keep it (its plan ended, or it
 * is closed), it follows the plan's expiry policy now. */
int welfare_pot_returned(ledger_t *ledger, ledger_u128_t employee_id,
                         const purchase_pot_t *slot, uint64_t amount,
                         ledger_u128_t operation_id, uint32_t *result_out);

/* Voids a held purchase (capture remainder excluded): used by welfare_void,
 * hold expiry and offboarding. */
int welfare_hold_release(ledger_t *ledger, ledger_u128_t operation_id,
                         ledger_u128_t purchase_id, purchase_record_t *purchase,
                         uint32_t final_state, uint32_t *result_out);

#endif
