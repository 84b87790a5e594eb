/*
 * client.h — a small blocking client of the borsellino protocol over TCP:
 * the manual. Used by the `borsellino` command-line tool, its load
 * generator and the integration tests.
 *
 * One client_t is one TCP connection to one borsellinod. Requests are
 * protobuf messages (proto/borsellino.proto) sent as frames (proto/frame.h);
 * the server answers every request exactly once, in request order, so the
 * client can pipeline: call client_send() several times, then
 * client_receive() as many times. client_call() is send + receive.
 *
 * Invariants:
 *  - responses are handed out in the order their requests were sent, and
 *    each one's request_id is checked against the id that was sent; a
 *    mismatch is a protocol error that breaks the connection;
 *  - while client_send() waits for the socket to accept bytes it also reads
 *    whatever responses have arrived, so a caller pipelining many large
 *    requests can never deadlock with a server that stopped reading until
 *    its answers are read (the server's backpressure);
 *  - after any error other than CLIENT_ERR_NOTHING_IN_FLIGHT the connection
 *    is broken: every later call returns CLIENT_ERR_BROKEN. Close it and
 *    connect again (requests whose answer never came may or may not have
 *    been applied: resend them with the same ids, the ledger answers
 *    `exists` for those that were).
 *
 * TLS: client_connect_tls() speaks TLS 1.3 only, presents a client
 * certificate (the server requires one: mutual TLS) and checks the
 * server's certificate against a CA file and the host of the address (an
 * IP address must be in its subjectAltName as an IP, a name as a DNS
 * name). Everything else works the same over TLS. A server refusing the
 * certificate (wrong CA, expired) answers the handshake with an alert,
 * which this client sees at the first request in TLS 1.3
 * (CLIENT_ERR_TLS, the alert in the message); a valid certificate missing
 * from the server's roles file gets the connection closed
 * (CLIENT_ERR_CLOSED, the message says so).
 *
 * Threads: a client_t belongs to one thread at a time. Different clients
 * may be used by different threads at once.
 *
 * Errors: functions return 0 or a CLIENT_ERR_* code (negative, in their own
 * range -32200..-32299, distinct from frame, ledger, LMDB and libuv codes).
 * client_strerror() names the code; client_last_error_message() gives the
 * full sentence for the person at the keyboard (which address, what to do).
 */
#ifndef BORSELLINO_TOOLS_CLIENT_H
#define BORSELLINO_TOOLS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "borsellino.pb-c.h"
#include "frame.h"
#include "ledger.h"

/* The address borsellinod listens on by default. */
#define CLIENT_ADDRESS_DEFAULT "127.0.0.1:7450"

enum {
    /* Default for client_connect's timeout_ms in the command-line tool. */
    CLIENT_TIMEOUT_MS_DEFAULT = 10000,
    /* Most requests sent and not yet answered on one client. */
    CLIENT_IN_FLIGHT_MAX = 1u << 16,
    /* Largest response body accepted. Responses are not limited by the
     * server's --frame-size-max (that bounds requests), so the client takes
     * the framing's absolute limit: a history or lookup of 8,190 entries
     * fits with room to spare. */
    CLIENT_RESPONSE_SIZE_MAX = 64u << 20,
    /* Longest "HOST:PORT" accepted. */
    CLIENT_ADDRESS_LENGTH_MAX = 255,
};

enum client_error {
    CLIENT_OK = 0,
    /* The address is not HOST:PORT, or the host name does not resolve. */
    CLIENT_ERR_ADDRESS = -32200,
    /* Nothing listens there (connection refused): the server is not
     * running at that address. */
    CLIENT_ERR_REFUSED = -32201,
    /* Connecting, sending or waiting for a response took longer than the
     * timeout. */
    CLIENT_ERR_TIMEOUT = -32202,
    /* The server closed the connection (it shut down, or it closed this
     * connection because of a framing violation or an idle timeout). */
    CLIENT_ERR_CLOSED = -32203,
    /* Another socket error (errno in the message). */
    CLIENT_ERR_IO = -32204,
    /* The server sent something that is not a valid response frame, or a
     * response whose request_id is not the one expected next. */
    CLIENT_ERR_PROTOCOL = -32205,
    /* The request could not be encoded (too large for any frame). */
    CLIENT_ERR_ENCODE = -32206,
    /* client_receive() with no request in flight. The connection is fine. */
    CLIENT_ERR_NOTHING_IN_FLIGHT = -32207,
    /* CLIENT_IN_FLIGHT_MAX requests already wait for an answer. */
    CLIENT_ERR_TOO_MANY_IN_FLIGHT = -32208,
    /* An earlier error broke this connection. */
    CLIENT_ERR_BROKEN = -32209,
    /* Out of memory. */
    CLIENT_ERR_NO_MEMORY = -32210,
    /* A NULL argument or a request with no operation. */
    CLIENT_ERR_INVALID_ARGUMENT = -32211,
    /* TLS failed: a certificate, key or CA file could not be used, the
     * server's certificate is not trusted or not for this host, or the
     * server refused this client's certificate (an alert). */
    CLIENT_ERR_TLS = -32212,
};

/* The files of a TLS client (PEM). All three are required. The key file
 * must not be readable or writable by other users (mode 0600), as for the
 * server. */
typedef struct client_tls {
    const char *cert_path; /* this client's certificate (chain) */
    const char *key_path;  /* its private key */
    const char *ca_path;   /* the CA(s) the server's certificate must chain to */
} client_tls_t;

typedef struct client client_t;

