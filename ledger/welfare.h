/*
 * welfare.h — the welfare layer of borsellino: funders (companies and public
 * funders), providers, employees (beneficiaries), plans and pots, and the
 * operations on them (fund, grant, purchase, hold/capture/void, refund,
 * reimbursement, expiry sweep, offboarding, payout), with the statements
 * auditors and payroll offices need. docs/welfare.md explains the model
 * with a worked example; this header is the manual of the API.
 *
 * How it sits on the core: every operation is validated against the
 * domain rules (../shared/DOMAIN.md) and then applied as ONE linked chain of
 * core transfers (ledger.h) with welfare posting codes (enum
 * welfare_posting), in the same LMDB write transaction as the welfare
 * state it changes. So every invariant of the core (Σ debits = Σ credits,
 * no negative balance where forbidden, the hash chain, durability) covers
 * the welfare layer, and a failed operation changes nothing at all.
 *
 * Accounts. Welfare accounts live in ledger WELFARE_LEDGER (978, EUR) and
 * have ids in a reserved range (top 32 bits WELFARE_ACCOUNT_ID_TAG); the
 * core refuses to create accounts there and refuses raw transfers that
 * touch them (LEDGER_RESULT_WELFARE_*), so welfare money moves only
 * through the operations below: cash-out and employee-to-employee
 * transfers are impossible by construction. The transfers the layer
 * creates have ids in a reserved range too (top 32 bits
 * WELFARE_TRANSFER_ID_TAG, low 64 bits the journal sequence).
 *
 *   platform bank       the external world (debit-normal, may go negative)
 *   platform fees       fees taken on purchases (credit-normal, never < 0)
 *   platform forfeited  credit forfeited at expiry (credit-normal, never < 0)
 *   funder funds        one per funder: its prepaid budget (never < 0)
 *   employee pot        one per employee × plan (never < 0)
 *   provider payable    one per provider: what the platform owes it (never < 0)
 *
 * The platform's three accounts, the default category catalog and the
 * default fringe-cap table are created by welfare_platform_ensure(), which
 * borsellinod calls when it opens a data directory and every welfare write
 * runs first (so a bare engine handle gets them with its first welfare
 * operation).
 *
 * Threading, groups, errors: as the core. Every write call joins the open
 * write group (ledger_write_begin) or opens and commits its own; it returns
 * 0 when the operation has a result (which may be a refusal: look at the
 * result code) or a core error (LEDGER_ERR_*, MDB_*, errno), in which case
 * nothing was applied. Results are enum welfare_result values.
 *
 * Idempotency: every write operation carries an id chosen by the caller.
 * Submitting the same operation again with the same id returns
 * WELFARE_RESULT_EXISTS and changes nothing; a different operation with a
 * used id returns WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS. Refused
 * operations are not remembered: the same id may be submitted again.
 * Registry entries (funders, providers, employees, plans) are keyed by their
 * own id in the same way. A bulk grant is idempotent per employee.
 *
 * Time: the server's clock (ledger_options_t.clock), ns since the Unix epoch.
 * The fiscal year of an instant is its calendar year in Italian time
 * (Europe/Rome); since the year always turns in winter (CET, UTC+1),
 * fiscal year = UTC year of (t + 1 hour).
 */
#ifndef BORSELLINO_WELFARE_H
#define BORSELLINO_WELFARE_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants and limits (each enforced and tested at the bound)             */

enum {
    /* The core ledger (currency) of every welfare account: EUR. */
    WELFARE_LEDGER = 978,
    /* Category ids are 1..WELFARE_CATEGORY_ID_MAX (sets of them are u64
     * bit masks: bit c = category c). */
    WELFARE_CATEGORY_ID_MAX = 63,
    /* Bytes of a category name, including the terminating NUL. */
    WELFARE_NAME_SIZE = 32,
    /* Pots one employee may hold (one per plan granted to them). */
    WELFARE_POTS_PER_EMPLOYEE_MAX = 16,
    /* Pots one purchase may be split across. */
    WELFARE_PURCHASE_POTS_MAX = 4,
    /* Employees in one bulk grant. */
    WELFARE_GRANT_EMPLOYEES_MAX = 16384,
    /* Employee rows in one funder statement page. */
    WELFARE_STATEMENT_EMPLOYEES_MAX = 8192,
    /* Movements in one wallet-movements page (at least 2: see
     * welfare_movements). */
    WELFARE_MOVEMENTS_MAX = 1024,
    WELFARE_MOVEMENTS_MIN = 2,
    /* Rows of the fringe-cap table (fiscal years, plus the default row). */
    WELFARE_FRINGE_CAP_ROWS_MAX = 128,
    /* A platform fee is at most 100% (10,000 basis points). */
    WELFARE_FEE_BPS_MAX = 10000,
    /* Longest hold: 90 days. */
    WELFARE_HOLD_TIMEOUT_MAX_S = 90u * 24u * 3600u,
    /* Accounts (and journal records) the platform starts with: bank, fees,
     * forfeited. A new borsellinod data directory holds exactly these. */
    WELFARE_PLATFORM_ACCOUNTS = 3,
};

/* The two 32-bit tags (top half of id.hi) of reserved id ranges. */
#define WELFARE_ACCOUNT_ID_TAG 0xFFFFFFFDu
#define WELFARE_TRANSFER_ID_TAG 0xFFFFFFFEu

/* Whether `id` is in the welfare transfers' reserved range (its low half
 * is then the journal sequence of its own record: not in the transfer id
 * index, refused as a public transfer's id). */
