/*
 * import_send.c — phase 2 of `borsellino import`: the valid rows sent on
 * one connection, pipelined (import.h).
 *
 * A ring of flights (requests sent, not yet answered) in request order:
 * the server answers in that order, so the oldest flight is always the
 * next answer. Batch kinds keep IMPORT_BATCHES_IN_FLIGHT requests of up to
 * `batch` rows on the wire; the registry kinds IMPORT_SINGLES_IN_FLIGHT
 * requests of one row. An employee with a cap class is two requests, the
 * create then its set_cap_class; both belong to the row.
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
    bool cap_class; /* the set_cap_class of employee row `start` */
} import_flight_t;

typedef struct import_sender {
    client_t *client;
    import_kind_id_t kind;
    import_row_t *rows;
    size_t count;
    uint32_t batch;
    uint32_t window;
    import_flight_t flights[IMPORT_SINGLES_IN_FLIGHT];
    uint32_t head, used;
    size_t next;       /* the next row to send */
    bool cap_pending;  /* row next-1's set_cap_class is still to send */
    size_t answered;
    cli_progress_t *progress;
    /* batch storage, `batch` entries each */
    Borsellino__V1__Account *accounts;
    Borsellino__V1__Account **account_pointers;
    Borsellino__V1__WelfareGrantEntry *entries;
    Borsellino__V1__WelfareGrantEntry **entry_pointers;
    Borsellino__V1__U128 *u128s; /* two per row */
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

/* Sends the create (or set_cap_class) of one registry row. */
static int import_send_single(import_sender_t *sender, size_t index, bool cap_class) {
    const import_row_t *row = &sender->rows[index];
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    Borsellino__V1__WelfareFunder funder;
    convert_welfare_funder_storage_t funder_storage;
    Borsellino__V1__WelfareCreateFunderRequest create_funder =
        BORSELLINO__V1__WELFARE_CREATE_FUNDER_REQUEST__INIT;
    Borsellino__V1__WelfareEmployee employee;
    convert_welfare_employee_storage_t employee_storage;
    Borsellino__V1__WelfareCreateEmployeeRequest create_employee =
        BORSELLINO__V1__WELFARE_CREATE_EMPLOYEE_REQUEST__INIT;
    Borsellino__V1__WelfarePlan plan;
    convert_welfare_plan_storage_t plan_storage;
    Borsellino__V1__WelfareCreatePlanRequest create_plan =
        BORSELLINO__V1__WELFARE_CREATE_PLAN_REQUEST__INIT;
    Borsellino__V1__U128 employee_id;
    Borsellino__V1__WelfareSetCapClassRequest set =
        BORSELLINO__V1__WELFARE_SET_CAP_CLASS_REQUEST__INIT;
    if (cap_class) {
        convert_u128_to_proto(row->u.employee.employee.id, &employee_id);
        set.employee_id = &employee_id;
        set.year = row->u.employee.year;
        set.cap_class = (Borsellino__V1__WelfareCapClass)row->u.employee.cap_class;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CAP_CLASS;
        request.welfare_set_cap_class = &set;
    } else if (sender->kind == IMPORT_COMPANIES) {
        convert_welfare_funder_to_proto(&row->u.funder, &funder, &funder_storage);
        create_funder.funder = &funder;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_FUNDER;
        request.welfare_create_funder = &create_funder;
    } else if (sender->kind == IMPORT_EMPLOYEES) {
        convert_welfare_employee_to_proto(&row->u.employee.employee, &employee, &employee_storage);
        create_employee.employee = &employee;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_EMPLOYEE;
        request.welfare_create_employee = &create_employee;
    } else {
        assert(sender->kind == IMPORT_PLANS);
        convert_welfare_plan_to_proto(&row->u.plan, &plan, &plan_storage);
        create_plan.plan = &plan;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PLAN;
        request.welfare_create_plan = &create_plan;
    }
    return client_send(sender->client, &request);
}

/* Sends the next request and records its flight; a client error code. */
static int import_send_next(import_sender_t *sender) {
    import_flight_t flight = {.start = sender->next, .count = 1, .cap_class = false};
    int error = 0;
    if (sender->kind == IMPORT_ACCOUNTS) {
        size_t left = sender->count - sender->next;
        flight.count = left < sender->batch ? (uint32_t)left : sender->batch;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        Borsellino__V1__CreateAccountsRequest create =
            BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
        import_build_accounts(sender, flight.start, flight.count, &request, &create);
        error = client_send(sender->client, &request);
    } else if (sender->kind == IMPORT_GRANTS) {
        flight.count = import_grant_run(sender);
        error = import_send_grants(sender, flight.start, flight.count);
    } else if (sender->cap_pending) {
        flight.start = sender->next - 1;
        flight.cap_class = true;
        error = import_send_single(sender, flight.start, true);
    } else {
        error = import_send_single(sender, flight.start, false);
    }
    if (error != CLIENT_OK) return error;
    if (flight.cap_class) {
        sender->cap_pending = false;
    } else {
        sender->next += flight.count;
        sender->cap_pending = sender->kind == IMPORT_EMPLOYEES &&
                              sender->rows[flight.start].u.employee.cap_given;
    }
    assert(sender->used < sender->window);
    sender->flights[(sender->head + sender->used) % IMPORT_SINGLES_IN_FLIGHT] = flight;
    sender->used++;
    return CLIENT_OK;
}

/* The result of a one-row response, or false when its case is not `op`. */
static bool import_single_result(const Borsellino__V1__Response *response, uint32_t *result_out) {
    switch (response->result_case) {
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_FUNDER:
        *result_out = response->welfare_create_funder->result;
        return true;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_EMPLOYEE:
        *result_out = response->welfare_create_employee->result;
        return true;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_PLAN:
        *result_out = response->welfare_create_plan->result;
        return true;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_SET_CAP_CLASS:
        *result_out = response->welfare_set_cap_class->result;
        return true;
    default:
        return false;
    }
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
    uint32_t single = 0;
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
    } else if (import_single_result(response, &single)) {
        results = 1;
        if (!flight->cap_class) {
            rows[0].result = single;
        } else if (cli_welfare_result_succeeded(rows[0].result) &&
                   !cli_welfare_result_succeeded(single)) {
            rows[0].result = single; /* created, but its cap class was refused */
        }
    }
    if (results != flight->count) {
        snprintf(sender->error, sender->error_size, "the server answered the request of line %u "
                 "with %zu results for %u rows", rows[0].line, results, flight->count);
        return false;
    }
    if (!flight->cap_class) sender->answered += flight->count;
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
    sender->head = (sender->head + 1) % IMPORT_SINGLES_IN_FLIGHT;
    sender->used--;
    bool applied = import_apply(sender, &flight, response);
    frame_response_free(response);
    cli_progress_draw(sender->progress, sender->answered, sender->count);
    return applied;
}

