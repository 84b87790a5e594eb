/*
 * authz.c — the role × operation table, the checks of a request's scope
 * against the ledger, and the roles file parser (authz.h is the manual).
 *
 * The table below is the one source of truth: authz_allowed reads it,
 * tests/test_authz.c walks it cell by cell against real requests and
 * checks that docs/security.md's table says the same.
 *
 * Workload: authz_allowed_scoped runs once per request on the writer
 * thread; the static part is a table index, the scoped part at most a few
 * cached welfare lookups (one per employee of a company's grant, bounded
 * by WELFARE_GRANT_EMPLOYEES_MAX). authz_roles_lookup runs once per TLS
 * handshake: a binary search in the sorted mappings. authz_roles_load
 * runs once at startup.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authz.h"
#include "convert.h"
#include "welfare.h"

/* ------------------------------------------------------------------------ */
/* The table                                                                */

#define OP(name) BORSELLINO__V1__REQUEST__OP_##name
#define D AUTHZ_DENY
#define A AUTHZ_ALLOW
#define O AUTHZ_OWN

/* Columns: none, operator, company, app, provider, auditor. Keep in field
 * order, and docs/security.md's table with it (test_authz checks both). */
static const authz_operation_t authz_table[] = {
    {OP(CREATE_ACCOUNTS), "create_accounts", true, {D, A, D, D, D, D}},
    {OP(CREATE_TRANSFERS), "create_transfers", true, {D, A, D, D, D, D}},
    {OP(LOOKUP_ACCOUNTS), "lookup_accounts", false, {D, A, D, D, D, A}},
    {OP(LOOKUP_TRANSFERS), "lookup_transfers", false, {D, A, D, D, D, A}},
    {OP(ACCOUNT_HISTORY), "account_history", false, {D, A, D, D, D, A}},
    {OP(BALANCE_AT), "balance_at", false, {D, A, D, D, D, A}},
    {OP(STATUS), "status", false, {D, A, A, A, A, A}},
    {OP(WELFARE_SET_CATEGORY), "welfare_set_category", true, {D, A, D, D, D, D}},
    {OP(WELFARE_SET_FRINGE_CAP), "welfare_set_fringe_cap", true, {D, A, D, D, D, D}},
    {OP(WELFARE_CREATE_FUNDER), "welfare_create_funder", true, {D, A, D, D, D, D}},
    {OP(WELFARE_CREATE_PROVIDER), "welfare_create_provider", true, {D, A, D, D, D, D}},
    {OP(WELFARE_CREATE_EMPLOYEE), "welfare_create_employee", true, {D, A, O, D, D, D}},
    {OP(WELFARE_CREATE_PLAN), "welfare_create_plan", true, {D, A, O, D, D, D}},
    {OP(WELFARE_SET_CAP_CLASS), "welfare_set_cap_class", true, {D, A, O, D, D, D}},
    {OP(WELFARE_FUND), "welfare_fund", true, {D, A, D, D, D, D}},
    {OP(WELFARE_GRANT), "welfare_grant", true, {D, A, O, D, D, D}},
    {OP(WELFARE_PURCHASE), "welfare_purchase", true, {D, A, D, A, D, D}},
    {OP(WELFARE_CAPTURE), "welfare_capture", true, {D, A, D, A, D, D}},
    {OP(WELFARE_VOID), "welfare_void", true, {D, A, D, A, D, D}},
    {OP(WELFARE_REFUND), "welfare_refund", true, {D, A, D, A, O, D}},
    {OP(WELFARE_REIMBURSE), "welfare_reimburse", true, {D, A, D, A, D, D}},
    {OP(WELFARE_SWEEP), "welfare_sweep", true, {D, A, O, D, D, D}},
    {OP(WELFARE_OFFBOARD), "welfare_offboard", true, {D, A, O, D, D, D}},
    {OP(WELFARE_PAYOUT), "welfare_payout", true, {D, A, D, D, D, D}},
    {OP(WELFARE_WALLET), "welfare_wallet", false, {D, A, O, A, D, A}},
    {OP(WELFARE_MOVEMENTS), "welfare_movements", false, {D, A, O, A, D, A}},
    {OP(WELFARE_FUNDER_STATEMENT), "welfare_funder_statement", false, {D, A, O, D, D, A}},
    {OP(WELFARE_PROVIDER_STATEMENT), "welfare_provider_statement", false, {D, A, D, D, O, A}},
    {OP(WELFARE_ANNUAL_STATEMENT), "welfare_annual_statement", false, {D, A, O, A, D, A}},
    {OP(WELFARE_LIST_CATEGORIES), "welfare_list_categories", false, {D, A, A, A, A, A}},
    {OP(WELFARE_FRINGE_CAP), "welfare_fringe_cap", false, {D, A, A, A, A, A}},
    {OP(WELFARE_LOOKUP_FUNDER), "welfare_lookup_funder", false, {D, A, O, D, D, A}},
    {OP(WELFARE_LOOKUP_PROVIDER), "welfare_lookup_provider", false, {D, A, D, D, O, A}},
    {OP(WELFARE_LOOKUP_EMPLOYEE), "welfare_lookup_employee", false, {D, A, O, A, D, A}},
    {OP(WELFARE_LOOKUP_PLAN), "welfare_lookup_plan", false, {D, A, O, D, D, A}},
    {OP(WELFARE_PLATFORM), "welfare_platform", false, {D, A, D, D, D, A}},
    {OP(WELFARE_PURCHASES), "welfare_purchases", true, {D, A, D, A, D, D}},
    /* Bulk registry import is the platform's: its entries name many
     * funders, and companies have the single operations for their own. */
    {OP(WELFARE_REGISTER), "welfare_register", true, {D, A, D, D, D, D}},
    /* Signing attests the books and changes no balance; docs/audit.md has
     * the auditor ask for it at the start of an audit. */
    {OP(AUDIT_SIGN), "audit_sign", true, {D, A, D, D, D, A}},
    {OP(AUDIT_CHECKPOINTS), "audit_checkpoints", false, {D, A, D, D, D, A}},
    {OP(AUDIT_VERIFY), "audit_verify", false, {D, A, D, D, D, A}},
};