static inline bool welfare_transfer_id_is(ledger_u128_t id) {
    return (uint32_t)(id.hi >> 32) == WELFARE_TRANSFER_ID_TAG;
}

/* Account codes of welfare accounts (ledger_account_t.code). */
enum welfare_account_kind {
    WELFARE_ACCOUNT_BANK = 0xF001,
    WELFARE_ACCOUNT_FEES = 0xF002,
    WELFARE_ACCOUNT_FORFEITED = 0xF003,
    WELFARE_ACCOUNT_FUNDER = 0xF004,
    WELFARE_ACCOUNT_POT = 0xF005,
    WELFARE_ACCOUNT_PROVIDER = 0xF006,
};

/*
 * Transfer codes of welfare postings. Every posting also carries:
 *   user_data_128  the id of the operation that made it;
 *   user_data_64   category (bits 0..7) | its fiscal basis at the time of
 *                  the operation (bits 8..15) | fiscal year (bits 16..31) |
 *                  provider number (bits 32..63), zero where not relevant;
 *   user_data_32   the funder number (0 for payouts and platform postings).
 */
enum welfare_posting {
    WELFARE_POSTING_FUND = 1,          /* bank -> funder funds */
    WELFARE_POSTING_GRANT = 2,         /* funder funds -> pot */
    WELFARE_POSTING_PURCHASE = 3,      /* pot -> provider payable (or hold) */
    WELFARE_POSTING_FEE = 4,           /* provider payable -> fees */
    WELFARE_POSTING_REFUND = 5,        /* provider payable -> pot */
    WELFARE_POSTING_FEE_REFUND = 6,    /* fees -> provider payable */
    WELFARE_POSTING_REIMBURSEMENT = 7, /* pot -> bank */
    WELFARE_POSTING_EXPIRE_BACK = 8,   /* pot -> funder funds */
    WELFARE_POSTING_FORFEIT = 9,       /* pot -> forfeited */
    WELFARE_POSTING_CARRY_OVER = 10,   /* pot -> pot of the next plan */
    WELFARE_POSTING_PAYOUT = 11,       /* provider payable -> bank */
    WELFARE_POSTING_CODE_MAX = 11,
};

enum welfare_funder_kind {
    WELFARE_FUNDER_COMPANY = 1,
    WELFARE_FUNDER_PUBLIC = 2, /* e.g. a municipality's voucher programme */
};

/* Fiscal basis of a category (art. 51 TUIR). */
enum welfare_fiscal_basis {
    WELFARE_BASIS_F = 1,       /* c.2 lett. f: in kind only, never reimbursed */
    WELFARE_BASIS_F_BIS = 2,   /* c.2 lett. f-bis: family education */
    WELFARE_BASIS_F_TER = 3,   /* c.2 lett. f-ter: care of relatives */
    WELFARE_BASIS_F_QUATER = 4,/* c.2 lett. f-quater: long-term-care insurance */
    WELFARE_BASIS_D_BIS = 5,   /* c.2 lett. d-bis: public-transport passes */
    WELFARE_BASIS_FRINGE = 6,  /* c.3: fringe benefits, under the yearly cap */
    WELFARE_BASIS_COUNT = 7,   /* one past the last */
};

/* What happens to credit left in a pot when its plan ends. */
enum welfare_expiry_policy {
    WELFARE_EXPIRY_BACK_TO_FUNDER = 1,
    WELFARE_EXPIRY_FORFEIT = 2,
    /* Into the employee's pot of plan next_plan_id (same funder). On
     * offboarding this policy sends the credit back to the funder. */
    WELFARE_EXPIRY_CARRY_OVER = 3,
};

/* An employee's fringe-cap class for one fiscal year. */
enum welfare_cap_class {
    WELFARE_CAP_STANDARD = 0,
    WELFARE_CAP_WITH_CHILDREN = 1, /* declared fiscally dependent children */
};

enum welfare_plan_flags {
    /* A purchase may be split across this plan's pot and other pots whose
     * plans allow it too. */
    WELFARE_PLAN_SPLIT_ALLOWED = 1u << 0,
};

/*
 * Outcomes of welfare operations. Numbers are part of the public contract
 * (the protocol carries them): never changed, never reused.
 */
