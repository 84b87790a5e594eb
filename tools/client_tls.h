/*
 * client_tls.h — the TLS half of client.c (private to the client library):
 * the context made from a client_tls_t, and the handshake on a connected
 * non-blocking socket. client.c then reads and writes through the SSL
 * object it gets back (client.h is the manual).
 */
#ifndef BORSELLINO_TOOLS_CLIENT_TLS_H
#define BORSELLINO_TOOLS_CLIENT_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* Largest PEM key file accepted, as for the server. */
#define CLIENT_TLS_KEY_FILE_SIZE_MAX (64 * 1024)

/*
 * Loads the three files of `tls` (refusing a key that other users may
 * read or write) into a TLS 1.3-only client context. Done before
 * connecting, so a bad file never costs the server a connection.
 *
 * Returns 0 with *context_out set (free with SSL_CTX_free), or
 * CLIENT_ERR_TLS or CLIENT_ERR_NO_MEMORY with `message` (message_size
 * bytes) a full sentence.
 */
int client_tls_context(const client_tls_t *tls, SSL_CTX **context_out, char *message,
                       size_t message_size);

/*
 * Runs a TLS 1.3 handshake on `fd` (connected, non-blocking), checking the
 * server's certificate against the context's CA and `host` (an IP address
 * or a DNS name). Each wait is bounded by timeout_ms (0 = forever).
 *
 * Returns 0 with *ssl_out set (the caller frees it with SSL_free, which
 * also drops its reference to the context; the fd stays the caller's), or
 * CLIENT_ERR_TLS, CLIENT_ERR_TIMEOUT, CLIENT_ERR_CLOSED or
 * CLIENT_ERR_NO_MEMORY with `message` a full sentence.
 */
int client_tls_start(int fd, const char *host, SSL_CTX *context, uint32_t timeout_ms,
                     SSL **ssl_out, char *message, size_t message_size);

/* Describes why the last SSL call on `ssl` failed (the peer's alert, a
 * verification error, ...) and empties OpenSSL's error queue. */
void client_tls_reason(SSL *ssl, char *reason, size_t reason_size);

#endif
