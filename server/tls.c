/*
 * tls.c — TLS 1.3 sessions over memory BIOs, and client identities from
 * their certificates (tls.h is the manual).
 *
 * A session is one SSL object between two BIO_s_mem: `input` holds
 * ciphertext read from the socket and not yet consumed by OpenSSL,
 * `output` the ciphertext OpenSSL produced and the loop has not taken yet.
 * Both are bounded by the loop, not here: the loop feeds at most one read
 * chunk per callback and stops reading when its plaintext buffer cannot
 * take more, so `input` holds at most a read chunk and a partial record;
 * `output` is emptied after every operation that may fill it.
 *
 * Invariants:
 *  - no application data is read before the handshake has finished and
 *    the certificate was found in the roles file (identified == true);
 *  - OpenSSL's per-thread error queue is empty when each call returns, so
 *    one connection's failure never shows up as another's reason;
 *  - key bytes exist only in the buffer of tls_key_load, wiped before it
 *    returns, and inside OpenSSL's EVP_PKEY.
 */
#include "tls.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz.h"

static_assert(TLS_SUBJECT_SIZE_MAX == AUTHZ_SUBJECT_SIZE_MAX + 1,
              "every subject the roles file can hold fits, with its NUL");

struct tls_server {
    SSL_CTX *context;
    authz_roles_t *roles;
    uint64_t handshake_timeout_ms;
};

struct tls_session {
    tls_server_t *server;
    SSL *ssl;
    BIO *input;  /* socket -> OpenSSL; owned by ssl */
    BIO *output; /* OpenSSL -> socket; owned by ssl */
    bool identified;
    bool failed;
    /* The client certificate as the verification saw it, so that a
     * refused one can still be named in the log. */
    char fingerprint_hex[65];
    char subject[TLS_SUBJECT_SIZE_MAX];
    long verify_error; /* X509_V_OK, or why the certificate was refused */
};

static int tls_verify_note(int verified, X509_STORE_CTX *store);

/* Writes OpenSSL's oldest queued error (or `fallback`) into `reason`, then
 * empties the queue. */
static void tls_reason_from_queue(char *reason, size_t size, const char *fallback) {
    unsigned long code = ERR_peek_error();
    if (code != 0) {
        char text[200];
        ERR_error_string_n(code, text, sizeof(text));
        /* "error:0A000086:SSL routines::certificate verify failed": keep
         * the words after the last ':' (the codes mean nothing to people). */
        const char *words = strrchr(text, ':');
        snprintf(reason, size, "%s", words != NULL && words[1] != '\0' ? words + 1 : text);
    } else {
        snprintf(reason, size, "%s", fallback);
    }
    ERR_clear_error();
}

/* ---- files ---- */

/* Reads a PEM private key, refusing a file others may read or write (the
 * mode is checked on the open descriptor, so the file read is the file
 * checked). The buffer that held the key's bytes is wiped before return. */
static int tls_key_load(const char *path, EVP_PKEY **key_out, char *error, size_t error_size) {
    *key_out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(error, error_size, "cannot read the TLS key %s: %s", path, strerror(errno));
        return TLS_ERR_CONFIG;
    }
    struct stat status;
    if (fstat(fd, &status) != 0 || (status.st_mode & 077) != 0) {
        snprintf(error, error_size,
                 "the TLS key %s can be read or written by other users (mode %03o): "
                 "chmod 600 %s",
                 path, (unsigned)(status.st_mode & 0777), path);
        close(fd);
        return TLS_ERR_KEY_PERMISSIONS;
    }
    if (status.st_size <= 0 || status.st_size > TLS_KEY_FILE_SIZE_MAX) {
        snprintf(error, error_size, "the TLS key %s is not a PEM private key (%lld bytes)", path,
                 (long long)status.st_size);
        close(fd);
        return TLS_ERR_CONFIG;
    }
    static_assert(TLS_KEY_FILE_SIZE_MAX <= 64 * 1024, "the key buffer lives on the stack");
    char buffer[TLS_KEY_FILE_SIZE_MAX];
    ssize_t got = read(fd, buffer, (size_t)status.st_size);
    close(fd);
    EVP_PKEY *key = NULL;
    if (got == status.st_size) {
        BIO *bio = BIO_new_mem_buf(buffer, (int)got);
        if (bio != NULL) key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    OPENSSL_cleanse(buffer, sizeof(buffer));
    ERR_clear_error();
    if (key == NULL) {
        snprintf(error, error_size, "the TLS key %s is not a PEM private key (or is encrypted)",
                 path);
        return TLS_ERR_CONFIG;
    }
    *key_out = key;
    return TLS_OK;
}

