/*
 * dispatch_welfare.c — the welfare operations of the protocol (Request
 * fields 30..60): request → welfare.h call → response, one function per
 * operation, on the writer thread inside the open write group like the
 * core's (dispatch.c). Writes join that group, so their results are
 * acknowledged only once the group is durable; reads see the group's
 * writes before them.
 *
 * Shape before state: what the C types cannot hold or the protocol bounds
 * (a negative enum number, a category name of 32 bytes or more, a
 * receipt hash that is not 32 bytes, a grant of 0 or more than
 * WELFARE_GRANT_EMPLOYEES_MAX entries, a movements limit outside
 * 1..WELFARE_MOVEMENTS_MAX) is answered with a status and never reaches
 * the ledger. Everything else (unknown enum numbers, zero ids, empty
 * windows...) is the welfare layer's to refuse with a WelfareResult, whose
 * INVALID_FIELD comes with ledger_last_error_message() as the message.
 *
 * Errors: a request-level refusal by the ledger (LEDGER_ERR_INVALID_ARGUMENT,
 * LEDGER_ERR_ACCOUNT_NOT_FOUND, LEDGER_ERR_INVALID_FILTER) becomes a status
 * and the group goes on; any other error is returned, which fails the
 * group (the writer rolls it back, or runs it again after map growth), as
 * for create_transfers. A hostile request therefore never fails the other
 * clients' requests of its group.
 *
 * Workload: registry writes are rare (set-up), purchases and captures are
 * the hot path (one small request each), grants are bulk (up to 16,384
 * employees, one request), statements are occasional and the only large
 * responses: a funder statement page is bounded by statement_rows_max()
 * so that it fits the server's frame size limit.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "dispatch.h"
#include "welfare.h"

enum {
    /* The largest encoding of one WelfareEmployeeBalance row inside the
     * statement: field tag and length (2), employee_id U128 (2 + 9 + 9),
     * balance and held (11 each). */
    STATEMENT_ROW_BYTES_MAX = 44,
    /* The largest encoding of a Response holding a funder statement with no
     * rows: 13 uint64 figures (1 + 10 bytes each, fees_returned's tag is 2
     * bytes: 144), spent_by_category packed (643), more (2), request_id
     * (11), status (2), the oneof's tag and length (6): 808, rounded up. */
    STATEMENT_OVERHEAD_BYTES_MAX = 816,
    /* Per-basis arrays of the annual statement, per-category ones of the
     * funder statement. */
    BASIS_ENTRIES = WELFARE_BASIS_COUNT,
    CATEGORY_ENTRIES = WELFARE_CATEGORY_ID_MAX + 1,
};

/* ------------------------------------------------------------------------ */
/* Classification                                                           */

/* Request fields 30..60 are the welfare operations: writes 30..46, reads
 * 47..58, then the batch of purchases (59) and the registry batch (60),
 * writes added after them; a new welfare op takes the next number and is
 * classified here. */
bool dispatch_welfare_handles(Borsellino__V1__Request__OpCase op) {
    return op >= BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CATEGORY &&
           op <= BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER;
}

bool dispatch_welfare_is_write(Borsellino__V1__Request__OpCase op) {
    return (op >= BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CATEGORY &&
            op <= BORSELLINO__V1__REQUEST__OP_WELFARE_PAYOUT) ||
           op == BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASES ||
           op == BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER;
}

/* Most employee rows of one funder statement page whose response stays
 * within `frame_size_max` bytes (at least 1, at most
 * WELFARE_STATEMENT_EMPLOYEES_MAX). */
static uint32_t statement_rows_max(uint32_t frame_size_max) {
    uint32_t rows = 0;
    if (frame_size_max > STATEMENT_OVERHEAD_BYTES_MAX) {
        rows = (frame_size_max - STATEMENT_OVERHEAD_BYTES_MAX) / STATEMENT_ROW_BYTES_MAX;
    }
    if (rows > WELFARE_STATEMENT_EMPLOYEES_MAX) rows = WELFARE_STATEMENT_EMPLOYEES_MAX;
    /* A page must make progress; the smallest frame_size_max the server
     * accepts (1024) still holds 4 rows. */
    return rows > 0 ? rows : 1;
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                  */

static int answer_status(server_request_t *request, Borsellino__V1__Status status,
                         const char *message) {
    dispatch_fail_response(request, status, message);
    return 0;
}

/* The message that goes with a result: the field named by the ledger for
 * INVALID_FIELD, else none. */
static char *result_message(ledger_t *ledger, uint32_t result) {
    if (result != WELFARE_RESULT_INVALID_FIELD) return (char *)"";
    return (char *)ledger_last_error_message(ledger);
}

/* An error returned by a welfare call: a request-level refusal is
 * answered (and the group goes on); anything else is returned and fails
 * the group. */
static int call_error(dispatch_context_t *context, server_request_t *request, int error) {
    assert(error != 0);
    switch (error) {
    case LEDGER_ERR_INVALID_ARGUMENT:
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                             ledger_last_error_message(context->ledger));
    case LEDGER_ERR_ACCOUNT_NOT_FOUND:
    case LEDGER_ERR_INVALID_FILTER:
        return answer_status(request, dispatch_status_for_error(error), ledger_strerror(error));
    default:
        return error;
    }
}

/* A query's error: as call_error, with `not_found` as the message of
 * STATUS_ACCOUNT_NOT_FOUND (which entity is missing). */
