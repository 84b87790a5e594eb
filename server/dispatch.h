/*
 * dispatch.h — carries out one decoded request against the ledger and
 * encodes its response frame. dispatch_request runs on the writer thread,
 * inside the open write group (so that writes of a group commit together);
 * dispatch_prepare and dispatch_finish run on the loop thread, before and
 * after it.
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

/* Loop thread, before the request is submitted: converts a create_transfers
 * batch into the ledger's form (request->transfers; an event that does not
 * fit is noted in request->transfer_unfit and answered by the writer, in
 * order), so that the writer thread spends its time on ledger work only.
 * Other operations, and empty or oversized batches (answered by the
 * writer), are left as they are.
 * Returns 0, or LEDGER_ERR_NO_MEMORY (nothing allocated). The memory it
 * holds is dispatch_prepared_bytes. */
int dispatch_prepare(const server_config_t *config, server_request_t *request);

/* The bytes dispatch_prepare allocated for `request`. */
uint64_t dispatch_prepared_bytes(const server_request_t *request);

/* Loop thread, when the writer gives the request back: encodes the results
 * of a create call (kept by the writer in request->results) into the
 * response frame, and frees the converted events and the results. The
 * decoded request (request->request) is the caller's to free. Packing a
 * batch's results was 4% of the writer's time, hence the loop's. Out of
 * memory answers STATUS_INTERNAL_ERROR, or leaves the frame NULL (as
 * dispatch_response_encode). */
void dispatch_finish(server_request_t *request);

/* Frees what dispatch_prepare and the writer left in `request` (converted
 * events, results not yet packed) without packing anything: for an answer
 * that will not be sent (its connection is closing, the server stopping). */
void dispatch_release(server_request_t *request);

/* Executes request->request and sets request->response_frame/size, or, for
 * create_accounts and create_transfers, request->results (status OK: the
 * frame is then dispatch_finish's).
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
 * request's frame, replacing any earlier one and any results kept for
 * dispatch_finish. Out of memory leaves the
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
