/*
 * import_send.c — phase 2 of `borsellino import`: the valid rows sent on
 * one connection, pipelined (import.h).
 *
 * A ring of flights (requests sent, not yet answered) in request order:
 * the server answers in that order, so the oldest flight is always the
 * next answer. Every kind goes in batches of up to `batch` rows, with
 * IMPORT_BATCHES_IN_FLIGHT requests on the wire: accounts in
 * create_accounts, grants in welfare_grant (consecutive rows of one grant
 * id and plan), and the registry kinds in welfare_register, where an
 * employee row with a cap class is two entries, the create then its
 * set_cap_class; both belong to the row. Rows stay in file order, so a
 * plan may carry over into a plan of an earlier line.
 *
 * Every request is built in the sender's storage and encoded by
 * client_send() before it returns, so one storage serves all requests.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frame.h"
#include "import.h"

typedef struct import_flight {
    size_t start;
    uint32_t count;
} import_flight_t;

typedef struct import_sender {
    client_t *client;
    import_kind_id_t kind;
    import_row_t *rows;
    size_t count;
    uint32_t batch;
    import_flight_t flights[IMPORT_BATCHES_IN_FLIGHT];
    uint32_t head, used;
    size_t next;       /* the next row to send */
    size_t answered;
    cli_progress_t *progress;
    /* batch storage, `batch` entries each */
    Borsellino__V1__Account *accounts;
    Borsellino__V1__Account **account_pointers;
    Borsellino__V1__WelfareGrantEntry *entries;
    Borsellino__V1__WelfareGrantEntry **entry_pointers;
    Borsellino__V1__U128 *u128s; /* two per row */
    /* registry storage: two entries per row (an employee and its cap class) */
    Borsellino__V1__WelfareRegisterEntry *register_entries;
    Borsellino__V1__WelfareRegisterEntry **register_pointers;
    Borsellino__V1__WelfareFunder *funders;
    convert_welfare_funder_storage_t *funder_storage;
    Borsellino__V1__WelfareEmployee *employees;
    convert_welfare_employee_storage_t *employee_storage;
    Borsellino__V1__WelfarePlan *plans;
    convert_welfare_plan_storage_t *plan_storage;
    Borsellino__V1__WelfareSetCapClassRequest *cap_classes;
    char *error;
    size_t error_size;
} import_sender_t;

/* Builds create_accounts for rows[start, start+count) into `request`. */
static void import_build_accounts(import_sender_t *sender, size_t start, uint32_t count,
                                  Borsellino__V1__Request *request,
                                  Borsellino__V1__CreateAccountsRequest *create) {
    for (uint32_t i = 0; i < count; i++) {
        const import_row_t *row = &sender->rows[start + i];
        Borsellino__V1__Account *account = &sender->accounts[i];
        borsellino__v1__account__init(account);
        convert_u128_to_proto(row->u.account.id, &sender->u128s[2 * i]);
        account->id = &sender->u128s[2 * i];
        if (row->u.account.user_data_128.hi != 0 || row->u.account.user_data_128.lo != 0) {
            convert_u128_to_proto(row->u.account.user_data_128, &sender->u128s[2 * i + 1]);
            account->user_data_128 = &sender->u128s[2 * i + 1];
        }
        account->user_data_64 = row->u.account.user_data_64;
        account->user_data_32 = row->u.account.user_data_32;
        account->ledger = row->u.account.ledger;
        account->code = row->u.account.code;
        account->flags = row->u.account.flags;
        sender->account_pointers[i] = account;
    }
    create->n_accounts = count;
    create->accounts = sender->account_pointers;
    request->op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request->create_accounts = create;
}

/* The rows of the next grant request: consecutive rows of one grant id
 * and plan, at most `batch`. */
static uint32_t import_grant_run(const import_sender_t *sender) {
    const import_row_t *first = &sender->rows[sender->next];
    uint32_t count = 1;
    while (count < sender->batch && sender->next + count < sender->count) {
        const import_row_t *row = &sender->rows[sender->next + count];
        if (!ledger_u128_equal(row->u.grant.grant_id, first->u.grant.grant_id) ||
            !ledger_u128_equal(row->u.grant.plan_id, first->u.grant.plan_id)) {
            break;
        }
        count++;
    }
    return count;
}

