/*
 * net.c — the network loop of borsellinod (libuv, one thread): listening,
 * connections, framing, limits, backpressure, ordered responses, graceful
 * shutdown.
 *
 * A connection reads into its own buffer (bounded: one maximal frame plus
 * a read chunk), parses whole frames, decodes each into a Request and
 * submits it to the writer. Responses come back through the writer's
 * completed queue in submission order and are written in that order, so
 * each connection sees answers in request order. Reading stops (and
 * resumes later) when the connection has in_flight_max requests in flight,
 * when it holds CONNECTION_BYTES_MAX bytes of requests in flight and unsent
 * responses (a client that does not read), or when the writer queue holds
 * queue_depth_max requests;
 * nothing is buffered without bound. A framing violation closes that
 * connection only.
 *
 * TLS (config->tls, tls.h): bytes read from the socket go into the
 * connection's TLS session instead of its buffer; once the handshake has
 * finished and the client certificate was found in the roles file, the
 * session's plaintext is decrypted into the buffer, as far as its bound
 * allows, and parsed exactly as plaintext is. Responses are encrypted and
 * their records written instead. A handshake must finish within
 * tls_server_handshake_timeout_ms of accept (the idle timer serves as the
 * handshake timer until then), however slowly its bytes come. Without
 * TLS, the path is the plaintext one, unchanged.
 *
 * Metrics (--metrics, metrics.h): a second listener in this loop serves
 * GET /metrics; it is closed with the main listener at shutdown.
 *
 * Lifetime: a connection is freed when both its handles are closed and no
 * request in the writer still points at it (refs == 0).
 */
#include <assert.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "convert.h"
#include "dispatch.h"
#include "frame.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"
#include "welfare.h"

enum {
    READ_CHUNK_SIZE = 64 * 1024,
    /* Bytes one connection may hold in the server at once: its requests in
     * flight (their bodies and an estimate of their responses) plus its
     * responses not yet sent. Reading pauses above it, so a client that
     * does not read its responses costs at most this plus one request.
     * Sized for four full create_transfers batches in flight, as
     * `borsellino bench` pipelines them (--in-flight 4): one of 8,190
     * transfers holds 3.8 MB (2.6 MB decoded, 1 MB converted by
     * dispatch_prepare, 131 kB of answer estimate); at 8 MiB a connection
     * got three. */
    CONNECTION_BYTES_MAX = 16 * 1024 * 1024,
    LISTEN_BACKLOG = 511,
};

typedef struct server server_t;

typedef struct connection {
    uv_tcp_t tcp;
    uv_timer_t idle_timer;
    server_t *server;
    struct connection *previous, *next;
    uint64_t id;
    char peer[64];
    uint8_t *buffer;
    size_t buffer_used;
    size_t buffer_capacity;
    uint32_t in_flight;      /* submitted, response not yet handed to uv_write */
    uint32_t writes_pending; /* uv_write calls not yet completed */
    uint32_t refs;           /* requests in the writer pointing here */
    uint64_t bytes_in_flight; /* request bodies + response estimates in flight */
    uint64_t progress_ms;     /* loop time of the last byte read or written */
    int handles_open;
    bool reading;
    bool closing;
    bool peer_done; /* the peer shut its side: answer what is in flight, close */
    server_identity_t identity; /* who the peer is (server.h) */
    tls_session_t *tls;         /* NULL on a plaintext listener */
} connection_t;

struct server {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wakeup;
    uv_signal_t signal_interrupt;
    uv_signal_t signal_terminate;
    uv_timer_t shutdown_timer;
    const server_config_t *config;
    writer_t *writer;
    metrics_t *metrics;                /* counted always, served with --metrics */
    metrics_server_t *metrics_server;  /* NULL without --metrics */
    connection_t *connections;
    uint32_t connections_count;
    uint64_t connection_id_next;
    bool shutting_down;
    bool in_wakeup;    /* handing out a batch of responses: no drain check */
    bool drain_forced; /* the shutdown timeout passed */
    bool drained;
    /* TLS: ciphertext is read here and handed to the session at once. */
    uint8_t tls_read_buffer[READ_CHUNK_SIZE];
};

/* One uv_write: `bytes` (a response frame, or TLS records) and, when it
 * carries a response, the request it answers; both freed in on_write. */
typedef struct write_request {
    uv_write_t request;
    uint8_t *bytes;
    server_request_t *server_request; /* NULL for TLS handshake bytes */
    connection_t *connection;
} write_request_t;

