/*
 * test_authz.c — roles and authorization (issue 6, points 1, 6 and 7):
 * the whole role × operation matrix, in-process, against a real ledger.
 *
 * The one source of truth is server/authz.c's table (authz_operations).
 * This program checks that:
 *   - the table has one row per field of Request's oneof, in field order,
 *     and its write column agrees with the dispatcher's;
 *   - docs/security.md's "Roles" table says exactly the same, cell by cell
 *     (parsed from the markdown);
 *   - the statements of the issue hold of it (operator everything, auditor
 *     writes nothing but a signature, app never funds or grants, ...);
 *   - every cell behaves as it says on real requests: for each role and
 *     each operation a request naming the identity's own entities, another
 *     company's, and ones that do not exist, through authz_allowed_scoped
 *     and, for every refusal, through dispatch_request (status 11, nothing
 *     written, one log line without the request's contents);
 *   - the roles file parser accepts a good file, refuses every kind of bad
 *     line with FILE:LINE, and holds its limits at the bound.
 */
#include <fcntl.h>
#include <unistd.h>

#include "authz.h"
#include "cli.h"
#include "dispatch.h"
#include "frame.h"
#include "welfare_fixture.h"

#ifndef SECURITY_DOC
#error "SECURITY_DOC (the path of docs/security.md) is set by tests/meson.build"
#endif

#define OP(name) BORSELLINO__V1__REQUEST__OP_##name

static const server_role_t roles_all[] = {SERVER_ROLE_NONE, SERVER_ROLE_OPERATOR,
                                          SERVER_ROLE_COMPANY, SERVER_ROLE_APP,
                                          SERVER_ROLE_PROVIDER, SERVER_ROLE_AUDITOR};
enum { ROLES_COUNT = sizeof roles_all / sizeof roles_all[0] };

/* ------------------------------------------------------------------------ */
/* The table against the protocol and the dispatcher                        */

static void test_table_covers_every_operation(void) {
    size_t count = 0;
    const authz_operation_t *table = authz_operations(&count);
    const ProtobufCMessageDescriptor *descriptor = &borsellino__v1__request__descriptor;
    size_t ops = 0;
    int previous = 0;
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[i];
        if (field->id == 1) continue; /* request_id */
        ops++;
        const authz_operation_t *row =
            authz_operation_find((Borsellino__V1__Request__OpCase)field->id);
        if (row == NULL) {
            printf("# operation %s (%u) is not in authz.c's table\n", field->name, field->id);
            TEST_CHECK(row != NULL);
            continue;
        }
        TEST_CHECK(strcmp(row->name, field->name) == 0);
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = row->op;
        if (row->write != dispatch_request_is_write(&request)) {
            printf("# %s: authz says write=%d, dispatch says %d\n", row->name, row->write,
                   dispatch_request_is_write(&request));
            TEST_CHECK(row->write == dispatch_request_is_write(&request));
        }
        TEST_CHECK((int)field->id > previous);
        previous = (int)field->id;
    }
    TEST_CHECK_EQ(count, ops);
    for (size_t i = 1; i < count; i++) TEST_CHECK(table[i - 1].op < table[i].op);
    TEST_CHECK(authz_operation_find(BORSELLINO__V1__REQUEST__OP__NOT_SET) == NULL);
    TEST_CHECK(authz_operation_find((Borsellino__V1__Request__OpCase)999) == NULL);
}

/* The issue's own words, as properties of the table. */
static void test_table_says_what_the_issue_says(void) {
    size_t count = 0;
    const authz_operation_t *table = authz_operations(&count);
    for (size_t i = 0; i < count; i++) {
        const authz_operation_t *row = &table[i];
        /* operator: everything; no identity: nothing. */
        TEST_CHECK_EQ(row->rules[SERVER_ROLE_OPERATOR], AUTHZ_ALLOW);
        TEST_CHECK_EQ(row->rules[SERVER_ROLE_NONE], AUTHZ_DENY);
        /* auditor: read everything, write nothing (a signature changes no
         * balance: the documented exception). */
        if (row->op == OP(AUDIT_SIGN)) {
            TEST_CHECK_EQ(row->rules[SERVER_ROLE_AUDITOR], AUTHZ_ALLOW);
        } else {
            TEST_CHECK_EQ(row->rules[SERVER_ROLE_AUDITOR], row->write ? AUTHZ_DENY : AUTHZ_ALLOW);
        }
        /* The core operations' writes are the operator's only. */
        if (row->op == OP(CREATE_ACCOUNTS) || row->op == OP(CREATE_TRANSFERS)) {
            for (int r = SERVER_ROLE_COMPANY; r <= SERVER_ROLE_AUDITOR; r++) {
                TEST_CHECK_EQ(row->rules[r], AUTHZ_DENY);
            }
        }
        /* Only the two scoped roles have "own" cells, and only they need
         * the ledger to decide. */
        for (int r = 0; r < ROLES_COUNT; r++) {
            if (r != SERVER_ROLE_COMPANY && r != SERVER_ROLE_PROVIDER) {
                TEST_CHECK(row->rules[r] != AUTHZ_OWN);
            }
        }
        /* Status: every identified role. */
        if (row->op == OP(STATUS)) {
            for (int r = SERVER_ROLE_OPERATOR; r <= SERVER_ROLE_AUDITOR; r++) {
                TEST_CHECK_EQ(row->rules[r], AUTHZ_ALLOW);
            }
        }
    }
    /* app: never fund or grant; purchases, holds, refunds, reimbursements. */
    const Borsellino__V1__Request__OpCase app_never[] = {OP(WELFARE_FUND), OP(WELFARE_GRANT),
                                                         OP(WELFARE_PAYOUT)};
    for (size_t i = 0; i < sizeof app_never / sizeof app_never[0]; i++) {
        TEST_CHECK_EQ(authz_operation_find(app_never[i])->rules[SERVER_ROLE_APP], AUTHZ_DENY);
    }
    const Borsellino__V1__Request__OpCase app_may[] = {
        OP(WELFARE_PURCHASE), OP(WELFARE_PURCHASES), OP(WELFARE_CAPTURE),
        OP(WELFARE_VOID),     OP(WELFARE_REFUND),    OP(WELFARE_REIMBURSE)};
    for (size_t i = 0; i < sizeof app_may / sizeof app_may[0]; i++) {
        TEST_CHECK_EQ(authz_operation_find(app_may[i])->rules[SERVER_ROLE_APP], AUTHZ_ALLOW);
    }
    /* company: grants, plans and statements of its own; its funds seen,
     * not written (docs/security.md says why). */
    TEST_CHECK_EQ(authz_operation_find(OP(WELFARE_GRANT))->rules[SERVER_ROLE_COMPANY], AUTHZ_OWN);
    TEST_CHECK_EQ(authz_operation_find(OP(WELFARE_CREATE_PLAN))->rules[SERVER_ROLE_COMPANY],
                  AUTHZ_OWN);
    TEST_CHECK_EQ(authz_operation_find(OP(WELFARE_FUNDER_STATEMENT))->rules[SERVER_ROLE_COMPANY],
                  AUTHZ_OWN);
    TEST_CHECK_EQ(authz_operation_find(OP(WELFARE_FUND))->rules[SERVER_ROLE_COMPANY], AUTHZ_DENY);
    /* provider: its own statement, and refunds of its own sales. */
    TEST_CHECK_EQ(
        authz_operation_find(OP(WELFARE_PROVIDER_STATEMENT))->rules[SERVER_ROLE_PROVIDER],
        AUTHZ_OWN);
    TEST_CHECK_EQ(authz_operation_find(OP(WELFARE_REFUND))->rules[SERVER_ROLE_PROVIDER],
                  AUTHZ_OWN);
}

/* ------------------------------------------------------------------------ */
/* docs/security.md                                                         */

static char *file_read(const char *path) {
    FILE *file = fopen(path, "r");
    if (file == NULL) return NULL;
    size_t capacity = 1 << 16, size = 0;
    char *text = malloc(capacity);
    TEST_REQUIRE(text != NULL);
    size_t got;
    while ((got = fread(text + size, 1, capacity - size - 1, file)) > 0) {
        size += got;
        if (size + 1 == capacity) {
            capacity *= 2;
            text = realloc(text, capacity);
            TEST_REQUIRE(text != NULL);
        }
    }
    text[size] = '\0';
    fclose(file);
    return text;
}