static int import_send_grants(import_sender_t *sender, size_t start, uint32_t count) {
    for (uint32_t i = 0; i < count; i++) {
        Borsellino__V1__WelfareGrantEntry *entry = &sender->entries[i];
        borsellino__v1__welfare_grant_entry__init(entry);
        convert_u128_to_proto(sender->rows[start + i].u.grant.employee_id, &sender->u128s[i]);
        entry->employee_id = &sender->u128s[i];
        entry->amount = sender->rows[start + i].u.grant.amount;
        sender->entry_pointers[i] = entry;
    }
    Borsellino__V1__U128 id, plan;
    convert_u128_to_proto(sender->rows[start].u.grant.grant_id, &id);
    convert_u128_to_proto(sender->rows[start].u.grant.plan_id, &plan);
    Borsellino__V1__WelfareGrantRequest grant = BORSELLINO__V1__WELFARE_GRANT_REQUEST__INIT;
    grant.id = &id;
    grant.plan_id = &plan;
    grant.n_entries = count;
    grant.entries = sender->entry_pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT;
    request.welfare_grant = &grant;
    return client_send(sender->client, &request);
}

/* Entry `at` of the registry batch: row `index` as its kind's message, or
 * (cap_class) the set_cap_class of employee row `index`. */
static void import_register_entry(import_sender_t *sender, uint32_t at, size_t index,
                                  bool cap_class) {
    const import_row_t *row = &sender->rows[index];
    Borsellino__V1__WelfareRegisterEntry *entry = &sender->register_entries[at];
    borsellino__v1__welfare_register_entry__init(entry);
    if (cap_class) {
        Borsellino__V1__WelfareSetCapClassRequest *set = &sender->cap_classes[at];
        borsellino__v1__welfare_set_cap_class_request__init(set);
        convert_u128_to_proto(row->u.employee.employee.id, &sender->u128s[at]);
        set->employee_id = &sender->u128s[at];
        set->year = row->u.employee.year;
        set->cap_class = (Borsellino__V1__WelfareCapClass)row->u.employee.cap_class;
        entry->entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_CAP_CLASS;
        entry->cap_class = set;
    } else if (sender->kind == IMPORT_COMPANIES) {
        convert_welfare_funder_to_proto(&row->u.funder, &sender->funders[at],
                                        &sender->funder_storage[at]);
        entry->entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_FUNDER;
        entry->funder = &sender->funders[at];
    } else if (sender->kind == IMPORT_EMPLOYEES) {
        convert_welfare_employee_to_proto(&row->u.employee.employee, &sender->employees[at],
                                          &sender->employee_storage[at]);
        entry->entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_EMPLOYEE;
        entry->employee = &sender->employees[at];
    } else {
        assert(sender->kind == IMPORT_PLANS);
        convert_welfare_plan_to_proto(&row->u.plan, &sender->plans[at], &sender->plan_storage[at]);
        entry->entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_PLAN;
        entry->plan = &sender->plans[at];
    }
    sender->register_pointers[at] = entry;
}

/* Sends rows[start, start+count) of a registry kind as one welfare_register. */
static int import_send_register(import_sender_t *sender, size_t start, uint32_t count) {
    uint32_t entries = 0;
    for (uint32_t i = 0; i < count; i++) {
        import_register_entry(sender, entries++, start + i, false);
        if (sender->kind == IMPORT_EMPLOYEES && sender->rows[start + i].u.employee.cap_given) {
            import_register_entry(sender, entries++, start + i, true);
        }
    }
    Borsellino__V1__WelfareRegisterRequest batch = BORSELLINO__V1__WELFARE_REGISTER_REQUEST__INIT;
    batch.n_entries = entries;
    batch.entries = sender->register_pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER;
    request.welfare_register = &batch;
    return client_send(sender->client, &request);
}