static void connection_process(connection_t *connection);
static void reading_set(connection_t *connection, bool reading);
static void server_check_drained(server_t *server);

/* ---- connection lifetime ---- */

static void connection_free_if_done(connection_t *connection) {
    if (connection->handles_open > 0 || connection->refs > 0) return;
    tls_session_free(connection->tls);
    free(connection->buffer);
    free(connection);
}

static void connection_handle_closed(uv_handle_t *handle) {
    connection_t *connection = handle->data;
    connection->handles_open--;
    connection_free_if_done(connection);
}

static void connection_close(connection_t *connection, const char *reason) {
    if (connection->closing) return;
    server_t *server = connection->server;
    connection->closing = true;
    server_log("connection_closed", "connection=%llu peer=%s reason=%s",
               (unsigned long long)connection->id, connection->peer, reason);
    if (connection->previous) connection->previous->next = connection->next;
    else server->connections = connection->next;
    if (connection->next) connection->next->previous = connection->previous;
    server->connections_count--;
    writer_set_connections(server->writer, server->connections_count);
    uv_close((uv_handle_t *)&connection->tcp, connection_handle_closed);
    uv_close((uv_handle_t *)&connection->idle_timer, connection_handle_closed);
    server_check_drained(server);
}

/* Closes a connection whose peer has finished sending once every answer
 * it is owed has been written. */
static void connection_close_if_answered(connection_t *connection) {
    if (!connection->peer_done || connection->closing) return;
    if (connection->in_flight == 0 && connection->writes_pending == 0) {
        connection_close(connection, "peer_closed");
    }
}

/* ---- reading ---- */

/* Grows the buffer so that it has READ_CHUNK_SIZE bytes of room, within
 * its bound (one maximal frame plus a read chunk); on a failed realloc it
 * stays as it is. */
static void connection_buffer_grow(connection_t *connection) {
    size_t limit = FRAME_HEADER_SIZE + (size_t)connection->server->config->frame_size_max +
                   READ_CHUNK_SIZE;
    if (connection->buffer_capacity - connection->buffer_used < READ_CHUNK_SIZE &&
        connection->buffer_capacity < limit) {
        size_t capacity = connection->buffer_used + READ_CHUNK_SIZE;
        if (capacity > limit) capacity = limit;
        uint8_t *grown = realloc(connection->buffer, capacity);
        if (grown != NULL) {
            connection->buffer = grown;
            connection->buffer_capacity = capacity;
        }
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    (void)suggested;
    connection_t *connection = handle->data;
    if (connection->tls != NULL) {
        /* Consumed by the session before the next read (one thread). */
        buffer->base = (char *)connection->server->tls_read_buffer;
        buffer->len = sizeof(connection->server->tls_read_buffer);
        return;
    }
    connection_buffer_grow(connection);
    /* A zero-length buffer makes libuv report UV_ENOBUFS: the connection
     * is then closed (cannot happen within the limits). */
    buffer->base = (char *)connection->buffer + connection->buffer_used;
    buffer->len = connection->buffer_capacity - connection->buffer_used;
}

static void connection_progress(connection_t *connection) {
    connection->progress_ms = uv_now(&connection->server->loop);
}

static bool connection_tls_handshake(connection_t *connection);
static bool connection_write(connection_t *connection, uint8_t *bytes, size_t size,
                             server_request_t *request);

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buffer) {
    connection_t *connection = stream->data;
    if (nread == UV_EOF) {
        /* A half-closed peer still reads: answer what it sent, then close. */
        connection->peer_done = true;
        reading_set(connection, false);
        connection_close_if_answered(connection);
        return;
    }
    if (nread < 0) {
        connection_close(connection, uv_err_name((int)nread));
        return;
    }
    connection_progress(connection);
    if (connection->tls != NULL) {
        if (tls_session_feed(connection->tls, (const uint8_t *)buffer->base, (size_t)nread) != 0) {
            connection_close(connection, "out_of_memory");
            return;
        }
        if (!tls_session_established(connection->tls) && !connection_tls_handshake(connection)) {
            return;
        }
    } else {
        connection->buffer_used += (size_t)nread;
    }
    connection_process(connection);
}

static void reading_set(connection_t *connection, bool reading) {
    if (connection->closing || connection->reading == reading) return;
    if (reading) uv_read_start((uv_stream_t *)&connection->tcp, on_alloc, on_read);
    else uv_read_stop((uv_stream_t *)&connection->tcp);
    connection->reading = reading;
}

