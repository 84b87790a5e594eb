/*
 * welfare_money.c — `borsellino welfare fund|grant|purchase|capture|void|
 * refund|reimburse|sweep|offboard|payout`: the money operations. Each is
 * one request (a bulk grant: one per 16,384 employees, on one connection)
 * carrying an operation id: --id, or a new time-ordered id printed with
 * the outcome, so that a lost answer can be retried with the same id.
 *
 * Bulk grants read their file completely (checking every line) before
 * sending anything; each employee is its own operation on the server, so
 * a file sent again with the same --id answers "exists" for those already
 * granted and grants the rest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "convert.h"
#include "frame.h"
#include "welfare_cli.h"

enum {
    CLI_WELFARE_SUBJECT_SIZE = 256,
    CLI_WELFARE_EXTRA_SIZE = 512,
    CLI_WELFARE_SHA256_SIZE = 32,
    CLI_WELFARE_READ_CHUNK = 64 * 1024,
};

#define OPTIONS_COUNT(options) (sizeof(options) / sizeof((options)[0]))

/* The operation id: --id when given, else a new time-ordered id; `text`
 * is what people see (the id as typed, or the generated one). */
static ledger_u128_t operation_id(const cli_welfare_option_t *option, ledger_u128_t id,
                                  char text[CLI_U128_TEXT_SIZE]) {
    if (option->given) {
        snprintf(text, CLI_U128_TEXT_SIZE, "%s", option->text);
        return id;
    }
    id = ledger_id_time_ordered();
    cli_format_id(id, text);
    return id;
}

/* Sends a write whose response is {result, message} and prints its
 * outcome. */