enum welfare_result {
    WELFARE_RESULT_OK = 0,
    WELFARE_RESULT_EXISTS = 1,
    WELFARE_RESULT_EXISTS_WITH_DIFFERENT_FIELDS = 2,
    /* A field of the request itself is out of range: its own id (or the id
     * of the entity it creates) zero, 2^128-1 or in a reserved range, an
     * unknown enum value, an empty window, a fee above 100%, a category
     * outside 1..63, a bad name or date, a zero amount where one is
     * required; ledger_last_error_message() (and the protocol's message)
     * says which. A reference to another entity that does not exist, id 0
     * included, gets that entity's *_NOT_FOUND result instead. */
    WELFARE_RESULT_INVALID_FIELD = 3,
    WELFARE_RESULT_FUNDER_NOT_FOUND = 4,
    WELFARE_RESULT_PROVIDER_NOT_FOUND = 5,
    WELFARE_RESULT_EMPLOYEE_NOT_FOUND = 6,
    WELFARE_RESULT_PLAN_NOT_FOUND = 7,
    WELFARE_RESULT_CATEGORY_NOT_FOUND = 8,
    WELFARE_RESULT_PURCHASE_NOT_FOUND = 9,
    /* The employee belongs to another funder than the plan's. */
    WELFARE_RESULT_EMPLOYEE_OF_ANOTHER_FUNDER = 10,
    /* Carry-over plan missing, of another funder, or the plan itself. */
    WELFARE_RESULT_NEXT_PLAN_INVALID = 11,
    /* The funder's budget does not cover the grant. */
    WELFARE_RESULT_INSUFFICIENT_FUNDS = 12,
    /* The plan's per-employee grant limit would be exceeded. */
    WELFARE_RESULT_GRANT_LIMIT_EXCEEDED = 13,
    /* The plan has not started yet (a purchase before valid_from). */
    WELFARE_RESULT_PLAN_NOT_STARTED = 14,
    /* Spending from (or granting into) a pot whose plan has ended. When
     * the pots allowing the category have some ended and the others not
     * started, this is the result. */
    WELFARE_RESULT_POT_EXPIRED = 15,
    WELFARE_RESULT_CATEGORY_NOT_ALLOWED_BY_PLAN = 16,
    WELFARE_RESULT_CATEGORY_NOT_SOLD_BY_PROVIDER = 17,
    /* The purchase would take the employee's fringe benefits of the fiscal
     * year above the cap (one cent over is refused). */
    WELFARE_RESULT_FRINGE_CAP_EXCEEDED = 18,
    /* The eligible pots do not hold enough (a pot never goes negative). */
    WELFARE_RESULT_INSUFFICIENT_POT_BALANCE = 19,
    /* Acting on a closed pot (the employee was offboarded). */
    WELFARE_RESULT_POT_CLOSED = 20,
    /* The employee has no pot at all (was never granted credit). */
    WELFARE_RESULT_NO_ELIGIBLE_POT = 21,
    /* Capture or void of a purchase that is not an open hold. */
    WELFARE_RESULT_HOLD_NOT_PENDING = 22,
    WELFARE_RESULT_CAPTURE_EXCEEDS_HOLD = 23,
    /* Refund above what was purchased minus what was already refunded. */
    WELFARE_RESULT_REFUND_EXCEEDS_PURCHASE = 24,
    /* Refund of a hold that was never captured (void it instead). */
    WELFARE_RESULT_PURCHASE_NOT_CAPTURED = 25,
    WELFARE_RESULT_CATEGORY_NOT_REIMBURSABLE = 26,
    /* Reimbursement without a receipt hash (all zero). */
    WELFARE_RESULT_RECEIPT_REQUIRED = 27,
    WELFARE_RESULT_AMOUNT_EXCEEDS_RECEIPT = 28,
    WELFARE_RESULT_RECEIPT_ALREADY_REIMBURSED = 29,
    /* The provider's payable does not cover the refund or payout. */
    WELFARE_RESULT_PAYABLE_INSUFFICIENT = 30,
    /* Expiry sweep of a plan that has not ended yet. */
    WELFARE_RESULT_PLAN_NOT_ENDED = 31,
    /* The employee was already offboarded. */
    WELFARE_RESULT_EMPLOYEE_OFFBOARDED = 32,
    /* The employee already holds WELFARE_POTS_PER_EMPLOYEE_MAX pots. */
    WELFARE_RESULT_TOO_MANY_POTS = 33,
    /* An amount or a running total would overflow 64 bits. */
    WELFARE_RESULT_OVERFLOW = 34,
    /* The split would need more than WELFARE_PURCHASE_POTS_MAX pots. */
    WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT = 35,
    WELFARE_RESULT_CODE_COUNT = 36 /* not a result: one past the last */
};

/* The snake_case name of a welfare result ("fringe_cap_exceeded"), static;
 * "unknown" for numbers out of range. */
const char *welfare_result_name(uint32_t result);

/* ------------------------------------------------------------------------ */
/* Rules as data                                                             */

typedef struct welfare_category {
    uint32_t id;           /* 1..WELFARE_CATEGORY_ID_MAX */
    uint32_t fiscal_basis; /* enum welfare_fiscal_basis */
    bool reimbursable;     /* refused for WELFARE_BASIS_F (in kind only) */
    char name[WELFARE_NAME_SIZE]; /* NUL-terminated, 1..31 bytes, printable */
} welfare_category_t;

/*
 * Defines or replaces a category of the catalog (rules are data: a new
 * year's rules are loaded, not compiled). Replacing keeps existing
 * providers and plans pointing at the same id. Results: OK,
 * INVALID_FIELD (id, basis, name, or reimbursable with basis F).
 */
int welfare_set_category(ledger_t *ledger, const welfare_category_t *category,
                         uint32_t *result_out);

/* The fringe cap of one fiscal year. year 0 is the default row, used for
 * years without their own row (the ordinary threshold, €258.23). */
typedef struct welfare_fringe_cap {
    uint32_t year;                /* 0, or 2000..2199 */
    uint64_t standard;            /* cents */
    uint64_t with_children;       /* cents, >= standard */
} welfare_fringe_cap_t;

/* Defines or replaces one row of the fringe-cap table. Results: OK,
 * INVALID_FIELD. The change applies to purchases made after it. At most
 * WELFARE_FRINGE_CAP_ROWS_MAX rows (INVALID_FIELD beyond). */
int welfare_set_fringe_cap(ledger_t *ledger, const welfare_fringe_cap_t *cap,
                           uint32_t *result_out);

/* The cap that applies to `class` in fiscal `year`: the year's row, else
 * the default row (any year is accepted; 0 when no row exists at all).
 * Returns 0, LEDGER_ERR_INVALID_ARGUMENT (NULL ledger or cap_out, or an
 * unknown cap class) or MDB_*. */
int welfare_fringe_cap_for(ledger_t *ledger, uint32_t year, uint32_t cap_class,
                           uint64_t *cap_out);

/* Reads the catalog: up to `capacity` categories in id order. */
int welfare_list_categories(ledger_t *ledger, welfare_category_t *categories_out,
                            uint32_t capacity, uint32_t *count_out);