/* May this connection submit another request now? */
static bool connection_may_submit(const connection_t *connection) {
    const server_t *server = connection->server;
    if (server->shutting_down || connection->closing || connection->peer_done) return false;
    if (connection->in_flight >= server->config->in_flight_max) return false;
    uint64_t held = connection->bytes_in_flight +
                    uv_stream_get_write_queue_size((const uv_stream_t *)&connection->tcp);
    /* Checked before a request is taken, so one large request is always
     * allowed while the connection holds less than the bound. */
    if (held >= CONNECTION_BYTES_MAX) return false;
    return writer_queue_depth(server->writer) < server->config->queue_depth_max;
}

/* A count a request asks for, bounded by what the server would return. */
static uint32_t estimate_bound(uint32_t asked, uint32_t returned_max) {
    return asked < returned_max ? asked : returned_max;
}

/* An upper estimate of a request's response size, from what it asks for:
 * about 160 bytes per account, transfer or history entry, 16 per event
 * result; for the welfare queries, 44 per statement employee row (plus the
 * figures), 96 per movement, 128 per pot (16 at most), 64 per category (63
 * at most). */
static uint64_t response_estimate(const Borsellino__V1__Request *request) {
    switch (request->op_case) {
    case BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS:
        return 64 + 16 * (uint64_t)request->create_accounts->n_accounts;
    case BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS:
        return 64 + 16 * (uint64_t)request->create_transfers->n_transfers;
    case BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS:
        return 64 + 160 * (uint64_t)request->lookup_accounts->n_ids;
    case BORSELLINO__V1__REQUEST__OP_LOOKUP_TRANSFERS:
        return 64 + 160 * (uint64_t)request->lookup_transfers->n_ids;
    case BORSELLINO__V1__REQUEST__OP_ACCOUNT_HISTORY:
        return 64 + 160 * (uint64_t)request->account_history->limit;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT:
        return 64 + 2 * (uint64_t)request->welfare_grant->n_entries;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER:
        return 64 + 2 * (uint64_t)request->welfare_register->n_entries;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_MOVEMENTS:
        return 64 + 96 * (uint64_t)estimate_bound(request->welfare_movements->limit,
                                                  WELFARE_MOVEMENTS_MAX);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_FUNDER_STATEMENT:
        return 1024 + 44 * (uint64_t)estimate_bound(
                              request->welfare_funder_statement->employees_limit,
                              WELFARE_STATEMENT_EMPLOYEES_MAX);
    case BORSELLINO__V1__REQUEST__OP_WELFARE_WALLET:
        return 128 + 128 * (uint64_t)WELFARE_POTS_PER_EMPLOYEE_MAX;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_LIST_CATEGORIES:
        return 64 + 64 * (uint64_t)WELFARE_CATEGORY_ID_MAX;
    default:
        return 256;
    }
}

static uint32_t request_events(const Borsellino__V1__Request *request) {
    switch (request->op_case) {
    case BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS:
        return (uint32_t)request->create_accounts->n_accounts;
    case BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS:
        return (uint32_t)request->create_transfers->n_transfers;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT:
        /* Each employee is its own chain of transfers. */
        return (uint32_t)request->welfare_grant->n_entries;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_REGISTER:
        return (uint32_t)request->welfare_register->n_entries;
    case BORSELLINO__V1__REQUEST__OP_WELFARE_PURCHASES:
        return (uint32_t)request->welfare_purchases->n_purchases;
    default:
        return 1;
    }
}

/* Decodes a request body. A plain create_transfers batch is decoded by
 * hand into *batch_out (convert_create_transfers_decode), with a Request
 * shell (convert_transfers_request_shell) holding its id and count, so that
 * everything but the events reads as usual.
 * Anything else goes through protobuf-c, with *batch_out zeroed. NULL:
 * bad bytes or no memory (nothing left allocated). */
static Borsellino__V1__Request *request_decode(const uint8_t *body, size_t size,
                                               uint32_t events_max,
                                               convert_transfers_batch_t *batch_out) {
    if (!convert_create_transfers_decode(body, size, events_max, batch_out)) {
        return frame_request_decode(body, size, NULL);
    }
    Borsellino__V1__Request *shell =
        convert_transfers_request_shell(batch_out->request_id, batch_out->count);
    if (shell == NULL) {
        free(batch_out->transfers);
        batch_out->transfers = NULL;
    }
    return shell;
}

