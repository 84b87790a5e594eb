/*
 * dispatch.c — request → ledger call → response, one function per
 * operation. Every request gets exactly one response, whose request_id is
 * the request's. Validation of the request's shape (empty or oversized
 * batches, values that do not fit, unknown operations) answers with a
 * status and never touches the ledger.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz.h"
#include "convert.h"
#include "dispatch.h"
#include "frame.h"

/* Frees results kept for dispatch_finish. */
static void results_drop(server_request_t *request) {
    free(request->results);
    request->results = NULL;
    request->results_count = 0;
}

/* Drops whatever answer the request holds (a frame, or results kept for
 * dispatch_finish): the one being made replaces it. */
static void answer_drop(server_request_t *request) {
    results_drop(request);
    free(request->response_frame);
    request->response_frame = NULL;
    request->response_size = 0;
}

void dispatch_response_encode(server_request_t *request, Borsellino__V1__Response *response) {
    answer_drop(request);
    response->request_id = request->request ? request->request->request_id : 0;
    request->status = (uint32_t)response->status;
    if (frame_encode_response(response, &request->response_frame,
                              &request->response_size) != FRAME_OK) {
        request->response_frame = NULL;
        request->response_size = 0;
    }
}

void dispatch_fail_response(server_request_t *request, Borsellino__V1__Status status,
                            const char *message) {
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.status = status;
    response.message = (char *)message;
    dispatch_response_encode(request, &response);
}

Borsellino__V1__Status dispatch_status_for_error(int error) {
    switch (error) {
    case LEDGER_ERR_STORAGE_FULL: return BORSELLINO__V1__STATUS__STATUS_STORAGE_FULL;
    case LEDGER_ERR_BATCH_EMPTY: return BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY;
    case LEDGER_ERR_BATCH_TOO_LARGE: return BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE;
    case LEDGER_ERR_ACCOUNT_NOT_FOUND: return BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND;
    case LEDGER_ERR_INVALID_FILTER: return BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER;
    default: return BORSELLINO__V1__STATUS__STATUS_INTERNAL_ERROR;
    }
}

/* Answers a request with a status only; returns 0 (nothing failed). */
static int answer_status(server_request_t *request, Borsellino__V1__Status status,
                         const char *message) {
    dispatch_fail_response(request, status, message);
    return 0;
}

/* The per-event results of a create call, packed into the response frame
 * (by hand: frame_encode_event_results). */
static void results_encode(server_request_t *request) {
    uint32_t count = request->results_count;
    frame_event_result_t *items = malloc((count ? count : 1) * sizeof(*items));
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    int error = FRAME_ERR_NO_MEMORY;
    if (items != NULL) {
        for (uint32_t i = 0; i < count; i++) {
            items[i].result = request->results[i].result;
            items[i].timestamp = request->results[i].timestamp;
        }
        error = frame_encode_event_results(request->request ? request->request->request_id : 0,
                                           request->results_of_accounts, items, count, &frame,
                                           &frame_size);
        free(items);
    }
    if (error != FRAME_OK) {
        dispatch_fail_response(request, BORSELLINO__V1__STATUS__STATUS_INTERNAL_ERROR,
                               frame_strerror(error));
        return;
    }
    answer_drop(request); /* frees the results */
    request->status = BORSELLINO__V1__STATUS__STATUS_OK;
    request->response_frame = frame;
    request->response_size = frame_size;
}

/* Keeps a create call's results (owned from now on) for dispatch_finish. */
static void results_keep(server_request_t *request, ledger_result_t *results, uint32_t count,
                         bool accounts) {
    answer_drop(request); /* a group run again replaces its answer */
    request->results = results;
    request->results_count = count;
    request->results_of_accounts = accounts;
    request->status = BORSELLINO__V1__STATUS__STATUS_OK;
}

void dispatch_release(server_request_t *request) {
    results_drop(request);
    free(request->transfers);
    request->transfers = NULL;
}