static int money_outcome(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                         Borsellino__V1__Request *request, const char *subject, ledger_u128_t id) {
    Borsellino__V1__Response *response = NULL;
    /* The result field has the number of the request's op. */
    int exit_code = cli_welfare_exchange(common, command, request, (int)request->op_case,
                                         &response);
    if (exit_code != 0) return exit_code;
    uint32_t result = 0;
    const char *detail = "";
    switch (response->result_case) {
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FUND:
        result = response->welfare_fund->result, detail = response->welfare_fund->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PURCHASE:
        result = response->welfare_purchase->result, detail = response->welfare_purchase->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CAPTURE:
        result = response->welfare_capture->result, detail = response->welfare_capture->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_VOID:
        result = response->welfare_void->result, detail = response->welfare_void->message;
        break;
    case BORSELLINO__V1__RESPONSE__RESULT_WELFARE_REFUND:
        result = response->welfare_refund->result, detail = response->welfare_refund->message;
        break;
    default:
        result = response->welfare_reimburse->result;
        detail = response->welfare_reimburse->message;
        break;
    }
    exit_code = cli_welfare_outcome(common, command, subject, id, result, detail, NULL);
    frame_response_free(response);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* fund, purchase, capture, void, refund                                    */

int cli_welfare_fund(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_fund_t fund = {{0, 0}, {0, 0}, 0};
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &fund.id, false, 0, false, NULL},
        {"--funder", CLI_WELFARE_VALUE_ID, &fund.funder_id, true, 0, false, NULL},
        {"--amount", CLI_WELFARE_VALUE_EUROS, &fund.amount, true, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    char id_text[CLI_U128_TEXT_SIZE], amount[CLI_EUROS_TEXT_SIZE];
    fund.id = operation_id(&options[0], fund.id, id_text);
    Borsellino__V1__U128 id, funder_id;
    convert_u128_to_proto(fund.id, &id);
    convert_u128_to_proto(fund.funder_id, &funder_id);
    Borsellino__V1__WelfareFundRequest message = BORSELLINO__V1__WELFARE_FUND_REQUEST__INIT;
    message.id = &id;
    message.funder_id = &funder_id;
    message.amount = fund.amount;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FUND;
    request.welfare_fund = &message;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    cli_format_euros(fund.amount, amount);
    snprintf(subject, sizeof(subject), "fund %s (%s EUR to funder %s)", id_text, amount,
             options[1].text);
    return money_outcome(&common, command, &request, subject, fund.id);
}

int cli_welfare_purchase(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_purchase_t purchase;
    memset(&purchase, 0, sizeof(purchase));
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &purchase.id, false, 0, false, NULL},
        {"--employee", CLI_WELFARE_VALUE_ID, &purchase.employee_id, true, 0, false, NULL},
        {"--provider", CLI_WELFARE_VALUE_ID, &purchase.provider_id, true, 0, false, NULL},
        {"--category", CLI_WELFARE_VALUE_U32, &purchase.category, true, UINT32_MAX, false, NULL},
        {"--amount", CLI_WELFARE_VALUE_EUROS, &purchase.amount, true, 0, false, NULL},
        {"--hold", CLI_WELFARE_VALUE_U32, &purchase.hold_timeout_s, false, UINT32_MAX, false, NULL},
        {"--reference", CLI_WELFARE_VALUE_ID, &purchase.reference, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    if (options[5].given && purchase.hold_timeout_s == 0) {
        return cli_usage_error(command->name, "--hold needs at least 1 second");
    }
    char id_text[CLI_U128_TEXT_SIZE], amount[CLI_EUROS_TEXT_SIZE];
    purchase.id = operation_id(&options[0], purchase.id, id_text);
    Borsellino__V1__U128 id, employee_id, provider_id, reference;
    convert_u128_to_proto(purchase.id, &id);
    convert_u128_to_proto(purchase.employee_id, &employee_id);
    convert_u128_to_proto(purchase.provider_id, &provider_id);
    convert_u128_to_proto(purchase.reference, &reference);
    Borsellino__V1__WelfarePurchaseRequest message = BORSELLINO__V1__WELFARE_PURCHASE_REQUEST__INIT;
    message.id = &id;
    message.employee_id = &employee_id;
    message.provider_id = &provider_id;
    message.category = purchase.category;
    message.hold_timeout_s = purchase.hold_timeout_s;
    message.amount = purchase.amount;
    message.reference = &reference;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASE;
    request.welfare_purchase = &message;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    cli_format_euros(purchase.amount, amount);
    snprintf(subject, sizeof(subject), "%s %s (%s EUR, category %u)",
             purchase.hold_timeout_s ? "hold" : "purchase", id_text, amount, purchase.category);
    return money_outcome(&common, command, &request, subject, purchase.id);
}

/* capture, void and refund name a purchase; capture and refund take an
 * amount (required for refund). */
static int purchase_followup(int argc, char **argv, const cli_welfare_command_t *command,
                             Borsellino__V1__Request__OpCase op) {
    ledger_u128_t operation = {0, 0}, purchase = {0, 0};
    uint64_t amount = 0;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &operation, false, 0, false, NULL},
        {"--purchase", CLI_WELFARE_VALUE_ID, &purchase, true, 0, false, NULL},
        {"--amount", CLI_WELFARE_VALUE_EUROS, &amount,
         op == BORSELLINO__V1__REQUEST__OP_WELFARE_REFUND, 0, false, NULL},
    };
    size_t options_count = op == BORSELLINO__V1__REQUEST__OP_WELFARE_VOID ? 2 : 3;
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, options_count, &common, NULL);
    if (parsed >= 0) return parsed;
    char id_text[CLI_U128_TEXT_SIZE];
    operation = operation_id(&options[0], operation, id_text);
    Borsellino__V1__U128 id, purchase_id;
    convert_u128_to_proto(operation, &id);
    convert_u128_to_proto(purchase, &purchase_id);
    Borsellino__V1__WelfareCaptureRequest capture = BORSELLINO__V1__WELFARE_CAPTURE_REQUEST__INIT;
    Borsellino__V1__WelfareVoidRequest void_request = BORSELLINO__V1__WELFARE_VOID_REQUEST__INIT;
    Borsellino__V1__WelfareRefundRequest refund = BORSELLINO__V1__WELFARE_REFUND_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = op;
    if (op == BORSELLINO__V1__REQUEST__OP_WELFARE_CAPTURE) {
        capture.id = &id, capture.purchase_id = &purchase_id, capture.amount = amount;
        request.welfare_capture = &capture;
    } else if (op == BORSELLINO__V1__REQUEST__OP_WELFARE_VOID) {
        void_request.id = &id, void_request.purchase_id = &purchase_id;
        request.welfare_void = &void_request;
    } else {
        refund.id = &id, refund.purchase_id = &purchase_id, refund.amount = amount;
        request.welfare_refund = &refund;
    }
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    snprintf(subject, sizeof(subject), "%s %s of purchase %s", command->words, id_text,
             options[1].text);
    return money_outcome(&common, command, &request, subject, operation);
}