/* Parses and submits one frame from the start of the buffer. Returns the
 * bytes consumed, 0 when more are needed, or -1 after closing. */
static long connection_take_frame(connection_t *connection, size_t offset) {
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t frame_size = 0;
    int status = frame_parse(connection->buffer + offset, connection->buffer_used - offset,
                             connection->server->config->frame_size_max, &body, &body_size,
                             &frame_size);
    if (status == FRAME_NEED_MORE) return 0;
    if (status != FRAME_OK) {
        connection_close(connection, "frame_too_large");
        return -1;
    }
    convert_transfers_batch_t batch;
    Borsellino__V1__Request *decoded =
        request_decode(body, body_size, connection->server->config->batch_events_max, &batch);
    server_request_t *request = decoded ? calloc(1, sizeof(*request)) : NULL;
    if (request == NULL) {
        frame_request_free(decoded);
        free(batch.transfers);
        connection_close(connection, decoded ? "out_of_memory" : "bad_request_body");
        return -1;
    }
    request->connection = connection;
    request->identity = connection->identity;
    request->request = decoded;
    request->events_count = request_events(decoded);
    request->transfers = batch.transfers;
    request->transfer_unfit = batch.unfit;
    if (dispatch_prepare(connection->server->config, request) != 0) {
        frame_request_free(decoded);
        free(request->transfers);
        free(request);
        connection_close(connection, "out_of_memory");
        return -1;
    }
    request->bytes_held = frame_request_memory(decoded) + response_estimate(decoded) +
                          dispatch_prepared_bytes(request);
    connection->bytes_in_flight += request->bytes_held;
    connection->refs++;
    connection->in_flight++;
    writer_submit(connection->server->writer, request);
    return (long)frame_size;
}

/* ---- TLS ---- */

static void connection_idle_start(connection_t *connection);

/* Writes what the TLS session produced (handshake messages, alerts).
 * Returns false after closing the connection. */
static bool connection_tls_flush(connection_t *connection) {
    uint8_t *bytes = NULL;
    size_t size = 0;
    if (tls_session_take_output(connection->tls, &bytes, &size) != 0) {
        connection_close(connection, "out_of_memory");
        return false;
    }
    return bytes == NULL || connection_write(connection, bytes, size, NULL);
}

/* Copies `text` for a quoted log value: quotes, backslashes and anything
 * not printable become '?', so a hostile subject cannot forge log lines. */