#undef D
#undef A
#undef O

enum { AUTHZ_OPERATIONS_COUNT = sizeof authz_table / sizeof authz_table[0] };
_Static_assert(SERVER_ROLE_AUDITOR == 5, "authz_operation_t.rules has one column per role");

const authz_operation_t *authz_operations(size_t *count_out) {
    assert(count_out != NULL);
    *count_out = AUTHZ_OPERATIONS_COUNT;
    return authz_table;
}

const authz_operation_t *authz_operation_find(Borsellino__V1__Request__OpCase op) {
    for (size_t i = 0; i < AUTHZ_OPERATIONS_COUNT; i++) {
        if (authz_table[i].op == op) return &authz_table[i];
    }
    return NULL;
}

const char *authz_role_name(server_role_t role) {
    switch (role) {
    case SERVER_ROLE_OPERATOR: return "operator";
    case SERVER_ROLE_COMPANY: return "company";
    case SERVER_ROLE_APP: return "app";
    case SERVER_ROLE_PROVIDER: return "provider";
    case SERVER_ROLE_AUDITOR: return "auditor";
    case SERVER_ROLE_NONE: break;
    }
    return "none";
}

static void reason_set(char *reason, size_t reason_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void reason_set(char *reason, size_t reason_size, const char *format, ...) {
    if (reason == NULL || reason_size == 0) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(reason, reason_size, format, arguments);
    va_end(arguments);
}

/* ------------------------------------------------------------------------ */
/* Decisions                                                                */

/* The cell of `identity` × `request`; *row_out is NULL for a request with
 * no operation (or one this table does not know). */
static authz_rule_t authz_rule_of(const server_identity_t *identity,
                                  const Borsellino__V1__Request *request,
                                  const authz_operation_t **row_out) {
    *row_out = authz_operation_find(request->op_case);
    if (identity->role < SERVER_ROLE_OPERATOR || identity->role > SERVER_ROLE_AUDITOR) {
        return AUTHZ_DENY;
    }
    /* An unknown operation is not ours to refuse: the dispatcher answers
     * it STATUS_UNKNOWN_OPERATION, which tells nothing either way. */
    if (*row_out == NULL) return AUTHZ_ALLOW;
    return (*row_out)->rules[identity->role];
}

bool authz_allowed(const server_identity_t *identity, const Borsellino__V1__Request *request,
                   char *reason, size_t reason_size) {
    assert(identity != NULL);
    assert(request != NULL);
    const authz_operation_t *row = NULL;
    authz_rule_t rule = authz_rule_of(identity, request, &row);
    if (rule != AUTHZ_DENY) return true;
    const char *op_name = row != NULL ? row->name : "an unknown operation";
    if (identity->role < SERVER_ROLE_OPERATOR || identity->role > SERVER_ROLE_AUDITOR) {
        reason_set(reason, reason_size,
                   "permission denied: the connection has no identity (its certificate is "
                   "not in the roles file), so it may not run %s", op_name);
    } else {
        reason_set(reason, reason_size,
                   "permission denied: the %s role may not run %s (docs/security.md, Roles)",
                   authz_role_name(identity->role), op_name);
    }
    return false;
}

/* What a scoped request names, for its check and its reason. */
typedef enum scope_entity {
    SCOPE_FUNDER,
    SCOPE_PLAN,
    SCOPE_EMPLOYEE,
    SCOPE_PROVIDER,
    SCOPE_PURCHASE, /* a provider's own sale (refunds) */
} scope_entity_t;

static const char *scope_entity_words(scope_entity_t entity) {
    switch (entity) {
    case SCOPE_FUNDER: return "a funder";
    case SCOPE_PLAN: return "a plan";
    case SCOPE_EMPLOYEE: return "an employee";
    case SCOPE_PROVIDER: return "a provider";
    case SCOPE_PURCHASE: return "a purchase";
    }
    return "an entity";
}

/* Whether `entity` `id` is within `scope`: *inside_out. A company's scope
 * is its funder id (plans and employees through their funder); a
 * provider's, its provider id. Absent entities are outside. */
static int scope_contains(ledger_t *ledger, ledger_u128_t scope, scope_entity_t entity,
                          ledger_u128_t id, bool *inside_out) {
    *inside_out = false;
    bool found = false;
    int error = 0;
    switch (entity) {
    case SCOPE_FUNDER:
    case SCOPE_PROVIDER:
        *inside_out = ledger_u128_equal(id, scope);
        return 0;
    case SCOPE_PLAN: {
        welfare_plan_t plan;
        error = welfare_lookup_plan(ledger, id, &plan, &found);
        if (!error && found) *inside_out = ledger_u128_equal(plan.funder_id, scope);
        return error;
    }
    case SCOPE_EMPLOYEE: {
        welfare_employee_t employee;
        error = welfare_lookup_employee(ledger, id, &employee, &found);
        if (!error && found) *inside_out = ledger_u128_equal(employee.funder_id, scope);
        return error;
    }
    case SCOPE_PURCHASE: {
        welfare_purchase_info_t purchase;
        error = welfare_lookup_purchase(ledger, id, &purchase, &found);
        if (!error && found) *inside_out = ledger_u128_equal(purchase.provider_id, scope);
        return error;
    }
    }
    return 0;
}

/* The one entity a request of an AUTHZ_OWN cell names (a grant's plan;
 * its employees are checked by the caller). False for an operation that
 * has no scope rule: it is then denied. */
static bool scope_target(const Borsellino__V1__Request *request, scope_entity_t *entity_out,
                         ledger_u128_t *id_out) {
    const Borsellino__V1__Request *r = request;
    switch (request->op_case) {
    case OP(WELFARE_CREATE_EMPLOYEE):
        *entity_out = SCOPE_FUNDER;
        *id_out = convert_u128_from_proto(r->welfare_create_employee->employee != NULL
                                              ? r->welfare_create_employee->employee->funder_id
                                              : NULL);
        return true;
    case OP(WELFARE_CREATE_PLAN):
        *entity_out = SCOPE_FUNDER;
        *id_out = convert_u128_from_proto(r->welfare_create_plan->plan != NULL
                                              ? r->welfare_create_plan->plan->funder_id
                                              : NULL);
        return true;
    case OP(WELFARE_SET_CAP_CLASS):
        *entity_out = SCOPE_EMPLOYEE;
        *id_out = convert_u128_from_proto(r->welfare_set_cap_class->employee_id);
        return true;
    case OP(WELFARE_GRANT):
        *entity_out = SCOPE_PLAN;
        *id_out = convert_u128_from_proto(r->welfare_grant->plan_id);
        return true;
    case OP(WELFARE_SWEEP):
        *entity_out = SCOPE_PLAN;
        *id_out = convert_u128_from_proto(r->welfare_sweep->plan_id);
        return true;
    case OP(WELFARE_REFUND):
        *entity_out = SCOPE_PURCHASE;
        *id_out = convert_u128_from_proto(r->welfare_refund->purchase_id);
        return true;
    case OP(WELFARE_OFFBOARD):
        *entity_out = SCOPE_EMPLOYEE;
        *id_out = convert_u128_from_proto(r->welfare_offboard->employee_id);
        return true;
    case OP(WELFARE_WALLET):
        *entity_out = SCOPE_EMPLOYEE;
        *id_out = convert_u128_from_proto(r->welfare_wallet->employee_id);
        return true;
    case OP(WELFARE_MOVEMENTS):
        *entity_out = SCOPE_EMPLOYEE;
        *id_out = convert_u128_from_proto(r->welfare_movements->employee_id);
        return true;
    case OP(WELFARE_FUNDER_STATEMENT):
        *entity_out = SCOPE_FUNDER;
        *id_out = convert_u128_from_proto(r->welfare_funder_statement->funder_id);
        return true;
    case OP(WELFARE_PROVIDER_STATEMENT):
        *entity_out = SCOPE_PROVIDER;
        *id_out = convert_u128_from_proto(r->welfare_provider_statement->provider_id);
        return true;
    case OP(WELFARE_ANNUAL_STATEMENT):
        *entity_out = SCOPE_EMPLOYEE;
        *id_out = convert_u128_from_proto(r->welfare_annual_statement->employee_id);
        return true;
    case OP(WELFARE_LOOKUP_FUNDER):
        *entity_out = SCOPE_FUNDER;
        *id_out = convert_u128_from_proto(r->welfare_lookup_funder->id);
        return true;
    case OP(WELFARE_LOOKUP_PROVIDER):
        *entity_out = SCOPE_PROVIDER;
        *id_out = convert_u128_from_proto(r->welfare_lookup_provider->id);
        return true;
    case OP(WELFARE_LOOKUP_EMPLOYEE):
        *entity_out = SCOPE_EMPLOYEE;
        *id_out = convert_u128_from_proto(r->welfare_lookup_employee->id);
        return true;
    case OP(WELFARE_LOOKUP_PLAN):
        *entity_out = SCOPE_PLAN;
        *id_out = convert_u128_from_proto(r->welfare_lookup_plan->id);
        return true;
    default:
        return false;
    }
}

/* A company's grant: every employee must be the company's too (the ledger
 * would refuse one of another funder, but its answer would tell that the
 * employee exists). Grants above WELFARE_GRANT_EMPLOYEES_MAX entries are
 * refused by the dispatcher without touching the ledger: not checked. */
static int scope_grant_employees(ledger_t *ledger, ledger_u128_t scope,
                                 const Borsellino__V1__WelfareGrantRequest *grant,
                                 bool *inside_out) {
    *inside_out = true;
    if (grant->n_entries > WELFARE_GRANT_EMPLOYEES_MAX) return 0;
    for (size_t i = 0; i < grant->n_entries && *inside_out; i++) {
        const Borsellino__V1__WelfareGrantEntry *entry = grant->entries[i];
        ledger_u128_t id = convert_u128_from_proto(entry != NULL ? entry->employee_id : NULL);
        int error = scope_contains(ledger, scope, SCOPE_EMPLOYEE, id, inside_out);
        if (error) return error;
    }
    return 0;
}

int authz_allowed_scoped(ledger_t *ledger, const server_identity_t *identity,
                         const Borsellino__V1__Request *request, bool *allowed_out,
                         char *reason, size_t reason_size) {
    assert(identity != NULL && request != NULL);
    assert(allowed_out != NULL);
    *allowed_out = false;
    if (!authz_allowed(identity, request, reason, reason_size)) return 0;
    const authz_operation_t *row = NULL;
    if (authz_rule_of(identity, request, &row) != AUTHZ_OWN) {
        *allowed_out = true;
        return 0;
    }
    assert(row != NULL);
    const char *role = authz_role_name(identity->role);
    const char *whose = identity->role == SERVER_ROLE_COMPANY ? "company" : "provider";
    scope_entity_t entity = SCOPE_FUNDER;
    ledger_u128_t id = {0, 0};
    if (!scope_target(request, &entity, &id)) {
        reason_set(reason, reason_size,
                   "permission denied: the %s role has no scope rule for %s", role, row->name);
        return 0;
    }
    bool inside = false;
    int error = scope_contains(ledger, identity->scope_id, entity, id, &inside);
    if (!error && inside && request->op_case == OP(WELFARE_GRANT)) {
        entity = SCOPE_EMPLOYEE;
        error = scope_grant_employees(ledger, identity->scope_id, request->welfare_grant, &inside);
    }
    if (error) return error;
    if (!inside) {
        reason_set(reason, reason_size,
                   "permission denied: the %s role may run %s only for its own %s, and the "
                   "request names %s that is not its own",
                   role, row->name, whose, scope_entity_words(entity));
        return 0;
    }
    *allowed_out = true;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The roles file                                                           */

typedef enum mapping_kind {
    MAPPING_FINGERPRINT = 1,
    MAPPING_SUBJECT = 2,
} mapping_kind_t;

enum { FINGERPRINT_HEX_SIZE = 64, FINGERPRINT_COLONS_SIZE = 95 };

typedef struct authz_mapping {
    mapping_kind_t kind;
    uint32_t line;
    server_role_t role;
    ledger_u128_t scope_id;
    /* The lowercase fingerprint, or the subject; NUL-terminated. */
    char key[AUTHZ_SUBJECT_SIZE_MAX + 1];
} authz_mapping_t;

struct authz_roles {
    authz_mapping_t *mappings; /* sorted by kind, then key */
    size_t count;
    size_t capacity;
};

static int mapping_compare(const void *left, const void *right) {
    const authz_mapping_t *a = left;
    const authz_mapping_t *b = right;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    int order = strcmp(a->key, b->key);
    if (order != 0) return order;
    return a->line < b->line ? -1 : (a->line > b->line);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 64 hex digits, or 32 pairs separated by ':' as `openssl x509
 * -fingerprint` prints them, into 64 lowercase digits. */
static bool fingerprint_normalize(const char *text, size_t size,
                                  char out[FINGERPRINT_HEX_SIZE + 1]) {
    bool colons = size == FINGERPRINT_COLONS_SIZE;
    if (size != FINGERPRINT_HEX_SIZE && !colons) return false;
    size_t digits = 0;
    for (size_t i = 0; i < size; i++) {
        if (colons && i % 3 == 2) {
            if (text[i] != ':') return false;
            continue;
        }
        if (hex_value(text[i]) < 0) return false;
        out[digits++] = (char)tolower((unsigned char)text[i]);
    }
    assert(digits == FINGERPRINT_HEX_SIZE);
    out[digits] = '\0';
    return true;
}

__extension__ typedef unsigned __int128 authz_u128_native_t;

/* Exactly tools/cli_values.c cli_parse_u128: 0x-hex (1..32 digits) or
 * decimal (at most 2^128 - 1). */
static bool scope_parse_number(const char *text, ledger_u128_t *value_out) {
    uint64_t hi = 0, lo = 0;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        size_t digits = strlen(text + 2);
        if (digits == 0 || digits > 32) return false;
        for (const char *c = text + 2; *c; c++) {
            int digit = hex_value(*c);
            if (digit < 0) return false;
            hi = (hi << 4) | (lo >> 60);
            lo = (lo << 4) | (uint64_t)digit;
        }
    } else {
        for (const char *c = text; *c; c++) {
            if (*c < '0' || *c > '9') return false;
            /* value * 10 + digit, in 128 bits, refusing overflow. */
            authz_u128_native_t value = ((authz_u128_native_t)hi << 64) | lo;
            authz_u128_native_t max = ~(authz_u128_native_t)0;
            unsigned digit = (unsigned)(*c - '0');
            if (value > (max - digit) / 10) return false;
            value = value * 10 + digit;
            hi = (uint64_t)(value >> 64);
            lo = (uint64_t)value;
        }
    }
    value_out->hi = hi;
    value_out->lo = lo;
    return true;
}

/* Exactly tools/cli_values.c cli_parse_named_id: a number as above, or a
 * name whose id is the first 16 bytes of its SHA-256, big-endian. */
static bool scope_parse(const char *text, ledger_u128_t *value_out) {
    if (text[0] == '\0') return false;
    bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    if (hex || strspn(text, "0123456789") == strlen(text)) {
        return scope_parse_number(text, value_out);
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (EVP_Digest(text, strlen(text), digest, &digest_size, EVP_sha256(), NULL) != 1) {
        return false;
    }
    assert(digest_size >= 16);
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = (hi << 8) | digest[i];
        lo = (lo << 8) | digest[8 + i];
    }
    value_out->hi = hi;
    value_out->lo = lo;
    return true;
}

/* The error of one line: "PATH:LINE: what". Returns -1. */
static int line_error(char *error, size_t error_size, const char *path, uint32_t line,
                      const char *format, ...) __attribute__((format(printf, 5, 6)));

static int line_error(char *error, size_t error_size, const char *path, uint32_t line,
                      const char *format, ...) {
    if (error == NULL || error_size == 0) return -1;
    int used = line == 0 ? snprintf(error, error_size, "%s: ", path)
                         : snprintf(error, error_size, "%s:%u: ", path, line);
    if (used < 0 || (size_t)used >= error_size) return -1;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error + used, error_size - (size_t)used, format, arguments);
    va_end(arguments);
    return -1;
}

/* "ROLE[:SCOPE]" into the mapping; NULL, or what is wrong. */
static const char *role_parse(char *text, authz_mapping_t *mapping) {
    static const struct {
        const char *name;
        server_role_t role;
        bool scoped;
    } roles[] = {
        {"operator", SERVER_ROLE_OPERATOR, false}, {"company", SERVER_ROLE_COMPANY, true},
        {"app", SERVER_ROLE_APP, false},           {"provider", SERVER_ROLE_PROVIDER, true},
        {"auditor", SERVER_ROLE_AUDITOR, false},
    };
    char *colon = strchr(text, ':');
    if (colon != NULL) *colon = '\0';
    const char *scope = colon != NULL ? colon + 1 : NULL;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(text, roles[i].name) != 0) continue;
        mapping->role = roles[i].role;
        if (!roles[i].scoped) {
            return scope == NULL ? NULL : "this role takes no scope (operator, app, auditor)";
        }
        if (scope == NULL || scope[0] == '\0') {
            return "this role needs a scope: company:ID or provider:ID (decimal, 0x-hex or a "
                   "name, as the CLI writes ids)";
        }
        if (!scope_parse(scope, &mapping->scope_id)) {
            return "the scope is not an id (decimal at most 2^128-1, 0x and 1..32 hex digits, "
                   "or a name)";
        }
        ledger_u128_t max = {UINT64_MAX, UINT64_MAX};
        if (ledger_u128_is_zero(mapping->scope_id) || ledger_u128_equal(mapping->scope_id, max)) {
            return "the scope is a reserved id (0 or 2^128-1)";
        }
        return NULL;
    }
    return "unknown role: expected operator, company:ID, app, provider:ID or auditor";
}

