/*
 * make_corpus.c — writes the seed corpora of the fuzz targets:
 *   make_corpus DIR   creates DIR/fuzz_frame, DIR/fuzz_dispatch and
 *                     DIR/fuzz_record and fills them with valid inputs.
 *
 * The committed tests/fuzz/corpus/ was made by it (tools/dev fuzz-corpus
 * runs it again). Requests use the accounts that fuzz_dispatch seeds
 * (ids 1..8 on ledger 1, pending transfer 1007), so that seeds reach the
 * ledger's success paths, not only its validation; welfare requests use
 * the welfare state it seeds (ids 101..106).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frame.h"
#include "record.h"

static const char *output_directory;

static void file_write(const char *target, const char *name, const uint8_t *bytes,
                       size_t size) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", output_directory, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", output_directory, target, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(bytes, 1, size, file) != size || fclose(file) != 0) {
        perror(path);
        exit(1);
    }
}

/* Writes a request as a dispatch seed (body) and a frame seed (frame). */
static void request_write(const char *name, Borsellino__V1__Request *request) {
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    int error = frame_encode_request(request, &frame, &frame_size);
    assert(error == FRAME_OK);
    file_write("fuzz_frame", name, frame, frame_size);
    file_write("fuzz_dispatch", name, frame + FRAME_HEADER_SIZE,
               frame_size - FRAME_HEADER_SIZE);
    free(frame);
}

static Borsellino__V1__U128 u128_make(uint64_t lo) {
    Borsellino__V1__U128 value = BORSELLINO__V1__U128__INIT;
    value.lo = lo;
    return value;
}

/* Welfare requests on the state fuzz_dispatch seeds: funder 101, provider
 * 102, employees 103/104, plan 105, the open hold 106. */