static int query_error(dispatch_context_t *context, server_request_t *request, int error,
                       const char *not_found) {
    if (error == LEDGER_ERR_ACCOUNT_NOT_FOUND) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND, not_found);
    }
    return call_error(context, request, error);
}

static void encode_oom(server_request_t *request) {
    dispatch_fail_response(request, BORSELLINO__V1__STATUS__STATUS_INTERNAL_ERROR, "out of memory");
}

/* Encodes the response of a write whose answer is {result, message} (the
 * thirteen response types differ only in their names, hence a macro); uses
 * the calling function's `context` and `request`. */
#define ANSWER_RESULT(TYPE, INIT, FIELD, CASE, result_value)                          \
    do {                                                                              \
        TYPE answer_ = INIT;                                                          \
        answer_.result = (Borsellino__V1__WelfareResult)(result_value);               \
        answer_.message = result_message(context->ledger, (result_value));            \
        Borsellino__V1__Response response_ = BORSELLINO__V1__RESPONSE__INIT;          \
        response_.result_case = BORSELLINO__V1__RESPONSE__RESULT_##CASE;              \
        response_.FIELD = &answer_;                                                   \
        dispatch_response_encode(request, &response_);                                \
    } while (0)

/* Which batch response carries per-entry results. */
typedef enum results_kind {
    RESULTS_GRANT,
    RESULTS_PURCHASES,
    RESULTS_REGISTER,
} results_kind_t;

/* Per-entry results of a grant, a batch of purchases or a registry batch,
 * with the detail of the last INVALID_FIELD as the message. */
static void results_encode(dispatch_context_t *context, server_request_t *request,
                           const uint32_t *results, uint32_t count, results_kind_t kind) {
    Borsellino__V1__WelfareResult *items = calloc(count, sizeof(*items));
    if (items == NULL) {
        encode_oom(request);
        return;
    }
    bool invalid = false;
    for (uint32_t i = 0; i < count; i++) {
        items[i] = (Borsellino__V1__WelfareResult)results[i];
        invalid = invalid || results[i] == WELFARE_RESULT_INVALID_FIELD;
    }
    char *message = result_message(context->ledger, invalid ? WELFARE_RESULT_INVALID_FIELD
                                                            : WELFARE_RESULT_OK);
    Borsellino__V1__WelfareGrantResponse grant = BORSELLINO__V1__WELFARE_GRANT_RESPONSE__INIT;
    Borsellino__V1__WelfarePurchasesResponse batch = BORSELLINO__V1__WELFARE_PURCHASES_RESPONSE__INIT;
    Borsellino__V1__WelfareRegisterResponse registry =
        BORSELLINO__V1__WELFARE_REGISTER_RESPONSE__INIT;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    /* The three answers have the same fields under different names. */
#define RESULTS_SET(answer, CASE, field)                                \
    do {                                                                \
        (answer).n_results = count;                                     \
        (answer).results = items;                                       \
        (answer).message = message;                                     \
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_##CASE; \
        response.field = &(answer);                                     \
    } while (0)
    switch (kind) {
    case RESULTS_PURCHASES: RESULTS_SET(batch, WELFARE_PURCHASES, welfare_purchases); break;
    case RESULTS_REGISTER: RESULTS_SET(registry, WELFARE_REGISTER, welfare_register); break;
    case RESULTS_GRANT: RESULTS_SET(grant, WELFARE_GRANT, welfare_grant); break;
    }
#undef RESULTS_SET
    dispatch_response_encode(request, &response);
    free(items);
}

/* ------------------------------------------------------------------------ */
/* Rules and registry                                                       */

static int welfare_set_category_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareSetCategoryRequest *op = request->request->welfare_set_category;
    welfare_category_t category = {0};
    if (op->category != NULL) {
        if (!convert_welfare_category_fits(op->category)) {
            return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                                 "category: fiscal_basis is negative or the name has 32 "
                                 "bytes or more");
        }
        convert_welfare_category_from_proto(op->category, &category);
    }
    uint32_t result = 0;
    int error = welfare_set_category(context->ledger, &category, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareSetCategoryResponse,
                  BORSELLINO__V1__WELFARE_SET_CATEGORY_RESPONSE__INIT, welfare_set_category,
                  WELFARE_SET_CATEGORY, result);
    return 0;
}

static int welfare_set_fringe_cap_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareSetFringeCapRequest *op = request->request->welfare_set_fringe_cap;
    welfare_fringe_cap_t cap;
    convert_welfare_fringe_cap_from_proto(op->cap, &cap);
    uint32_t result = 0;
    int error = welfare_set_fringe_cap(context->ledger, &cap, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareSetFringeCapResponse,
                  BORSELLINO__V1__WELFARE_SET_FRINGE_CAP_RESPONSE__INIT, welfare_set_fringe_cap,
                  WELFARE_SET_FRINGE_CAP, result);
    return 0;
}

static int welfare_create_funder_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareCreateFunderRequest *op = request->request->welfare_create_funder;
    welfare_funder_t funder = {0};
    if (op->funder != NULL) {
        if (!convert_welfare_funder_fits(op->funder)) {
            return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                                 "funder: kind is negative");
        }
        convert_welfare_funder_from_proto(op->funder, &funder);
    }
    uint32_t result = 0;
    int error = welfare_create_funder(context->ledger, &funder, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareCreateFunderResponse,
                  BORSELLINO__V1__WELFARE_CREATE_FUNDER_RESPONSE__INIT, welfare_create_funder,
                  WELFARE_CREATE_FUNDER, result);
    return 0;
}