/* One non-blank, non-comment line (trimmed) into `mapping`; NULL, or what
 * is wrong. `text` is modified. */
static const char *mapping_parse(char *text, authz_mapping_t *mapping) {
    char *last_blank = NULL;
    for (char *c = text; *c; c++) {
        if (*c == ' ' || *c == '\t') last_blank = c;
    }
    if (last_blank == NULL) {
        return "expected \"sha256:HEX ROLE[:SCOPE]\" or \"subject:SUBJECT ROLE[:SCOPE]\"";
    }
    char *role = last_blank + 1;
    char *selector_end = last_blank;
    while (selector_end > text && (selector_end[-1] == ' ' || selector_end[-1] == '\t')) {
        selector_end--;
    }
    *selector_end = '\0';
    if (strncmp(text, "sha256:", 7) == 0) {
        mapping->kind = MAPPING_FINGERPRINT;
        if (!fingerprint_normalize(text + 7, strlen(text + 7), mapping->key)) {
            return "the fingerprint is not 64 hex digits (or 32 pairs separated by ':')";
        }
    } else if (strncmp(text, "subject:", 8) == 0) {
        mapping->kind = MAPPING_SUBJECT;
        size_t size = strlen(text + 8);
        if (size == 0) return "the subject is empty";
        if (size > AUTHZ_SUBJECT_SIZE_MAX) return "the subject is longer than 512 bytes";
        memcpy(mapping->key, text + 8, size + 1);
    } else {
        return "unknown selector: expected sha256:HEX or subject:SUBJECT";
    }
    return role_parse(role, mapping);
}

