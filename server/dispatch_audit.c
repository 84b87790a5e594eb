/*
 * dispatch_audit.c — the audit requests: sign the current state, list the
 * signed checkpoints with the public key, verify the books.
 *
 * Each runs alone (dispatch_request_is_exclusive), never inside a write
 * group: ledger_sign_checkpoint commits by itself, and ledger_verify reads
 * one committed snapshot. Verification reads the whole journal, so writes
 * wait while it runs (about a second per million records; docs/audit.md).
 * An auditor who trusts nothing of the server copies the data (borsellino
 * backup) and runs `borsellino audit verify --pubkey` on the copy.
 */
#include <string.h>

#include "audit.h"
#include "dispatch.h"
#include "welfare.h"

static void checkpoint_to_message(const ledger_signed_checkpoint_t *checkpoint,
                                  Borsellino__V1__SignedCheckpoint *message) {
    borsellino__v1__signed_checkpoint__init(message);
    message->sequence = checkpoint->sequence;
    message->timestamp = checkpoint->timestamp;
    message->chain_head.data = (uint8_t *)checkpoint->chain_head;
    message->chain_head.len = sizeof(checkpoint->chain_head);
    message->trial_balance_digest.data = (uint8_t *)checkpoint->trial_balance_digest;
    message->trial_balance_digest.len = sizeof(checkpoint->trial_balance_digest);
    message->signature.data = (uint8_t *)checkpoint->signature;
    message->signature.len = sizeof(checkpoint->signature);
}

static int dispatch_audit_sign(dispatch_context_t *context, server_request_t *request) {
    ledger_signed_checkpoint_t checkpoint;
    int error = ledger_sign_checkpoint(context->ledger, &checkpoint);
    if (error) return error;
    Borsellino__V1__SignedCheckpoint message;
    checkpoint_to_message(&checkpoint, &message);
    Borsellino__V1__AuditSignResponse result = BORSELLINO__V1__AUDIT_SIGN_RESPONSE__INIT;
    result.checkpoint = &message;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_AUDIT_SIGN;
    response.audit_sign = &result;
    dispatch_response_encode(request, &response);
    return 0;
}

static int dispatch_audit_checkpoints(dispatch_context_t *context, server_request_t *request) {
    const Borsellino__V1__AuditCheckpointsRequest *query = request->request->audit_checkpoints;
    uint32_t limit = query->limit == 0 ? LEDGER_SIGNED_CHECKPOINTS_MAX : query->limit;
    if (limit > LEDGER_SIGNED_CHECKPOINTS_MAX) {
        dispatch_fail_response(request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST,
                               "limit is above 8190");
        return 0;
    }
    static ledger_signed_checkpoint_t checkpoints[LEDGER_SIGNED_CHECKPOINTS_MAX];
    static Borsellino__V1__SignedCheckpoint messages[LEDGER_SIGNED_CHECKPOINTS_MAX];
    static Borsellino__V1__SignedCheckpoint *pointers[LEDGER_SIGNED_CHECKPOINTS_MAX];
    uint32_t count = 0;
    int error = ledger_signed_checkpoints(context->ledger, query->sequence_min, checkpoints,
                                          limit, &count);
    uint8_t key[LEDGER_PUBLIC_KEY_SIZE];
    bool key_found = false;
    if (!error) error = ledger_public_key(context->ledger, key, &key_found);
    if (error) return error;
    for (uint32_t i = 0; i < count; i++) {
        checkpoint_to_message(&checkpoints[i], &messages[i]);
        pointers[i] = &messages[i];
    }
    Borsellino__V1__AuditCheckpointsResponse result =
        BORSELLINO__V1__AUDIT_CHECKPOINTS_RESPONSE__INIT;
    result.n_checkpoints = count;
    result.checkpoints = pointers;
    result.public_key.data = key;
    result.public_key.len = key_found ? sizeof(key) : 0;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_AUDIT_CHECKPOINTS;
    response.audit_checkpoints = &result;
    dispatch_response_encode(request, &response);
    return 0;
}

/* Verification failures are an answer (ok = false), not an error. */
static int dispatch_audit_verify(dispatch_context_t *context, server_request_t *request) {
    ledger_verify_report_t report;
    int error = ledger_verify(context->ledger, &report, NULL, NULL);
    if (error && error != LEDGER_ERR_VERIFY_FAILED) return error;
    welfare_reconcile_report_t reconcile;
    memset(&reconcile, 0, sizeof(reconcile));
    reconcile.balanced = true;
    if (!error) {
        error = welfare_reconcile(context->ledger, &reconcile);
        if (error) return error;
    }
    ledger_stats_t stats;
    error = error ? error : ledger_stats(context->ledger, &stats);
    if (error && error != LEDGER_ERR_VERIFY_FAILED) return error;
    Borsellino__V1__AuditVerifyResponse result = BORSELLINO__V1__AUDIT_VERIFY_RESPONSE__INIT;
    result.ok = !error && reconcile.balanced;
    result.records_checked = report.records_checked;
    result.accounts_checked = report.accounts_checked;
    result.ledgers_checked = report.ledgers_checked;
    result.first_bad_sequence = report.first_bad_sequence;
    char message[320];
    snprintf(message, sizeof(message), "%s", error ? report.message : "");
    if (!error && !reconcile.balanced) {
        snprintf(message, sizeof(message), "welfare books do not reconcile: %s", reconcile.message);
    }
    result.message = message;
    result.signatures_checked = report.signatures_checked;
    result.last_signed_sequence = report.last_signed_sequence;
    if (!error) {
        result.journal_sequence = stats.journal_sequence;
        result.chain_head.data = stats.chain_head;
        result.chain_head.len = sizeof(stats.chain_head);
    }
    result.welfare_funders = reconcile.funders_checked;
    result.welfare_providers = reconcile.providers_checked;
    Borsellino__V1__Response response = BORSELLINO__V1__RESPONSE__INIT;
    response.result_case = BORSELLINO__V1__RESPONSE__RESULT_AUDIT_VERIFY;
    response.audit_verify = &result;
    dispatch_response_encode(request, &response);
    return 0;
}

bool dispatch_audit_handles(Borsellino__V1__Request__OpCase op) {
    return op == BORSELLINO__V1__REQUEST__OP_AUDIT_SIGN ||
           op == BORSELLINO__V1__REQUEST__OP_AUDIT_CHECKPOINTS ||
           op == BORSELLINO__V1__REQUEST__OP_AUDIT_VERIFY;
}

int dispatch_audit_request(dispatch_context_t *context, server_request_t *request) {
    switch (request->request->op_case) {
    case BORSELLINO__V1__REQUEST__OP_AUDIT_SIGN:
        return dispatch_audit_sign(context, request);
    case BORSELLINO__V1__REQUEST__OP_AUDIT_CHECKPOINTS:
        return dispatch_audit_checkpoints(context, request);
    default:
        return dispatch_audit_verify(context, request);
    }
}