void dispatch_finish(server_request_t *request) {
    if (request->results != NULL) results_encode(request);
    dispatch_release(request);
}

/* Checks a batch's size; answers and returns false when it is refused. */
static bool batch_size_ok(dispatch_context_t *context, server_request_t *request,
                          size_t count) {
    if (count == 0) {
        answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY,
                      "the batch has no events");
        return false;
    }
    if (count > context->config->batch_events_max) {
        char message[128];
        snprintf(message, sizeof(message), "the batch has %zu events; the limit is %u",
                 count, context->config->batch_events_max);
        answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, message);
        return false;
    }
    return true;
}

static int dispatch_create_accounts(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__CreateAccountsRequest *op = request->request->create_accounts;
    if (!batch_size_ok(context, request, op->n_accounts)) return 0;
    uint32_t count = (uint32_t)op->n_accounts;
    ledger_account_t *accounts = calloc(count, sizeof(*accounts));
    ledger_result_t *results = calloc(count, sizeof(*results));
    int error = accounts && results ? 0 : LEDGER_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count && !error; i++) {
        if (!convert_account_fits(op->accounts[i])) {
            char message[96];
            snprintf(message, sizeof(message), "account %u: code or flags out of range", i);
            answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, message);
            free(accounts);
            free(results);
            return 0;
        }
        convert_account_from_proto(op->accounts[i], &accounts[i]);
    }
    if (!error) error = ledger_create_accounts(context->ledger, accounts, count, results);
    free(accounts);
    if (error) {
        free(results);
        return error;
    }
    results_keep(request, results, count, true);
    return 0;
}

/* Whether a create_transfers batch is one dispatch_prepare converts. */
static bool transfers_to_prepare(const server_config_t *config,
                                 const Borsellino__V1__Request *request) {
    if (request->op_case != BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS) return false;
    size_t count = request->create_transfers->n_transfers;
    return count > 0 && count <= config->batch_events_max;
}

int dispatch_prepare(const server_config_t *config, server_request_t *request) {
    if (!transfers_to_prepare(config, request->request) || request->transfers != NULL ||
        request->transfer_unfit != 0) {
        return 0;
    }
    const Borsellino__V1__CreateTransfersRequest *op = request->request->create_transfers;
    ledger_transfer_t *transfers = malloc(op->n_transfers * sizeof(*transfers));
    if (transfers == NULL) return LEDGER_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < (uint32_t)op->n_transfers; i++) {
        if (!convert_transfer_fits(op->transfers[i])) {
            request->transfer_unfit = i + 1;
            free(transfers);
            return 0;
        }
        convert_transfer_from_proto(op->transfers[i], &transfers[i]);
    }
    request->transfers = transfers;
    return 0;
}

uint64_t dispatch_prepared_bytes(const server_request_t *request) {
    if (request->transfers == NULL) return 0;
    return (uint64_t)request->request->create_transfers->n_transfers * sizeof(ledger_transfer_t);
}

static int dispatch_create_transfers(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__CreateTransfersRequest *op = request->request->create_transfers;
    if (!batch_size_ok(context, request, op->n_transfers)) return 0;
    uint32_t count = (uint32_t)op->n_transfers;
    /* Converted by the loop; a caller that did not prepare gets it here. */
    int error = request->transfers == NULL && request->transfer_unfit == 0
                    ? dispatch_prepare(context->config, request)
                    : 0;
    if (error) return error;
    if (request->transfer_unfit != 0) {
        char message[96];
        snprintf(message, sizeof(message), "transfer %u: code or flags out of range",
                 request->transfer_unfit - 1);
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, message);
    }
    ledger_result_t *results = malloc(count * sizeof(*results));
    if (results == NULL) return LEDGER_ERR_NO_MEMORY;
    error = ledger_create_transfers(context->ledger, request->transfers, count, results);
    if (error) {
        free(results);
        return error;
    }
    results_keep(request, results, count, false);
    return 0;
}