int cli_welfare_capture(int argc, char **argv, const cli_welfare_command_t *command) {
    return purchase_followup(argc, argv, command, BORSELLINO__V1__REQUEST__OP_WELFARE_CAPTURE);
}

int cli_welfare_void(int argc, char **argv, const cli_welfare_command_t *command) {
    return purchase_followup(argc, argv, command, BORSELLINO__V1__REQUEST__OP_WELFARE_VOID);
}

int cli_welfare_refund(int argc, char **argv, const cli_welfare_command_t *command) {
    return purchase_followup(argc, argv, command, BORSELLINO__V1__REQUEST__OP_WELFARE_REFUND);
}

/* ------------------------------------------------------------------------ */
/* reimburse                                                                */

/* SHA-256 of a whole file; false with `error`. */
static bool receipt_file_hash(const char *path, uint8_t hash[CLI_WELFARE_SHA256_SIZE],
                              char error[CLI_WELFARE_ERROR_SIZE]) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s: %s", path, strerror(errno));
        return false;
    }
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    bool ok = context != NULL && EVP_DigestInit_ex(context, EVP_sha256(), NULL) == 1;
    uint8_t chunk[CLI_WELFARE_READ_CHUNK];
    size_t got = 0;
    while (ok && (got = fread(chunk, 1, sizeof(chunk), file)) > 0) {
        ok = EVP_DigestUpdate(context, chunk, got) == 1;
    }
    unsigned int size = 0;
    ok = ok && !ferror(file) && EVP_DigestFinal_ex(context, hash, &size) == 1 &&
         size == CLI_WELFARE_SHA256_SIZE;
    if (!ok) snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s: cannot read or hash the file", path);
    EVP_MD_CTX_free(context);
    fclose(file);
    return ok;
}

/* 64 hex digits -> 32 bytes. */
static bool receipt_hex_hash(const char *text, uint8_t hash[CLI_WELFARE_SHA256_SIZE]) {
    if (strlen(text) != 2 * CLI_WELFARE_SHA256_SIZE) return false;
    for (size_t i = 0; i < CLI_WELFARE_SHA256_SIZE; i++) {
        unsigned byte = 0;
        for (size_t j = 0; j < 2; j++) {
            char c = text[2 * i + j];
            int digit = c >= '0' && c <= '9' ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (digit < 0) return false;
            byte = byte * 16 + (unsigned)digit;
        }
        hash[i] = (uint8_t)byte;
    }
    return true;
}