/* ------------------------------------------------------------------------ */
/* Registry                                                                 */

typedef struct welfare_funder {
    ledger_u128_t id;
    uint32_t kind; /* enum welfare_funder_kind */
    /* Filled by welfare_lookup_funder (ignored on create). */
    ledger_u128_t account_id; /* its funds account */
    uint32_t number;          /* its number in postings' user_data_32 */
} welfare_funder_t;

typedef struct welfare_provider {
    ledger_u128_t id;
    uint32_t fee_bps;    /* platform fee, 0..WELFARE_FEE_BPS_MAX */
    uint64_t categories; /* bit mask of categories it sells; not zero */
    /* Filled by lookup. */
    ledger_u128_t account_id; /* its payable account */
    uint32_t number;
} welfare_provider_t;

typedef struct welfare_employee {
    ledger_u128_t id;        /* opaque external id: no personal data */
    ledger_u128_t funder_id;
    /* Filled by lookup. */
    bool offboarded;
} welfare_employee_t;

typedef struct welfare_plan {
    ledger_u128_t id;
    ledger_u128_t funder_id;
    uint64_t valid_from;    /* ns; purchases and grants from here */
    uint64_t valid_until;   /* ns, exclusive; > valid_from */
    uint64_t categories;    /* allowed categories (bit mask); not zero */
    uint32_t expiry_policy; /* enum welfare_expiry_policy */
    uint32_t flags;         /* enum welfare_plan_flags */
    ledger_u128_t next_plan_id; /* CARRY_OVER only, else zero */
    /* Most credit one employee may be granted under the plan; 0 = no limit. */
    uint64_t grant_limit_per_employee;
} welfare_plan_t;

/*
 * Registry operations. Each creates its entity, keyed by entity id:
 * resubmitting an identical entity gives EXISTS, a different one under a
 * used id EXISTS_WITH_DIFFERENT_FIELDS.
 *
 * welfare_create_funder: creates the funder and its funds account.
 *   Results: OK, EXISTS*, INVALID_FIELD.
 * welfare_create_provider: creates the provider and its payable account.
 *   Results: OK, EXISTS*, INVALID_FIELD, CATEGORY_NOT_FOUND.
 * welfare_create_employee: Results: OK, EXISTS*, INVALID_FIELD,
 *   FUNDER_NOT_FOUND.
 * welfare_create_plan: Results: OK, EXISTS*, INVALID_FIELD,
 *   FUNDER_NOT_FOUND, CATEGORY_NOT_FOUND, NEXT_PLAN_INVALID (the next plan
 *   must exist already and belong to the same funder).
 * welfare_set_cap_class: sets the employee's fringe-cap class for a fiscal
 *   year (a declaration; may be changed). Results: OK, INVALID_FIELD,
 *   EMPLOYEE_NOT_FOUND.
 */
int welfare_create_funder(ledger_t *ledger, const welfare_funder_t *funder,
                          uint32_t *result_out);
int welfare_create_provider(ledger_t *ledger, const welfare_provider_t *provider,
                            uint32_t *result_out);
int welfare_create_employee(ledger_t *ledger, const welfare_employee_t *employee,
                            uint32_t *result_out);
int welfare_create_plan(ledger_t *ledger, const welfare_plan_t *plan,
                        uint32_t *result_out);
int welfare_set_cap_class(ledger_t *ledger, ledger_u128_t employee_id,
                          uint32_t year, uint32_t cap_class, uint32_t *result_out);

/* One entry of welfare_register: which registry operation, and its fields. */
typedef enum welfare_register_kind {
    WELFARE_REGISTER_FUNDER = 1,
    WELFARE_REGISTER_PROVIDER = 2,
    WELFARE_REGISTER_EMPLOYEE = 3,
    WELFARE_REGISTER_CAP_CLASS = 4,
    WELFARE_REGISTER_PLAN = 5,
} welfare_register_kind_t;

typedef struct welfare_register_entry {
    uint32_t kind; /* enum welfare_register_kind; another value is INVALID_FIELD */
    union {
        welfare_funder_t funder;
        welfare_provider_t provider;
        welfare_employee_t employee;
        struct {
            ledger_u128_t employee_id;
            uint32_t year;
            uint32_t cap_class;
        } cap_class;
        welfare_plan_t plan;
    } u;
} welfare_register_entry_t;

/*
 * welfare_register: many registry operations in one durable group (bulk
 * import). Entry i is exactly the single call of its kind
 * (welfare_create_funder, _provider, _employee, _plan,
 * welfare_set_cap_class): the same checks, the same result in
 * results_out[i], in order, so an entry may name an entity created by an
 * earlier entry of the same call. A refused entry writes nothing; the
 * others are applied. Every refusal is decided before the entry's first
 * write, so no entry needs a savepoint of its own.
 *
 * count: 1..LEDGER_BATCH_EVENTS_MAX. results_out: `count` results, owned
 * by the caller. When several entries are INVALID_FIELD,
 * ledger_last_error_message() names the field of the last one.
 * Errors: LEDGER_ERR_INVALID_ARGUMENT (NULL pointers, count out of range),
 * and the storage errors of a write group (nothing applied).
 */
int welfare_register(ledger_t *ledger, const welfare_register_entry_t *entries,
                     uint32_t count, uint32_t *results_out);

/* Lookups: *found_out false when absent (not an error). */
int welfare_lookup_funder(ledger_t *ledger, ledger_u128_t id,
                          welfare_funder_t *funder_out, bool *found_out);