static void requests_welfare(void) {
    Borsellino__V1__U128 ids[8];
    for (int i = 0; i < 8; i++) ids[i] = u128_make(101 + (uint64_t)i);
    Borsellino__V1__U128 fresh = u128_make(9001);
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 7;

    Borsellino__V1__WelfarePurchaseRequest purchase = BORSELLINO__V1__WELFARE_PURCHASE_REQUEST__INIT;
    purchase.id = &fresh;
    purchase.employee_id = &ids[2];
    purchase.provider_id = &ids[1];
    purchase.category = 9;
    purchase.amount = 2500;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASE;
    request.welfare_purchase = &purchase;
    request_write("welfare_purchase", &request);
    purchase.hold_timeout_s = 600;
    request_write("welfare_purchase_hold", &request);

    Borsellino__V1__WelfarePurchaseRequest *many[2] = {&purchase, &purchase};
    Borsellino__V1__WelfarePurchasesRequest batch = BORSELLINO__V1__WELFARE_PURCHASES_REQUEST__INIT;
    batch.n_purchases = 2;
    batch.purchases = many;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASES;
    request.welfare_purchases = &batch;
    request_write("welfare_purchases", &request);

    /* A registry batch: a funder, an employee of it, its cap class, a plan. */
    Borsellino__V1__WelfareFunder funder = BORSELLINO__V1__WELFARE_FUNDER__INIT;
    funder.id = &ids[6];
    funder.kind = BORSELLINO__V1__WELFARE_FUNDER_KIND__WELFARE_FUNDER_COMPANY;
    Borsellino__V1__WelfareEmployee employee = BORSELLINO__V1__WELFARE_EMPLOYEE__INIT;
    employee.id = &ids[7];
    employee.funder_id = &ids[6];
    Borsellino__V1__WelfareSetCapClassRequest cap = BORSELLINO__V1__WELFARE_SET_CAP_CLASS_REQUEST__INIT;
    cap.employee_id = &ids[7];
    cap.year = 2026;
    cap.cap_class = BORSELLINO__V1__WELFARE_CAP_CLASS__WELFARE_CAP_WITH_CHILDREN;
    Borsellino__V1__WelfarePlan plan = BORSELLINO__V1__WELFARE_PLAN__INIT;
    plan.id = &fresh;
    plan.funder_id = &ids[6];
    plan.valid_from = 1;
    plan.valid_until = UINT64_C(4102444800000000000);
    plan.categories = 0x7FE;
    plan.expiry_policy = BORSELLINO__V1__WELFARE_EXPIRY_POLICY__WELFARE_EXPIRY_FORFEIT;
    Borsellino__V1__WelfareRegisterEntry register_entries[4];
    Borsellino__V1__WelfareRegisterEntry *entry_list[4];
    for (int i = 0; i < 4; i++) {
        borsellino__v1__welfare_register_entry__init(&register_entries[i]);
        entry_list[i] = &register_entries[i];
    }
    register_entries[0].entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_FUNDER;
    register_entries[0].funder = &funder;
    register_entries[1].entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_EMPLOYEE;
    register_entries[1].employee = &employee;
    register_entries[2].entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_CAP_CLASS;
    register_entries[2].cap_class = &cap;
    register_entries[3].entry_case = BORSELLINO__V1__WELFARE_REGISTER_ENTRY__ENTRY_PLAN;
    register_entries[3].plan = &plan;
    Borsellino__V1__WelfareRegisterRequest registry = BORSELLINO__V1__WELFARE_REGISTER_REQUEST__INIT;
    registry.n_entries = 4;
    registry.entries = entry_list;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER;
    request.welfare_register = &registry;
    request_write("welfare_register", &request);

    Borsellino__V1__WelfareCaptureRequest capture = BORSELLINO__V1__WELFARE_CAPTURE_REQUEST__INIT;
    capture.id = &fresh;
    capture.purchase_id = &ids[5];
    capture.amount = 800;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CAPTURE;
    request.welfare_capture = &capture;
    request_write("welfare_capture", &request);

    Borsellino__V1__WelfareRefundRequest refund = BORSELLINO__V1__WELFARE_REFUND_REQUEST__INIT;
    refund.id = &fresh;
    refund.purchase_id = &ids[5];
    refund.amount = 100;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REFUND;
    request.welfare_refund = &refund;
    request_write("welfare_refund", &request);

    uint8_t hash[32];
    memset(hash, 0xAB, sizeof(hash));
    Borsellino__V1__WelfareReimburseRequest reimburse = BORSELLINO__V1__WELFARE_REIMBURSE_REQUEST__INIT;
    reimburse.id = &fresh;
    reimburse.employee_id = &ids[3];
    reimburse.category = 1;
    reimburse.receipt_date = 20260115;
    reimburse.amount = 1000;
    reimburse.receipt_amount = 1200;
    reimburse.receipt_hash.len = sizeof(hash);
    reimburse.receipt_hash.data = hash;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REIMBURSE;
    request.welfare_reimburse = &reimburse;
    request_write("welfare_reimburse", &request);

    Borsellino__V1__WelfareGrantEntry entry = BORSELLINO__V1__WELFARE_GRANT_ENTRY__INIT;
    entry.employee_id = &ids[3];
    entry.amount = 100;
    Borsellino__V1__WelfareGrantEntry *entries[1] = {&entry};
    Borsellino__V1__WelfareGrantRequest grant = BORSELLINO__V1__WELFARE_GRANT_REQUEST__INIT;
    grant.id = &fresh;
    grant.plan_id = &ids[4];
    grant.n_entries = 1;
    grant.entries = entries;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT;
    request.welfare_grant = &grant;
    request_write("welfare_grant", &request);

    Borsellino__V1__WelfareOffboardRequest offboard = BORSELLINO__V1__WELFARE_OFFBOARD_REQUEST__INIT;
    offboard.id = &fresh;
    offboard.employee_id = &ids[2];
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_OFFBOARD;
    request.welfare_offboard = &offboard;
    request_write("welfare_offboard", &request);

    Borsellino__V1__WelfarePayoutRequest payout = BORSELLINO__V1__WELFARE_PAYOUT_REQUEST__INIT;
    payout.id = &fresh;
    payout.provider_id = &ids[1];
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PAYOUT;
    request.welfare_payout = &payout;
    request_write("welfare_payout", &request);

    Borsellino__V1__WelfareMovementsRequest movements = BORSELLINO__V1__WELFARE_MOVEMENTS_REQUEST__INIT;
    movements.employee_id = &ids[2];
    movements.limit = 2;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_MOVEMENTS;
    request.welfare_movements = &movements;
    request_write("welfare_movements", &request);

    Borsellino__V1__WelfareFunderStatementRequest statement =
        BORSELLINO__V1__WELFARE_FUNDER_STATEMENT_REQUEST__INIT;
    statement.funder_id = &ids[0];
    statement.employees_limit = 1;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FUNDER_STATEMENT;
    request.welfare_funder_statement = &statement;
    request_write("welfare_funder_statement", &request);

    Borsellino__V1__WelfareAnnualStatementRequest annual =
        BORSELLINO__V1__WELFARE_ANNUAL_STATEMENT_REQUEST__INIT;
    annual.employee_id = &ids[2];
    annual.year = 2026;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_ANNUAL_STATEMENT;
    request.welfare_annual_statement = &annual;
    request_write("welfare_annual_statement", &request);
}