static int welfare_create_provider_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareCreateProviderRequest *op =
        request->request->welfare_create_provider;
    welfare_provider_t provider = {0};
    if (op->provider != NULL) convert_welfare_provider_from_proto(op->provider, &provider);
    uint32_t result = 0;
    int error = welfare_create_provider(context->ledger, &provider, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareCreateProviderResponse,
                  BORSELLINO__V1__WELFARE_CREATE_PROVIDER_RESPONSE__INIT, welfare_create_provider,
                  WELFARE_CREATE_PROVIDER, result);
    return 0;
}

static int welfare_create_employee_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareCreateEmployeeRequest *op =
        request->request->welfare_create_employee;
    welfare_employee_t employee = {0};
    if (op->employee != NULL) convert_welfare_employee_from_proto(op->employee, &employee);
    uint32_t result = 0;
    int error = welfare_create_employee(context->ledger, &employee, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareCreateEmployeeResponse,
                  BORSELLINO__V1__WELFARE_CREATE_EMPLOYEE_RESPONSE__INIT, welfare_create_employee,
                  WELFARE_CREATE_EMPLOYEE, result);
    return 0;
}

static int welfare_create_plan_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareCreatePlanRequest *op = request->request->welfare_create_plan;
    welfare_plan_t plan = {0};
    if (op->plan != NULL) {
        if (!convert_welfare_plan_fits(op->plan)) {
            return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                                 "plan: expiry_policy is negative");
        }
        convert_welfare_plan_from_proto(op->plan, &plan);
    }
    uint32_t result = 0;
    int error = welfare_create_plan(context->ledger, &plan, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareCreatePlanResponse,
                  BORSELLINO__V1__WELFARE_CREATE_PLAN_RESPONSE__INIT, welfare_create_plan,
                  WELFARE_CREATE_PLAN, result);
    return 0;
}

static int welfare_set_cap_class_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareSetCapClassRequest *op = request->request->welfare_set_cap_class;
    if (!convert_welfare_enum_fits(op->cap_class)) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                             "cap_class is negative");
    }
    uint32_t result = 0;
    int error = welfare_set_cap_class(context->ledger, convert_u128_from_proto(op->employee_id),
                                      op->year, (uint32_t)op->cap_class, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareSetCapClassResponse,
                  BORSELLINO__V1__WELFARE_SET_CAP_CLASS_RESPONSE__INIT, welfare_set_cap_class,
                  WELFARE_SET_CAP_CLASS, result);
    return 0;
}

/* Entry `in` of a registry batch as the ledger's entry; NULL when it fits,
 * else what does not fit its C type (answered STATUS_BAD_REQUEST, as the
 * single request of its kind would be). */
static const char *register_entry_from_proto(const Borsellino__V1__WelfareRegisterEntry *in,
                                             welfare_register_entry_t *out) {
    memset(out, 0, sizeof(*out));
    switch (in->entry_case) {
    case BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_FUNDER:
        if (!convert_welfare_funder_fits(in->funder)) return "funder: kind is negative";
        out->kind = WELFARE_REGISTER_FUNDER;
        convert_welfare_funder_from_proto(in->funder, &out->u.funder);
        return NULL;
    case BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_PROVIDER:
        out->kind = WELFARE_REGISTER_PROVIDER;
        convert_welfare_provider_from_proto(in->provider, &out->u.provider);
        return NULL;
    case BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_EMPLOYEE:
        out->kind = WELFARE_REGISTER_EMPLOYEE;
        convert_welfare_employee_from_proto(in->employee, &out->u.employee);
        return NULL;
    case BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_CAP_CLASS:
        if (!convert_welfare_enum_fits(in->cap_class->cap_class)) return "cap_class is negative";
        out->kind = WELFARE_REGISTER_CAP_CLASS;
        out->u.cap_class.employee_id = convert_u128_from_proto(in->cap_class->employee_id);
        out->u.cap_class.year = in->cap_class->year;
        out->u.cap_class.cap_class = (uint32_t)in->cap_class->cap_class;
        return NULL;
    case BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_PLAN:
        if (!convert_welfare_plan_fits(in->plan)) return "plan: expiry_policy is negative";
        out->kind = WELFARE_REGISTER_PLAN;
        convert_welfare_plan_from_proto(in->plan, &out->u.plan);
        return NULL;
    default:
        return NULL; /* kind 0: the ledger answers INVALID_FIELD */
    }
}

/* A registry batch: one registry operation per entry, in order, in the
 * open group; a storage error fails the group as for one operation. */
static int welfare_register_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareRegisterRequest *op = request->request->welfare_register;
    if (op->n_entries == 0) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY,
                             "the registry batch has no entries");
    }
    char message[128];
    if (op->n_entries > context->config->batch_events_max) {
        snprintf(message, sizeof(message), "the registry batch has %zu entries; the limit is %u",
                 op->n_entries, context->config->batch_events_max);
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, message);
    }
    uint32_t count = (uint32_t)op->n_entries;
    welfare_register_entry_t *entries = malloc(count * sizeof(*entries));
    uint32_t *results = calloc(count, sizeof(*results));
    int error = entries != NULL && results != NULL ? 0 : LEDGER_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count && !error; i++) {
        const char *misfit = register_entry_from_proto(op->entries[i], &entries[i]);
        if (misfit != NULL) {
            snprintf(message, sizeof(message), "entry %u: %s", i, misfit);
            free(entries);
            free(results);
            return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, message);
        }
    }
    if (!error) error = welfare_register(context->ledger, entries, count, results);
    if (!error) results_encode(context, request, results, count, RESULTS_REGISTER);
    free(entries);
    free(results);
    return error ? call_error(context, request, error) : 0;
}