/* Splits a markdown table row "| a | b |" into trimmed cells. */
static int row_cells(char *line, char *cells[], int cells_max) {
    int count = 0;
    char *at = strchr(line, '|');
    while (at != NULL && count < cells_max) {
        char *next = strchr(at + 1, '|');
        if (next == NULL) break;
        *next = '\0';
        char *cell = at + 1;
        while (*cell == ' ') cell++;
        size_t size = strlen(cell);
        while (size > 0 && cell[size - 1] == ' ') cell[--size] = '\0';
        cells[count++] = cell;
        at = next;
    }
    return count;
}

static const char *rule_word(authz_rule_t rule) {
    return rule == AUTHZ_ALLOW ? "yes" : rule == AUTHZ_OWN ? "own" : "no";
}

static void test_docs_table_matches(void) {
    char *text = file_read(SECURITY_DOC);
    if (text == NULL) printf("# cannot read %s\n", SECURITY_DOC);
    TEST_REQUIRE(text != NULL);
    char *section = strstr(text, "\n## Roles\n");
    TEST_REQUIRE(section != NULL);
    char *end = strstr(section + 1, "\n## ");
    if (end != NULL) *end = '\0';
    size_t count = 0;
    const authz_operation_t *table = authz_operations(&count);
    bool seen[64] = {false};
    TEST_REQUIRE(count <= 64);
    bool header_seen = false;
    size_t rows = 0;
    for (char *line = strtok(section, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] != '|') continue;
        char *cells[16];
        int n = row_cells(line, cells, 16);
        if (n >= 1 && strcmp(cells[0], "Field") == 0) {
            /* | Field | Operation | Kind | operator | company | app | provider | auditor | */
            TEST_CHECK_EQ(n, 8);
            for (int r = SERVER_ROLE_OPERATOR; r <= SERVER_ROLE_AUDITOR && n == 8; r++) {
                TEST_CHECK(strcmp(cells[2 + r], authz_role_name((server_role_t)r)) == 0);
            }
            header_seen = true;
            continue;
        }
        if (n < 1 || cells[0][0] == '-' || cells[0][0] == ':') continue; /* |---:| */
        TEST_CHECK_EQ(n, 8);
        if (n != 8) continue;
        rows++;
        const authz_operation_t *row =
            authz_operation_find((Borsellino__V1__Request__OpCase)atoi(cells[0]));
        if (row == NULL) {
            printf("# docs/security.md lists field %s, not an operation\n", cells[0]);
            TEST_CHECK(row != NULL);
            continue;
        }
        seen[row - table] = true;
        char quoted[64];
        snprintf(quoted, sizeof quoted, "`%s`", row->name);
        if (strcmp(cells[1], quoted) != 0) {
            printf("# field %s: docs say %s, the table %s\n", cells[0], cells[1], quoted);
            TEST_CHECK(strcmp(cells[1], quoted) == 0);
        }
        TEST_CHECK(strcmp(cells[2], row->write ? "write" : "read") == 0);
        for (int r = SERVER_ROLE_OPERATOR; r <= SERVER_ROLE_AUDITOR; r++) {
            const char *expected = rule_word(row->rules[r]);
            if (strcmp(cells[2 + r], expected) != 0) {
                printf("# %s × %s: docs/security.md says %s, authz.c says %s\n", row->name,
                       authz_role_name((server_role_t)r), cells[2 + r], expected);
                TEST_CHECK(strcmp(cells[2 + r], expected) == 0);
            }
        }
    }
    TEST_CHECK(header_seen);
    TEST_CHECK_EQ(rows, count);
    for (size_t i = 0; i < count; i++) {
        if (!seen[i]) printf("# %s is missing from docs/security.md\n", table[i].name);
        TEST_CHECK(seen[i]);
    }
    TEST_CHECK(strstr(text, "\n## Threat model\n") != NULL);
    free(text);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */

/* What a request names: the entities its scope check looks at. */
typedef struct targets {
    uint64_t funder, plan, employee, provider;
    uint64_t purchase; /* a sale of `provider` (refunds) */
} targets_t;

/* One request of any operation, with the storage of its sub-messages. */
typedef struct built {
    Borsellino__V1__Request request;
    Borsellino__V1__U128 u[8];
    Borsellino__V1__U128 *ids[1];
    Borsellino__V1__Account account;
    Borsellino__V1__Account *accounts[1];
    Borsellino__V1__Transfer transfer;
    Borsellino__V1__Transfer *transfers[1];
    Borsellino__V1__CreateAccountsRequest create_accounts;
    Borsellino__V1__CreateTransfersRequest create_transfers;
    Borsellino__V1__LookupAccountsRequest lookup_accounts;
    Borsellino__V1__LookupTransfersRequest lookup_transfers;
    Borsellino__V1__AccountHistoryRequest account_history;
    Borsellino__V1__BalanceAtRequest balance_at;
    Borsellino__V1__StatusRequest status;
    Borsellino__V1__WelfareCategory category;
    Borsellino__V1__WelfareSetCategoryRequest set_category;
    Borsellino__V1__WelfareFringeCap cap;
    Borsellino__V1__WelfareSetFringeCapRequest set_fringe_cap;
    Borsellino__V1__WelfareFunder funder;
    Borsellino__V1__WelfareCreateFunderRequest create_funder;
    Borsellino__V1__WelfareProvider provider;
    Borsellino__V1__WelfareCreateProviderRequest create_provider;
    Borsellino__V1__WelfareEmployee employee;
    Borsellino__V1__WelfareCreateEmployeeRequest create_employee;
    Borsellino__V1__WelfarePlan plan;
    Borsellino__V1__WelfareCreatePlanRequest create_plan;
    Borsellino__V1__WelfareSetCapClassRequest set_cap_class;
    Borsellino__V1__WelfareRegisterEntry register_entry;
    Borsellino__V1__WelfareRegisterEntry *register_entries[1];
    Borsellino__V1__WelfareRegisterRequest register_;
    Borsellino__V1__WelfareFundRequest fund;
    Borsellino__V1__WelfareGrantEntry entries_storage[2];
    Borsellino__V1__WelfareGrantEntry *entries[2];
    Borsellino__V1__WelfareGrantRequest grant;
    Borsellino__V1__WelfarePurchaseRequest purchase;
    Borsellino__V1__WelfarePurchaseRequest *purchases_list[1];
    Borsellino__V1__WelfarePurchasesRequest purchases;
    Borsellino__V1__WelfareCaptureRequest capture;
    Borsellino__V1__WelfareVoidRequest void_;
    Borsellino__V1__WelfareRefundRequest refund;
    Borsellino__V1__WelfareReimburseRequest reimburse;
    uint8_t receipt_hash[32];
    Borsellino__V1__WelfareSweepRequest sweep;
    Borsellino__V1__WelfareOffboardRequest offboard;
    Borsellino__V1__WelfarePayoutRequest payout;
    Borsellino__V1__WelfareWalletRequest wallet;
    Borsellino__V1__WelfareMovementsRequest movements;
    Borsellino__V1__WelfareFunderStatementRequest funder_statement;
    Borsellino__V1__WelfareProviderStatementRequest provider_statement;
    Borsellino__V1__WelfareAnnualStatementRequest annual_statement;
    Borsellino__V1__WelfareListCategoriesRequest list_categories;
    Borsellino__V1__WelfareFringeCapRequest fringe_cap;
    Borsellino__V1__WelfareLookupFunderRequest lookup_funder;
    Borsellino__V1__WelfareLookupProviderRequest lookup_provider;
    Borsellino__V1__WelfareLookupEmployeeRequest lookup_employee;
    Borsellino__V1__WelfareLookupPlanRequest lookup_plan;
    Borsellino__V1__WelfarePlatformRequest platform;
    Borsellino__V1__AuditSignRequest audit_sign;
    Borsellino__V1__AuditCheckpointsRequest audit_checkpoints;
    Borsellino__V1__AuditVerifyRequest audit_verify;
} built_t;