/* The audit requests, each run alone by the writer (dispatch_audit.c). */
static void requests_audit(void) {
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 3;
    Borsellino__V1__AuditSignRequest sign = BORSELLINO__V1__AUDIT_SIGN_REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_AUDIT_SIGN;
    request.audit_sign = &sign;
    request_write("audit_sign", &request);
    Borsellino__V1__AuditCheckpointsRequest checkpoints =
        BORSELLINO__V1__AUDIT_CHECKPOINTS_REQUEST__INIT;
    checkpoints.sequence_min = 1;
    checkpoints.limit = 2;
    request.op_case = BORSELLINO__V1__REQUEST__OP_AUDIT_CHECKPOINTS;
    request.audit_checkpoints = &checkpoints;
    request_write("audit_checkpoints", &request);
    Borsellino__V1__AuditVerifyRequest verify = BORSELLINO__V1__AUDIT_VERIFY_REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_AUDIT_VERIFY;
    request.audit_verify = &verify;
    request_write("audit_verify", &request);
}

static void requests_create(void) {
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = 1;

    /* create_accounts: two new accounts, linked, one with history. */
    Borsellino__V1__Account accounts[2];
    Borsellino__V1__Account *account_pointers[2];
    Borsellino__V1__U128 account_ids[2] = {u128_make(100), u128_make(101)};
    for (int i = 0; i < 2; i++) {
        borsellino__v1__account__init(&accounts[i]);
        accounts[i].id = &account_ids[i];
        accounts[i].ledger = 1;
        accounts[i].code = 7;
        account_pointers[i] = &accounts[i];
    }
    accounts[0].flags = 1; /* ACCOUNT_LINKED */
    accounts[1].flags = 8; /* ACCOUNT_HISTORY */
    Borsellino__V1__CreateAccountsRequest create_accounts =
        BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
    create_accounts.n_accounts = 2;
    create_accounts.accounts = account_pointers;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request.create_accounts = &create_accounts;
    request_write("create_accounts", &request);

    /* create_transfers: a plain, a pending, and a post of seeded 1007. */
    Borsellino__V1__Transfer transfers[3];
    Borsellino__V1__Transfer *transfer_pointers[3];
    Borsellino__V1__U128 ids[3] = {u128_make(2000), u128_make(2001), u128_make(2002)};
    Borsellino__V1__U128 debit = u128_make(1), credit = u128_make(2), pending = u128_make(1007);
    for (int i = 0; i < 3; i++) {
        borsellino__v1__transfer__init(&transfers[i]);
        transfers[i].id = &ids[i];
        transfers[i].debit_account_id = &debit;
        transfers[i].credit_account_id = &credit;
        transfers[i].amount = 10 + (uint64_t)i;
        transfers[i].ledger = 1;
        transfers[i].code = 1;
        transfer_pointers[i] = &transfers[i];
    }
    transfers[1].flags = 2; /* PENDING */
    transfers[1].timeout = 60;
    Borsellino__V1__U128 post_debit = u128_make(1), post_credit = u128_make(8);
    transfers[2].flags = 4; /* POST_PENDING */
    transfers[2].pending_id = &pending;
    transfers[2].debit_account_id = &post_debit;
    transfers[2].credit_account_id = &post_credit;
    transfers[2].amount = 0;
    Borsellino__V1__CreateTransfersRequest create_transfers =
        BORSELLINO__V1__CREATE_TRANSFERS_REQUEST__INIT;
    create_transfers.n_transfers = 3;
    create_transfers.transfers = transfer_pointers;
    request.request_id = 2;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    request.create_transfers = &create_transfers;
    request_write("create_transfers", &request);

    /* A void of the pending transfer, alone. */
    transfers[2].flags = 8; /* VOID_PENDING */
    create_transfers.n_transfers = 1;
    create_transfers.transfers = &transfer_pointers[2];
    request.request_id = 3;
    request_write("create_transfers_void", &request);

    /* A batch whose second event has a code wider than 16 bits: the
     * hand decoder keeps only the index of the first event that does not
     * fit, and the fuzz check must compare nothing else. */
    transfers[2].flags = 0;
    transfers[2].code = 70000;
    create_transfers.n_transfers = 2;
    create_transfers.transfers = &transfer_pointers[1];
    request.request_id = 4;
    request_write("create_transfers_unfit", &request);
}