int welfare_lookup_provider(ledger_t *ledger, ledger_u128_t id,
                            welfare_provider_t *provider_out, bool *found_out);
int welfare_lookup_employee(ledger_t *ledger, ledger_u128_t id,
                            welfare_employee_t *employee_out, bool *found_out);
int welfare_lookup_plan(ledger_t *ledger, ledger_u128_t id,
                        welfare_plan_t *plan_out, bool *found_out);

/* A purchase as it stands: who bought from whom, and what of it is left.
 * (The server uses it to let a provider refund only its own sales.) */
typedef struct welfare_purchase_info {
    ledger_u128_t employee_id;
    ledger_u128_t provider_id;
    uint32_t category;
    bool held;       /* a hold not yet captured, voided or expired */
    bool captured;   /* immediate, or a captured hold */
    uint64_t amount; /* held (while held), else captured */
    uint64_t refunded;
    uint64_t fee;
    uint64_t fee_refunded;
} welfare_purchase_info_t;

/* *found_out false when no purchase has that id (an id of another
 * operation kind is not a purchase). Returns 0 or a core error. */
int welfare_lookup_purchase(ledger_t *ledger, ledger_u128_t id,
                            welfare_purchase_info_t *purchase_out, bool *found_out);

/*
 * Creates the platform's three accounts, the default category catalog and
 * the default fringe-cap table when they are missing (a new data
 * directory), in the open write group or its own durable commit.
 * Idempotent. borsellinod calls it when it opens a data directory; every
 * welfare write call does it too. Returns 0 or a core error.
 */
int welfare_platform_ensure(ledger_t *ledger);

/* The platform's own accounts. */
typedef struct welfare_platform {
    ledger_u128_t bank_account_id;
    ledger_u128_t fees_account_id;
    ledger_u128_t forfeited_account_id;
} welfare_platform_t;
int welfare_platform(ledger_t *ledger, welfare_platform_t *platform_out);

/* ------------------------------------------------------------------------ */
/* Money operations                                                         */

/* Every money operation is one linked chain of core transfers and is
 * idempotent by `id` (see the top of this header). */

typedef struct welfare_fund {
    ledger_u128_t id;
    ledger_u128_t funder_id;
    uint64_t amount; /* cents, > 0 */
} welfare_fund_t;

/* bank -> funder funds. Results: OK, EXISTS*, INVALID_FIELD,
 * FUNDER_NOT_FOUND, OVERFLOW. */
int welfare_fund(ledger_t *ledger, const welfare_fund_t *fund, uint32_t *result_out);

typedef struct welfare_grant_entry {
    ledger_u128_t employee_id;
    uint64_t amount; /* cents, > 0 */
} welfare_grant_entry_t;

/*
 * Grants credit under plan `plan_id` to `count` employees
 * (1..WELFARE_GRANT_EMPLOYEES_MAX): funder funds -> the employee's pot of
 * the plan (created on first grant). Each entry is its own chain and gets
 * its own result in results_out[i]; an entry is identified by (grant_id,
 * employee_id), so resubmitting the whole grant is safe (EXISTS for the
 * entries already done). Results per entry, checked in this order: OK;
 * INVALID_FIELD (amount 0; every entry, when the grant id is invalid);
 * EXISTS*; PLAN_NOT_FOUND; EMPLOYEE_NOT_FOUND; EMPLOYEE_OF_ANOTHER_FUNDER;
 * POT_CLOSED (offboarded); POT_EXPIRED (the plan has ended; a plan that
 * has not started yet may be granted ahead); TOO_MANY_POTS;
 * OVERFLOW; GRANT_LIMIT_EXCEEDED; INSUFFICIENT_FUNDS.
 * Returns 0, LEDGER_ERR_INVALID_ARGUMENT (count out of range, NULLs) or a
 * core error (nothing applied).
 */
int welfare_grant(ledger_t *ledger, ledger_u128_t grant_id, ledger_u128_t plan_id,
                  const welfare_grant_entry_t *entries, uint32_t count,
                  uint32_t *results_out);

typedef struct welfare_purchase {
    ledger_u128_t id;          /* the purchase (and operation) id */
    ledger_u128_t employee_id;
    ledger_u128_t provider_id;
    uint32_t category;
    /* 0: immediate purchase. Else a hold that expires (is voided) after
     * this many seconds unless captured: 1..WELFARE_HOLD_TIMEOUT_MAX_S. */
    uint32_t hold_timeout_s;
    uint64_t amount;           /* cents, > 0 */
    ledger_u128_t reference;   /* the order / invoice reference; may be 0 */
} welfare_purchase_t;

/*
 * A purchase: pot(s) -> provider payable, and the platform fee
 * (floor(amount × fee_bps / 10000)) provider payable -> fees, as one chain.
 * With hold_timeout_s the pot amounts are held (pending) instead, and the
 * fee is taken at capture.
 *
 * Checks, in order (the first failing decides): fields (INVALID_FIELD);
 * EXISTS*; EMPLOYEE_NOT_FOUND; offboarded → POT_CLOSED; PROVIDER_NOT_FOUND;
 * CATEGORY_NOT_FOUND; CATEGORY_NOT_SOLD_BY_PROVIDER; no pot at all →
 * NO_ELIGIBLE_POT; among the employee's pots: none whose plan allows the
 * category → CATEGORY_NOT_ALLOWED_BY_PLAN;
 * all of those not started → PLAN_NOT_STARTED; all of those ended →
 * POT_EXPIRED; fringe categories: FRINGE_CAP_EXCEEDED (purchases and open
 * holds of the fiscal year, net of refunds, plus this amount, above the
 * cap); then pot selection → INSUFFICIENT_POT_BALANCE or
 * TOO_MANY_POTS_FOR_SPLIT.
 *
 * Pot selection (docs/welfare.md): eligible pots are the employee's open
 * pots whose plan allows the category and is running now, earliest
 * valid_until first (ties by plan id). The earliest eligible pot is used
 * alone if it covers the amount. Otherwise, if the eligible pots whose plans
 * allow splitting cover it together, it is split across them in that order
 * (at most WELFARE_PURCHASE_POTS_MAX). Otherwise the earliest eligible pot
 * that covers the amount alone is used. Available means credits posted
 * minus debits posted minus debits pending (held credit is not spendable).
 */