/* Reads one line into `line` (at most AUTHZ_ROLES_LINE_SIZE_MAX bytes and
 * its NUL). Returns 1 (a line), 0 (end of file), -1 (too long: the rest
 * is not read), -2 (a NUL byte), -3 (a read error). */
static int line_read(FILE *file, char line[AUTHZ_ROLES_LINE_SIZE_MAX + 1]) {
    size_t size = 0;
    int c = 0;
    while ((c = getc(file)) != EOF && c != '\n') {
        if (c == '\0') return -2;
        if (size == AUTHZ_ROLES_LINE_SIZE_MAX) return -1;
        line[size++] = (char)c;
    }
    line[size] = '\0';
    if (ferror(file)) return -3;
    return c == EOF && size == 0 ? 0 : 1;
}

/* Strips blanks and a '\r' around `line`; returns the first character. */
static char *line_trim(char *line) {
    size_t size = strlen(line);
    while (size > 0 && (line[size - 1] == ' ' || line[size - 1] == '\t' ||
                        line[size - 1] == '\r')) {
        line[--size] = '\0';
    }
    while (*line == ' ' || *line == '\t') line++;
    return line;
}

static int roles_append(authz_roles_t *roles, const authz_mapping_t *mapping) {
    if (roles->count == roles->capacity) {
        size_t capacity = roles->capacity == 0 ? 16 : roles->capacity * 2;
        if (capacity > AUTHZ_ROLES_ENTRIES_MAX) capacity = AUTHZ_ROLES_ENTRIES_MAX;
        authz_mapping_t *grown = realloc(roles->mappings, capacity * sizeof(*grown));
        if (grown == NULL) return -1;
        roles->mappings = grown;
        roles->capacity = capacity;
    }
    assert(roles->count < roles->capacity);
    roles->mappings[roles->count++] = *mapping;
    return 0;
}