/* The certificate, the key and the CA into `context`. */
static int tls_context_load(SSL_CTX *context, const tls_server_config_t *config, char *error,
                            size_t error_size) {
    if (SSL_CTX_use_certificate_chain_file(context, config->cert_path) != 1) {
        char reason[TLS_REASON_SIZE];
        tls_reason_from_queue(reason, sizeof(reason), "unreadable");
        snprintf(error, error_size, "cannot load the TLS certificate %s: %s", config->cert_path,
                 reason);
        return TLS_ERR_CONFIG;
    }
    EVP_PKEY *key = NULL;
    int status = tls_key_load(config->key_path, &key, error, error_size);
    if (status != TLS_OK) return status;
    bool used = SSL_CTX_use_PrivateKey(context, key) == 1 && SSL_CTX_check_private_key(context) == 1;
    EVP_PKEY_free(key);
    if (!used) {
        ERR_clear_error();
        snprintf(error, error_size, "the TLS key %s does not match the certificate %s",
                 config->key_path, config->cert_path);
        return TLS_ERR_CONFIG;
    }
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(config->ca_path);
    if (names == NULL || SSL_CTX_load_verify_locations(context, config->ca_path, NULL) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        char reason[TLS_REASON_SIZE];
        tls_reason_from_queue(reason, sizeof(reason), "no certificate in it");
        snprintf(error, error_size, "cannot load the CA %s: %s", config->ca_path, reason);
        return TLS_ERR_CONFIG;
    }
    /* Sent in the CertificateRequest, so clients pick the right cert. */
    SSL_CTX_set_client_CA_list(context, names);
    return TLS_OK;
}

int tls_server_create(const tls_server_config_t *config, tls_server_t **server_out,
                      char *error, size_t error_size) {
    assert(config != NULL && server_out != NULL);
    assert(config->cert_path != NULL && config->key_path != NULL);
    assert(config->ca_path != NULL && config->roles_path != NULL);
    *server_out = NULL;
    tls_server_t *server = calloc(1, sizeof(*server));
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    if (server == NULL || context == NULL) {
        free(server);
        SSL_CTX_free(context);
        ERR_clear_error();
        snprintf(error, error_size, "out of memory setting up TLS");
        return TLS_ERR_NO_MEMORY;
    }
    server->context = context;
    server->handshake_timeout_ms = config->handshake_timeout_ms;
    SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       tls_verify_note);
    /* Clients connect once and stay: no resumption, no tickets to send. */
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(context, 0);
    /* Idle connections give their record buffers back; writes may be
     * retried from another address (our output is always taken whole). */
    SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
    int status = tls_context_load(context, config, error, error_size);
    if (status == TLS_OK &&
        authz_roles_load(config->roles_path, &server->roles, error, error_size) != 0) {
        status = TLS_ERR_CONFIG;
    }
    if (status != TLS_OK) {
        tls_server_free(server);
        return status;
    }
    *server_out = server;
    return TLS_OK;
}

void tls_server_free(tls_server_t *server) {
    if (server == NULL) return;
    SSL_CTX_free(server->context);
    authz_roles_free(server->roles);
    free(server);
}

uint64_t tls_server_handshake_timeout_ms(const tls_server_t *server) {
    return server->handshake_timeout_ms;
}

/* ---- sessions ---- */

int tls_session_create(tls_server_t *server, tls_session_t **session_out) {
    *session_out = NULL;
    tls_session_t *session = calloc(1, sizeof(*session));
    SSL *ssl = SSL_new(server->context);
    BIO *input = BIO_new(BIO_s_mem());
    BIO *output = BIO_new(BIO_s_mem());
    if (session == NULL || ssl == NULL || input == NULL || output == NULL) {
        free(session);
        SSL_free(ssl);
        BIO_free(input);
        BIO_free(output);
        ERR_clear_error();
        return TLS_ERR_NO_MEMORY;
    }
    /* An empty input BIO means "not yet", never end of file. */
    BIO_set_mem_eof_return(input, -1);
    SSL_set_bio(ssl, input, output);
    SSL_set_accept_state(ssl);
    SSL_set_app_data(ssl, session); /* for tls_verify_note */
    session->verify_error = X509_V_OK;
    session->server = server;
    session->ssl = ssl;
    session->input = input;
    session->output = output;
    *session_out = session;
    return TLS_OK;
}