static bool import_storage(import_sender_t *sender) {
    if (sender->kind != IMPORT_ACCOUNTS && sender->kind != IMPORT_GRANTS) return true;
    sender->u128s = calloc(2 * (size_t)sender->batch, sizeof(*sender->u128s));
    if (sender->kind == IMPORT_ACCOUNTS) {
        sender->accounts = calloc(sender->batch, sizeof(*sender->accounts));
        sender->account_pointers = calloc(sender->batch, sizeof(*sender->account_pointers));
        return sender->u128s && sender->accounts && sender->account_pointers;
    }
    sender->entries = calloc(sender->batch, sizeof(*sender->entries));
    sender->entry_pointers = calloc(sender->batch, sizeof(*sender->entry_pointers));
    return sender->u128s && sender->entries && sender->entry_pointers;
}

int import_send(client_t *client, import_kind_id_t kind, import_row_t *rows, size_t count,
                uint32_t batch, cli_progress_t *progress, char *error, size_t error_size) {
    assert(client != NULL && progress != NULL);
    assert(batch >= 1);
    bool batched = kind == IMPORT_ACCOUNTS || kind == IMPORT_GRANTS;
    import_sender_t *sender = calloc(1, sizeof(*sender));
    if (sender == NULL) return snprintf(error, error_size, "out of memory"), CLI_EXIT_FAILURE;
    *sender = (import_sender_t){
        .client = client, .kind = kind, .rows = rows, .count = count, .batch = batch,
        .window = batched ? IMPORT_BATCHES_IN_FLIGHT : IMPORT_SINGLES_IN_FLIGHT,
        .progress = progress, .error = error, .error_size = error_size,
    };
    _Static_assert(IMPORT_BATCHES_IN_FLIGHT <= IMPORT_SINGLES_IN_FLIGHT, "one ring for both");
    bool ok = import_storage(sender);
    if (!ok) snprintf(error, error_size, "out of memory");
    while (ok && (sender->next < count || sender->cap_pending || sender->used > 0)) {
        bool more = sender->next < count || sender->cap_pending;
        if (more && sender->used < sender->window) {
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
    free(sender->u128s), free(sender->accounts), free(sender->account_pointers);
    free(sender->entries), free(sender->entry_pointers);
    free(sender);
    return ok ? 0 : CLI_EXIT_FAILURE;
}
