/*
 * server.h — what the parts of borsellinod share: configuration, the
 * request that travels from the network loop to the writer and back, and
 * the entry points of each part.
 *
 * Threads: the loop thread (net.c) owns every connection and libuv handle;
 * the writer thread (writer.c) owns the ledger. They meet only in the two
 * queues of writer.c (pending, completed), under its mutex, and through
 * uv_async_send. A request is owned by the loop until submitted, by the
 * writer until completed, then by the loop again, which writes its
 * response frame and frees it.
 */
#ifndef BORSELLINO_SERVER_H
#define BORSELLINO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "borsellino.pb-c.h"
#include "ledger.h"

#define SERVER_VERSION "0.1.0"
#define SERVER_LISTEN_DEFAULT "127.0.0.1:7450"
#define SERVER_DATA_DEFAULT "borsellino-data"

/* When the writer commits a group unsynced (server/writer.c). */
enum commit_pipelining {
    COMMIT_PIPELINING_AUTO = 0, /* a group of several requests, or more waiting */
    COMMIT_PIPELINING_ON = 1,   /* always */
    COMMIT_PIPELINING_OFF = 2,  /* never: LMDB's plain durable commit */
};

typedef struct server_config {
    const char *data_path;
    const char *signing_key_path; /* NULL: DIR/signing.key */
    const char *listen_address;
    uint32_t connections_max;
    uint32_t in_flight_max;     /* requests in flight per connection */
    uint32_t frame_size_max;    /* largest request body, bytes */
    uint32_t batch_events_max;  /* events per create request */
    uint32_t queue_depth_max;   /* requests submitted and not completed */
    uint64_t idle_timeout_ms;   /* 0 = never */
    uint32_t group_events_max;  /* events per group commit */
    int commit_pipelining;      /* enum commit_pipelining */
    uint64_t shutdown_timeout_ms; /* wait this long for clients to read */
    struct tls_server *tls;     /* NULL: plaintext; else TLS 1.3 (tls.h), owned by main */
    const char *metrics_address; /* NULL: no metrics listener (metrics.h) */
} server_config_t;

struct connection;
struct metrics;

/* The roles of docs/security.md. */
typedef enum server_role {
    SERVER_ROLE_NONE = 0,     /* not identified: every operation is denied */
    SERVER_ROLE_OPERATOR = 1, /* everything */
    SERVER_ROLE_COMPANY = 2,  /* its own company (scope_id) only */
    SERVER_ROLE_APP = 3,      /* purchases, holds, refunds, reimbursements */
    SERVER_ROLE_PROVIDER = 4, /* its own statement and refunds of its own sales */
    SERVER_ROLE_AUDITOR = 5,  /* read and verify everything, write nothing */
} server_role_t;

/* Who is on the other end of a connection: set when the TLS handshake
 * completes, from the client certificate and the roles file (authz.h); on
 * a plaintext listener (loopback, or --insecure-plaintext) the local
 * operator. Copied into every request, so the writer never needs the
 * connection to authorize. */
typedef struct server_identity {
    server_role_t role;
    ledger_u128_t scope_id; /* the company's or provider's id; zero otherwise */
    char name[160];         /* what logs show: "sha256:HEX" or the subject, or "plaintext" */
} server_identity_t;

typedef struct server_request {
    struct server_request *next;
    struct connection *connection;
    server_identity_t identity;       /* the connection's, at submission */
    /* Decoded; freed by the loop once answered. A create_transfers decoded
     * by hand (net.c, convert_create_transfers_decode) has n_transfers set
     * and transfers NULL: its events are `transfers` (or transfer_unfit). */
    Borsellino__V1__Request *request;
    uint32_t events_count;            /* events or ids it carries */
    uint64_t bytes_held;              /* body + converted events + response estimate (net.c) */
    uint8_t *response_frame;          /* malloc'd by the writer, or by the loop */
    size_t response_size;
    uint32_t status;                  /* proto Status of the response (metrics) */
    /* The loop's share of a create call (dispatch_prepare, dispatch_finish),
     * so that the writer thread does ledger work only: */
    ledger_transfer_t *transfers;     /* create_transfers, converted before submission */
    uint32_t transfer_unfit;          /* 1 + index of the first event that does not fit; 0: none */
    ledger_result_t *results;         /* per-event results, encoded by the loop */
    uint32_t results_count;
    bool results_of_accounts;         /* results of create_accounts, else of create_transfers */
} server_request_t;

/* ---- log.c ---- */

/* Writes one line "time=... event=EVENT key=value ..." to stderr. The
 * format arguments are the "key=value" pairs (printf-style). */
void server_log(const char *event, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- writer.c ---- */

typedef struct writer writer_t;

/* Starts the writer thread on an open ledger. `wakeup` is signalled
 * (uv_async_send) whenever completed requests are ready. The writer
 * counts into `metrics` (metrics.h; NULL: counts nothing), which must
 * outlive it. */
int writer_start(ledger_t *ledger, const server_config_t *config,
                 uv_async_t *wakeup, struct metrics *metrics, writer_t **writer_out);

/* Queues a request (never blocks; the loop bounds the queue itself). */
void writer_submit(writer_t *writer, server_request_t *request);

/* Takes every completed request, in completion order (NULL if none). */
server_request_t *writer_take_completed(writer_t *writer);

/* Requests submitted and not yet taken back. */
uint32_t writer_queue_depth(writer_t *writer);

/* Asks the thread to finish what is queued and stop; joins it (and the
 * sync thread) and frees the writer. Returns whether the disk failed
 * (STATUS_STORAGE_FAULT), a failed sync of the last group included: then
 * nothing may be written any more, not even the checkpoint at shutdown. */
bool writer_stop(writer_t *writer);

/* Connections open now (set by the loop, read by status requests). */
void writer_set_connections(writer_t *writer, uint32_t connections);

/* ---- net.c ---- */

/* Runs the loop until SIGINT/SIGTERM and a graceful drain. Returns 0 or a
 * negative libuv error (listen failed). *storage_faulted_out tells whether
 * the writer saw a disk fault. */
int net_run(const server_config_t *config, ledger_t *ledger, bool *storage_faulted_out);

#endif