/* Reads the ids of a lookup into a ledger array (caller frees). */
static ledger_u128_t *ids_from_proto(Borsellino__V1__U128 **ids, size_t count) {
    ledger_u128_t *out = malloc((count ? count : 1) * sizeof(*out));
    for (size_t i = 0; out != NULL && i < count; i++) out[i] = convert_u128_from_proto(ids[i]);
    return out;
}

static bool lookup_size_ok(server_request_t *request, size_t count) {
    if (count <= LEDGER_LOOKUP_IDS_MAX) return true;
    char message[96];
    snprintf(message, sizeof(message), "%zu ids; the limit is %d", count, LEDGER_LOOKUP_IDS_MAX);
    answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, message);
    return false;
}

static int dispatch_lookup_accounts(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__LookupAccountsRequest *op = request->request->lookup_accounts;
    if (!lookup_size_ok(request, op->n_ids)) return 0;
    uint32_t count = (uint32_t)op->n_ids, found = 0;
    ledger_u128_t *ids = ids_from_proto(op->ids, count);
    ledger_account_t *accounts = malloc((count ? count : 1) * sizeof(*accounts));
    Borsellino__V1__Account *items = calloc(count ? count : 1, sizeof(*items));
    Borsellino__V1__Account **pointers = calloc(count ? count : 1, sizeof(*pointers));
    convert_account_storage_t *storage = calloc(count ? count : 1, sizeof(*storage));
    int error = ids && accounts && items && pointers && storage ? 0 : LEDGER_ERR_NO_MEMORY;
    if (!error) error = ledger_lookup_accounts(context->ledger, ids, count, accounts, &found);
    if (!error) {
        for (uint32_t i = 0; i < found; i++) {
            convert_account_to_proto(&accounts[i], &items[i], &storage[i]);
            pointers[i] = &items[i];
        }
        Borsellino__V1__LookupAccountsResponse result =
            BORSELLINO__V1__LOOKUP_ACCOUNTS_RESPONSE__INIT;
        result.n_accounts = found;
        result.accounts = pointers;
        Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS;
        response.lookup_accounts = &result;
        dispatch_response_encode(request, &response);
    }
    free(ids);
    free(accounts);
    free(items);
    free(pointers);
    free(storage);
    return error;
}

static int dispatch_lookup_transfers(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__LookupTransfersRequest *op = request->request->lookup_transfers;
    if (!lookup_size_ok(request, op->n_ids)) return 0;
    uint32_t count = (uint32_t)op->n_ids, found = 0;
    ledger_u128_t *ids = ids_from_proto(op->ids, count);
    ledger_transfer_t *transfers = malloc((count ? count : 1) * sizeof(*transfers));
    Borsellino__V1__Transfer *items = calloc(count ? count : 1, sizeof(*items));
    Borsellino__V1__Transfer **pointers = calloc(count ? count : 1, sizeof(*pointers));
    convert_transfer_storage_t *storage = calloc(count ? count : 1, sizeof(*storage));
    int error = ids && transfers && items && pointers && storage ? 0 : LEDGER_ERR_NO_MEMORY;
    if (!error) error = ledger_lookup_transfers(context->ledger, ids, count, transfers, &found);
    if (!error) {
        for (uint32_t i = 0; i < found; i++) {
            convert_transfer_to_proto(&transfers[i], &items[i], &storage[i]);
            pointers[i] = &items[i];
        }
        Borsellino__V1__LookupTransfersResponse result =
            BORSELLINO__V1__LOOKUP_TRANSFERS_RESPONSE__INIT;
        result.n_transfers = found;
        result.transfers = pointers;
        Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_TRANSFERS;
        response.lookup_transfers = &result;
        dispatch_response_encode(request, &response);
    }
    free(ids);
    free(transfers);
    free(items);
    free(pointers);
    free(storage);
    return error;
}

/* Errors of a read that concern the request (not storage) get a status. */
static int read_error(server_request_t *request, int error) {
    if (error == LEDGER_ERR_ACCOUNT_NOT_FOUND || error == LEDGER_ERR_INVALID_FILTER) {
        return answer_status(request, dispatch_status_for_error(error), ledger_strerror(error));
    }
    return error;
}