static void requests_read(void) {
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    Borsellino__V1__U128 ids[3] = {u128_make(1), u128_make(2), u128_make(999)};
    Borsellino__V1__U128 *id_pointers[3] = {&ids[0], &ids[1], &ids[2]};

    Borsellino__V1__LookupAccountsRequest lookup_accounts =
        BORSELLINO__V1__LOOKUP_ACCOUNTS_REQUEST__INIT;
    lookup_accounts.n_ids = 3;
    lookup_accounts.ids = id_pointers;
    request.request_id = 10;
    request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS;
    request.lookup_accounts = &lookup_accounts;
    request_write("lookup_accounts", &request);

    Borsellino__V1__U128 transfer_ids[2] = {u128_make(1000), u128_make(1007)};
    Borsellino__V1__U128 *transfer_id_pointers[2] = {&transfer_ids[0], &transfer_ids[1]};
    Borsellino__V1__LookupTransfersRequest lookup_transfers =
        BORSELLINO__V1__LOOKUP_TRANSFERS_REQUEST__INIT;
    lookup_transfers.n_ids = 2;
    lookup_transfers.ids = transfer_id_pointers;
    request.request_id = 11;
    request.op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_TRANSFERS;
    request.lookup_transfers = &lookup_transfers;
    request_write("lookup_transfers", &request);

    Borsellino__V1__U128 history_account = u128_make(2);
    Borsellino__V1__AccountHistoryRequest history = BORSELLINO__V1__ACCOUNT_HISTORY_REQUEST__INIT;
    history.account_id = &history_account;
    history.limit = 10;
    history.flags = 1 | 2 | 4; /* DEBITS | CREDITS | REVERSED */
    request.request_id = 12;
    request.op_case = BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY;
    request.account_history = &history;
    request_write("account_history", &request);

    Borsellino__V1__BalanceAtRequest balance_at = BORSELLINO__V1__BALANCE_AT_REQUEST__INIT;
    balance_at.account_id = &history_account;
    balance_at.timestamp = 1;
    request.request_id = 13;
    request.op_case = BORSELLINO__V1__REQUEST__OP_BALANCE_AT;
    request.balance_at = &balance_at;
    request_write("balance_at", &request);

    Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
    request.request_id = 14;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &status;
    request_write("status", &request);

    /* No operation at all: the UNKNOWN_OPERATION path. */
    request.request_id = 15;
    request.op_case = BORSELLINO__V1__REQUEST__OP__NOT_SET;
    request_write("no_operation", &request);
}