int welfare_purchase(ledger_t *ledger, const welfare_purchase_t *purchase,
                     uint32_t *result_out);

/*
 * Many purchases in one call, the throughput path: exactly as `count`
 * calls of welfare_purchase() in order (each its own operation with its
 * own result in results_out[i]), in one write group (the open one, or its
 * own durable commit), with the memory each one needs fetched ahead.
 * count: 1..LEDGER_BATCH_EVENTS_MAX. Returns 0 (look at the results),
 * LEDGER_ERR_INVALID_ARGUMENT or a core error (nothing applied).
 */
int welfare_purchases(ledger_t *ledger, const welfare_purchase_t *purchases, uint32_t count,
                      uint32_t *results_out);

/*
 * Capture of a hold: posts at most the held amount (the rest is released)
 * and takes the fee on the captured amount. amount 0 captures it all.
 * Results: OK, EXISTS*, INVALID_FIELD, PURCHASE_NOT_FOUND,
 * HOLD_NOT_PENDING, CAPTURE_EXCEEDS_HOLD. Capture is allowed after the
 * pot's plan ended (the choice was made before).
 *
 * Void of a hold: releases it; credit released into a pot whose plan has
 * ended, or that is closed, follows that plan's expiry policy at once.
 * Results: OK, EXISTS*, INVALID_FIELD, PURCHASE_NOT_FOUND, HOLD_NOT_PENDING.
 * Holds whose timeout has passed are voided the same way by
 * welfare_expire_holds(), which every welfare write call runs first.
 */
int welfare_capture(ledger_t *ledger, ledger_u128_t id, ledger_u128_t purchase_id,
                    uint64_t amount, uint32_t *result_out);
int welfare_void(ledger_t *ledger, ledger_u128_t id, ledger_u128_t purchase_id,
                 uint32_t *result_out);

/* Voids holds whose timeout has passed, earliest first, at most
 * LEDGER_EXPIRE_BATCH_MAX per call. expired_count_out may be NULL. */
int welfare_expire_holds(ledger_t *ledger, uint32_t *expired_count_out);

/*
 * Refund of a purchase (full or partial): provider payable -> the pot(s)
 * it came from (the last pot of a split first), with the matching share of
 * the fee returned (fees -> provider payable) so that a full refund returns
 * the whole fee. Credit refunded into a pot whose plan has ended or that is
 * closed follows that plan's expiry policy in the same chain. A refund of a
 * fringe purchase gives its amount back to the cap of the purchase's fiscal
 * year. Results: OK, EXISTS*, INVALID_FIELD, PURCHASE_NOT_FOUND,
 * PURCHASE_NOT_CAPTURED, REFUND_EXCEEDS_PURCHASE, PAYABLE_INSUFFICIENT.
 */
int welfare_refund(ledger_t *ledger, ledger_u128_t id, ledger_u128_t purchase_id,
                   uint64_t amount, uint32_t *result_out);

typedef struct welfare_reimbursement {
    ledger_u128_t id;
    ledger_u128_t employee_id;
    uint32_t category;
    uint32_t receipt_date;     /* YYYYMMDD, a calendar date not in the future: decides the fiscal year */
    uint64_t amount;           /* cents, > 0, <= receipt_amount */
    uint64_t receipt_amount;   /* the receipt's total, cents */
    uint8_t receipt_hash[32];  /* SHA-256 of the receipt document */
} welfare_reimbursement_t;

/*
 * Reimbursement of an expense the employee paid: pot -> bank, from one pot
 * chosen as for a purchase (no split). Results: OK, EXISTS*, INVALID_FIELD,
 * EMPLOYEE_NOT_FOUND, POT_CLOSED, CATEGORY_NOT_FOUND,
 * CATEGORY_NOT_REIMBURSABLE, RECEIPT_REQUIRED, AMOUNT_EXCEEDS_RECEIPT,
 * RECEIPT_ALREADY_REIMBURSED (ever, by anyone), NO_ELIGIBLE_POT,
 * CATEGORY_NOT_ALLOWED_BY_PLAN,
 * PLAN_NOT_STARTED, POT_EXPIRED, FRINGE_CAP_EXCEEDED,
 * INSUFFICIENT_POT_BALANCE.
 */
int welfare_reimburse(ledger_t *ledger, const welfare_reimbursement_t *reimbursement,
                      uint32_t *result_out);

/* What an expiry sweep or an offboarding moved. */
typedef struct welfare_sweep_report {
    uint32_t pots_swept;     /* pots that had credit and were emptied */
    uint32_t holds_voided;   /* offboarding only */
    uint64_t expired_back;   /* cents back to the funder */
    uint64_t forfeited;      /* cents to the platform's forfeited account */
    uint64_t carried_over;   /* cents into next-plan pots */
} welfare_sweep_report_t;