static Borsellino__V1__U128 *u128_set(built_t *b, int slot, uint64_t lo) {
    borsellino__v1__u128__init(&b->u[slot]);
    b->u[slot].lo = lo;
    return &b->u[slot];
}

/* Core and registry requests; false when `op` is not one of them. */
static bool build_core_and_registry(built_t *b, Borsellino__V1__Request__OpCase op,
                                    const targets_t *t) {
    Borsellino__V1__Request *r = &b->request;
    switch (op) {
    case OP(CREATE_ACCOUNTS):
        borsellino__v1__account__init(&b->account);
        b->account.id = u128_set(b, 0, 900001);
        b->account.ledger = 1;
        b->account.code = 1;
        b->accounts[0] = &b->account;
        borsellino__v1__create_accounts_request__init(&b->create_accounts);
        b->create_accounts.n_accounts = 1;
        b->create_accounts.accounts = b->accounts;
        r->create_accounts = &b->create_accounts;
        return true;
    case OP(CREATE_TRANSFERS):
        borsellino__v1__transfer__init(&b->transfer);
        b->transfer.id = u128_set(b, 0, 900002);
        b->transfer.debit_account_id = u128_set(b, 1, 1);
        b->transfer.credit_account_id = u128_set(b, 2, 2);
        b->transfer.amount = 1;
        b->transfer.ledger = 1;
        b->transfer.code = 1;
        b->transfers[0] = &b->transfer;
        borsellino__v1__create_transfers_request__init(&b->create_transfers);
        b->create_transfers.n_transfers = 1;
        b->create_transfers.transfers = b->transfers;
        r->create_transfers = &b->create_transfers;
        return true;
    case OP(LOOKUP_ACCOUNTS):
        borsellino__v1__lookup_accounts_request__init(&b->lookup_accounts);
        b->ids[0] = u128_set(b, 0, 1);
        b->lookup_accounts.n_ids = 1;
        b->lookup_accounts.ids = b->ids;
        r->lookup_accounts = &b->lookup_accounts;
        return true;
    case OP(LOOKUP_TRANSFERS):
        borsellino__v1__lookup_transfers_request__init(&b->lookup_transfers);
        b->ids[0] = u128_set(b, 0, 1);
        b->lookup_transfers.n_ids = 1;
        b->lookup_transfers.ids = b->ids;
        r->lookup_transfers = &b->lookup_transfers;
        return true;
    case OP(ACCOUNT_HISTORY):
        borsellino__v1__account_history_request__init(&b->account_history);
        b->account_history.account_id = u128_set(b, 0, 1);
        b->account_history.limit = 10;
        b->account_history.flags = 3;
        r->account_history = &b->account_history;
        return true;
    case OP(BALANCE_AT):
        borsellino__v1__balance_at_request__init(&b->balance_at);
        b->balance_at.account_id = u128_set(b, 0, 1);
        r->balance_at = &b->balance_at;
        return true;
    case OP(STATUS):
        borsellino__v1__status_request__init(&b->status);
        r->status = &b->status;
        return true;
    case OP(WELFARE_SET_CATEGORY):
        borsellino__v1__welfare_category__init(&b->category);
        b->category.id = 11;
        b->category.fiscal_basis = BORSELLINO__V1__WELFARE_FISCAL_BASIS__WELFARE_BASIS_F;
        b->category.name = (char *)"test";
        borsellino__v1__welfare_set_category_request__init(&b->set_category);
        b->set_category.category = &b->category;
        r->welfare_set_category = &b->set_category;
        return true;
    case OP(WELFARE_SET_FRINGE_CAP):
        borsellino__v1__welfare_fringe_cap__init(&b->cap);
        b->cap.year = 2030;
        b->cap.standard = 100;
        b->cap.with_children = 200;
        borsellino__v1__welfare_set_fringe_cap_request__init(&b->set_fringe_cap);
        b->set_fringe_cap.cap = &b->cap;
        r->welfare_set_fringe_cap = &b->set_fringe_cap;
        return true;
    case OP(WELFARE_CREATE_FUNDER):
        borsellino__v1__welfare_funder__init(&b->funder);
        b->funder.id = u128_set(b, 0, 900003);
        b->funder.kind = BORSELLINO__V1__WELFARE_FUNDER_KIND__WELFARE_FUNDER_COMPANY;
        borsellino__v1__welfare_create_funder_request__init(&b->create_funder);
        b->create_funder.funder = &b->funder;
        r->welfare_create_funder = &b->create_funder;
        return true;
    case OP(WELFARE_CREATE_PROVIDER):
        borsellino__v1__welfare_provider__init(&b->provider);
        b->provider.id = u128_set(b, 0, 900004);
        b->provider.categories = 2;
        borsellino__v1__welfare_create_provider_request__init(&b->create_provider);
        b->create_provider.provider = &b->provider;
        r->welfare_create_provider = &b->create_provider;
        return true;
    case OP(WELFARE_CREATE_EMPLOYEE):
        borsellino__v1__welfare_employee__init(&b->employee);
        b->employee.id = u128_set(b, 0, 900005);
        b->employee.funder_id = u128_set(b, 1, t->funder);
        borsellino__v1__welfare_create_employee_request__init(&b->create_employee);
        b->create_employee.employee = &b->employee;
        r->welfare_create_employee = &b->create_employee;
        return true;
    case OP(WELFARE_CREATE_PLAN):
        borsellino__v1__welfare_plan__init(&b->plan);
        b->plan.id = u128_set(b, 0, 900006);
        b->plan.funder_id = u128_set(b, 1, t->funder);
        b->plan.valid_from = WF_T2026;
        b->plan.valid_until = WF_T2027;
        b->plan.categories = WF_CATS_DEFAULT;
        b->plan.expiry_policy = BORSELLINO__V1__WELFARE_EXPIRY_POLICY__WELFARE_EXPIRY_FORFEIT;
        borsellino__v1__welfare_create_plan_request__init(&b->create_plan);
        b->create_plan.plan = &b->plan;
        r->welfare_create_plan = &b->create_plan;
        return true;
    case OP(WELFARE_SET_CAP_CLASS):
        borsellino__v1__welfare_set_cap_class_request__init(&b->set_cap_class);
        b->set_cap_class.employee_id = u128_set(b, 0, t->employee);
        b->set_cap_class.year = 2026;
        r->welfare_set_cap_class = &b->set_cap_class;
        return true;
    case OP(WELFARE_REGISTER):
        borsellino__v1__welfare_employee__init(&b->employee);
        b->employee.id = u128_set(b, 0, 900030);
        b->employee.funder_id = u128_set(b, 1, t->funder);
        borsellino__v1__welfare_register_entry__init(&b->register_entry);
        b->register_entry.entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_EMPLOYEE;
        b->register_entry.employee = &b->employee;
        b->register_entries[0] = &b->register_entry;
        borsellino__v1__welfare_register_request__init(&b->register_);
        b->register_.n_entries = 1;
        b->register_.entries = b->register_entries;
        r->welfare_register = &b->register_;
        return true;
    default:
        return false;
    }
}