static void log_text(char *out, size_t size, const char *text) {
    size_t i = 0;
    for (; text[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = c < 0x20 || c > 0x7e || c == '"' || c == '\\' ? '?' : (char)c;
    }
    out[i] = '\0';
}

/* Drives the handshake with the bytes fed so far. When it completes, the
 * connection takes the identity the roles file gives its certificate and
 * the idle timer replaces the handshake timer; a refused client is logged
 * (event=tls_rejected: who and why, never key material) and closed.
 * Returns true only when the connection is now established. */
static bool connection_tls_handshake(connection_t *connection) {
    server_identity_t identity;
    char subject[TLS_SUBJECT_SIZE_MAX];
    char reason[TLS_REASON_SIZE];
    int status = tls_session_handshake(connection->tls, &identity, subject, reason);
    /* Sent even on failure: the alert tells the client why. */
    if (!connection_tls_flush(connection)) return false;
    if (status == 1) return false;
    char subject_text[TLS_SUBJECT_SIZE_MAX];
    log_text(subject_text, sizeof(subject_text), subject);
    if (status != TLS_OK) {
        char reason_text[TLS_REASON_SIZE];
        log_text(reason_text, sizeof(reason_text), reason);
        server_log("tls_rejected",
                   "connection=%llu peer=%s identity=%s subject=\"%s\" reason=\"%s\"",
                   (unsigned long long)connection->id, connection->peer, identity.name,
                   subject_text, reason_text);
        connection_close(connection, status == TLS_ERR_UNKNOWN_CERTIFICATE
                                         ? "tls_unknown_certificate" : "tls_handshake_failed");
        return false;
    }
    assert(tls_session_established(connection->tls));
    connection->identity = identity;
    char name_text[sizeof(identity.name)];
    log_text(name_text, sizeof(name_text), identity.name);
    server_log("tls_established", "connection=%llu peer=%s identity=\"%s\" role=%s "
               "subject=\"%s\" cipher=%s",
               (unsigned long long)connection->id, connection->peer, name_text,
               authz_role_name(identity.role), subject_text, tls_session_cipher(connection->tls));
    uv_timer_stop(&connection->idle_timer);
    connection_idle_start(connection);
    return true;
}

/* Decrypts what the session holds into the connection's buffer, as far as
 * the buffer's bound allows (so the session never holds more than one
 * read chunk and a partial record: reading stops while the buffer is
 * full). The client's close_notify counts as its end of file. Returns
 * false after closing the connection. */
static bool connection_tls_pull(connection_t *connection) {
    if (!tls_session_established(connection->tls)) return true;
    for (;;) {
        connection_buffer_grow(connection);
        size_t room = connection->buffer_capacity - connection->buffer_used;
        if (room == 0) return true;
        char reason[TLS_REASON_SIZE];
        long got = tls_session_read(connection->tls, connection->buffer + connection->buffer_used,
                                    room, reason);
        if (got == 0) return true;
        if (got == TLS_ERR_CLOSED) {
            connection->peer_done = true;
            reading_set(connection, false);
            connection_close_if_answered(connection);
            return !connection->closing;
        }
        if (got < 0) {
            char reason_text[TLS_REASON_SIZE];
            log_text(reason_text, sizeof(reason_text), reason);
            server_log("tls_error", "connection=%llu peer=%s reason=\"%s\"",
                       (unsigned long long)connection->id, connection->peer, reason_text);
            connection_close(connection, "tls_error");
            return false;
        }
        connection->buffer_used += (size_t)got;
    }
}

/* Runs once, tls_server_handshake_timeout_ms after accept, unless the
 * handshake finished first (the timer is then restarted for idleness). */
static void on_handshake_timeout(uv_timer_t *timer) {
    connection_t *connection = timer->data;
    if (connection->closing || tls_session_established(connection->tls)) return;
    server_log("tls_rejected",
               "connection=%llu peer=%s identity=none subject=\"\" reason=\"handshake not "
               "finished within %llu ms\"",
               (unsigned long long)connection->id, connection->peer,
               (unsigned long long)tls_server_handshake_timeout_ms(connection->server->config->tls));
    connection_close(connection, "tls_handshake_timeout");
}

/* Submits every whole frame the buffer holds, as the limits allow, then
 * decides whether to keep reading. With TLS, plaintext is decrypted into
 * the buffer first, and again as long as frames were taken and the
 * session still holds input. */
static void connection_process(connection_t *connection) {
    bool again = true;
    while (again) {
        if (connection->tls != NULL && !connection_tls_pull(connection)) return;
        size_t offset = 0;
        while (!connection->closing && connection_may_submit(connection)) {
            long consumed = connection_take_frame(connection, offset);
            if (consumed < 0) return;
            if (consumed == 0) break;
            offset += (size_t)consumed;
        }
        if (connection->closing) return;
        if (offset > 0) {
            memmove(connection->buffer, connection->buffer + offset,
                    connection->buffer_used - offset);
            connection->buffer_used -= offset;
        }
        again = connection->tls != NULL && offset > 0 &&
                tls_session_input_pending(connection->tls);
    }
    reading_set(connection, connection_may_submit(connection));
}

/* ---- responses ---- */

static void on_write(uv_write_t *request, int status) {
    write_request_t *write = (write_request_t *)request;
    connection_t *connection = write->connection;
    connection->writes_pending--;
    if (status == 0) connection_progress(connection);
    free(write->bytes);
    free(write->server_request);
    free(write);
    if (status < 0 && !connection->closing) connection_close(connection, uv_err_name(status));
    else if (!connection->closing && !connection->reading) connection_process(connection);
    connection_close_if_answered(connection);
    server_check_drained(connection->server);
    connection_free_if_done(connection);
}

/* Hands one completed request's response to its connection. */
static void response_send(server_request_t *request) {
    connection_t *connection = request->connection;
    connection->refs--;
    connection->in_flight--;
    connection->bytes_in_flight -= request->bytes_held;
    /* The writer left a create call's packing to the loop. */
    if (connection->closing) dispatch_release(request);
    else dispatch_finish(request);
    /* Counted here, with the status the answer really has. */
    metrics_request_count(connection->server->metrics, (uint32_t)request->request->op_case,
                          request->status);
    frame_request_free(request->request);
    request->request = NULL;
    if (connection->closing || request->response_frame == NULL) {
        if (!connection->closing) connection_close(connection, "response_encoding_failed");
        free(request->response_frame);
        free(request);
        connection_free_if_done(connection);
        return;
    }
    uint8_t *bytes = request->response_frame;
    size_t size = request->response_size;
    request->response_frame = NULL; /* now owned by `bytes` */
    if (connection->tls != NULL) {
        int error = tls_session_write(connection->tls, bytes, size);
        free(bytes);
        bytes = NULL;
        if (error == 0) error = tls_session_take_output(connection->tls, &bytes, &size);
        if (error != 0 || bytes == NULL) {
            free(bytes);
            free(request);
            connection_close(connection, error == TLS_ERR_NO_MEMORY ? "out_of_memory"
                                                                    : "tls_error");
            return;
        }
    }
    connection_write(connection, bytes, size, request);
}

/* Writes `bytes` to the connection; the write owns them and `request`
 * (NULL for TLS handshake bytes), freed in on_write. Returns false after
 * closing the connection. */
static bool connection_write(connection_t *connection, uint8_t *bytes, size_t size,
                             server_request_t *request) {
    assert(size > 0 && size <= UINT32_MAX);
    write_request_t *write = malloc(sizeof(*write));
    if (write == NULL) {
        free(bytes);
        free(request);
        connection_close(connection, "out_of_memory");
        return false;
    }
    write->bytes = bytes;
    write->server_request = request;
    write->connection = connection;
    uv_buf_t buffer = uv_buf_init((char *)bytes, (unsigned int)size);
    connection->writes_pending++;
    int error = uv_write(&write->request, (uv_stream_t *)&connection->tcp, &buffer, 1, on_write);
    if (error) {
        connection->writes_pending--;
        free(bytes);
        free(request);
        free(write);
        connection_close(connection, uv_err_name(error));
        return false;
    }
    return true;
}

static void on_wakeup(uv_async_t *handle) {
    server_t *server = handle->data;
    server_request_t *request = writer_take_completed(server->writer);
    /* The batch was taken from the writer: until every response of it is
     * handed to its connection, a shutdown must not count as drained. */
    server->in_wakeup = true;
    while (request != NULL) {
        server_request_t *next = request->next;
        response_send(request);
        request = next;
    }
    server->in_wakeup = false;
    /* Room in the queue again: let paused connections go on. */
    for (connection_t *connection = server->connections; connection != NULL;) {
        connection_t *next = connection->next;
        if (!connection->reading) connection_process(connection);
        connection = next;
    }
    server_check_drained(server);
}

/* ---- accepting ---- */

/* Runs a few times per idle timeout. A connection is closed when nothing
 * moved for idle_timeout_ms: no request from it and nothing of its answers
 * written. Requests still being worked on by the writer keep it open; a
 * client that stopped reading its answers (writes pending, no progress)
 * does not. */
static void on_idle_check(uv_timer_t *timer) {
    connection_t *connection = timer->data;
    uint64_t timeout_ms = connection->server->config->idle_timeout_ms;
    if (uv_now(&connection->server->loop) - connection->progress_ms < timeout_ms) return;
    if (connection->writes_pending > 0) {
        connection_close(connection, "write_stalled");
    } else if (connection->in_flight == 0) {
        connection_close(connection, "idle_timeout");
    }
}

/* Starts the idle checks (when there is an idle timeout). */
static void connection_idle_start(connection_t *connection) {
    uint64_t timeout_ms = connection->server->config->idle_timeout_ms;
    if (timeout_ms > 0) {
        uint64_t check_ms = timeout_ms / 4 > 1000 ? 1000 : (timeout_ms / 4 ? timeout_ms / 4 : 1);
        uv_timer_start(&connection->idle_timer, on_idle_check, check_ms, check_ms);
    }
}

static void peer_name(connection_t *connection) {
    struct sockaddr_storage address;
    int length = sizeof(address);
    snprintf(connection->peer, sizeof(connection->peer), "unknown");
    if (uv_tcp_getpeername(&connection->tcp, (struct sockaddr *)&address, &length) != 0) return;
    char host[48] = "";
    int port = 0;
    if (address.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&address, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&address, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *)&address)->sin_port);
    }
    snprintf(connection->peer, sizeof(connection->peer), "%s:%d", host, port);
}

