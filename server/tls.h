/*
 * tls.h — TLS 1.3 for borsellinod, with mutual authentication: the manual.
 *
 * The network loop (net.c) owns the sockets; TLS never touches one. Each
 * connection gets a tls_session_t whose OpenSSL object reads from and
 * writes to two memory BIOs: the loop feeds every byte read from the
 * socket into the session (tls_session_feed), drives the handshake and the
 * decryption, and sends whatever the session produced
 * (tls_session_take_output) with uv_write. So TLS adds no thread, no
 * blocking call and no second event loop.
 *
 * Only TLS 1.3 is spoken. The client must present a certificate that
 * chains to --tls-ca (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
 * is within its validity period, and whose SHA-256 fingerprint or RFC 2253
 * subject is in the roles file (authz.h): that entry becomes the
 * connection's identity. Any other client is rejected, and the loop logs
 * why (event=tls_rejected) and closes the connection.
 *
 * Secrets: the server's private key is read into a buffer that is wiped
 * with OPENSSL_cleanse right after parsing; a key file other users may
 * read or write is refused. Nothing in this file ever logs or returns key
 * material; reasons and identities are the only text it hands out.
 *
 * Workload: one tls_server_t per process (made at startup); one session
 * per connection (up to --connections-max, 1024 by default), each costing
 * one handshake (ECDSA P-256 with the development certificates) and then
 * AES-GCM or ChaCha20-Poly1305 on every byte. Idle sessions release their
 * record buffers (SSL_MODE_RELEASE_BUFFERS), so 1,000 silent connections
 * cost little memory.
 *
 * Threads: everything here runs on the loop thread, except that a
 * tls_server_t is immutable after tls_server_create (the roles table is
 * read-only), so it could be shared.
 *
 * Errors: functions return 0 or a TLS_ERR_* code (negative, in their own
 * range -32300..-32399, distinct from frame, client, ledger, LMDB and
 * libuv codes); tls_strerror names each one.
 */
#ifndef BORSELLINO_SERVER_TLS_H
#define BORSELLINO_SERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"

/* Default and bounds of --tls-handshake-timeout-ms: a handshake that has
 * not finished this long after accept closes the connection, however
 * slowly its bytes trickle in. */
#define TLS_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000
#define TLS_HANDSHAKE_TIMEOUT_MS_MIN 100
#define TLS_HANDSHAKE_TIMEOUT_MS_MAX 600000

/* Largest PEM key file accepted (a 16384-bit RSA key is about 13 KB). */
#define TLS_KEY_FILE_SIZE_MAX (64 * 1024)

/* Room for an RFC 2253 subject and its NUL: the longest a roles file
 * holds (authz.h, AUTHZ_SUBJECT_SIZE_MAX). A longer subject is treated as
 * none: it matches no subject entry and is logged as "". */
#define TLS_SUBJECT_SIZE_MAX 513

/* Room for a reason sentence. */
#define TLS_REASON_SIZE 256

enum tls_error {
    TLS_OK = 0,
    /* A file (certificate, key, CA, roles) could not be read or parsed,
     * or the key does not match the certificate. */
    TLS_ERR_CONFIG = -32300,
    /* The key file may be read or written by other users. */
    TLS_ERR_KEY_PERMISSIONS = -32301,
    /* Out of memory. */
    TLS_ERR_NO_MEMORY = -32302,
    /* The handshake failed: no client certificate, an untrusted or expired
     * one, or bytes that are not TLS 1.3. */
    TLS_ERR_HANDSHAKE = -32303,
    /* The certificate is valid but not in the roles file. */
    TLS_ERR_UNKNOWN_CERTIFICATE = -32304,
    /* A record failed to decrypt or the peer broke the protocol. */
    TLS_ERR_PROTOCOL = -32305,
    /* The peer closed TLS cleanly (close_notify). */
    TLS_ERR_CLOSED = -32306,
};

/* What the server needs: every path is required. */
typedef struct tls_server_config {
    const char *cert_path;  /* --tls-cert: PEM, the server's certificate (chain) */
    const char *key_path;   /* --tls-key: PEM private key, mode 0600 or stricter */
    const char *ca_path;    /* --tls-ca: PEM, the CA(s) client certificates chain to */
    const char *roles_path; /* --roles: the roles file (authz.h) */
    uint64_t handshake_timeout_ms;
} tls_server_config_t;