/*
 * Expiry sweep of a plan that has ended: every pot of the plan with
 * available credit is emptied per the plan's policy, all in one group (one
 * audited batch; every posting carries the sweep id). Re-runnable: a later
 * sweep (new id) moves only what arrived since (nothing, normally); the
 * same id again gives EXISTS. Open holds stay; if voided later their credit
 * follows the policy then. Results: OK, EXISTS*, INVALID_FIELD,
 * PLAN_NOT_FOUND, PLAN_NOT_ENDED. report_out may be NULL.
 */
int welfare_sweep(ledger_t *ledger, ledger_u128_t id, ledger_u128_t plan_id,
                  uint32_t *result_out, welfare_sweep_report_t *report_out);

/*
 * Offboarding: voids the employee's open holds, empties every pot per its
 * plan's policy (carry-over becomes back-to-funder), closes the pots and
 * marks the employee offboarded (later grants give POT_CLOSED, purchases
 * POT_CLOSED). Results: OK, EXISTS*, INVALID_FIELD, EMPLOYEE_NOT_FOUND,
 * EMPLOYEE_OFFBOARDED.
 */
int welfare_offboard(ledger_t *ledger, ledger_u128_t id, ledger_u128_t employee_id,
                     uint32_t *result_out, welfare_sweep_report_t *report_out);

/*
 * Payout to a provider: provider payable -> bank, `amount` cents, or all
 * that is payable when amount is 0 (OK with nothing moved if nothing is).
 * `reference` (e.g. the bank transfer's id) is kept in the operation's
 * idempotency record: resubmitting with another reference gives
 * EXISTS_WITH_DIFFERENT_FIELDS.
 * Results: OK, EXISTS*, INVALID_FIELD, PROVIDER_NOT_FOUND,
 * PAYABLE_INSUFFICIENT. paid_out (may be NULL) receives the amount paid.
 */
int welfare_payout(ledger_t *ledger, ledger_u128_t id, ledger_u128_t provider_id,
                   uint64_t amount, ledger_u128_t reference, uint32_t *result_out,
                   uint64_t *paid_out);

/* ------------------------------------------------------------------------ */
/* Queries and statements                                                   */

typedef struct welfare_pot {
    ledger_u128_t plan_id;
    ledger_u128_t account_id;
    uint64_t available;   /* spendable now (0 when expired or closed) */
    uint64_t held;        /* in open holds */
    uint64_t balance;     /* credits posted - debits posted */
    uint64_t granted;     /* granted in total under the plan */
    uint64_t valid_from;
    uint64_t valid_until; /* the expiry */
    uint64_t categories;
    bool expired;         /* the plan has ended */
    bool closed;
} welfare_pot_t;

typedef struct welfare_wallet {
    ledger_u128_t employee_id;
    ledger_u128_t funder_id;
    bool offboarded;
    uint32_t pots_count;
    welfare_pot_t pots[WELFARE_POTS_PER_EMPLOYEE_MAX]; /* earliest expiry first */
} welfare_wallet_t;

/* The wallet of an employee. *found_out false when the employee does not
 * exist. Returns 0 or a core error. */
int welfare_wallet(ledger_t *ledger, ledger_u128_t employee_id,
                   welfare_wallet_t *wallet_out, bool *found_out);

/* One movement of an employee's pots (a posting touching one of them). */
typedef struct welfare_movement {
    uint64_t timestamp;
    ledger_u128_t operation_id; /* user_data_128 of the posting */
    ledger_u128_t plan_id;      /* the pot's plan */
    uint32_t posting;           /* enum welfare_posting */
    uint32_t category;          /* 0 when not relevant */
    int64_t amount;             /* signed: + into the pot, - out of it */
    bool held;                  /* a hold (pending), or its release */
    uint64_t pot_balance_after; /* credits posted - debits posted */
} welfare_movement_t;

/* The employee's movements within [timestamp_min, timestamp_max] (0 = no
 * bound), oldest first, at most `capacity` (2..WELFARE_MOVEMENTS_MAX).
 * One posting between two pots of the employee (a carry-over) is two
 * movements with the same timestamp; a page never splits the movements of
 * one timestamp, so it may hold fewer than `capacity` while more follow:
 * *more_out says so. Page with timestamp_min = last timestamp + 1.
 * Returns 0, LEDGER_ERR_INVALID_ARGUMENT, LEDGER_ERR_ACCOUNT_NOT_FOUND (no
 * such employee) or a core error. */
int welfare_movements(ledger_t *ledger, ledger_u128_t employee_id,
                      uint64_t timestamp_min, uint64_t timestamp_max,
                      welfare_movement_t *movements_out, uint32_t capacity,
                      uint32_t *count_out, bool *more_out);

/* A funder's figures for a period (all cents). */
typedef struct welfare_funder_statement {
    uint64_t funded;
    uint64_t granted;
    uint64_t spent;                /* purchases captured/immediate */
    uint64_t spent_by_category[WELFARE_CATEGORY_ID_MAX + 1];
    uint64_t refunded;
    uint64_t reimbursed;
    uint64_t expired_back;
    uint64_t forfeited;
    uint64_t carried_over;
    uint64_t fees;                 /* fees taken on its employees' purchases */
    uint64_t fees_returned;        /* fee shares returned with refunds */
    /* At the end of the period: */
    uint64_t funds_balance;        /* its budget not yet granted */
    uint64_t pots_balance;         /* Σ pots (credits - debits posted) */
    uint64_t held;                 /* Σ open holds */
} welfare_funder_statement_t;

/* Remaining credit of one employee at the end of the period. */
typedef struct welfare_employee_balance {
    ledger_u128_t employee_id;
    uint64_t balance; /* Σ of the employee's pots, credits - debits posted */
    uint64_t held;
} welfare_employee_balance_t;