void tls_session_free(tls_session_t *session) {
    if (session == NULL) return;
    SSL_free(session->ssl); /* frees both BIOs */
    free(session);
}

int tls_session_feed(tls_session_t *session, const uint8_t *bytes, size_t size) {
    assert(size <= INT32_MAX);
    if (size == 0) return TLS_OK;
    int written = BIO_write(session->input, bytes, (int)size);
    if (written != (int)size) {
        ERR_clear_error();
        return TLS_ERR_NO_MEMORY;
    }
    return TLS_OK;
}

bool tls_session_established(const tls_session_t *session) {
    return session->identified;
}

/* Fills the fingerprint ("sha256:" is not included: 64 lowercase hex
 * digits) and the subject of `certificate`. A subject longer than any the
 * roles file can hold is left empty rather than cut, so that a long
 * subject can never match a shorter entry by its prefix. Leaves OpenSSL's
 * error queue as it was (it also runs inside the verification). */
static void tls_certificate_names(X509 *certificate, char fingerprint_hex[65],
                                  char subject[TLS_SUBJECT_SIZE_MAX]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    fingerprint_hex[0] = '\0';
    subject[0] = '\0';
    ERR_set_mark();
    if (X509_digest(certificate, EVP_sha256(), digest, &length) == 1 && length == 32) {
        for (unsigned int i = 0; i < length; i++) {
            snprintf(fingerprint_hex + 2 * i, 3, "%02x", digest[i]);
        }
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio != NULL &&
        X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253) >= 0 &&
        BIO_ctrl_pending(bio) < TLS_SUBJECT_SIZE_MAX) {
        int got = BIO_read(bio, subject, TLS_SUBJECT_SIZE_MAX - 1);
        subject[got > 0 ? got : 0] = '\0';
    }
    BIO_free(bio);
    ERR_pop_to_mark();
}

/* OpenSSL's verification callback: keeps OpenSSL's verdict, and notes
 * the client's own certificate (depth 0) and the first error, for the
 * log of a refusal. */
static int tls_verify_note(int verified, X509_STORE_CTX *store) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_session_t *session = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    if (session == NULL) return verified;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    if (leaf != NULL && session->fingerprint_hex[0] == '\0') {
        tls_certificate_names(leaf, session->fingerprint_hex, session->subject);
    }
    if (!verified && session->verify_error == X509_V_OK) {
        session->verify_error = X509_STORE_CTX_get_error(store);
    }
    return verified;
}

/* Why a failed handshake failed, in words for the log. */
static void tls_handshake_reason(tls_session_t *session, char reason[TLS_REASON_SIZE]) {
    if (session->verify_error != X509_V_OK) {
        snprintf(reason, TLS_REASON_SIZE, "certificate refused: %s",
                 X509_verify_cert_error_string(session->verify_error));
        ERR_clear_error();
        return;
    }
    tls_reason_from_queue(reason, TLS_REASON_SIZE, "handshake failed");
}

int tls_session_handshake(tls_session_t *session, server_identity_t *identity_out,
                          char subject[TLS_SUBJECT_SIZE_MAX], char reason[TLS_REASON_SIZE]) {
    assert(!session->identified);
    memset(identity_out, 0, sizeof(*identity_out));
    snprintf(identity_out->name, sizeof(identity_out->name), "none");
    subject[0] = '\0';
    reason[0] = '\0';
    if (session->failed) {
        snprintf(reason, TLS_REASON_SIZE, "handshake failed earlier");
        return TLS_ERR_HANDSHAKE;
    }
    ERR_clear_error();
    int done = SSL_do_handshake(session->ssl);
    int code = done == 1 ? SSL_ERROR_NONE : SSL_get_error(session->ssl, done);
    if (code == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return 1;
    }
    X509 *certificate = SSL_get0_peer_certificate(session->ssl);
    if (certificate != NULL) {
        tls_certificate_names(certificate, session->fingerprint_hex, session->subject);
    }
    const char *fingerprint_hex = session->fingerprint_hex;
    snprintf(subject, TLS_SUBJECT_SIZE_MAX, "%s", session->subject);
    if (fingerprint_hex[0] != '\0') {
        snprintf(identity_out->name, sizeof(identity_out->name), "sha256:%s", fingerprint_hex);
    }
    if (code != SSL_ERROR_NONE) {
        session->failed = true;
        tls_handshake_reason(session, reason);
        return TLS_ERR_HANDSHAKE;
    }
    /* SSL_VERIFY_FAIL_IF_NO_PEER_CERT guarantees a verified certificate. */
    assert(certificate != NULL);
    assert(SSL_get_verify_result(session->ssl) == X509_V_OK);
    if (fingerprint_hex[0] == '\0' ||
        !authz_roles_lookup(session->server->roles, fingerprint_hex, subject, identity_out)) {
        session->failed = true;
        snprintf(reason, TLS_REASON_SIZE,
                 "certificate not in the roles file (neither its fingerprint nor its subject)");
        identity_out->role = SERVER_ROLE_NONE;
        return TLS_ERR_UNKNOWN_CERTIFICATE;
    }
    assert(identity_out->role != SERVER_ROLE_NONE);
    session->identified = true;
    return TLS_OK;
}