/* ------------------------------------------------------------------------ */
/* Money                                                                    */

static int welfare_fund_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareFundRequest *op = request->request->welfare_fund;
    welfare_fund_t fund = {convert_u128_from_proto(op->id), convert_u128_from_proto(op->funder_id),
                           op->amount};
    uint32_t result = 0;
    int error = welfare_fund(context->ledger, &fund, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareFundResponse, BORSELLINO__V1__WELFARE_FUND_RESPONSE__INIT,
                  welfare_fund, WELFARE_FUND, result);
    return 0;
}

static int welfare_grant_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareGrantRequest *op = request->request->welfare_grant;
    if (op->n_entries == 0) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY,
                             "the grant has no entries");
    }
    if (op->n_entries > WELFARE_GRANT_EMPLOYEES_MAX) {
        char message[96];
        snprintf(message, sizeof(message), "the grant has %zu entries; the limit is %d",
                 op->n_entries, WELFARE_GRANT_EMPLOYEES_MAX);
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, message);
    }
    uint32_t count = (uint32_t)op->n_entries;
    welfare_grant_entry_t *entries = malloc(count * sizeof(*entries));
    uint32_t *results = calloc(count, sizeof(*results));
    int error = entries && results ? 0 : LEDGER_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count && !error; i++) {
        entries[i].employee_id = convert_u128_from_proto(op->entries[i]->employee_id);
        entries[i].amount = op->entries[i]->amount;
    }
    if (!error) {
        error = welfare_grant(context->ledger, convert_u128_from_proto(op->id),
                              convert_u128_from_proto(op->plan_id), entries, count, results);
    }
    if (!error) results_encode(context, request, results, count, RESULTS_GRANT);
    free(entries);
    free(results);
    return error ? call_error(context, request, error) : 0;
}

static welfare_purchase_t purchase_from_proto(const Borsellino__V1__WelfarePurchaseRequest *op) {
    welfare_purchase_t purchase = {
        .id = convert_u128_from_proto(op->id),
        .employee_id = convert_u128_from_proto(op->employee_id),
        .provider_id = convert_u128_from_proto(op->provider_id),
        .category = op->category,
        .hold_timeout_s = op->hold_timeout_s,
        .amount = op->amount,
        .reference = convert_u128_from_proto(op->reference),
    };
    return purchase;
}

static int welfare_purchase_op(dispatch_context_t *context, server_request_t *request) {
    welfare_purchase_t purchase = purchase_from_proto(request->request->welfare_purchase);
    uint32_t result = 0;
    int error = welfare_purchase(context->ledger, &purchase, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfarePurchaseResponse,
                  BORSELLINO__V1__WELFARE_PURCHASE_RESPONSE__INIT, welfare_purchase,
                  WELFARE_PURCHASE, result);
    return 0;
}

/* A batch of purchases: one welfare_purchase per entry, in order, in the
 * open group; a storage error fails the group as for one purchase. */
static int welfare_purchases_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfarePurchasesRequest *op = request->request->welfare_purchases;
    if (op->n_purchases == 0) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY,
                             "the batch has no purchases");
    }
    if (op->n_purchases > context->config->batch_events_max) {
        char message[128];
        snprintf(message, sizeof(message), "the batch has %zu purchases; the limit is %u",
                 op->n_purchases, context->config->batch_events_max);
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE, message);
    }
    uint32_t count = (uint32_t)op->n_purchases;
    uint32_t *results = calloc(count, sizeof(*results));
    welfare_purchase_t *purchases = calloc(count, sizeof(*purchases));
    int error = results != NULL && purchases != NULL ? 0 : LEDGER_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count && !error; i++) purchases[i] = purchase_from_proto(op->purchases[i]);
    if (!error) error = welfare_purchases(context->ledger, purchases, count, results);
    if (!error) results_encode(context, request, results, count, RESULTS_PURCHASES);
    free(results);
    free(purchases);
    return error ? call_error(context, request, error) : 0;
}

static int welfare_capture_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareCaptureRequest *op = request->request->welfare_capture;
    uint32_t result = 0;
    int error = welfare_capture(context->ledger, convert_u128_from_proto(op->id),
                                convert_u128_from_proto(op->purchase_id), op->amount, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareCaptureResponse,
                  BORSELLINO__V1__WELFARE_CAPTURE_RESPONSE__INIT, welfare_capture,
                  WELFARE_CAPTURE, result);
    return 0;
}

static int welfare_void_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareVoidRequest *op = request->request->welfare_void;
    uint32_t result = 0;
    int error = welfare_void(context->ledger, convert_u128_from_proto(op->id),
                             convert_u128_from_proto(op->purchase_id), &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareVoidResponse, BORSELLINO__V1__WELFARE_VOID_RESPONSE__INIT,
                  welfare_void, WELFARE_VOID, result);
    return 0;
}