static void history_encode(server_request_t *request, const ledger_history_entry_t *entries,
                           uint32_t count) {
    Borsellino__V1__HistoryEntry *items = calloc(count ? count : 1, sizeof(*items));
    Borsellino__V1__HistoryEntry **pointers = calloc(count ? count : 1, sizeof(*pointers));
    Borsellino__V1__Transfer *transfers = calloc(count ? count : 1, sizeof(*transfers));
    Borsellino__V1__Balance *balances = calloc(count ? count : 1, sizeof(*balances));
    convert_transfer_storage_t *storage = calloc(count ? count : 1, sizeof(*storage));
    if (items && pointers && transfers && balances && storage) {
        for (uint32_t i = 0; i < count; i++) {
            borsellino__v1__history_entry__init(&items[i]);
            items[i].kind = (Borsellino__V1__EventKind)entries[i].kind;
            convert_transfer_to_proto(&entries[i].transfer, &transfers[i], &storage[i]);
            convert_balance_to_proto(&entries[i].balance_after, &balances[i]);
            items[i].transfer = &transfers[i];
            items[i].balance_after = &balances[i];
            pointers[i] = &items[i];
        }
        Borsellino__V1__AccountHistoryResponse result =
            BORSELLINO__V1__ACCOUNT_HISTORY_RESPONSE__INIT;
        result.n_entries = count;
        result.entries = pointers;
        Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_ACCOUNT_HISTORY;
        response.account_history = &result;
        dispatch_response_encode(request, &response);
    } else {
        dispatch_fail_response(request, BORSELLINO__V1__STATUS__STATUS_INTERNAL_ERROR,
                               "out of memory");
    }
    free(items);
    free(pointers);
    free(transfers);
    free(balances);
    free(storage);
}

static int dispatch_account_history(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__AccountHistoryRequest *op = request->request->account_history;
    ledger_history_filter_t filter = {
        .account_id = convert_u128_from_proto(op->account_id),
        .timestamp_min = op->timestamp_min,
        .timestamp_max = op->timestamp_max,
        .limit = op->limit,
        .flags = op->flags,
    };
    if (filter.limit == 0 || filter.limit > LEDGER_HISTORY_LIMIT_MAX) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER,
                             "limit must be 1..8190");
    }
    ledger_history_entry_t *entries = malloc(filter.limit * sizeof(*entries));
    if (entries == NULL) return LEDGER_ERR_NO_MEMORY;
    uint32_t count = 0;
    int error = ledger_account_history(context->ledger, &filter, entries, &count);
    if (!error) history_encode(request, entries, count);
    free(entries);
    return read_error(request, error);
}

static int dispatch_balance_at(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__BalanceAtRequest *op = request->request->balance_at;
    ledger_balance_t balance;
    int error = ledger_account_balance_at(context->ledger, convert_u128_from_proto(op->account_id),
                                          op->timestamp, &balance);
    if (error) return read_error(request, error);
    Borsellino__V1__Balance balance_message;
    convert_balance_to_proto(&balance, &balance_message);
    Borsellino__V1__BalanceAtResponse result = BORSELLINO__V1__BALANCE_AT_RESPONSE__INIT;
    result.balance = &balance_message;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_BALANCE_AT;
    response.balance_at = &result;
    dispatch_response_encode(request, &response);
    return 0;
}

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