/* Reads every line of `file` into `roles`; 0 or -1 with `error`. */
static int roles_read(FILE *file, const char *path, authz_roles_t *roles, char *error,
                      size_t error_size) {
    char line[AUTHZ_ROLES_LINE_SIZE_MAX + 1];
    for (uint32_t number = 1;; number++) {
        int status = line_read(file, line);
        if (status == 0) return 0;
        if (number > AUTHZ_ROLES_LINES_MAX) {
            return line_error(error, error_size, path, number, "more than %d lines",
                              AUTHZ_ROLES_LINES_MAX);
        }
        if (status == -1) {
            return line_error(error, error_size, path, number, "line longer than %d bytes",
                              AUTHZ_ROLES_LINE_SIZE_MAX);
        }
        if (status == -2) return line_error(error, error_size, path, number, "a NUL byte");
        if (status == -3) {
            return line_error(error, error_size, path, number, "read error: %s", strerror(errno));
        }
        char *text = line_trim(line);
        if (text[0] == '\0' || text[0] == '#') continue;
        if (roles->count == AUTHZ_ROLES_ENTRIES_MAX) {
            return line_error(error, error_size, path, number, "more than %d mappings",
                              AUTHZ_ROLES_ENTRIES_MAX);
        }
        authz_mapping_t mapping;
        memset(&mapping, 0, sizeof(mapping));
        mapping.line = number;
        const char *wrong = mapping_parse(text, &mapping);
        if (wrong != NULL) return line_error(error, error_size, path, number, "%s", wrong);
        if (roles_append(roles, &mapping) != 0) {
            return line_error(error, error_size, path, 0, "out of memory");
        }
    }
}