/* Money writes; false when `op` is not one of them. */
static bool build_money(built_t *b, Borsellino__V1__Request__OpCase op, const targets_t *t) {
    Borsellino__V1__Request *r = &b->request;
    switch (op) {
    case OP(WELFARE_FUND):
        borsellino__v1__welfare_fund_request__init(&b->fund);
        b->fund.id = u128_set(b, 0, 900007);
        b->fund.funder_id = u128_set(b, 1, t->funder);
        b->fund.amount = 100;
        r->welfare_fund = &b->fund;
        return true;
    case OP(WELFARE_GRANT):
        borsellino__v1__welfare_grant_request__init(&b->grant);
        b->grant.id = u128_set(b, 0, 900008);
        b->grant.plan_id = u128_set(b, 1, t->plan);
        borsellino__v1__welfare_grant_entry__init(&b->entries_storage[0]);
        b->entries_storage[0].employee_id = u128_set(b, 2, t->employee);
        b->entries_storage[0].amount = 1;
        b->entries[0] = &b->entries_storage[0];
        b->grant.n_entries = 1;
        b->grant.entries = b->entries;
        r->welfare_grant = &b->grant;
        return true;
    case OP(WELFARE_PURCHASE):
    case OP(WELFARE_PURCHASES):
        borsellino__v1__welfare_purchase_request__init(&b->purchase);
        b->purchase.id = u128_set(b, 0, 900009);
        b->purchase.employee_id = u128_set(b, 1, t->employee);
        b->purchase.provider_id = u128_set(b, 2, t->provider);
        b->purchase.category = 1;
        b->purchase.amount = 1;
        if (op == OP(WELFARE_PURCHASE)) {
            r->welfare_purchase = &b->purchase;
        } else {
            b->purchases_list[0] = &b->purchase;
            borsellino__v1__welfare_purchases_request__init(&b->purchases);
            b->purchases.n_purchases = 1;
            b->purchases.purchases = b->purchases_list;
            r->welfare_purchases = &b->purchases;
        }
        return true;
    case OP(WELFARE_CAPTURE):
        borsellino__v1__welfare_capture_request__init(&b->capture);
        b->capture.id = u128_set(b, 0, 900010);
        b->capture.purchase_id = u128_set(b, 1, 700);
        r->welfare_capture = &b->capture;
        return true;
    case OP(WELFARE_VOID):
        borsellino__v1__welfare_void_request__init(&b->void_);
        b->void_.id = u128_set(b, 0, 900011);
        b->void_.purchase_id = u128_set(b, 1, 700);
        r->welfare_void = &b->void_;
        return true;
    case OP(WELFARE_REFUND):
        borsellino__v1__welfare_refund_request__init(&b->refund);
        b->refund.id = u128_set(b, 0, 900012);
        b->refund.purchase_id = u128_set(b, 1, t->purchase);
        b->refund.amount = 1;
        r->welfare_refund = &b->refund;
        return true;
    case OP(WELFARE_REIMBURSE):
        borsellino__v1__welfare_reimburse_request__init(&b->reimburse);
        b->reimburse.id = u128_set(b, 0, 900013);
        b->reimburse.employee_id = u128_set(b, 1, t->employee);
        b->reimburse.category = 2;
        b->reimburse.receipt_date = 20260301;
        b->reimburse.amount = 1;
        b->reimburse.receipt_amount = 1;
        b->reimburse.receipt_hash.data = b->receipt_hash;
        b->reimburse.receipt_hash.len = sizeof b->receipt_hash;
        r->welfare_reimburse = &b->reimburse;
        return true;
    case OP(WELFARE_SWEEP):
        borsellino__v1__welfare_sweep_request__init(&b->sweep);
        b->sweep.id = u128_set(b, 0, 900014);
        b->sweep.plan_id = u128_set(b, 1, t->plan);
        r->welfare_sweep = &b->sweep;
        return true;
    case OP(WELFARE_OFFBOARD):
        borsellino__v1__welfare_offboard_request__init(&b->offboard);
        b->offboard.id = u128_set(b, 0, 900015);
        b->offboard.employee_id = u128_set(b, 1, t->employee);
        r->welfare_offboard = &b->offboard;
        return true;
    case OP(WELFARE_PAYOUT):
        borsellino__v1__welfare_payout_request__init(&b->payout);
        b->payout.id = u128_set(b, 0, 900016);
        b->payout.provider_id = u128_set(b, 1, t->provider);
        r->welfare_payout = &b->payout;
        return true;
    default:
        return false;
    }
}

/* Welfare reads and the audit requests; false when `op` is none. */
static bool build_reads(built_t *b, Borsellino__V1__Request__OpCase op, const targets_t *t) {
    Borsellino__V1__Request *r = &b->request;
    switch (op) {
    case OP(WELFARE_WALLET):
        borsellino__v1__welfare_wallet_request__init(&b->wallet);
        b->wallet.employee_id = u128_set(b, 0, t->employee);
        r->welfare_wallet = &b->wallet;
        return true;
    case OP(WELFARE_MOVEMENTS):
        borsellino__v1__welfare_movements_request__init(&b->movements);
        b->movements.employee_id = u128_set(b, 0, t->employee);
        b->movements.limit = 10;
        r->welfare_movements = &b->movements;
        return true;
    case OP(WELFARE_FUNDER_STATEMENT):
        borsellino__v1__welfare_funder_statement_request__init(&b->funder_statement);
        b->funder_statement.funder_id = u128_set(b, 0, t->funder);
        r->welfare_funder_statement = &b->funder_statement;
        return true;
    case OP(WELFARE_PROVIDER_STATEMENT):
        borsellino__v1__welfare_provider_statement_request__init(&b->provider_statement);
        b->provider_statement.provider_id = u128_set(b, 0, t->provider);
        r->welfare_provider_statement = &b->provider_statement;
        return true;
    case OP(WELFARE_ANNUAL_STATEMENT):
        borsellino__v1__welfare_annual_statement_request__init(&b->annual_statement);
        b->annual_statement.employee_id = u128_set(b, 0, t->employee);
        b->annual_statement.year = 2026;
        r->welfare_annual_statement = &b->annual_statement;
        return true;
    case OP(WELFARE_LIST_CATEGORIES):
        borsellino__v1__welfare_list_categories_request__init(&b->list_categories);
        r->welfare_list_categories = &b->list_categories;
        return true;
    case OP(WELFARE_FRINGE_CAP):
        borsellino__v1__welfare_fringe_cap_request__init(&b->fringe_cap);
        b->fringe_cap.year = 2026;
        r->welfare_fringe_cap = &b->fringe_cap;
        return true;
    case OP(WELFARE_LOOKUP_FUNDER):
        borsellino__v1__welfare_lookup_funder_request__init(&b->lookup_funder);
        b->lookup_funder.id = u128_set(b, 0, t->funder);
        r->welfare_lookup_funder = &b->lookup_funder;
        return true;
    case OP(WELFARE_LOOKUP_PROVIDER):
        borsellino__v1__welfare_lookup_provider_request__init(&b->lookup_provider);
        b->lookup_provider.id = u128_set(b, 0, t->provider);
        r->welfare_lookup_provider = &b->lookup_provider;
        return true;
    case OP(WELFARE_LOOKUP_EMPLOYEE):
        borsellino__v1__welfare_lookup_employee_request__init(&b->lookup_employee);
        b->lookup_employee.id = u128_set(b, 0, t->employee);
        r->welfare_lookup_employee = &b->lookup_employee;
        return true;
    case OP(WELFARE_LOOKUP_PLAN):
        borsellino__v1__welfare_lookup_plan_request__init(&b->lookup_plan);
        b->lookup_plan.id = u128_set(b, 0, t->plan);
        r->welfare_lookup_plan = &b->lookup_plan;
        return true;
    case OP(WELFARE_PLATFORM):
        borsellino__v1__welfare_platform_request__init(&b->platform);
        r->welfare_platform = &b->platform;
        return true;
    case OP(AUDIT_SIGN):
        borsellino__v1__audit_sign_request__init(&b->audit_sign);
        r->audit_sign = &b->audit_sign;
        return true;
    case OP(AUDIT_CHECKPOINTS):
        borsellino__v1__audit_checkpoints_request__init(&b->audit_checkpoints);
        r->audit_checkpoints = &b->audit_checkpoints;
        return true;
    case OP(AUDIT_VERIFY):
        borsellino__v1__audit_verify_request__init(&b->audit_verify);
        r->audit_verify = &b->audit_verify;
        return true;
    default:
        return false;
    }
}

/* A request of `op` naming `t`'s entities; *b is overwritten. */
static void build(built_t *b, Borsellino__V1__Request__OpCase op, const targets_t *t) {
    memset(b, 0, sizeof *b);
    borsellino__v1__request__init(&b->request);
    b->request.request_id = 77;
    b->request.op_case = op;
    bool known = build_core_and_registry(b, op, t) || build_money(b, op, t) ||
                 build_reads(b, op, t);
    if (!known) printf("# no builder for operation %d\n", (int)op);
    TEST_REQUIRE(known);
}

/* ------------------------------------------------------------------------ */
/* The matrix on a real ledger                                              */

/* Two companies (funders 10 and 20), each with a plan and an employee;
 * two providers. Ids of absent entities: 9xx. */