static int welfare_refund_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareRefundRequest *op = request->request->welfare_refund;
    uint32_t result = 0;
    int error = welfare_refund(context->ledger, convert_u128_from_proto(op->id),
                               convert_u128_from_proto(op->purchase_id), op->amount, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareRefundResponse,
                  BORSELLINO__V1__WELFARE_REFUND_RESPONSE__INIT, welfare_refund, WELFARE_REFUND,
                  result);
    return 0;
}

static int welfare_reimburse_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareReimburseRequest *op = request->request->welfare_reimburse;
    welfare_reimbursement_t reimbursement = {
        .id = convert_u128_from_proto(op->id),
        .employee_id = convert_u128_from_proto(op->employee_id),
        .category = op->category,
        .receipt_date = op->receipt_date,
        .amount = op->amount,
        .receipt_amount = op->receipt_amount,
    };
    /* Absent (0 bytes) means no receipt, which the layer refuses with
     * RECEIPT_REQUIRED; any other length is not a SHA-256. */
    if (op->receipt_hash.len != 0 && op->receipt_hash.len != sizeof(reimbursement.receipt_hash)) {
        char message[96];
        snprintf(message, sizeof(message), "receipt_hash has %zu bytes; a SHA-256 has 32",
                 op->receipt_hash.len);
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST, message);
    }
    if (op->receipt_hash.len != 0) {
        memcpy(reimbursement.receipt_hash, op->receipt_hash.data, op->receipt_hash.len);
    }
    uint32_t result = 0;
    int error = welfare_reimburse(context->ledger, &reimbursement, &result);
    if (error) return call_error(context, request, error);
    ANSWER_RESULT(Borsellino__V1__WelfareReimburseResponse,
                  BORSELLINO__V1__WELFARE_REIMBURSE_RESPONSE__INIT, welfare_reimburse,
                  WELFARE_REIMBURSE, result);
    return 0;
}

/* Sweep and offboard: the same answer, with the report when OK. */
static int welfare_sweep_or_offboard_op(dispatch_context_t *context, server_request_t *request,
                                        bool sweep) {
    welfare_sweep_report_t report = {0, 0, 0, 0, 0};
    uint32_t result = 0;
    int error = 0;
    if (sweep) {
        const Borsellino__V1__WelfareSweepRequest *op = request->request->welfare_sweep;
        error = welfare_sweep(context->ledger, convert_u128_from_proto(op->id),
                              convert_u128_from_proto(op->plan_id), &result, &report);
    } else {
        const Borsellino__V1__WelfareOffboardRequest *op = request->request->welfare_offboard;
        error = welfare_offboard(context->ledger, convert_u128_from_proto(op->id),
                                 convert_u128_from_proto(op->employee_id), &result, &report);
    }
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfareSweepReport report_message;
    convert_welfare_sweep_report_to_proto(&report, &report_message);
    Borsellino__V1__WelfareSweepReport *report_sent =
        result == WELFARE_RESULT_OK ? &report_message : NULL;
    Borsellino__V1__WelfareSweepResponse sweep_answer =
        BORSELLINO__V1__WELFARE_SWEEP_RESPONSE__INIT;
    Borsellino__V1__WelfareOffboardResponse offboard_answer =
        BORSELLINO__V1__WELFARE_OFFBOARD_RESPONSE__INIT;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    if (sweep) {
        sweep_answer.result = (Borsellino__V1__WelfareResult)result;
        sweep_answer.message = result_message(context->ledger, result);
        sweep_answer.report = report_sent;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_SWEEP;
        response.welfare_sweep = &sweep_answer;
    } else {
        offboard_answer.result = (Borsellino__V1__WelfareResult)result;
        offboard_answer.message = result_message(context->ledger, result);
        offboard_answer.report = report_sent;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_OFFBOARD;
        response.welfare_offboard = &offboard_answer;
    }
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_payout_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfarePayoutRequest *op = request->request->welfare_payout;
    uint32_t result = 0;
    uint64_t paid = 0;
    int error = welfare_payout(context->ledger, convert_u128_from_proto(op->id),
                               convert_u128_from_proto(op->provider_id), op->amount,
                               convert_u128_from_proto(op->reference), &result, &paid);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfarePayoutResponse answer = BORSELLINO__V1__WELFARE_PAYOUT_RESPONSE__INIT;
    answer.result = (Borsellino__V1__WelfareResult)result;
    answer.message = result_message(context->ledger, result);
    answer.paid = result == WELFARE_RESULT_OK ? paid : 0;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PAYOUT;
    response.welfare_payout = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Wallet and movements                                                     */

static int welfare_wallet_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareWalletRequest *op = request->request->welfare_wallet;
    welfare_wallet_t wallet;
    bool found = false;
    int error = welfare_wallet(context->ledger, convert_u128_from_proto(op->employee_id), &wallet,
                               &found);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfareWalletResponse answer = BORSELLINO__V1__WELFARE_WALLET_RESPONSE__INIT;
    Borsellino__V1__U128 employee_id, funder_id;
    Borsellino__V1__WelfarePot pots[WELFARE_POTS_PER_EMPLOYEE_MAX];
    Borsellino__V1__WelfarePot *pointers[WELFARE_POTS_PER_EMPLOYEE_MAX];
    convert_welfare_pot_storage_t storage[WELFARE_POTS_PER_EMPLOYEE_MAX];
    answer.found = found;
    if (found) {
        assert(wallet.pots_count <= WELFARE_POTS_PER_EMPLOYEE_MAX);
        convert_u128_to_proto(wallet.employee_id, &employee_id);
        convert_u128_to_proto(wallet.funder_id, &funder_id);
        answer.employee_id = &employee_id;
        answer.funder_id = &funder_id;
        answer.offboarded = wallet.offboarded;
        for (uint32_t i = 0; i < wallet.pots_count; i++) {
            convert_welfare_pot_to_proto(&wallet.pots[i], &pots[i], &storage[i]);
            pointers[i] = &pots[i];
        }
        answer.n_pots = wallet.pots_count;
        answer.pots = pointers;
    }
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_WALLET;
    response.welfare_wallet = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static void movements_encode(server_request_t *request, const welfare_movement_t *movements,
                             uint32_t count, bool more) {
    Borsellino__V1__WelfareMovement *items = calloc(count ? count : 1, sizeof(*items));
    Borsellino__V1__WelfareMovement **pointers = calloc(count ? count : 1, sizeof(*pointers));
    convert_welfare_movement_storage_t *storage = calloc(count ? count : 1, sizeof(*storage));
    if (items && pointers && storage) {
        for (uint32_t i = 0; i < count; i++) {
            convert_welfare_movement_to_proto(&movements[i], &items[i], &storage[i]);
            pointers[i] = &items[i];
        }
        Borsellino__V1__WelfareMovementsResponse answer =
            BORSELLINO__V1__WELFARE_MOVEMENTS_RESPONSE__INIT;
        answer.n_movements = count;
        answer.movements = pointers;
        answer.more = more;
        Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_MOVEMENTS;
        response.welfare_movements = &answer;
        dispatch_response_encode(request, &response);
    } else {
        encode_oom(request);
    }
    free(items);
    free(pointers);
    free(storage);
}

static int welfare_movements_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareMovementsRequest *op = request->request->welfare_movements;
    if (op->limit < WELFARE_MOVEMENTS_MIN || op->limit > WELFARE_MOVEMENTS_MAX) {
        char message[64];
        snprintf(message, sizeof(message), "limit must be %d..%d", WELFARE_MOVEMENTS_MIN,
                 WELFARE_MOVEMENTS_MAX);
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER, message);
    }
    if (op->timestamp_max != 0 && op->timestamp_min > op->timestamp_max) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER,
                             "timestamp_min is after timestamp_max");
    }
    welfare_movement_t *movements = malloc(op->limit * sizeof(*movements));
    if (movements == NULL) return LEDGER_ERR_NO_MEMORY;
    uint32_t count = 0;
    bool more = false;
    int error = welfare_movements(context->ledger, convert_u128_from_proto(op->employee_id),
                                  op->timestamp_min, op->timestamp_max, movements, op->limit,
                                  &count, &more);
    if (!error) {
        assert(count <= op->limit);
        movements_encode(request, movements, count, more);
    }
    free(movements);
    return error ? query_error(context, request, error, "no employee has this id") : 0;
}