static connection_t *connection_open(server_t *server) {
    connection_t *connection = calloc(1, sizeof(*connection));
    if (connection == NULL) return NULL;
    connection->server = server;
    connection->id = ++server->connection_id_next;
    uv_tcp_init(&server->loop, &connection->tcp);
    uv_timer_init(&server->loop, &connection->idle_timer);
    connection->tcp.data = connection;
    connection->idle_timer.data = connection;
    connection->handles_open = 2;
    if (server->config->tls != NULL) {
        /* Nobody until the handshake names the client (tls.h). */
        connection->identity.role = SERVER_ROLE_NONE;
        snprintf(connection->identity.name, sizeof(connection->identity.name), "none");
        /* On failure tls stays NULL, and on_connection closes it. */
        (void)tls_session_create(server->config->tls, &connection->tls);
    } else {
        /* A plaintext listener is loopback (or explicitly insecure):
         * whoever connects is the local operator. */
        connection->identity.role = SERVER_ROLE_OPERATOR;
        snprintf(connection->identity.name, sizeof(connection->identity.name), "plaintext");
    }
    connection->next = server->connections;
    if (server->connections) server->connections->previous = connection;
    server->connections = connection;
    server->connections_count++;
    writer_set_connections(server->writer, server->connections_count);
    return connection;
}