enum {
    FUNDER_A = 10, PLAN_A = 11, EMPLOYEE_A = 12, EMPLOYEE_A2 = 13,
    FUNDER_B = 20, PLAN_B = 21, EMPLOYEE_B = 22,
    PROVIDER_P = 30, PROVIDER_Q = 31,
    PURCHASE_P = 40, PURCHASE_Q = 41, /* employee A's purchases at P and at Q */
    ABSENT = 990,
};

static const targets_t targets_a = {FUNDER_A, PLAN_A, EMPLOYEE_A, PROVIDER_P, PURCHASE_P};
static const targets_t targets_b = {FUNDER_B, PLAN_B, EMPLOYEE_B, PROVIDER_Q, PURCHASE_Q};
static const targets_t targets_absent = {ABSENT, ABSENT + 1, ABSENT + 2, ABSENT + 3,
                                         ABSENT + 4};

static void platform_make(wf_t *w) {
    REQUIRE_OK(w_funder(w, FUNDER_A, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_funder(w, FUNDER_B, WELFARE_FUNDER_COMPANY));
    REQUIRE_OK(w_plan_2026(w, PLAN_A, FUNDER_A, WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_plan_2026(w, PLAN_B, FUNDER_B, WELFARE_EXPIRY_FORFEIT, 0));
    REQUIRE_OK(w_employee(w, EMPLOYEE_A, FUNDER_A));
    REQUIRE_OK(w_employee(w, EMPLOYEE_A2, FUNDER_A));
    REQUIRE_OK(w_employee(w, EMPLOYEE_B, FUNDER_B));
    REQUIRE_OK(w_provider(w, PROVIDER_P, 0, WF_CATS_DEFAULT));
    REQUIRE_OK(w_provider(w, PROVIDER_Q, 0, WF_CATS_DEFAULT));
    REQUIRE_OK(w_fund(w, 50, FUNDER_A, 100000));
    REQUIRE_OK(w_grant(w, 51, PLAN_A, EMPLOYEE_A, 50000));
    REQUIRE_OK(w_purchase(w, PURCHASE_P, EMPLOYEE_A, PROVIDER_P, CAT_EDUCATION, 1000));
    REQUIRE_OK(w_purchase(w, PURCHASE_Q, EMPLOYEE_A, PROVIDER_Q, CAT_EDUCATION, 1000));
}

static server_identity_t identity_of(server_role_t role) {
    server_identity_t identity;
    memset(&identity, 0, sizeof identity);
    identity.role = role;
    if (role == SERVER_ROLE_COMPANY) identity.scope_id = id128(FUNDER_A);
    if (role == SERVER_ROLE_PROVIDER) identity.scope_id = id128(PROVIDER_P);
    snprintf(identity.name, sizeof identity.name, "test:%s", authz_role_name(role));
    return identity;
}

/* The scoped decision, which must not fail. */
static bool decide(wf_t *w, const server_identity_t *identity, const built_t *b,
                   char *reason, size_t reason_size) {
    bool allowed = true;
    reason[0] = '\0';
    int error = authz_allowed_scoped(w->f.ledger, identity, &b->request, &allowed, reason,
                                     reason_size);
    TEST_CHECK_EQ(error, 0);
    if (!allowed) TEST_CHECK(strncmp(reason, "permission denied: ", 19) == 0);
    return allowed;
}

/* Checks one cell with one set of targets. `expected` is the decision. */
static void cell_check(wf_t *w, const authz_operation_t *row, server_role_t role,
                       const targets_t *t, const char *which, bool expected) {
    built_t *b = malloc(sizeof *b);
    TEST_REQUIRE(b != NULL);
    build(b, row->op, t);
    server_identity_t identity = identity_of(role);
    char reason[AUTHZ_REASON_SIZE];
    bool allowed = decide(w, &identity, b, reason, sizeof reason);
    if (allowed != expected) {
        printf("# %s × %s (%s entities): %s, expected %s%s%s\n", row->name,
               authz_role_name(role), which, allowed ? "allowed" : "denied",
               expected ? "allowed" : "denied", allowed ? "" : ": ", reason);
        test_failures_in_case++;
    }
    /* The static part agrees: it refuses only "no" cells. */
    char static_reason[AUTHZ_REASON_SIZE];
    bool static_allowed = authz_allowed(&identity, &b->request, static_reason,
                                        sizeof static_reason);
    TEST_CHECK_EQ(static_allowed, row->rules[role] != AUTHZ_DENY);
    free(b);
}

static void test_matrix(void) {
    wf_t *w = wf_open("authz_matrix");
    platform_make(w);
    size_t count = 0;
    const authz_operation_t *table = authz_operations(&count);
    size_t cells = 0;
    for (size_t i = 0; i < count; i++) {
        for (int r = 0; r < ROLES_COUNT; r++) {
            server_role_t role = roles_all[r];
            authz_rule_t rule = table[i].rules[role];
            /* Own entities: allowed unless the cell says no. */
            cell_check(w, &table[i], role, &targets_a, "own", rule != AUTHZ_DENY);
            /* Another company's / provider's, and absent ones: an "own"
             * cell refuses them; the others do not look. */
            cell_check(w, &table[i], role, &targets_b, "another's", rule == AUTHZ_ALLOW);
            cell_check(w, &table[i], role, &targets_absent, "absent", rule == AUTHZ_ALLOW);
            cells++;
        }
    }
    TEST_CHECK_EQ(cells, count * ROLES_COUNT);
    printf("# %zu cells (%zu operations × %d roles), 3 requests each\n", cells, count,
           ROLES_COUNT);
    wf_close(w);
}

/* A company's grant naming one of its employees and another company's is
 * refused as a whole; so is one whose plan is its own but employee not. */
static void test_company_grant_every_employee(void) {
    wf_t *w = wf_open("authz_grant");
    platform_make(w);
    server_identity_t company = identity_of(SERVER_ROLE_COMPANY);
    char reason[AUTHZ_REASON_SIZE];
    built_t *b = malloc(sizeof *b);
    TEST_REQUIRE(b != NULL);
    targets_t t = targets_a;
    build(b, OP(WELFARE_GRANT), &t);
    Borsellino__V1__U128 second;
    borsellino__v1__u128__init(&second);
    borsellino__v1__welfare_grant_entry__init(&b->entries_storage[1]);
    b->entries_storage[1].employee_id = &second;
    b->entries_storage[1].amount = 1;
    b->entries[1] = &b->entries_storage[1];
    b->grant.n_entries = 2;
    second.lo = EMPLOYEE_A2;
    TEST_CHECK(decide(w, &company, b, reason, sizeof reason));
    second.lo = EMPLOYEE_B;
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    TEST_CHECK(strstr(reason, "an employee that is not its own") != NULL);
    second.lo = ABSENT;
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    /* An entry without an employee id is not the company's either. */
    b->entries_storage[1].employee_id = NULL;
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    /* Own plan, other employee only. */
    t.employee = EMPLOYEE_B;
    build(b, OP(WELFARE_GRANT), &t);
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    /* Other plan, own employee. */
    t = targets_a;
    t.plan = PLAN_B;
    build(b, OP(WELFARE_GRANT), &t);
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    TEST_CHECK(strstr(reason, "a plan that is not its own") != NULL);
    /* A sub-message without its ids (a hostile client) is refused too. */
    build(b, OP(WELFARE_CREATE_PLAN), &targets_a);
    b->plan.funder_id = NULL;
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    b->create_plan.plan = NULL;
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    free(b);
    wf_close(w);
}

/* Reasons name the role and the operation, never the request's ids. */
static void test_reasons(void) {
    wf_t *w = wf_open("authz_reasons");
    platform_make(w);
    built_t *b = malloc(sizeof *b);
    TEST_REQUIRE(b != NULL);
    char reason[AUTHZ_REASON_SIZE];
    server_identity_t company = identity_of(SERVER_ROLE_COMPANY);
    build(b, OP(WELFARE_FUND), &targets_a);
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    TEST_CHECK(strcmp(reason, "permission denied: the company role may not run welfare_fund "
                              "(docs/security.md, Roles)") == 0);
    build(b, OP(WELFARE_WALLET), &targets_b);
    TEST_CHECK(!decide(w, &company, b, reason, sizeof reason));
    TEST_CHECK(strcmp(reason, "permission denied: the company role may run welfare_wallet only "
                              "for its own company, and the request names an employee that is "
                              "not its own") == 0);
    server_identity_t nobody = identity_of(SERVER_ROLE_NONE);
    build(b, OP(STATUS), &targets_a);
    TEST_CHECK(!decide(w, &nobody, b, reason, sizeof reason));
    TEST_CHECK(strstr(reason, "no identity") != NULL);
    /* A role number out of range is nobody. */
    server_identity_t bogus = identity_of(SERVER_ROLE_OPERATOR);
    bogus.role = (server_role_t)77;
    TEST_CHECK(!decide(w, &bogus, b, reason, sizeof reason));
    /* No operation: not ours to refuse (the dispatcher answers it). */
    b->request.op_case = BORSELLINO__V1__REQUEST__OP__NOT_SET;
    server_identity_t app = identity_of(SERVER_ROLE_APP);
    TEST_CHECK(decide(w, &app, b, reason, sizeof reason));
    TEST_CHECK(!decide(w, &nobody, b, reason, sizeof reason));
    /* A short buffer is cut, NUL-terminated. */
    build(b, OP(WELFARE_FUND), &targets_a);
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    TEST_CHECK(!authz_allowed(&company, &b->request, tiny, sizeof tiny));
    TEST_CHECK(tiny[7] == '\0');
    free(b);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* Through the dispatcher                                                   */

static Borsellino__V1__Response *response_of(const server_request_t *request) {
    TEST_REQUIRE(request->response_frame != NULL);
    TEST_REQUIRE(request->response_size >= FRAME_HEADER_SIZE);
    Borsellino__V1__Response *response =
        frame_response_decode(request->response_frame + FRAME_HEADER_SIZE,
                              request->response_size - FRAME_HEADER_SIZE, NULL);
    TEST_REQUIRE(response != NULL);
    return response;
}

/* Runs `b` as `identity` as the writer does (a write group, or alone for
 * audit requests), then aborts the group. Returns the response status;
 * *log_out gets what was logged (caller frees). */
static int dispatch_as(wf_t *w, const server_identity_t *identity, built_t *b,
                       char **log_out) {
    static const server_config_t config = {.batch_events_max = 8190,
                                           .frame_size_max = 1 << 20};
    dispatch_context_t context = {w->f.ledger, &config, 1, 1, 0};
    server_request_t request;
    memset(&request, 0, sizeof request);
    request.identity = *identity;
    request.request = &b->request;
    /* stderr into a file for the log line. */
    char log_path[PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/dispatch.log", w->f.path);
    fflush(stderr);
    int saved = dup(2);
    int log_fd = open(log_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    TEST_REQUIRE(saved >= 0 && log_fd >= 0);
    dup2(log_fd, 2);
    close(log_fd);
    bool exclusive = dispatch_request_is_exclusive(&b->request);
    if (!exclusive) TEST_REQUIRE(ledger_write_begin(w->f.ledger) == 0);
    int error = dispatch_request(&context, &request);
    dispatch_finish(&request); /* the loop's share: a create call's response */
    if (!exclusive) ledger_write_abort(w->f.ledger);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    TEST_CHECK_EQ(error, 0);
    *log_out = file_read(log_path);
    TEST_REQUIRE(*log_out != NULL);
    Borsellino__V1__Response *response = response_of(&request);
    int status = (int)response->status;
    TEST_CHECK_EQ(response->request_id, 77);
    if (status == BORSELLINO__V1__STATUS__STATUS_PERMISSION_DENIED) {
        TEST_CHECK(strncmp(response->message, "permission denied: ", 19) == 0);
        TEST_CHECK_EQ(response->result_case, BORSELLINO__V1__RESPONSE__RESULT__NOT_SET);
    }
    frame_response_free(response);
    free(request.response_frame);
    return status;
}

/* Every refused cell, through dispatch_request: status 11, nothing
 * written, one log line with identity, role, op and reason only. */
static void test_dispatch_denials(void) {
    wf_t *w = wf_open("authz_dispatch");
    platform_make(w);
    size_t count = 0;
    const authz_operation_t *table = authz_operations(&count);
    built_t *b = malloc(sizeof *b);
    TEST_REQUIRE(b != NULL);
    size_t denials = 0;
    for (size_t i = 0; i < count; i++) {
        for (int r = 0; r < ROLES_COUNT; r++) {
            server_role_t role = roles_all[r];
            if (table[i].rules[role] == AUTHZ_ALLOW) continue;
            /* "no": any entities; "own": another company's. */
            build(b, table[i].op, &targets_b);
            server_identity_t identity = identity_of(role);
            snprintf(identity.name, sizeof identity.name, "subject:CN=x \"y\"\\z\nevent=forged");
            ledger_stats_t before = fixture_stats(&w->f);
            char *log = NULL;
            int status = dispatch_as(w, &identity, b, &log);
            ledger_stats_t after = fixture_stats(&w->f);
            if (status != BORSELLINO__V1__STATUS__STATUS_PERMISSION_DENIED) {
                printf("# %s × %s: status %d\n", table[i].name, authz_role_name(role), status);
            }
            TEST_CHECK_EQ(status, BORSELLINO__V1__STATUS__STATUS_PERMISSION_DENIED);
            TEST_CHECK_EQ(after.journal_sequence, before.journal_sequence);
            char expected[256];
            snprintf(expected, sizeof expected,
                     " event=denied identity=\"subject:CN=x ?y??z?event=forged\" role=%s op=%s "
                     "reason=\"permission denied: ",
                     authz_role_name(role), table[i].name);
            if (strstr(log, expected) == NULL) printf("# log: %s# expected: %s\n", log, expected);
            TEST_CHECK(strstr(log, expected) != NULL);
            /* One line, and no id of the request in it. */
            char *newline = strchr(log, '\n');
            TEST_CHECK(newline != NULL && newline[1] == '\0');
            TEST_CHECK(strstr(log, "9000") == NULL); /* the request's own ids */
            TEST_CHECK(strstr(log, "amount") == NULL);
            free(log);
            denials++;
        }
    }
    printf("# %zu refused cells dispatched\n", denials);
    /* An allowed request goes through (and logs nothing). */
    build(b, OP(WELFARE_LOOKUP_FUNDER), &targets_a);
    server_identity_t company = identity_of(SERVER_ROLE_COMPANY);
    char *log = NULL;
    TEST_CHECK_EQ(dispatch_as(w, &company, b, &log), BORSELLINO__V1__STATUS__STATUS_OK);
    TEST_CHECK_EQ(strlen(log), 0);
    free(log);
    build(b, OP(STATUS), &targets_a);
    server_identity_t provider = identity_of(SERVER_ROLE_PROVIDER);
    TEST_CHECK_EQ(dispatch_as(w, &provider, b, &log), BORSELLINO__V1__STATUS__STATUS_OK);
    free(log);
    /* An unknown operation is still UNKNOWN_OPERATION for an identified
     * role, and denied for nobody. */
    build(b, OP(STATUS), &targets_a);
    b->request.op_case = BORSELLINO__V1__REQUEST__OP__NOT_SET;
    TEST_CHECK_EQ(dispatch_as(w, &provider, b, &log),
                  BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION);
    free(log);
    server_identity_t nobody = identity_of(SERVER_ROLE_NONE);
    TEST_CHECK_EQ(dispatch_as(w, &nobody, b, &log),
                  BORSELLINO__V1__STATUS__STATUS_PERMISSION_DENIED);
    TEST_CHECK(strstr(log, " op=unknown ") != NULL);
    free(log);
    free(b);
    wf_close(w);
}

/* ------------------------------------------------------------------------ */
/* The roles file                                                           */

static char roles_dir[PATH_MAX];

static const char *roles_write(const char *name, const char *text, size_t size) {
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", roles_dir, name);
    FILE *file = fopen(path, "wb");
    TEST_REQUIRE(file != NULL);
    TEST_REQUIRE(fwrite(text, 1, size, file) == size);
    fclose(file);
    return path;
}

#define FP_A "3f1c000000000000000000000000000000000000000000000000000000009a0e"
#define FP_B "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define FP_B_UPPER_COLONS                                                    \
    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:" \
    "88:99:AA:BB:CC:DD:EE:FF"
#define FP_C "c000000000000000000000000000000000000000000000000000000000000001"
#define FP_D "d000000000000000000000000000000000000000000000000000000000000002"
#define FP_UNKNOWN "e000000000000000000000000000000000000000000000000000000000000003"

static void test_roles_good_file(void) {
    const char *text =
        "# borsellino roles\n"
        "\n"
        "   # an indented comment\n"
        "sha256:" FP_A "   operator\n"
        "sha256:" FP_B_UPPER_COLONS "\tprovider:0x2A\r\n"
        "subject:CN=payroll,O=Latteria Padana\\, S.r.l.,C=IT  company:latteria-padana  \n"
        "subject:CN=wallet-app,O=Platform app\n"
        "sha256:" FP_C " company:340282366920938463463374607431768211454\n"
        "sha256:" FP_D " auditor\n"
        "subject:CN=fallback company:42"; /* no final newline */
    const char *path = roles_write("good.roles", text, strlen(text));
    authz_roles_t *roles = NULL;
    char error[256] = "untouched";
    int rc = authz_roles_load(path, &roles, error, sizeof error);
    if (rc != 0) printf("# %s\n", error);
    TEST_REQUIRE(rc == 0 && roles != NULL);
    TEST_CHECK_EQ(error[0], '\0');
    server_identity_t identity;
    /* By fingerprint. */
    TEST_CHECK(authz_roles_lookup(roles, FP_A, "CN=whatever", &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_OPERATOR);
    TEST_CHECK(ledger_u128_is_zero(identity.scope_id));
    TEST_CHECK(strcmp(identity.name, "sha256:" FP_A) == 0);
    TEST_CHECK(authz_roles_lookup(roles, FP_B, NULL, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_PROVIDER);
    TEST_CHECK(ledger_u128_equal(identity.scope_id, id128(42)));
    TEST_CHECK(authz_roles_lookup(roles, FP_C, NULL, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_COMPANY);
    TEST_CHECK_EQ(identity.scope_id.hi, UINT64_MAX);
    TEST_CHECK_EQ(identity.scope_id.lo, UINT64_MAX - 1);
    TEST_CHECK(authz_roles_lookup(roles, FP_D, NULL, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_AUDITOR);
    /* By subject, blanks and escaped commas included; a name scope is the
     * CLI's id for that name. */
    const char *payroll = "CN=payroll,O=Latteria Padana\\, S.r.l.,C=IT";
    TEST_CHECK(authz_roles_lookup(roles, FP_UNKNOWN, payroll, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_COMPANY);
    ledger_u128_t cli_id;
    TEST_REQUIRE(cli_parse_named_id("latteria-padana", &cli_id));
    TEST_CHECK(ledger_u128_equal(identity.scope_id, cli_id));
    TEST_CHECK(strncmp(identity.name, "subject:CN=payroll,", 19) == 0);
    TEST_CHECK(authz_roles_lookup(roles, FP_UNKNOWN, "CN=wallet-app,O=Platform", &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_APP);
    TEST_CHECK(authz_roles_lookup(roles, FP_UNKNOWN, "CN=fallback", &identity));
    TEST_CHECK(ledger_u128_equal(identity.scope_id, id128(42)));
    /* The fingerprint wins over the subject. */
    TEST_CHECK(authz_roles_lookup(roles, FP_D, payroll, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_AUDITOR);
    /* Subjects compare byte for byte. */
    TEST_CHECK(!authz_roles_lookup(roles, FP_UNKNOWN, "cn=fallback", &identity));
    TEST_CHECK(!authz_roles_lookup(roles, FP_UNKNOWN, "CN=fallback ", &identity));
    /* Unknown: no role, and a name to log. */
    TEST_CHECK(!authz_roles_lookup(roles, FP_UNKNOWN, "CN=nobody", &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_NONE);
    TEST_CHECK(strcmp(identity.name, "sha256:" FP_UNKNOWN) == 0);
    TEST_CHECK(!authz_roles_lookup(roles, "not hex", NULL, &identity));
    TEST_CHECK(strcmp(identity.name, "sha256:?") == 0);
    TEST_CHECK(!authz_roles_lookup(NULL, FP_A, NULL, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_NONE);
    authz_roles_free(roles);
    authz_roles_free(NULL);
    /* Names hash exactly as the CLI's; numbers parse as the CLI's. */
    const char *scopes[] = {"acme", "0x1", "0XfF", "18446744073709551616", "Acme_S.p.A.",
                            "0x0123456789abcdef0123456789ABCDEF"};
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "subject:CN=s company:%s\n", scopes[i]);
        path = roles_write("scope.roles", line, strlen(line));
        TEST_REQUIRE(authz_roles_load(path, &roles, error, sizeof error) == 0);
        TEST_CHECK(authz_roles_lookup(roles, FP_UNKNOWN, "CN=s", &identity));
        TEST_REQUIRE(cli_parse_named_id(scopes[i], &cli_id));
        if (!ledger_u128_equal(identity.scope_id, cli_id)) printf("# scope %s\n", scopes[i]);
        TEST_CHECK(ledger_u128_equal(identity.scope_id, cli_id));
        authz_roles_free(roles);
    }
    /* An empty file (or only comments) maps nobody. */
    path = roles_write("empty.roles", "# nobody yet\n", 13);
    TEST_REQUIRE(authz_roles_load(path, &roles, error, sizeof error) == 0);
    TEST_CHECK(!authz_roles_lookup(roles, FP_A, NULL, &identity));
    authz_roles_free(roles);
}

/* Loads `text` and expects the error "PATH:LINE: ..." containing `what`. */
static void expect_bad(const char *text, size_t size, unsigned line, const char *what) {
    const char *path = roles_write("bad.roles", text, size);
    authz_roles_t *roles = (authz_roles_t *)&roles; /* must be set to NULL */
    char error[512];
    int rc = authz_roles_load(path, &roles, error, sizeof error);
    TEST_CHECK_EQ(rc, -1);
    TEST_CHECK(roles == NULL);
    if (rc != -1) {
        authz_roles_free(roles);
        printf("# accepted: %.80s\n", text);
        return;
    }
    char prefix[PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s:%u: ", path, line);
    bool good = strncmp(error, prefix, strlen(prefix)) == 0 && strstr(error, what) != NULL;
    if (!good) printf("# got \"%s\", expected \"%s...%s\"\n", error, prefix, what);
    TEST_CHECK(good);
}

#define BAD(text, line, what) expect_bad((text), sizeof(text) - 1, (line), (what))

static void test_roles_bad_lines(void) {
    BAD("operator\n", 1, "expected \"sha256:HEX ROLE[:SCOPE]\"");
    BAD("# ok\nsha256:" FP_A "\n", 2, "expected");
    BAD("sha256:abc operator\n", 1, "not 64 hex digits");
    BAD("sha256:" FP_A "0 operator\n", 1, "not 64 hex digits");
    BAD("sha256:zz" FP_A " operator\n", 1, "not 64 hex digits");
    BAD("sha256:3f1c00000000000000000000000000000000000000000000000000000000009g0e operator\n", 1,
        "not 64 hex digits");
    BAD("sha256:00-11-22-33-44-55-66-77-88-99-AA-BB-CC-DD-EE-FF-00-11-22-33-44-55-66-77-88-99-AA"
        "-BB-CC-DD-EE-FF operator\n", 1, "not 64 hex digits");
    BAD("subject: operator\n", 1, "the subject is empty");
    BAD("cert:" FP_A " operator\n", 1, "unknown selector");
    BAD("SHA256:" FP_A " operator\n", 1, "unknown selector");
    BAD("sha256:" FP_A " boss\n", 1, "unknown role");
    BAD("sha256:" FP_A " Operator\n", 1, "unknown role");
    BAD("sha256:" FP_A " company\n", 1, "needs a scope");
    BAD("sha256:" FP_A " provider:\n", 1, "needs a scope");
    BAD("sha256:" FP_A " operator:1\n", 1, "takes no scope");
    BAD("sha256:" FP_A " app:acme\n", 1, "takes no scope");
    BAD("sha256:" FP_A " auditor:\n", 1, "takes no scope");
    /* A scope name cannot hold a blank: the role is after the last one. */
    BAD("subject:CN=acme company:Acme S.p.A.\n", 1, "unknown role");
    BAD("sha256:" FP_A " company:0\n", 1, "reserved id");
    BAD("sha256:" FP_A " company:0xffffffffffffffffffffffffffffffff\n", 1, "reserved id");
    BAD("sha256:" FP_A " company:340282366920938463463374607431768211455\n", 1, "reserved id");
    BAD("sha256:" FP_A " company:340282366920938463463374607431768211456\n", 1, "not an id");
    BAD("sha256:" FP_A " company:0x\n", 1, "not an id");
    BAD("sha256:" FP_A " company:0x1g\n", 1, "not an id");
    BAD("sha256:" FP_A " company:0x123456789012345678901234567890123\n", 1, "not an id");
    /* The same certificate twice: fingerprints compare normalized. */
    BAD("sha256:" FP_B " operator\n# x\nsha256:" FP_B_UPPER_COLONS " auditor\n", 3,
        "already mapped on line 1");
    BAD("subject:CN=a app\nsubject:CN=b app\nsubject:CN=a auditor\nsubject:CN=b auditor\n", 3,
        "already mapped on line 1");
    BAD("a\0b operator\n", 1, "NUL byte");
    BAD("# fine\n\nsha256:" FP_A " operator\nsubject:CN=x\0 app\n", 4, "NUL byte");
    /* Missing file: "PATH: reason", no line. */
    authz_roles_t *roles = NULL;
    char error[512];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/missing.roles", roles_dir);
    TEST_CHECK_EQ(authz_roles_load(path, &roles, error, sizeof error), -1);
    TEST_CHECK(roles == NULL);
    TEST_CHECK(strstr(error, "missing.roles: No such file") != NULL);
    /* A tiny error buffer is cut, NUL-terminated. */
    const char *bad = roles_write("bad.roles", "x\n", 2);
    char tiny[5];
    TEST_CHECK_EQ(authz_roles_load(bad, &roles, tiny, sizeof tiny), -1);
    TEST_CHECK(strlen(tiny) < sizeof tiny);
}

/* Appends `count` copies of the line made by `make(i)`. */
static char *lines_make(size_t count, size_t line_size_max, void (*make)(size_t, char *, size_t),
                        size_t *size_out) {
    char *text = malloc(count * (line_size_max + 1) + 1);
    TEST_REQUIRE(text != NULL);
    size_t size = 0;
    for (size_t i = 0; i < count; i++) {
        make(i, text + size, line_size_max + 1);
        size += strlen(text + size);
        text[size++] = '\n';
    }
    text[size] = '\0';
    *size_out = size;
    return text;
}

static void make_comment(size_t i, char *out, size_t size) {
    (void)i;
    snprintf(out, size, "#");
}

static void make_mapping(size_t i, char *out, size_t size) {
    snprintf(out, size, "subject:CN=client-%zu app", i);
}

static void test_roles_limits(void) {
    authz_roles_t *roles = NULL;
    char error[512];
    server_identity_t identity;
    /* A line of exactly AUTHZ_ROLES_LINE_SIZE_MAX bytes (trailing blanks),
     * then one byte more. */
    char line[AUTHZ_ROLES_LINE_SIZE_MAX + 3];
    memset(line, ' ', sizeof line);
    memcpy(line, "subject:CN=long app", 19);
    line[AUTHZ_ROLES_LINE_SIZE_MAX] = '\n';
    const char *path = roles_write("line.roles", line, AUTHZ_ROLES_LINE_SIZE_MAX + 1);
    TEST_CHECK_EQ(authz_roles_load(path, &roles, error, sizeof error), 0);
    authz_roles_free(roles);
    line[AUTHZ_ROLES_LINE_SIZE_MAX] = ' ';
    line[AUTHZ_ROLES_LINE_SIZE_MAX + 1] = '\n';
    char text[AUTHZ_ROLES_LINE_SIZE_MAX + 16];
    memcpy(text, "# x\n", 4);
    memcpy(text + 4, line, AUTHZ_ROLES_LINE_SIZE_MAX + 2);
    expect_bad(text, AUTHZ_ROLES_LINE_SIZE_MAX + 6, 2, "line longer than 1024 bytes");
    /* A subject of exactly AUTHZ_SUBJECT_SIZE_MAX bytes, then one more. */
    char subject[AUTHZ_SUBJECT_SIZE_MAX + 2];
    memset(subject, 'a', sizeof subject);
    memcpy(subject, "CN=", 3);
    subject[AUTHZ_SUBJECT_SIZE_MAX] = '\0';
    char mapping[AUTHZ_ROLES_LINE_SIZE_MAX];
    snprintf(mapping, sizeof mapping, "subject:%s auditor\n", subject);
    path = roles_write("subject.roles", mapping, strlen(mapping));
    TEST_CHECK_EQ(authz_roles_load(path, &roles, error, sizeof error), 0);
    TEST_CHECK(authz_roles_lookup(roles, FP_UNKNOWN, subject, &identity));
    TEST_CHECK_EQ(identity.role, SERVER_ROLE_AUDITOR);
    TEST_CHECK_EQ(strlen(identity.name), sizeof identity.name - 1); /* cut for logs */
    authz_roles_free(roles);
    subject[AUTHZ_SUBJECT_SIZE_MAX] = 'a';
    subject[AUTHZ_SUBJECT_SIZE_MAX + 1] = '\0';
    snprintf(mapping, sizeof mapping, "subject:%s auditor\n", subject);
    expect_bad(mapping, strlen(mapping), 1, "longer than 512 bytes");
    /* AUTHZ_ROLES_LINES_MAX lines, then one more. */
    size_t size = 0;
    char *lines = lines_make(AUTHZ_ROLES_LINES_MAX, 8, make_comment, &size);
    path = roles_write("lines.roles", lines, size);
    TEST_CHECK_EQ(authz_roles_load(path, &roles, error, sizeof error), 0);
    authz_roles_free(roles);
    free(lines);
    lines = lines_make(AUTHZ_ROLES_LINES_MAX + 1, 8, make_comment, &size);
    expect_bad(lines, size, AUTHZ_ROLES_LINES_MAX + 1, "more than 100000 lines");
    free(lines);
    /* AUTHZ_ROLES_ENTRIES_MAX mappings (every one found), then one more. */
    lines = lines_make(AUTHZ_ROLES_ENTRIES_MAX, 64, make_mapping, &size);
    path = roles_write("entries.roles", lines, size);
    TEST_CHECK_EQ(authz_roles_load(path, &roles, error, sizeof error), 0);
    size_t found = 0;
    for (size_t i = 0; i < AUTHZ_ROLES_ENTRIES_MAX; i++) {
        char name[64];
        snprintf(name, sizeof name, "CN=client-%zu", i);
        found += authz_roles_lookup(roles, FP_UNKNOWN, name, &identity);
    }
    TEST_CHECK_EQ(found, AUTHZ_ROLES_ENTRIES_MAX);
    authz_roles_free(roles);
    free(lines);
    lines = lines_make(AUTHZ_ROLES_ENTRIES_MAX + 1, 64, make_mapping, &size);
    expect_bad(lines, size, AUTHZ_ROLES_ENTRIES_MAX + 1, "more than 10000 mappings");
    free(lines);
}

static void test_roles_good(void) {
    fixture_tmp_dir_make("authz_roles", roles_dir, sizeof roles_dir);
    test_roles_good_file();
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(roles_dir);
}

static void test_roles_bad(void) {
    fixture_tmp_dir_make("authz_roles", roles_dir, sizeof roles_dir);
    test_roles_bad_lines();
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(roles_dir);
}

static void test_roles_bounds(void) {
    fixture_tmp_dir_make("authz_roles", roles_dir, sizeof roles_dir);
    test_roles_limits();
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(roles_dir);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"table_covers_every_operation", test_table_covers_every_operation},
        {"table_says_what_the_issue_says", test_table_says_what_the_issue_says},
        {"docs_table_matches", test_docs_table_matches},
        {"matrix", test_matrix},
        {"company_grant_every_employee", test_company_grant_every_employee},
        {"reasons", test_reasons},
        {"dispatch_denials", test_dispatch_denials},
        {"roles_file_good", test_roles_good},
        {"roles_file_bad_lines", test_roles_bad},
        {"roles_file_limits", test_roles_bounds},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