/*
 * Connects to a borsellinod at `address` ("HOST:PORT"; HOST is a name, an
 * IPv4 address or a bracketed IPv6 address such as "[::1]:7450").
 *
 * timeout_ms: the longest wait for the connection, and afterwards for any
 *   single step of sending or receiving (no byte moving for that long);
 *   0 = wait forever.
 * client_out: receives the client, owned by the caller until client_close().
 *
 * Returns 0, CLIENT_ERR_ADDRESS, CLIENT_ERR_REFUSED, CLIENT_ERR_TIMEOUT,
 * CLIENT_ERR_IO, CLIENT_ERR_NO_MEMORY or CLIENT_ERR_INVALID_ARGUMENT; then
 * client_last_error_message(NULL) says what happened in a full sentence
 * (for a refused connection: that no server is running at the address and
 * how to start one).
 */
int client_connect(const char *address, uint32_t timeout_ms,
                   client_t **client_out);

/*
 * As client_connect(), then, when `tls` is not NULL, a TLS 1.3 handshake
 * within the same timeout (`tls` NULL: plaintext, exactly client_connect).
 * The files are read at every call; the key's bytes are wiped from memory
 * once parsed.
 *
 * Returns what client_connect() returns, or CLIENT_ERR_TLS (a file could
 * not be used, the key is readable by others, the server's certificate
 * failed verification, or the handshake failed) with the reason in
 * client_last_error_message(NULL).
 */
int client_connect_tls(const char *address, uint32_t timeout_ms, const client_tls_t *tls,
                       client_t **client_out);

/* Closes the connection and frees the client. Responses not yet received
 * are dropped. NULL is ignored. */
void client_close(client_t *client);

/*
 * Sends one request. When request->request_id is 0 it is set to the next
 * number of this client's counter (1, 2, ...), so the caller can read it
 * back. Requests sent with an explicit id keep it; ids need not be unique
 * for the server, but the client checks each response against the id sent.
 * The request is not kept: the caller may free or reuse it on return.
 *
 * Returns 0 once the whole frame is handed to the kernel, or
 * CLIENT_ERR_INVALID_ARGUMENT (no operation set), CLIENT_ERR_ENCODE,
 * CLIENT_ERR_TOO_MANY_IN_FLIGHT (nothing sent; the connection is fine),
 * CLIENT_ERR_TIMEOUT, CLIENT_ERR_CLOSED, CLIENT_ERR_IO,
 * CLIENT_ERR_PROTOCOL, CLIENT_ERR_NO_MEMORY or CLIENT_ERR_BROKEN.
 */
int client_send(client_t *client, Borsellino__V1__Request *request);

/*
 * Sends a create_transfers request of `count` (at least 1) transfers,
 * encoded by hand (convert_create_transfers_encode: no protobuf-c messages
 * built), with the next id of this client's counter. The transfers are
 * not kept. Returns as client_send (CLIENT_ERR_INVALID_ARGUMENT for no
 * transfers).
 */
int client_send_transfers(client_t *client, const ledger_transfer_t *transfers, uint32_t count);

/*
 * Waits for the response to the oldest request in flight.
 *
 * response_out: receives the response; the caller frees it with
 *   frame_response_free() (proto/frame.h). Its status may be any
 *   Borsellino__V1__Status: a non-OK status is the server's answer, not a
 *   client error (client_status_message() turns it into a sentence).
 *
 * Returns 0, CLIENT_ERR_NOTHING_IN_FLIGHT, CLIENT_ERR_TIMEOUT,
 * CLIENT_ERR_CLOSED, CLIENT_ERR_IO, CLIENT_ERR_PROTOCOL,
 * CLIENT_ERR_NO_MEMORY or CLIENT_ERR_BROKEN.
 */
int client_receive(client_t *client, Borsellino__V1__Response **response_out);

/*
 * Like client_receive, but reads a plain answer to a create call (status OK,
 * one result per event, at most `capacity`: frame_decode_event_results)
 * straight into `results`, setting *count_out and leaving *response_out
 * NULL; any other answer (a refusal, a failure status) comes back decoded
 * in *response_out as client_receive gives it, with *count_out 0.
 * Returns as client_receive.
 */
int client_receive_results(client_t *client, frame_event_result_t *results, uint32_t capacity,
                           uint32_t *count_out, Borsellino__V1__Response **response_out);

/* client_send() then client_receive() of that request's response. Only
 * when nothing else is in flight (else CLIENT_ERR_INVALID_ARGUMENT and
 * nothing is sent: receive the earlier answers first). Otherwise returns
 * as they do. */
int client_call(client_t *client, Borsellino__V1__Request *request,
                Borsellino__V1__Response **response_out);

/* How many requests were sent and are not answered yet. */
uint32_t client_in_flight(const client_t *client);

/* The address this client connected to, as given. */
const char *client_address(const client_t *client);

/* Whether this client speaks TLS. */
bool client_is_tls(const client_t *client);

/* A static description of a CLIENT_* code ("connection refused"). */
const char *client_strerror(int error);

/*
 * The full sentence about the last error of `client`, or with NULL about
 * the last failed client_connect() in this thread. Valid until the next
 * call on that client (or the next client_connect in this thread). Never
 * NULL; "" when there was no error.
 */
const char *client_last_error_message(const client_t *client);

/* What a response status means and what to do about it, for people
 * ("the batch has more events than the server accepts (...)"). Static. */
const char *client_status_message(uint32_t status);

/* The snake_case name of a status ("batch_too_large"); "unknown" for
 * numbers this client does not know. Static. */
const char *client_status_name(uint32_t status);

#endif