static void on_connection(uv_stream_t *listener, int status) {
    server_t *server = listener->data;
    if (status < 0 || server->shutting_down) return;
    connection_t *connection = connection_open(server);
    if (connection == NULL) return;
    if (uv_accept(listener, (uv_stream_t *)&connection->tcp) != 0) {
        connection_close(connection, "accept_failed");
        return;
    }
    peer_name(connection);
    if (server->connections_count > server->config->connections_max) {
        connection_close(connection, "connections_max");
        return;
    }
    if (server->config->tls != NULL && connection->tls == NULL) {
        connection_close(connection, "out_of_memory");
        return;
    }
    uv_tcp_nodelay(&connection->tcp, 1);
    server_log("connection_opened", "connection=%llu peer=%s connections=%u tls=%s",
               (unsigned long long)connection->id, connection->peer, server->connections_count,
               connection->tls != NULL ? "yes" : "no");
    connection_progress(connection);
    if (connection->tls != NULL) {
        /* The idle timer first bounds the handshake, from accept. */
        uv_timer_start(&connection->idle_timer, on_handshake_timeout,
                       tls_server_handshake_timeout_ms(server->config->tls), 0);
    } else {
        connection_idle_start(connection);
    }
    reading_set(connection, true);
}

/* ---- shutdown ---- */

static void handle_closed_quietly(uv_handle_t *handle) {
    (void)handle;
}

/* After a shutdown signal: once every submitted request has been answered
 * and written, close the remaining connections and the loop's handles. */
static void server_check_drained(server_t *server) {
    if (!server->shutting_down || server->drained || server->in_wakeup) return;
    /* The writer's queue always empties (it only waits on the disk), so
     * even a forced drain waits for it: every taken request is finished. */
    if (writer_queue_depth(server->writer) > 0) return;
    for (connection_t *connection = server->connections; connection && !server->drain_forced;
         connection = connection->next) {
        if (connection->writes_pending > 0) return;
    }
    server->drained = true;
    uv_close((uv_handle_t *)&server->shutdown_timer, handle_closed_quietly);
    while (server->connections != NULL) connection_close(server->connections, "shutdown");
    uv_close((uv_handle_t *)&server->wakeup, handle_closed_quietly);
    uv_close((uv_handle_t *)&server->signal_interrupt, handle_closed_quietly);
    uv_close((uv_handle_t *)&server->signal_terminate, handle_closed_quietly);
}

/* A client that never reads its answers must not hold the shutdown
 * forever: after the timeout, close whatever is left. */
static void on_shutdown_timeout(uv_timer_t *timer) {
    server_t *server = timer->data;
    if (server->drained) return;
    server_log("shutdown_timeout", "connections=%u", server->connections_count);
    server->drain_forced = true;
    server_check_drained(server);
}

static void on_signal(uv_signal_t *handle, int signal_number) {
    server_t *server = handle->data;
    if (server->shutting_down) {
        /* A second signal: the operator wants out now (say, a disk hung in
         * fsync). Leaving without a checkpoint is safe: every acknowledged
         * write is in the journal, which the next start replays. */
        server_log("shutdown_forced", "signal=%d", signal_number);
        _exit(1);
    }
    server->shutting_down = true;
    uv_timer_start(&server->shutdown_timer, on_shutdown_timeout,
                   server->config->shutdown_timeout_ms, 0);
    server_log("shutdown", "signal=%d in_flight=%u", signal_number,
               writer_queue_depth(server->writer));
    uv_close((uv_handle_t *)&server->listener, handle_closed_quietly);
    metrics_server_close(server->metrics_server);
    server->metrics_server = NULL;
    for (connection_t *connection = server->connections; connection; connection = connection->next) {
        reading_set(connection, false);
    }
    server_check_drained(server);
}