int cli_welfare_reimburse(int argc, char **argv, const cli_welfare_command_t *command) {
    welfare_reimbursement_t reimbursement;
    memset(&reimbursement, 0, sizeof(reimbursement));
    const char *receipt_file = NULL, *receipt_hex = NULL;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &reimbursement.id, false, 0, false, NULL},
        {"--employee", CLI_WELFARE_VALUE_ID, &reimbursement.employee_id, true, 0, false, NULL},
        {"--category", CLI_WELFARE_VALUE_U32, &reimbursement.category, true, UINT32_MAX, false,
         NULL},
        {"--amount", CLI_WELFARE_VALUE_EUROS, &reimbursement.amount, true, 0, false, NULL},
        {"--receipt-amount", CLI_WELFARE_VALUE_EUROS, &reimbursement.receipt_amount, true, 0,
         false, NULL},
        {"--receipt-date", CLI_WELFARE_VALUE_DATE, &reimbursement.receipt_date, true, 0, false,
         NULL},
        {"--receipt-file", CLI_WELFARE_VALUE_TEXT, &receipt_file, false, 0, false, NULL},
        {"--receipt-sha256", CLI_WELFARE_VALUE_TEXT, &receipt_hex, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    if ((receipt_file == NULL) == (receipt_hex == NULL)) {
        return cli_usage_error(command->name, "give the receipt as --receipt-file or "
                               "--receipt-sha256 (one of them)");
    }
    char error[CLI_WELFARE_ERROR_SIZE];
    if (receipt_hex != NULL && !receipt_hex_hash(receipt_hex, reimbursement.receipt_hash)) {
        return cli_usage_error(command->name, "--receipt-sha256 wants 64 hex digits");
    }
    bool hashed = receipt_file == NULL ||
                  receipt_file_hash(receipt_file, reimbursement.receipt_hash, error);
    if (!hashed) {
        return cli_fail(&common.net, command->name, "bad_file", "%s", error);
    }
    char id_text[CLI_U128_TEXT_SIZE], amount[CLI_EUROS_TEXT_SIZE];
    reimbursement.id = operation_id(&options[0], reimbursement.id, id_text);
    Borsellino__V1__U128 id, employee_id;
    convert_u128_to_proto(reimbursement.id, &id);
    convert_u128_to_proto(reimbursement.employee_id, &employee_id);
    Borsellino__V1__WelfareReimburseRequest message =
        BORSELLINO__V1__WELFARE_REIMBURSE_REQUEST__INIT;
    message.id = &id;
    message.employee_id = &employee_id;
    message.category = reimbursement.category;
    message.receipt_date = reimbursement.receipt_date;
    message.amount = reimbursement.amount;
    message.receipt_amount = reimbursement.receipt_amount;
    message.receipt_hash.data = reimbursement.receipt_hash;
    message.receipt_hash.len = sizeof(reimbursement.receipt_hash);
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REIMBURSE;
    request.welfare_reimburse = &message;
    char subject[CLI_WELFARE_SUBJECT_SIZE];
    cli_format_euros(reimbursement.amount, amount);
    snprintf(subject, sizeof(subject), "reimbursement %s (%s EUR, category %u)", id_text, amount,
             reimbursement.category);
    return money_outcome(&common, command, &request, subject, reimbursement.id);
}

/* ------------------------------------------------------------------------ */
/* sweep, offboard, payout                                                  */