long tls_session_read(tls_session_t *session, uint8_t *out, size_t size,
                      char reason[TLS_REASON_SIZE]) {
    assert(session->identified);
    reason[0] = '\0';
    if (size == 0) return 0;
    size_t got = 0;
    ERR_clear_error();
    if (SSL_read_ex(session->ssl, out, size, &got) == 1) {
        assert(got > 0 && got <= size);
        return (long)got;
    }
    int code = SSL_get_error(session->ssl, 0);
    if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return 0;
    }
    if (code == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return TLS_ERR_CLOSED;
    }
    tls_reason_from_queue(reason, TLS_REASON_SIZE, "record failed");
    return TLS_ERR_PROTOCOL;
}

bool tls_session_input_pending(const tls_session_t *session) {
    return BIO_ctrl_pending(session->input) > 0 || SSL_pending(session->ssl) > 0;
}

int tls_session_write(tls_session_t *session, const uint8_t *bytes, size_t size) {
    assert(session->identified);
    size_t done = 0;
    ERR_clear_error();
    /* The output BIO grows as needed, so a write only stops on failure;
     * the loop still goes on in case OpenSSL hands out partial writes. */
    while (done < size) {
        size_t written = 0;
        if (SSL_write_ex(session->ssl, bytes + done, size - done, &written) != 1) {
            int code = SSL_get_error(session->ssl, 0);
            ERR_clear_error();
            return code == SSL_ERROR_SSL || code == SSL_ERROR_SYSCALL ? TLS_ERR_PROTOCOL
                                                                      : TLS_ERR_NO_MEMORY;
        }
        done += written;
    }
    return TLS_OK;
}

void tls_session_shutdown(tls_session_t *session) {
    if (session->identified && !session->failed) SSL_shutdown(session->ssl);
    ERR_clear_error();
}

int tls_session_take_output(tls_session_t *session, uint8_t **bytes_out, size_t *size_out) {
    *bytes_out = NULL;
    *size_out = 0;
    size_t pending = BIO_ctrl_pending(session->output);
    if (pending == 0) return TLS_OK;
    assert(pending <= INT32_MAX);
    uint8_t *bytes = malloc(pending);
    if (bytes == NULL) return TLS_ERR_NO_MEMORY;
    int got = BIO_read(session->output, bytes, (int)pending);
    assert(got == (int)pending);
    *bytes_out = bytes;
    *size_out = (size_t)got;
    return TLS_OK;
}

const char *tls_session_cipher(const tls_session_t *session) {
    const char *name = SSL_get_cipher_name(session->ssl);
    return name != NULL ? name : "none";
}

const char *tls_strerror(int error) {
    switch (error) {
    case TLS_OK: return "success";
    case TLS_ERR_CONFIG: return "TLS configuration error";
    case TLS_ERR_KEY_PERMISSIONS: return "TLS key readable or writable by other users";
    case TLS_ERR_NO_MEMORY: return "out of memory";
    case TLS_ERR_HANDSHAKE: return "TLS handshake failed";
    case TLS_ERR_UNKNOWN_CERTIFICATE: return "client certificate not in the roles file";
    case TLS_ERR_PROTOCOL: return "TLS protocol error";
    case TLS_ERR_CLOSED: return "TLS closed by the peer";
    default: return "unknown TLS error";
    }
}