/* Sorts the mappings and refuses a selector given twice, naming the
 * earliest line that repeats one (whatever the sort order) and the line
 * that mapped it first. */
static int roles_index(authz_roles_t *roles, const char *path, char *error, size_t error_size) {
    if (roles->count > 1) {
        qsort(roles->mappings, roles->count, sizeof(roles->mappings[0]), mapping_compare);
    }
    const authz_mapping_t *repeat = NULL;
    const authz_mapping_t *first = NULL;
    size_t run_start = 0; /* equal keys sort by line: the run's first is the earliest */
    for (size_t i = 1; i < roles->count; i++) {
        const authz_mapping_t *a = &roles->mappings[i - 1];
        const authz_mapping_t *b = &roles->mappings[i];
        if (a->kind != b->kind || strcmp(a->key, b->key) != 0) {
            run_start = i;
            continue;
        }
        assert(b->line > roles->mappings[run_start].line);
        if (repeat == NULL || b->line < repeat->line) {
            repeat = b;
            first = &roles->mappings[run_start];
        }
    }
    if (repeat == NULL) return 0;
    return line_error(error, error_size, path, repeat->line,
                      "this certificate is already mapped on line %u", first->line);
}

int authz_roles_load(const char *path, authz_roles_t **roles_out, char *error,
                     size_t error_size) {
    assert(path != NULL && roles_out != NULL);
    *roles_out = NULL;
    if (error != NULL && error_size > 0) error[0] = '\0';
    FILE *file = fopen(path, "r");
    if (file == NULL) return line_error(error, error_size, path, 0, "%s", strerror(errno));
    authz_roles_t *roles = calloc(1, sizeof(*roles));
    if (roles == NULL) {
        fclose(file);
        return line_error(error, error_size, path, 0, "out of memory");
    }
    int result = roles_read(file, path, roles, error, error_size);
    fclose(file);
    if (result == 0) result = roles_index(roles, path, error, error_size);
    if (result != 0) {
        authz_roles_free(roles);
        return -1;
    }
    *roles_out = roles;
    return 0;
}