/* ------------------------------------------------------------------------ */
/* Statements                                                               */

static void funder_statement_encode(server_request_t *request,
                                    welfare_funder_statement_t *statement,
                                    const welfare_employee_balance_t *employees,
                                    uint32_t count, bool more) {
    Borsellino__V1__WelfareEmployeeBalance *items = calloc(count ? count : 1, sizeof(*items));
    Borsellino__V1__WelfareEmployeeBalance **pointers =
        calloc(count ? count : 1, sizeof(*pointers));
    Borsellino__V1__U128 *ids = calloc(count ? count : 1, sizeof(*ids));
    if (items == NULL || pointers == NULL || ids == NULL) {
        encode_oom(request);
    } else {
        Borsellino__V1__WelfareFunderStatementResponse answer =
            BORSELLINO__V1__WELFARE_FUNDER_STATEMENT_RESPONSE__INIT;
        answer.funded = statement->funded;
        answer.granted = statement->granted;
        answer.spent = statement->spent;
        answer.n_spent_by_category = CATEGORY_ENTRIES;
        answer.spent_by_category = statement->spent_by_category;
        answer.refunded = statement->refunded;
        answer.reimbursed = statement->reimbursed;
        answer.expired_back = statement->expired_back;
        answer.forfeited = statement->forfeited;
        answer.carried_over = statement->carried_over;
        answer.fees = statement->fees;
        answer.fees_returned = statement->fees_returned;
        answer.funds_balance = statement->funds_balance;
        answer.pots_balance = statement->pots_balance;
        answer.held = statement->held;
        for (uint32_t i = 0; i < count; i++) {
            borsellino__v1__welfare_employee_balance__init(&items[i]);
            convert_u128_to_proto(employees[i].employee_id, &ids[i]);
            items[i].employee_id = &ids[i];
            items[i].balance = employees[i].balance;
            items[i].held = employees[i].held;
            pointers[i] = &items[i];
        }
        answer.n_employees = count;
        answer.employees = pointers;
        answer.more = more;
        Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
        response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FUNDER_STATEMENT;
        response.welfare_funder_statement = &answer;
        dispatch_response_encode(request, &response);
    }
    free(items);
    free(pointers);
    free(ids);
}