/* ---- listening ---- */

static int address_parse(const char *text, struct sockaddr_storage *address) {
    char host[256];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || (size_t)(colon - text) >= sizeof(host)) return UV_EINVAL;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535) return UV_EINVAL;
    char *bare = host;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        host[strlen(host) - 1] = '\0';
        bare = host + 1;
    }
    if (uv_ip4_addr(bare, (int)port, (struct sockaddr_in *)address) == 0) return 0;
    return uv_ip6_addr(bare, (int)port, (struct sockaddr_in6 *)address);
}

static int server_listen(server_t *server) {
    struct sockaddr_storage address;
    uv_tcp_init(&server->loop, &server->listener);
    server->listener.data = server;
    int error = address_parse(server->config->listen_address, &address);
    if (error) {
        server_log("listen_failed", "address=%s error=\"not HOST:PORT\"",
                   server->config->listen_address);
        return error;
    }
    error = uv_tcp_bind(&server->listener, (const struct sockaddr *)&address, 0);
    if (!error) error = uv_listen((uv_stream_t *)&server->listener, LISTEN_BACKLOG, on_connection);
    if (error) {
        server_log("listen_failed", "address=%s error=\"%s\"", server->config->listen_address,
                   uv_strerror(error));
        return error;
    }
    int length = sizeof(address);
    uv_tcp_getsockname(&server->listener, (struct sockaddr *)&address, &length);
    char host[48] = "";
    int port;
    if (address.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&address, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
        server_log("listening", "address=[%s]:%d", host, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&address, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *)&address)->sin_port);
        server_log("listening", "address=%s:%d", host, port);
    }
    return 0;
}

/* Starts the metrics listener of --metrics, if asked for. */
static int server_listen_metrics(server_t *server) {
    const char *text = server->config->metrics_address;
    if (text == NULL) return 0;
    struct sockaddr_storage address;
    if (address_parse(text, &address) != 0) {
        server_log("metrics_listen_failed", "address=%s error=\"not HOST:PORT\"", text);
        return UV_EINVAL;
    }
    return metrics_server_start(&server->loop, text, (const struct sockaddr *)&address,
                                server->metrics, &server->metrics_server);
}

int net_run(const server_config_t *config, ledger_t *ledger, bool *storage_faulted_out) {
    *storage_faulted_out = false;
    server_t *server = calloc(1, sizeof(*server));
    if (server == NULL) return UV_ENOMEM;
    server->config = config;
    if (metrics_create(&server->metrics) != 0) {
        free(server);
        return UV_ENOMEM;
    }
    uv_loop_init(&server->loop);
    uv_async_init(&server->loop, &server->wakeup, on_wakeup);
    server->wakeup.data = server;
    int error = writer_start(ledger, config, &server->wakeup, server->metrics, &server->writer);
    if (error) {
        uv_close((uv_handle_t *)&server->wakeup, NULL);
        uv_run(&server->loop, UV_RUN_DEFAULT);
        uv_loop_close(&server->loop);
        metrics_free(server->metrics);
        free(server);
        return error;
    }
    uv_signal_init(&server->loop, &server->signal_interrupt);
    uv_signal_init(&server->loop, &server->signal_terminate);
    server->signal_interrupt.data = server;
    server->signal_terminate.data = server;
    uv_timer_init(&server->loop, &server->shutdown_timer);
    server->shutdown_timer.data = server;
    uv_signal_start(&server->signal_interrupt, on_signal, SIGINT);
    uv_signal_start(&server->signal_terminate, on_signal, SIGTERM);
    error = server_listen(server);
    if (!error) error = server_listen_metrics(server);
    if (error) {
        /* Same path as a signal, so every handle closes in order. */
        server->shutting_down = true;
        uv_close((uv_handle_t *)&server->listener, handle_closed_quietly);
        metrics_server_close(server->metrics_server);
        server->metrics_server = NULL;
        server_check_drained(server);
    }
    uv_run(&server->loop, UV_RUN_DEFAULT);
    *storage_faulted_out = writer_stop(server->writer);
    uv_loop_close(&server->loop);
    metrics_free(server->metrics);
    free(server);
    return error;
}