/* Sends the next request and records its flight; a client error code. */
static int import_send_next(import_sender_t *sender) {
    import_flight_t flight = {.start = sender->next, .count = 1};
    size_t left = sender->count - sender->next;
    uint32_t most = left < sender->batch ? (uint32_t)left : sender->batch;
    int error = 0;
    if (sender->kind == IMPORT_ACCOUNTS) {
        flight.count = most;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        Borsellino__V1__CreateAccountsRequest create =
            BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
        import_build_accounts(sender, flight.start, flight.count, &request, &create);
        error = client_send(sender->client, &request);
    } else if (sender->kind == IMPORT_GRANTS) {
        flight.count = import_grant_run(sender);
        error = import_send_grants(sender, flight.start, flight.count);
    } else {
        flight.count = most;
        error = import_send_register(sender, flight.start, flight.count);
    }
    if (error != CLIENT_OK) return error;
    sender->next += flight.count;
    assert(sender->used < IMPORT_BATCHES_IN_FLIGHT);
    sender->flights[(sender->head + sender->used) % IMPORT_BATCHES_IN_FLIGHT] = flight;
    sender->used++;
    return CLIENT_OK;
}

/* Sets rows[0, count) from the results of their welfare_register; the
 * number of results used. An employee row with a cap class had two
 * entries: created but its cap class refused counts as the refusal. */
static size_t import_register_results(import_sender_t *sender, import_row_t *rows, uint32_t count,
                                      const Borsellino__V1__WelfareRegisterResponse *answer) {
    size_t at = 0;
    for (uint32_t i = 0; i < count && at < answer->n_results; i++) {
        rows[i].result = (uint32_t)answer->results[at++];
        if (sender->kind != IMPORT_EMPLOYEES || !rows[i].u.employee.cap_given) continue;
        if (at >= answer->n_results) return SIZE_MAX; /* too few results */
        uint32_t cap = (uint32_t)answer->results[at++];
        if (cli_welfare_result_succeeded(rows[i].result) && !cli_welfare_result_succeeded(cap)) {
            rows[i].result = cap;
        }
    }
    return at;
}

/* The entries a registry batch of rows[0, count) sent. */
static size_t import_register_entries(const import_sender_t *sender, const import_row_t *rows,
                                      uint32_t count) {
    size_t entries = count;
    if (sender->kind != IMPORT_EMPLOYEES) return entries;
    for (uint32_t i = 0; i < count; i++) entries += rows[i].u.employee.cap_given ? 1 : 0;
    return entries;
}

/* Sets the rows of `flight` from its response; false with sender->error
 * when the response is not a usable answer. */
static bool import_apply(import_sender_t *sender, const import_flight_t *flight,
                         const Borsellino__V1__Response *response) {
    if (response->status != BORSELLINO__V1__STATUS__STATUS_OK) {
        snprintf(sender->error, sender->error_size, "the server refused the request of line %u: "
                 "%s: %s %s", sender->rows[flight->start].line, client_status_name(response->status),
                 client_status_message(response->status), response->message);
        return false;
    }
    import_row_t *rows = &sender->rows[flight->start];
    size_t results = 0;
    size_t expected = flight->count;
    if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS) {
        results = response->create_accounts->n_results;
        for (size_t i = 0; i < results && i < flight->count; i++) {
            rows[i].result = response->create_accounts->results[i]->result;
        }
    } else if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_WELFARE_GRANT) {
        results = response->welfare_grant->n_results;
        for (size_t i = 0; i < results && i < flight->count; i++) {
            rows[i].result = response->welfare_grant->results[i];
        }
    } else if (response->result_case == BORSELLINO__V1__RESPONSE__RESULT_WELFARE_REGISTER) {
        expected = import_register_entries(sender, rows, flight->count);
        results = response->welfare_register->n_results;
        if (results == expected &&
            import_register_results(sender, rows, flight->count, response->welfare_register) != expected) {
            results = 0;
        }
    }
    if (results != expected) {
        snprintf(sender->error, sender->error_size, "the server answered the request of line %u "
                 "with %zu results for %zu", rows[0].line, results, expected);
        return false;
    }
    sender->answered += flight->count;
    return true;
}