static void report_print(const cli_welfare_common_t *common, const welfare_sweep_report_t *report,
                         bool offboard) {
    if (common->net.json) return;
    char back[CLI_EUROS_TEXT_SIZE], forfeited[CLI_EUROS_TEXT_SIZE], carried[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(report->expired_back, back);
    cli_format_euros(report->forfeited, forfeited);
    cli_format_euros(report->carried_over, carried);
    printf("  pots swept     %u\n", report->pots_swept);
    if (offboard) printf("  holds voided   %u\n", report->holds_voided);
    printf("  back to funder %s EUR\n  forfeited      %s EUR\n  carried over   %s EUR\n", back,
           forfeited, carried);
}

static void report_json(const welfare_sweep_report_t *report, char extra[CLI_WELFARE_EXTRA_SIZE]) {
    snprintf(extra, CLI_WELFARE_EXTRA_SIZE,
             "\"report\":{\"pots_swept\":%u,\"holds_voided\":%u,\"expired_back\":%llu,"
             "\"forfeited\":%llu,\"carried_over\":%llu}",
             report->pots_swept, report->holds_voided, (unsigned long long)report->expired_back,
             (unsigned long long)report->forfeited, (unsigned long long)report->carried_over);
}

/* sweep (of a plan) and offboard (of an employee): the same shape. */
static int sweep_or_offboard(int argc, char **argv, const cli_welfare_command_t *command,
                             bool offboard) {
    ledger_u128_t operation = {0, 0}, target = {0, 0};
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &operation, false, 0, false, NULL},
        {offboard ? "--employee" : "--plan", CLI_WELFARE_VALUE_ID, &target, true, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    char id_text[CLI_U128_TEXT_SIZE];
    operation = operation_id(&options[0], operation, id_text);
    Borsellino__V1__U128 id, target_id;
    convert_u128_to_proto(operation, &id);
    convert_u128_to_proto(target, &target_id);
    Borsellino__V1__WelfareSweepRequest sweep = BORSELLINO__V1__WELFARE_SWEEP_REQUEST__INIT;
    Borsellino__V1__WelfareOffboardRequest leave = BORSELLINO__V1__WELFARE_OFFBOARD_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    if (offboard) {
        leave.id = &id, leave.employee_id = &target_id;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_OFFBOARD;
        request.welfare_offboard = &leave;
    } else {
        sweep.id = &id, sweep.plan_id = &target_id;
        request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_SWEEP;
        request.welfare_sweep = &sweep;
    }
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_welfare_exchange(&common, command, &request, (int)request.op_case,
                                         &response);
    if (exit_code != 0) return exit_code;
    uint32_t result = offboard ? response->welfare_offboard->result
                               : response->welfare_sweep->result;
    const char *detail = offboard ? response->welfare_offboard->message
                                  : response->welfare_sweep->message;
    welfare_sweep_report_t report;
    convert_welfare_sweep_report_from_proto(offboard ? response->welfare_offboard->report
                                                     : response->welfare_sweep->report,
                                            &report);
    char subject[CLI_WELFARE_SUBJECT_SIZE], extra[CLI_WELFARE_EXTRA_SIZE];
    snprintf(subject, sizeof(subject), "%s %s of %s %s", command->words, id_text,
             offboard ? "employee" : "plan", options[1].text);
    report_json(&report, extra);
    exit_code = cli_welfare_outcome(&common, command, subject, operation, result, detail, extra);
    if (result == WELFARE_RESULT_OK) report_print(&common, &report, offboard);
    frame_response_free(response);
    return exit_code;
}

int cli_welfare_sweep(int argc, char **argv, const cli_welfare_command_t *command) {
    return sweep_or_offboard(argc, argv, command, false);
}

int cli_welfare_offboard(int argc, char **argv, const cli_welfare_command_t *command) {
    return sweep_or_offboard(argc, argv, command, true);
}

int cli_welfare_payout(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t operation = {0, 0}, provider = {0, 0}, reference = {0, 0};
    uint64_t amount = 0;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &operation, false, 0, false, NULL},
        {"--provider", CLI_WELFARE_VALUE_ID, &provider, true, 0, false, NULL},
        {"--amount", CLI_WELFARE_VALUE_EUROS, &amount, false, 0, false, NULL},
        {"--reference", CLI_WELFARE_VALUE_ID, &reference, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    char id_text[CLI_U128_TEXT_SIZE];
    operation = operation_id(&options[0], operation, id_text);
    Borsellino__V1__U128 id, provider_id, reference_id;
    convert_u128_to_proto(operation, &id);
    convert_u128_to_proto(provider, &provider_id);
    convert_u128_to_proto(reference, &reference_id);
    Borsellino__V1__WelfarePayoutRequest payout = BORSELLINO__V1__WELFARE_PAYOUT_REQUEST__INIT;
    payout.id = &id;
    payout.provider_id = &provider_id;
    payout.amount = amount;
    payout.reference = &reference_id;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PAYOUT;
    request.welfare_payout = &payout;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_welfare_exchange(&common, command, &request,
                                         BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PAYOUT,
                                         &response);
    if (exit_code != 0) return exit_code;
    const Borsellino__V1__WelfarePayoutResponse *answer = response->welfare_payout;
    char subject[CLI_WELFARE_SUBJECT_SIZE], extra[CLI_WELFARE_EXTRA_SIZE];
    char paid[CLI_EUROS_TEXT_SIZE];
    cli_format_euros(answer->paid, paid);
    snprintf(subject, sizeof(subject), "payout %s to provider %s", id_text, options[1].text);
    snprintf(extra, sizeof(extra), "\"paid\":%llu", (unsigned long long)answer->paid);
    exit_code = cli_welfare_outcome(&common, command, subject, operation, answer->result,
                                    answer->message, extra);
    bool paid_now = (uint32_t)answer->result == WELFARE_RESULT_OK;
    if (paid_now && !common.net.json) printf("  paid %s EUR\n", paid);
    frame_response_free(response);
    return exit_code;
}

/* ------------------------------------------------------------------------ */
/* grant                                                                    */

typedef struct grant_row {
    ledger_u128_t employee_id;
    uint64_t amount;
    uint32_t line;                  /* 0 for --employee */
    char text[CLI_U128_TEXT_SIZE];  /* the employee as typed, or its id if longer */
    uint32_t result;
} grant_row_t;

/* Fills a row from an employee text and an amount text; false with the
 * reason in `wrong`. */
static bool grant_row_set(grant_row_t *row, const char *employee, const char *amount,
                          const char **wrong) {
    if (!cli_parse_named_id(employee, &row->employee_id)) {
        *wrong = "the employee is not an id (decimal, 0x-hex or a name)";
        return false;
    }
    if (!cli_parse_euros(amount, &row->amount)) {
        *wrong = "the amount is not euros with at most two decimals, e.g. 150.00";
        return false;
    }
    if (strlen(employee) < sizeof(row->text)) {
        snprintf(row->text, sizeof(row->text), "%s", employee);
    } else {
        cli_format_id(row->employee_id, row->text);
    }
    return true;
}

/* Reads a grant file completely; false with `error` at the first bad line.
 * *rows_out is malloc'd (caller frees). */
static bool grant_file_read(const char *path, grant_row_t **rows_out, size_t *count_out,
                            char error[CLI_WELFARE_ERROR_SIZE]) {
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s: %s", path, strerror(errno));
        return false;
    }
    grant_row_t *rows = NULL;
    size_t count = 0, capacity = 0, fields_count = 0;
    char line[CLI_WELFARE_LINE_SIZE_MAX];
    const char *fields[CLI_WELFARE_FIELDS_MAX];
    uint32_t line_number = 0;
    int status = 1;
    while ((status = cli_welfare_csv_next(file, path, line, &line_number, fields, &fields_count,
                                          error)) == 1) {
        const char *wrong = NULL;
        if (count == 0 && fields_count == 2 && strcmp(fields[0], "employee_id") == 0 &&
            strcmp(fields[1], "amount") == 0) {
            continue; /* the optional header */
        }
        if (count == capacity) {
            size_t grown = capacity ? 2 * capacity : 1024;
            grant_row_t *more = count < CLI_WELFARE_GRANT_ROWS_MAX
                                    ? realloc(rows, grown * sizeof(*rows)) : NULL;
            if (more == NULL) wrong = "too many rows (or out of memory)";
            else rows = more, capacity = grown;
        }
        if (wrong == NULL && fields_count != 2) wrong = "a row is employee_id,amount";
        if (wrong == NULL) {
            memset(&rows[count], 0, sizeof(rows[count]));
            rows[count].line = line_number;
            if (grant_row_set(&rows[count], fields[0], fields[1], &wrong)) count++;
        }
        if (wrong != NULL) {
            snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s:%u: %s", path, line_number, wrong);
            status = -1;
            break;
        }
    }
    fclose(file);
    if (status == 0 && count == 0) {
        snprintf(error, CLI_WELFARE_ERROR_SIZE, "%s: no employees in the file", path);
        status = -1;
    }
    if (status != 0) {
        free(rows);
        return false;
    }
    *rows_out = rows;
    *count_out = count;
    return true;
}