/* Frame-only seeds: a response, two frames in one stream, an empty body. */
static void frames_extra(void) {
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.request_id = 7;
    response.status = BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST;
    response.message = (char *)"the batch has no events";
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    int error = frame_encode_response(&response, &frame, &frame_size);
    assert(error == FRAME_OK);
    file_write("fuzz_frame", "response_status", frame, frame_size);

    uint8_t stream[512];
    assert(frame_size * 2 + FRAME_HEADER_SIZE <= sizeof(stream));
    memcpy(stream, frame, frame_size);
    memcpy(stream + frame_size, frame, frame_size);
    frame_header_write(stream + 2 * frame_size, 0);
    file_write("fuzz_frame", "two_frames_then_empty", stream,
               2 * frame_size + FRAME_HEADER_SIZE);
    free(frame);

    uint8_t too_large[FRAME_HEADER_SIZE];
    frame_header_write(too_large, FRAME_BODY_SIZE_MAX_DEFAULT + 1);
    file_write("fuzz_frame", "too_large_header", too_large, sizeof(too_large));
}

static void records_write(void) {
    static const uint8_t previous[RECORD_HASH_SIZE];
    uint8_t bytes[RECORD_JOURNAL_SIZE];
    journal_record_t record;
    const char *names[] = {"", "journal_account", "journal_transfer", "journal_expiry",
                           "journal_failed"};
    for (uint8_t kind = RECORD_KIND_ACCOUNT; kind <= RECORD_KIND_FAILED; kind++) {
        memset(&record, 0, sizeof(record));
        record.kind = kind;
        record.sequence = kind;
        record.timestamp = 1700000000000000000ull + kind;
        record.id.lo = 1000 + kind;
        record.debit_account_id.lo = 1;
        record.credit_account_id.lo = kind == RECORD_KIND_ACCOUNT ? 0 : 2;
        record.amount = kind == RECORD_KIND_ACCOUNT ? 0 : 500;
        record.ledger = 1;
        record.code = 1;
        record.result = kind == RECORD_KIND_FAILED ? 61 : 0;
        record.debit.previous_sequence = kind - 1u;
        record.debit.balance_after.debits_posted = 500;
        record.credit.balance_after.credits_posted = 500;
        record.debit.flags_after = 8;
        record_journal_encode(&record, previous, bytes);
        file_write("fuzz_record", names[kind], bytes, sizeof(bytes));
    }

    ledger_account_t account;
    memset(&account, 0, sizeof(account));
    account.id.lo = 1;
    account.ledger = 1;
    account.code = 1;
    account.flags = 8;
    account.timestamp = 1700000000000000000ull;
    account.debits_posted = 500;
    account.credits_pending = 7;
    uint8_t account_bytes[RECORD_ACCOUNT_SIZE];
    record_account_encode(&account, 42, account_bytes);
    file_write("fuzz_record", "account_checkpoint", account_bytes, sizeof(account_bytes));

    pending_entry_t entry = {PENDING_STATUS_PENDING, 5, 0, 1700000060000000000ull};
    uint8_t pending_bytes[RECORD_PENDING_SIZE];
    record_pending_encode(&entry, pending_bytes);
    file_write("fuzz_record", "pending_entry", pending_bytes, sizeof(pending_bytes));
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    output_directory = argv[1];
    if (mkdir(output_directory, 0755) != 0 && errno != EEXIST) {
        perror(output_directory);
        return 1;
    }
    requests_create();
    requests_read();
    requests_welfare();
    requests_audit();
    frames_extra();
    records_write();
    return 0;
}