/*
 * A funder's statement for [timestamp_min, timestamp_max] (0 = no bound)
 * plus, at its end, the remaining credit per employee, in employee id order
 * after `employees_after` (zero = from the first), at most `capacity`
 * (0..WELFARE_STATEMENT_EMPLOYEES_MAX) rows; *more_out says whether more
 * employees follow (page with employees_after = the last id returned).
 * Returns 0, LEDGER_ERR_INVALID_ARGUMENT, LEDGER_ERR_ACCOUNT_NOT_FOUND (no
 * such funder) or a core error. Cost: a scan of the journal in the period
 * plus one balance per employee row.
 *
 * On a read-only handle (which another process may be writing past), "now"
 * (timestamp_max 0) means the handle's last event, and an account created
 * since the handle opened counts as empty, so that the flows and the
 * balances describe one state; the same holds for the provider statement.
 */
int welfare_funder_statement(ledger_t *ledger, ledger_u128_t funder_id,
                             uint64_t timestamp_min, uint64_t timestamp_max,
                             welfare_funder_statement_t *statement_out,
                             ledger_u128_t employees_after,
                             welfare_employee_balance_t *employees_out,
                             uint32_t capacity, uint32_t *employees_count_out,
                             bool *more_out);

typedef struct welfare_provider_statement {
    uint64_t sales;    /* purchases captured/immediate */
    uint64_t refunds;
    uint64_t fees;          /* taken on its sales */
    uint64_t fees_returned; /* returned to it with refunds */
    uint64_t payouts;
    uint64_t payable;  /* at the end of the period */
    uint64_t held;     /* open holds towards it at the end of the period */
} welfare_provider_statement_t;

/* A provider's statement for a period. Over all time (timestamp_min 0):
 * sales − refunds − (fees − fees_returned) = payouts + payable. Returns 0,
 * LEDGER_ERR_ACCOUNT_NOT_FOUND (no such provider) or a core error. */
int welfare_provider_statement(ledger_t *ledger, ledger_u128_t provider_id,
                               uint64_t timestamp_min, uint64_t timestamp_max,
                               welfare_provider_statement_t *statement_out);

/* An employee's figures for one fiscal year, by fiscal basis: what a
 * payroll office needs for the annual tax certificate. */
typedef struct welfare_annual_statement {
    uint32_t year;
    uint32_t cap_class;
    uint64_t fringe_cap;                          /* cents */
    uint64_t fringe_used;                         /* purchases + open holds, net */
    uint64_t spent[WELFARE_BASIS_COUNT];          /* by basis, net of refunds */
    uint64_t reimbursed[WELFARE_BASIS_COUNT];     /* by basis (receipt year) */
} welfare_annual_statement_t;

/* Returns 0, LEDGER_ERR_INVALID_ARGUMENT (year out of 2000..2199),
 * LEDGER_ERR_ACCOUNT_NOT_FOUND (no such employee) or a core error. */
int welfare_annual_statement(ledger_t *ledger, ledger_u128_t employee_id,
                             uint32_t year, welfare_annual_statement_t *statement_out);

/* The result of welfare_reconcile(). */
typedef struct welfare_reconcile_report {
    uint32_t funders_checked;
    uint32_t providers_checked;
    bool balanced;      /* every identity holds */
    char message[256];  /* when not: the first entity whose sides differ */
} welfare_reconcile_report_t;

/*
 * Checks the reconciliation identities over all time, for every funder and
 * every provider, from one pass over the journal (the flows) and the
 * current balances (the stocks):
 *   funded = funds + Σ its employees' pots + spent − refunded + reimbursed
 *            + forfeited (expired-back credit is in the funds, carried-over
 *            credit in the pots);
 *   sales − refunds − (fees − fees_returned) = payouts + payable.
 * Works on read-only handles (borsellino audit verify). A directory without
 * a welfare platform is balanced with nothing checked. Returns 0 (the
 * report says whether the books reconcile), LEDGER_ERR_INVALID_ARGUMENT,
 * LEDGER_ERR_NO_MEMORY, LEDGER_ERR_CORRUPT or an MDB_* code.
 */
int welfare_reconcile(ledger_t *ledger, welfare_reconcile_report_t *report_out);

/* The fiscal year of an instant (ns since the epoch), Italian time. */
uint32_t welfare_fiscal_year(uint64_t timestamp_ns);

/* ------------------------------------------------------------------------ */
/* Registry listings (auditors: every funder and provider of a directory)   */

/* Most ids one welfare_list_* call returns. */
enum { WELFARE_LIST_IDS_MAX = 8192 };

/*
 * The ids of the funders (welfare_list_funders) or providers
 * (welfare_list_providers), in id order, after `after_id` (zero = from the
 * first), at most `capacity` (1..WELFARE_LIST_IDS_MAX) into ids_out;
 * *more_out says whether more follow (page with after_id = the last id
 * returned). Reads one snapshot per call (the open write group's, if any);
 * works on read-only handles. Returns 0, LEDGER_ERR_INVALID_ARGUMENT (NULL
 * pointers, capacity out of range), LEDGER_ERR_CORRUPT (a malformed key)
 * or an MDB_* code.
 */
int welfare_list_funders(ledger_t *ledger, ledger_u128_t after_id, ledger_u128_t *ids_out,
                         uint32_t capacity, uint32_t *count_out, bool *more_out);
int welfare_list_providers(ledger_t *ledger, ledger_u128_t after_id, ledger_u128_t *ids_out,
                           uint32_t capacity, uint32_t *count_out, bool *more_out);

#ifdef __cplusplus
}
#endif

#endif