/* Sends rows[start, end) as one grant; fills their results. `detail`
 * receives the server's message about an INVALID_FIELD entry, if any. */
static int grant_send_chunk(client_t *client, const cli_welfare_common_t *common,
                            const cli_welfare_command_t *command, ledger_u128_t grant_id,
                            ledger_u128_t plan_id, grant_row_t *rows, size_t start, size_t end,
                            char detail[CLI_WELFARE_ERROR_SIZE]) {
    size_t count = end - start;
    Borsellino__V1__WelfareGrantEntry *entries = calloc(count, sizeof(*entries));
    Borsellino__V1__WelfareGrantEntry **pointers = calloc(count, sizeof(*pointers));
    Borsellino__V1__U128 *employee_ids = calloc(count, sizeof(*employee_ids));
    if (entries == NULL || pointers == NULL || employee_ids == NULL) {
        free(entries), free(pointers), free(employee_ids);
        return cli_fail(&common->net, command->name, "no_memory", "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        borsellino__v1__welfare_grant_entry__init(&entries[i]);
        convert_u128_to_proto(rows[start + i].employee_id, &employee_ids[i]);
        entries[i].employee_id = &employee_ids[i];
        entries[i].amount = rows[start + i].amount;
        pointers[i] = &entries[i];
    }
    Borsellino__V1__U128 id, plan;
    convert_u128_to_proto(grant_id, &id);
    convert_u128_to_proto(plan_id, &plan);
    Borsellino__V1__WelfareGrantRequest grant = BORSELLINO__V1__WELFARE_GRANT_REQUEST__INIT;
    grant.id = &id;
    grant.plan_id = &plan;
    grant.n_entries = count;
    grant.entries = pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT;
    request.welfare_grant = &grant;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, &common->net, command->name, &request,
                             BORSELLINO__V1__RESPONSE__RESULT_WELFARE_GRANT, &response);
    if (exit_code == 0 && response->welfare_grant->n_results != count) {
        exit_code = cli_fail(&common->net, command->name, "protocol_error",
                             "the server returned %zu results for %zu employees",
                             response->welfare_grant->n_results, count);
    } else if (exit_code == 0) {
        for (size_t i = 0; i < count; i++) {
            rows[start + i].result = response->welfare_grant->results[i];
        }
        if (response->welfare_grant->message[0] != '\0') {
            snprintf(detail, CLI_WELFARE_ERROR_SIZE, "%s", response->welfare_grant->message);
        }
    }
    frame_response_free(response);
    free(entries), free(pointers), free(employee_ids);
    return exit_code;
}