static int dispatch_status(dispatch_context_t *context, server_request_t *request) {
    ledger_stats_t stats;
    int error = ledger_stats(context->ledger, &stats);
    if (error) return error;
    Borsellino__V1__StatusResponse result = BORSELLINO__V1__STATUS_RESPONSE__INIT;
    result.version = (char *)SERVER_VERSION;
    result.journal_sequence = stats.journal_sequence;
    result.checkpoint_sequence = stats.checkpoint_sequence;
    result.last_timestamp = stats.last_timestamp;
    result.accounts_count = stats.accounts_count;
    result.pending_count = stats.pending_count;
    result.map_size = stats.map_size;
    result.map_used = stats.map_used;
    result.connections = context->connections;
    result.queue_depth = context->queue_depth;
    result.uptime_seconds = (monotonic_ns() - context->started_ns) / 1000000000ull;
    result.chain_head.data = stats.chain_head;
    result.chain_head.len = sizeof(stats.chain_head);
    result.batch_events_max = context->config->batch_events_max;
    result.frame_size_max = context->config->frame_size_max;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT;
    response.status_result = &result;
    dispatch_response_encode(request, &response);
    return 0;
}

/* Copies `text` for a quoted log value: '"', '\\' and control bytes become
 * '?', so that a certificate subject cannot forge log fields or lines. */
static void log_value_copy(char *out, size_t out_size, const char *text) {
    size_t at = 0;
    for (; text[at] != '\0' && at + 1 < out_size; at++) {
        unsigned char c = (unsigned char)text[at];
        out[at] = c < 0x20 || c == 0x7F || c == '"' || c == '\\' ? '?' : (char)c;
    }
    out[at] = '\0';
}

/* Authorizes the request (authz.h) before anything of it runs. Returns 0
 * with *denied_out telling whether it was refused (then answered
 * STATUS_PERMISSION_DENIED and logged: identity, role, op name and the
 * reason, never the request's contents), or the ledger error of a scope
 * lookup. */
static int dispatch_authorize(dispatch_context_t *context, server_request_t *request,
                              bool *denied_out) {
    char reason[AUTHZ_REASON_SIZE];
    bool allowed = false;
    *denied_out = false;
    int error = authz_allowed_scoped(context->ledger, &request->identity, request->request,
                                     &allowed, reason, sizeof(reason));
    if (error || allowed) return error;
    const authz_operation_t *row = authz_operation_find(request->request->op_case);
    char name[sizeof(request->identity.name)];
    log_value_copy(name, sizeof(name), request->identity.name);
    server_log("denied", "identity=\"%s\" role=%s op=%s reason=\"%s\"", name,
               authz_role_name(request->identity.role), row != NULL ? row->name : "unknown",
               reason);
    *denied_out = true;
    return answer_status(request, BORSELLINO__V1__STATUS__STATUS_PERMISSION_DENIED, reason);
}

int dispatch_request(dispatch_context_t *context, server_request_t *request) {
    if (context->started_ns == 0) context->started_ns = monotonic_ns();
    bool denied = false;
    int error = dispatch_authorize(context, request, &denied);
    if (error || denied) return error;
    switch (request->request->op_case) {
    case BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS:
        return dispatch_create_accounts(context, request);
    case BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS:
        return dispatch_create_transfers(context, request);
    case BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS:
        return dispatch_lookup_accounts(context, request);
    case BORSELLINO__V1__REQUEST__OP_LOOKUP_TRANSFERS:
        return dispatch_lookup_transfers(context, request);
    case BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY:
        return dispatch_account_history(context, request);
    case BORSELLINO__V1__REQUEST__OP_BALANCE_AT:
        return dispatch_balance_at(context, request);
    case BORSELLINO__V1__REQUEST__OP_STATUS:
        return dispatch_status(context, request);
    default:
        if (dispatch_welfare_handles(request->request->op_case)) {
            return dispatch_welfare_request(context, request);
        }
        if (dispatch_audit_handles(request->request->op_case)) {
            return dispatch_audit_request(context, request);
        }
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION,
                             "the request names no operation this server knows");
    }
}

bool dispatch_request_is_write(const Borsellino__V1__Request *request) {
    Borsellino__V1__Request__OpCase op = request->op_case;
    return op == BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS ||
           op == BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS || dispatch_welfare_is_write(op) ||
           op == BORSELLINO__V1__REQUEST__OP_AUDIT_SIGN;
}

bool dispatch_request_is_exclusive(const Borsellino__V1__Request *request) {
    return dispatch_audit_handles(request->op_case);
}