static int welfare_funder_statement_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareFunderStatementRequest *op =
        request->request->welfare_funder_statement;
    uint32_t capacity = statement_rows_max(context->config->frame_size_max);
    if (op->employees_limit < capacity) capacity = op->employees_limit;
    welfare_employee_balance_t *employees = malloc((capacity ? capacity : 1) * sizeof(*employees));
    welfare_funder_statement_t *statement = calloc(1, sizeof(*statement));
    int error = employees && statement ? 0 : LEDGER_ERR_NO_MEMORY;
    uint32_t count = 0;
    bool more = false;
    if (!error) {
        error = welfare_funder_statement(context->ledger, convert_u128_from_proto(op->funder_id),
                                         op->timestamp_min, op->timestamp_max, statement,
                                         convert_u128_from_proto(op->employees_after), employees,
                                         capacity, &count, &more);
    }
    if (!error) {
        assert(count <= capacity);
        funder_statement_encode(request, statement, employees, count, more);
    }
    free(employees);
    free(statement);
    return error ? query_error(context, request, error, "no funder has this id") : 0;
}

static int welfare_provider_statement_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareProviderStatementRequest *op =
        request->request->welfare_provider_statement;
    welfare_provider_statement_t statement = {0, 0, 0, 0, 0, 0};
    int error = welfare_provider_statement(context->ledger,
                                           convert_u128_from_proto(op->provider_id),
                                           op->timestamp_min, op->timestamp_max, &statement);
    if (error) return query_error(context, request, error, "no provider has this id");
    Borsellino__V1__WelfareProviderStatementResponse answer =
        BORSELLINO__V1__WELFARE_PROVIDER_STATEMENT_RESPONSE__INIT;
    answer.sales = statement.sales;
    answer.refunds = statement.refunds;
    answer.fees = statement.fees;
    answer.fees_returned = statement.fees_returned;
    answer.payouts = statement.payouts;
    answer.payable = statement.payable;
    answer.held = statement.held;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PROVIDER_STATEMENT;
    response.welfare_provider_statement = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_annual_statement_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareAnnualStatementRequest *op =
        request->request->welfare_annual_statement;
    welfare_annual_statement_t statement;
    memset(&statement, 0, sizeof(statement));
    int error = welfare_annual_statement(context->ledger, convert_u128_from_proto(op->employee_id),
                                         op->year, &statement);
    if (error) return query_error(context, request, error, "no employee has this id");
    Borsellino__V1__WelfareAnnualStatementResponse answer =
        BORSELLINO__V1__WELFARE_ANNUAL_STATEMENT_RESPONSE__INIT;
    answer.year = statement.year;
    answer.cap_class = (Borsellino__V1__WelfareCapClass)statement.cap_class;
    answer.fringe_cap = statement.fringe_cap;
    answer.fringe_used = statement.fringe_used;
    answer.n_spent = BASIS_ENTRIES;
    answer.spent = statement.spent;
    answer.n_reimbursed = BASIS_ENTRIES;
    answer.reimbursed = statement.reimbursed;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_ANNUAL_STATEMENT;
    response.welfare_annual_statement = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Catalog, caps, lookups, platform                                         */