/* Prints every row's result and, for a file, the counts; returns the exit
 * code. */
static int grant_print(const cli_welfare_common_t *common, const cli_welfare_command_t *command,
                       const char *grant_text, ledger_u128_t grant_id, ledger_u128_t plan_id,
                       const grant_row_t *rows, size_t count, const char *detail) {
    size_t tally[3] = {0, 0, 0}; /* ok, exists, failed */
    if (common->net.json) {
        fputc('{', stdout);
        cli_welfare_json_id(stdout, "grant", grant_id);
        fputc(',', stdout);
        cli_welfare_json_id(stdout, "plan", plan_id);
        fputs(",\"results\":[", stdout);
    }
    for (size_t i = 0; i < count; i++) {
        const grant_row_t *row = &rows[i];
        char amount[CLI_EUROS_TEXT_SIZE];
        cli_format_euros(row->amount, amount);
        tally[row->result == WELFARE_RESULT_OK ? 0
              : row->result == WELFARE_RESULT_EXISTS ? 1 : 2]++;
        if (common->net.json) {
            printf("%s{\"line\":%u,\"employee\":", i ? "," : "", row->line);
            cli_json_string(stdout, row->text);
            fputc(',', stdout);
            cli_welfare_json_id(stdout, "employee_id", row->employee_id);
            printf(",\"amount\":%llu,\"result\":\"%s\"}", (unsigned long long)row->amount,
                   welfare_result_name(row->result));
        } else {
            printf("grant %s to employee %-20s %12s EUR: %s\n", grant_text, row->text, amount,
                   welfare_result_name(row->result));
        }
        if (!cli_welfare_result_succeeded(row->result)) {
            char where[32] = "";
            if (row->line != 0) snprintf(where, sizeof(where), "line %u: ", row->line);
            fprintf(stderr, "borsellino %s: %semployee %s: refused: %s (%s)\n", command->name,
                    where, row->text, welfare_result_name(row->result),
                    cli_welfare_result_message(row->result));
        }
    }
    if (detail[0] != '\0') fprintf(stderr, "borsellino %s: detail: %s\n", command->name, detail);
    if (common->net.json) {
        printf("],\"employees\":%zu,\"ok\":%zu,\"exists\":%zu,\"failed\":%zu,\"detail\":", count,
               tally[0], tally[1], tally[2]);
        cli_json_string(stdout, detail);
        fputs("}\n", stdout);
    } else if (rows[0].line != 0) {
        printf("%zu employees: %zu ok, %zu already granted, %zu failed\n", count, tally[0],
               tally[1], tally[2]);
    }
    return tally[2] == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_welfare_grant(int argc, char **argv, const cli_welfare_command_t *command) {
    ledger_u128_t grant_id = {0, 0}, plan_id = {0, 0}, employee_id = {0, 0};
    uint64_t amount = 0;
    const char *file = NULL;
    cli_welfare_option_t options[] = {
        {"--id", CLI_WELFARE_VALUE_ID, &grant_id, false, 0, false, NULL},
        {"--plan", CLI_WELFARE_VALUE_ID, &plan_id, true, 0, false, NULL},
        {"--employee", CLI_WELFARE_VALUE_ID, &employee_id, false, 0, false, NULL},
        {"--amount", CLI_WELFARE_VALUE_EUROS, &amount, false, 0, false, NULL},
        {"--file", CLI_WELFARE_VALUE_TEXT, &file, false, 0, false, NULL},
    };
    cli_welfare_common_t common;
    int parsed = cli_welfare_parse(argc, argv, command, options, OPTIONS_COUNT(options), &common,
                                   NULL);
    if (parsed >= 0) return parsed;
    bool single = options[2].given && options[3].given;
    if (file != NULL ? options[2].given || options[3].given : !single) {
        return cli_usage_error(command->name, "give --employee and --amount, or --file");
    }
    grant_row_t *rows = NULL;
    size_t count = 1;
    char error[CLI_WELFARE_ERROR_SIZE] = "";
    if (file != NULL && !grant_file_read(file, &rows, &count, error)) {
        return cli_fail(&common.net, command->name, "bad_file", "%s; nothing was sent", error);
    }
    if (file == NULL) {
        const char *wrong = NULL;
        rows = calloc(1, sizeof(*rows));
        if (rows == NULL || !grant_row_set(&rows[0], options[2].text, options[3].text, &wrong)) {
            free(rows);
            return cli_fail(&common.net, command->name, "no_memory", "out of memory");
        }
    }
    char grant_text[CLI_U128_TEXT_SIZE];
    grant_id = operation_id(&options[0], grant_id, grant_text);
    client_t *client = NULL;
    int exit_code = cli_connect(&common.net, command->name, &client);
    for (size_t start = 0; exit_code == 0 && start < count; start += WELFARE_GRANT_EMPLOYEES_MAX) {
        size_t end = count - start > WELFARE_GRANT_EMPLOYEES_MAX
                         ? start + WELFARE_GRANT_EMPLOYEES_MAX : count;
        exit_code = grant_send_chunk(client, &common, command, grant_id, plan_id, rows, start, end,
                                     error);
    }
    client_close(client);
    if (exit_code == 0) {
        exit_code = grant_print(&common, command, grant_text, grant_id, plan_id, rows, count,
                                error);
    }
    free(rows);
    return exit_code;
}