static const authz_mapping_t *roles_find(const authz_roles_t *roles, mapping_kind_t kind,
                                         const char *key) {
    size_t low = 0, high = roles->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        const authz_mapping_t *m = &roles->mappings[middle];
        int order = m->kind != kind ? (m->kind < kind ? -1 : 1) : strcmp(m->key, key);
        if (order == 0) return m;
        if (order < 0) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    return NULL;
}

bool authz_roles_lookup(const authz_roles_t *roles, const char *fingerprint_hex,
                        const char *subject, server_identity_t *identity_out) {
    assert(identity_out != NULL);
    memset(identity_out, 0, sizeof(*identity_out));
    identity_out->role = SERVER_ROLE_NONE;
    char fingerprint[FINGERPRINT_HEX_SIZE + 1];
    bool fingerprint_valid = fingerprint_hex != NULL &&
                             fingerprint_normalize(fingerprint_hex, strlen(fingerprint_hex),
                                                   fingerprint);
    snprintf(identity_out->name, sizeof(identity_out->name), "sha256:%s",
             fingerprint_valid ? fingerprint : "?");
    if (roles == NULL) return false;
    const authz_mapping_t *found = NULL;
    if (fingerprint_valid) found = roles_find(roles, MAPPING_FINGERPRINT, fingerprint);
    if (found == NULL && subject != NULL && strlen(subject) <= AUTHZ_SUBJECT_SIZE_MAX) {
        found = roles_find(roles, MAPPING_SUBJECT, subject);
        if (found != NULL) {
            /* "subject:" and as much of the subject as fits (a log name). */
            static const char prefix[] = "subject:";
            size_t room = sizeof(identity_out->name) - sizeof(prefix);
            size_t size = strlen(subject) < room ? strlen(subject) : room;
            memcpy(identity_out->name, prefix, sizeof(prefix) - 1);
            memcpy(identity_out->name + sizeof(prefix) - 1, subject, size);
            identity_out->name[sizeof(prefix) - 1 + size] = '\0';
        }
    }
    if (found == NULL) return false;
    identity_out->role = found->role;
    identity_out->scope_id = found->scope_id;
    return true;
}

void authz_roles_free(authz_roles_t *roles) {
    if (roles == NULL) return;
    free(roles->mappings);
    free(roles);
}