/* Receives the oldest flight's answer; false with sender->error. */
static bool import_receive(import_sender_t *sender) {
    Borsellino__V1__Response *response = NULL;
    int error = client_receive(sender->client, &response);
    if (error != CLIENT_OK) {
        snprintf(sender->error, sender->error_size, "%s", client_last_error_message(sender->client));
        return false;
    }
    import_flight_t flight = sender->flights[sender->head];
    sender->head = (sender->head + 1) % IMPORT_BATCHES_IN_FLIGHT;
    sender->used--;
    bool applied = import_apply(sender, &flight, response);
    frame_response_free(response);
    cli_progress_draw(sender->progress, sender->answered, sender->count);
    return applied;
}

static bool import_storage(import_sender_t *sender) {
    size_t batch = sender->batch;
    sender->u128s = calloc(2 * batch, sizeof(*sender->u128s));
    if (sender->u128s == NULL) return false;
    switch (sender->kind) {
    case IMPORT_ACCOUNTS:
        sender->accounts = calloc(batch, sizeof(*sender->accounts));
        sender->account_pointers = calloc(batch, sizeof(*sender->account_pointers));
        return sender->accounts && sender->account_pointers;
    case IMPORT_GRANTS:
        sender->entries = calloc(batch, sizeof(*sender->entries));
        sender->entry_pointers = calloc(batch, sizeof(*sender->entry_pointers));
        return sender->entries && sender->entry_pointers;
    case IMPORT_COMPANIES:
        sender->funders = calloc(batch, sizeof(*sender->funders));
        sender->funder_storage = calloc(batch, sizeof(*sender->funder_storage));
        break;
    case IMPORT_EMPLOYEES:
        sender->employees = calloc(2 * batch, sizeof(*sender->employees));
        sender->employee_storage = calloc(2 * batch, sizeof(*sender->employee_storage));
        sender->cap_classes = calloc(2 * batch, sizeof(*sender->cap_classes));
        if (!sender->employees || !sender->employee_storage || !sender->cap_classes) return false;
        break;
    case IMPORT_PLANS:
        sender->plans = calloc(batch, sizeof(*sender->plans));
        sender->plan_storage = calloc(batch, sizeof(*sender->plan_storage));
        break;
    }
    sender->register_entries = calloc(2 * batch, sizeof(*sender->register_entries));
    sender->register_pointers = calloc(2 * batch, sizeof(*sender->register_pointers));
    return sender->register_entries && sender->register_pointers &&
           (sender->kind != IMPORT_COMPANIES || (sender->funders && sender->funder_storage)) &&
           (sender->kind != IMPORT_PLANS || (sender->plans && sender->plan_storage));
}

static void import_storage_free(import_sender_t *sender) {
    free(sender->u128s), free(sender->accounts), free(sender->account_pointers);
    free(sender->entries), free(sender->entry_pointers);
    free(sender->register_entries), free(sender->register_pointers);
    free(sender->funders), free(sender->funder_storage);
    free(sender->employees), free(sender->employee_storage), free(sender->cap_classes);
    free(sender->plans), free(sender->plan_storage);
}

int import_send(client_t *client, import_kind_id_t kind, import_row_t *rows, size_t count,
                uint32_t batch, cli_progress_t *progress, char *error, size_t error_size) {
    assert(client != NULL && progress != NULL);
    assert(batch >= 1);
    import_sender_t *sender = calloc(1, sizeof(*sender));
    if (sender == NULL) return snprintf(error, error_size, "out of memory"), CLI_EXIT_FAILURE;
    *sender = (import_sender_t){
        .client = client, .kind = kind, .rows = rows, .count = count, .batch = batch,
        .progress = progress, .error = error, .error_size = error_size,
    };
    bool ok = import_storage(sender);
    if (!ok) snprintf(error, error_size, "out of memory");
    while (ok && (sender->next < count || sender->used > 0)) {
        if (sender->next < count && sender->used < IMPORT_BATCHES_IN_FLIGHT) {
            int sent = import_send_next(sender);
            if (sent != CLIENT_OK) {
                snprintf(error, error_size, "%s", client_last_error_message(client));
                ok = false;
            }
            continue;
        }
        ok = import_receive(sender);
    }
    assert(!ok || sender->answered == count);
    import_storage_free(sender);
    free(sender);
    return ok ? 0 : CLI_EXIT_FAILURE;
}
