/*
 * metrics.h — borsellinod's Prometheus metrics (--metrics HOST:PORT): the
 * counters the writer thread updates and the small HTTP/1.1 listener, in
 * the loop thread, that serves them as the text exposition format 0.0.4
 * on GET /metrics. docs/operations.md "Metrics" lists every metric.
 *
 * Threads: every figure is a C11 atomic. The writer thread (and whoever
 * holds the writer's mutex for the queue depth and connections) stores;
 * the loop thread loads while it renders a scrape. Nobody waits for
 * anybody: a scrape never blocks the writer, and a histogram read while a
 * group is being recorded may be off by that one group, never torn.
 */
#ifndef BORSELLINO_METRICS_H
#define BORSELLINO_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ledger.h"

enum {
    /* Request oneof field numbers below this are counted by operation;
     * others (and no operation at all) count as op="unknown". */
    METRICS_OPS_MAX = 128,
    /* Proto Status values below this are counted by status; others as
     * status="unknown". */
    METRICS_STATUSES_MAX = 32,
    /* The largest HTTP request accepted (request line and headers). */
    METRICS_REQUEST_SIZE_MAX = 8 * 1024,
    /* A connection must send its whole request within this much time of
     * accept, or it is closed without an answer. */
    METRICS_REQUEST_TIMEOUT_MS = 5000,
    /* Scrape connections open at once; more are closed right after accept. */
    METRICS_CONNECTIONS_MAX = 16,
    /* The largest exposition body rendered (far above the real size). */
    METRICS_BODY_SIZE_MAX = 1024 * 1024,
};

typedef struct metrics metrics_t;

/* Allocates zeroed metrics. Returns 0 or UV_ENOMEM. Free with metrics_free. */
int metrics_create(metrics_t **metrics_out);

/* Frees them; NULL is ignored. Nobody may use them any more. */
void metrics_free(metrics_t *metrics);

/* ---- updates (any thread; the writer's in practice); NULL ignored ---- */

/* One request answered: `op_case` is its Request oneof case (0 = none),
 * `status` the proto Status of its response. */
void metrics_request_count(metrics_t *metrics, uint32_t op_case, uint32_t status);

/* One group done: `events` the events it carried (as group_events_max
 * counts them), `latency_ns` from opening its write group to its durable
 * commit (or failure), `events_committed` the journal records it added. */
void metrics_group_observe(metrics_t *metrics, uint64_t events, uint64_t latency_ns,
                           uint64_t events_committed);

/* The ledger's figures after a commit (journal and checkpoint sequence,
 * map size and use). */
void metrics_ledger_publish(metrics_t *metrics, const ledger_stats_t *stats);

void metrics_queue_depth_set(metrics_t *metrics, uint32_t depth);
void metrics_connections_set(metrics_t *metrics, uint32_t connections);

/* ---- reading ---- */

/* Renders the exposition text. On success *text_out is malloc'd (caller
 * frees) and *size_out its length. Returns 0 or UV_ENOMEM. */
int metrics_render(metrics_t *metrics, char **text_out, size_t *size_out);

/* ---- the HTTP listener (loop thread) ---- */

typedef struct metrics_server metrics_server_t;

/* Binds `address` (port 0 picks one), listens on `loop` and logs
 * "event=metrics_listening address=HOST:PORT". Returns 0 or a negative
 * libuv error (logged as event=metrics_listen_failed); on error nothing
 * is left open. The metrics must outlive the server. */
int metrics_server_start(uv_loop_t *loop, const char *address_text,
                         const struct sockaddr *address, metrics_t *metrics,
                         metrics_server_t **server_out);

/* Closes the listener and every scrape connection; the memory goes in
 * their close callbacks, so run the loop afterwards. NULL is ignored. */
void metrics_server_close(metrics_server_t *server);

#endif
