/*
 * dispatch.h — carries out one decoded request against the ledger and
 * encodes its response frame. Runs on the writer thread, inside the open
 * write group (so that writes of a group commit together).
 */
#ifndef BORSELLINO_SERVER_DISPATCH_H
#define BORSELLINO_SERVER_DISPATCH_H

#include "server.h"

typedef struct dispatch_context {
    ledger_t *ledger;
    const server_config_t *config;
    uint32_t connections;
    uint32_t queue_depth;
    uint64_t started_ns;
} dispatch_context_t;

/* Executes request->request and sets request->response_frame/size.
 * Returns 0, or a ledger storage error after which the group has failed
 * (the response is then replaced by dispatch_fail_response). */
int dispatch_request(dispatch_context_t *context, server_request_t *request);

/* Replaces the response by an error with `status` and `message` (used when
 * the group failed to commit: nothing of the request was applied). */
void dispatch_fail_response(server_request_t *request,
                            Borsellino__V1__Status status, const char *message);

/* The status a failed group's requests get for ledger error `error`. */
Borsellino__V1__Status dispatch_status_for_error(int error);

/* Whether the request changes state: it needs a write group, and when none
 * can be opened (storage full, a disk fault) it gets the error instead of
 * being carried out. Reads are answered from the committed state then. */
bool dispatch_request_is_write(const Borsellino__V1__Request *request);

/* Whether the request must run alone, outside any write group: the audit
 * requests (a signature commits by itself; verification reads a committed
 * snapshot). */
bool dispatch_request_is_exclusive(const Borsellino__V1__Request *request);

/* dispatch_audit.c: the audit requests (audit_sign, audit_checkpoints,
 * audit_verify). */
bool dispatch_audit_handles(Borsellino__V1__Request__OpCase op);
int dispatch_audit_request(dispatch_context_t *context, server_request_t *request);

/* Packs `response` (its request_id set from the request) into the
 * request's frame, replacing any earlier one. Out of memory leaves the
 * frame NULL; the loop then closes the connection (the client sees EOF and
 * retries on a new connection). */
void dispatch_response_encode(server_request_t *request, Borsellino__V1__Response *response);

/* ---- dispatch_welfare.c: the welfare operations (ledger/welfare.h) ---- */

/* Whether `op` is a welfare operation (Request fields 30..58). */
bool dispatch_welfare_handles(Borsellino__V1__Request__OpCase op);

/* Whether the welfare operation `op` changes state. */
bool dispatch_welfare_is_write(Borsellino__V1__Request__OpCase op);

/* Carries out a welfare request (dispatch_welfare_handles is true), with
 * the same contract as dispatch_request. */
int dispatch_welfare_request(dispatch_context_t *context, server_request_t *request);

#endif