typedef struct tls_server tls_server_t;
typedef struct tls_session tls_session_t;

/*
 * Loads the certificate, the key (refusing one other users can read or
 * write), the CA and the roles file, and prepares a TLS 1.3-only server
 * context that requires a client certificate.
 *
 * server_out: receives the server, freed with tls_server_free.
 * error: at most error_size bytes, NUL-terminated, a sentence naming the
 *   file and what is wrong ("PATH:LINE: ..." for the roles file).
 *
 * Returns 0, TLS_ERR_CONFIG, TLS_ERR_KEY_PERMISSIONS or TLS_ERR_NO_MEMORY.
 */
int tls_server_create(const tls_server_config_t *config, tls_server_t **server_out,
                      char *error, size_t error_size);

/* Frees the server (every session made from it must be freed first).
 * NULL is ignored. */
void tls_server_free(tls_server_t *server);

/* The handshake bound it was created with, in milliseconds. */
uint64_t tls_server_handshake_timeout_ms(const tls_server_t *server);

/* Starts the server side of a new connection. Returns 0 or
 * TLS_ERR_NO_MEMORY. */
int tls_session_create(tls_server_t *server, tls_session_t **session_out);

/* Frees a session; NULL is ignored. Does not send anything. */
void tls_session_free(tls_session_t *session);

/* Hands bytes read from the socket to the session (copied). Returns 0 or
 * TLS_ERR_NO_MEMORY. */
int tls_session_feed(tls_session_t *session, const uint8_t *bytes, size_t size);

/* Has the handshake completed and the client been identified? */
bool tls_session_established(const tls_session_t *session);

/*
 * Drives the handshake with the bytes fed so far. Call after each feed
 * until it returns something other than 1; after every call send the
 * output (tls_session_take_output) in every case, even on failure (it may
 * hold an alert telling the client why).
 *
 * Returns:
 *  - 1 while more bytes from the client are needed;
 *  - 0 when the handshake is complete and the client certificate is in the
 *    roles file: *identity_out is its identity;
 *  - TLS_ERR_HANDSHAKE or TLS_ERR_UNKNOWN_CERTIFICATE: the connection must
 *    be closed. *identity_out names the certificate when there was one
 *    ("sha256:HEX", role SERVER_ROLE_NONE), else "none";
 *  - TLS_ERR_NO_MEMORY.
 * In every case `subject` (TLS_SUBJECT_SIZE_MAX bytes) receives the client
 * certificate's RFC 2253 subject ("" when none) and `reason`
 * (TLS_REASON_SIZE bytes) a short sentence for the log ("" on success).
 * Never key material.
 */
int tls_session_handshake(tls_session_t *session, server_identity_t *identity_out,
                          char subject[TLS_SUBJECT_SIZE_MAX], char reason[TLS_REASON_SIZE]);

/*
 * Decrypts application data into `out` (at most `size` bytes), only after
 * the handshake. Returns the number of bytes (> 0), 0 when a whole record
 * has not arrived yet, TLS_ERR_CLOSED after the client's close_notify, or
 * TLS_ERR_PROTOCOL (then `reason` says why, TLS_REASON_SIZE bytes).
 */
long tls_session_read(tls_session_t *session, uint8_t *out, size_t size,
                      char reason[TLS_REASON_SIZE]);

/* Is there input the session has not turned into plaintext yet (bytes fed
 * and not decrypted, or decrypted and not read)? */
bool tls_session_input_pending(const tls_session_t *session);

/* Encrypts `size` bytes of application data (all of them; the output
 * grows as needed). Returns 0, TLS_ERR_PROTOCOL or TLS_ERR_NO_MEMORY. */
int tls_session_write(tls_session_t *session, const uint8_t *bytes, size_t size);

/* Queues a close_notify alert (best effort; output must then be sent). */
void tls_session_shutdown(tls_session_t *session);

/*
 * Takes the bytes waiting to go to the socket: *bytes_out is malloc'd (the
 * caller frees it once written) and *size_out its size, or NULL and 0 when
 * there is nothing. Returns 0 or TLS_ERR_NO_MEMORY.
 */
int tls_session_take_output(tls_session_t *session, uint8_t **bytes_out, size_t *size_out);

/* The negotiated cipher suite ("TLS_AES_128_GCM_SHA256"), or "none". */
const char *tls_session_cipher(const tls_session_t *session);

/* A static description of a TLS_* code. */
const char *tls_strerror(int error);

#endif