static int welfare_list_categories_op(dispatch_context_t *context, server_request_t *request) {
    welfare_category_t categories[WELFARE_CATEGORY_ID_MAX];
    uint32_t count = 0;
    int error = welfare_list_categories(context->ledger, categories, WELFARE_CATEGORY_ID_MAX,
                                        &count);
    if (error) return call_error(context, request, error);
    assert(count <= WELFARE_CATEGORY_ID_MAX);
    Borsellino__V1__WelfareCategory items[WELFARE_CATEGORY_ID_MAX];
    Borsellino__V1__WelfareCategory *pointers[WELFARE_CATEGORY_ID_MAX];
    for (uint32_t i = 0; i < count; i++) {
        convert_welfare_category_to_proto(&categories[i], &items[i]);
        pointers[i] = &items[i];
    }
    Borsellino__V1__WelfareListCategoriesResponse answer =
        BORSELLINO__V1__WELFARE_LIST_CATEGORIES_RESPONSE__INIT;
    answer.n_categories = count;
    answer.categories = pointers;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LIST_CATEGORIES;
    response.welfare_list_categories = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_fringe_cap_op(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__WelfareFringeCapRequest *op = request->request->welfare_fringe_cap;
    if (!convert_welfare_enum_fits(op->cap_class)) {
        return answer_status(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                             "cap_class is negative");
    }
    uint64_t cap = 0;
    int error = welfare_fringe_cap_for(context->ledger, op->year, (uint32_t)op->cap_class, &cap);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfareFringeCapResponse answer =
        BORSELLINO__V1__WELFARE_FRINGE_CAP_RESPONSE__INIT;
    answer.cap = cap;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FRINGE_CAP;
    response.welfare_fringe_cap = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

/* The registry lookups: found, and the entity when it is. */
static int welfare_lookup_funder_op(dispatch_context_t *context, server_request_t *request) {
    welfare_funder_t funder;
    bool found = false;
    int error = welfare_lookup_funder(
        context->ledger, convert_u128_from_proto(request->request->welfare_lookup_funder->id),
        &funder, &found);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfareFunder message;
    convert_welfare_funder_storage_t storage;
    if (found) convert_welfare_funder_to_proto(&funder, &message, &storage);
    Borsellino__V1__WelfareLookupFunderResponse answer =
        BORSELLINO__V1__WELFARE_LOOKUP_FUNDER_RESPONSE__INIT;
    answer.found = found;
    answer.funder = found ? &message : NULL;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LOOKUP_FUNDER;
    response.welfare_lookup_funder = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_lookup_provider_op(dispatch_context_t *context, server_request_t *request) {
    welfare_provider_t provider;
    bool found = false;
    int error = welfare_lookup_provider(
        context->ledger, convert_u128_from_proto(request->request->welfare_lookup_provider->id),
        &provider, &found);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfareProvider message;
    convert_welfare_provider_storage_t storage;
    if (found) convert_welfare_provider_to_proto(&provider, &message, &storage);
    Borsellino__V1__WelfareLookupProviderResponse answer =
        BORSELLINO__V1__WELFARE_LOOKUP_PROVIDER_RESPONSE__INIT;
    answer.found = found;
    answer.provider = found ? &message : NULL;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LOOKUP_PROVIDER;
    response.welfare_lookup_provider = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_lookup_employee_op(dispatch_context_t *context, server_request_t *request) {
    welfare_employee_t employee;
    bool found = false;
    int error = welfare_lookup_employee(
        context->ledger, convert_u128_from_proto(request->request->welfare_lookup_employee->id),
        &employee, &found);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfareEmployee message;
    convert_welfare_employee_storage_t storage;
    if (found) convert_welfare_employee_to_proto(&employee, &message, &storage);
    Borsellino__V1__WelfareLookupEmployeeResponse answer =
        BORSELLINO__V1__WELFARE_LOOKUP_EMPLOYEE_RESPONSE__INIT;
    answer.found = found;
    answer.employee = found ? &message : NULL;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LOOKUP_EMPLOYEE;
    response.welfare_lookup_employee = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_lookup_plan_op(dispatch_context_t *context, server_request_t *request) {
    welfare_plan_t plan;
    bool found = false;
    int error = welfare_lookup_plan(
        context->ledger, convert_u128_from_proto(request->request->welfare_lookup_plan->id), &plan,
        &found);
    if (error) return call_error(context, request, error);
    Borsellino__V1__WelfarePlan message;
    convert_welfare_plan_storage_t storage;
    if (found) convert_welfare_plan_to_proto(&plan, &message, &storage);
    Borsellino__V1__WelfareLookupPlanResponse answer =
        BORSELLINO__V1__WELFARE_LOOKUP_PLAN_RESPONSE__INIT;
    answer.found = found;
    answer.plan = found ? &message : NULL;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LOOKUP_PLAN;
    response.welfare_lookup_plan = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

static int welfare_platform_op(dispatch_context_t *context, server_request_t *request) {
    welfare_platform_t platform;
    memset(&platform, 0, sizeof(platform));
    int error = welfare_platform(context->ledger, &platform);
    if (error) return call_error(context, request, error);
    Borsellino__V1__U128 bank, fees, forfeited;
    convert_u128_to_proto(platform.bank_account_id, &bank);
    convert_u128_to_proto(platform.fees_account_id, &fees);
    convert_u128_to_proto(platform.forfeited_account_id, &forfeited);
    Borsellino__V1__WelfarePlatformResponse answer =
        BORSELLINO__V1__WELFARE_PLATFORM_RESPONSE__INIT;
    answer.bank_account_id = &bank;
    answer.fees_account_id = &fees;
    answer.forfeited_account_id = &forfeited;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PLATFORM;
    response.welfare_platform = &answer;
    dispatch_response_encode(request, &response);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                              */

int dispatch_welfare_request(dispatch_context_t *context, server_request_t *request) {
    assert(context != NULL);
    assert(dispatch_welfare_handles(request->request->op_case));
    switch (request->request->op_case) {
    case BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CATEGORY:
        return welfare_set_category_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_SET_FRINGE_CAP:
        return welfare_set_fringe_cap_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_FUNDER:
        return welfare_create_funder_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PROVIDER:
        return welfare_create_provider_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_EMPLOYEE:
        return welfare_create_employee_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PLAN:
        return welfare_create_plan_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CAP_CLASS:
        return welfare_set_cap_class_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_FUND:
        return welfare_fund_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT:
        return welfare_grant_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASE:
        return welfare_purchase_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASES:
        return welfare_purchases_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER:
        return welfare_register_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_CAPTURE:
        return welfare_capture_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_VOID:
        return welfare_void_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_REFUND:
        return welfare_refund_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_REIMBURSE:
        return welfare_reimburse_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_SWEEP:
        return welfare_sweep_or_offboard_op(context, request, true);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_OFFBOARD:
        return welfare_sweep_or_offboard_op(context, request, false);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_PAYOUT:
        return welfare_payout_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_WALLET:
        return welfare_wallet_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_MOVEMENTS:
        return welfare_movements_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_FUNDER_STATEMENT:
        return welfare_funder_statement_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_PROVIDER_STATEMENT:
        return welfare_provider_statement_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_ANNUAL_STATEMENT:
        return welfare_annual_statement_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_LIST_CATEGORIES:
        return welfare_list_categories_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_FRINGE_CAP:
        return welfare_fringe_cap_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_LOOKUP_FUNDER:
        return welfare_lookup_funder_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_LOOKUP_PROVIDER:
        return welfare_lookup_provider_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_LOOKUP_EMPLOYEE:
        return welfare_lookup_employee_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_LOOKUP_PLAN:
        return welfare_lookup_plan_op(context, request);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_PLATFORM:
        return welfare_platform_op(context, request);
    default:
        dispatch_fail_response(request, BORSELLINO__V1__STATUS__STATUS_UNKNOWN_OPERATION,
                               "the request names no operation this server knows");
        return 0;
    }
}
