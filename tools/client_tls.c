/*
 * client_tls.c — the TLS 1.3 handshake of the protocol client
 * (client_tls.h). A context is made per connection from the three files:
 * the command-line tool opens one or a few connections, the load generator
 * a few dozen (or a thousand idle ones, once each), so reading three small
 * PEM files per connection costs nothing worth caching.
 *
 * The SSL object talks to the socket through a small BIO of our own
 * (socket_bio_*): OpenSSL's socket BIO writes with write(2), which raises
 * SIGPIPE when the server has closed the connection and would kill the
 * command instead of letting it say what happened; ours uses
 * send(MSG_NOSIGNAL), as the plaintext path does.
 *
 * Invariants: the key's bytes live only in tls_key_load's buffer, wiped
 * before it returns; OpenSSL's error queue is empty whenever a function
 * here returns.
 */
#include "client_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the socket BIO without SIGPIPE ---- */

static BIO_METHOD *socket_bio_method; /* made once, kept for the process */
static CRYPTO_ONCE socket_bio_once = CRYPTO_ONCE_STATIC_INIT;

static int socket_bio_fd(BIO *bio) {
    return (int)(intptr_t)BIO_get_data(bio);
}

static int socket_bio_write(BIO *bio, const char *bytes, int size) {
    BIO_clear_retry_flags(bio);
    ssize_t sent = send(socket_bio_fd(bio), bytes, (size_t)size, MSG_NOSIGNAL);
    if (sent >= 0) return (int)sent;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
    return -1; /* errno says why: SSL_ERROR_SYSCALL */
}

static int socket_bio_read(BIO *bio, char *bytes, int size) {
    BIO_clear_retry_flags(bio);
    ssize_t got = recv(socket_bio_fd(bio), bytes, (size_t)size, 0);
    if (got >= 0) return (int)got; /* 0: end of file */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(bio);
    return -1;
}

static long socket_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)bio, (void)number, (void)pointer;
    return command == BIO_CTRL_FLUSH ? 1 : 0; /* writes are never buffered */
}

static int socket_bio_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

static void socket_bio_method_make(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                      "borsellino socket");
    if (method == NULL || BIO_meth_set_write(method, socket_bio_write) != 1 ||
        BIO_meth_set_read(method, socket_bio_read) != 1 ||
        BIO_meth_set_ctrl(method, socket_bio_ctrl) != 1 ||
        BIO_meth_set_create(method, socket_bio_create) != 1) {
        BIO_meth_free(method);
        return;
    }
    socket_bio_method = method;
}

/* A BIO reading and writing `fd` (which stays the caller's), or NULL. */
static BIO *socket_bio_new(int fd) {
    if (!CRYPTO_THREAD_run_once(&socket_bio_once, socket_bio_method_make) ||
        socket_bio_method == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new(socket_bio_method);
    if (bio != NULL) BIO_set_data(bio, (void *)(intptr_t)fd);
    return bio;
}

void client_tls_reason(SSL *ssl, char *reason, size_t reason_size) {
    long verified = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long code = ERR_peek_error();
    if (verified != X509_V_OK) {
        snprintf(reason, reason_size, "the server's certificate failed verification: %s",
                 X509_verify_cert_error_string(verified));
    } else if (code != 0) {
        char text[200];
        ERR_error_string_n(code, text, sizeof text);
        const char *words = strrchr(text, ':');
        snprintf(reason, reason_size, "%s", words != NULL && words[1] ? words + 1 : text);
    } else {
        snprintf(reason, reason_size, "%s", errno != 0 ? strerror(errno) : "handshake failed");
    }
    ERR_clear_error();
}

/* Reads a PEM private key that only its owner may read or write; the
 * buffer that held its bytes is wiped. */
static int tls_key_load(const char *path, EVP_PKEY **key_out, char *message, size_t size) {
    *key_out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(message, size, "cannot read the TLS key %s: %s", path, strerror(errno));
        return CLIENT_ERR_TLS;
    }
    struct stat status;
    if (fstat(fd, &status) != 0 || (status.st_mode & 077) != 0) {
        snprintf(message, size,
                 "the TLS key %s can be read or written by other users (mode %03o): chmod 600 %s",
                 path, (unsigned)(status.st_mode & 0777), path);
        close(fd);
        return CLIENT_ERR_TLS;
    }
    if (status.st_size <= 0 || status.st_size > CLIENT_TLS_KEY_FILE_SIZE_MAX) {
        snprintf(message, size, "the TLS key %s is not a PEM private key", path);
        close(fd);
        return CLIENT_ERR_TLS;
    }
    char buffer[CLIENT_TLS_KEY_FILE_SIZE_MAX];
    ssize_t got = read(fd, buffer, (size_t)status.st_size);
    close(fd);
    EVP_PKEY *key = NULL;
    if (got == status.st_size) {
        BIO *bio = BIO_new_mem_buf(buffer, (int)got);
        if (bio != NULL) key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    OPENSSL_cleanse(buffer, sizeof buffer);
    ERR_clear_error();
    if (key == NULL) {
        snprintf(message, size, "the TLS key %s is not a PEM private key (or is encrypted)", path);
        return CLIENT_ERR_TLS;
    }
    *key_out = key;
    return CLIENT_OK;
}

int client_tls_context(const client_tls_t *tls, SSL_CTX **context_out, char *message,
                       size_t size) {
    *context_out = NULL;
    if (tls->cert_path == NULL || tls->key_path == NULL || tls->ca_path == NULL) {
        snprintf(message, size,
                 "TLS needs a certificate, its key and the CA together (--tls-cert, --tls-key, "
                 "--tls-ca, or BORSELLINO_TLS_CERT, _KEY, _CA)");
        return CLIENT_ERR_TLS;
    }
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        ERR_clear_error();
        snprintf(message, size, "out of memory setting up TLS");
        return CLIENT_ERR_NO_MEMORY;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    /* The server closes without close_notify when it closes for its own
     * reasons (idle, refused certificate): that is an end of file. */
    SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    char reason[160];
    const char *failed = NULL;
    if (SSL_CTX_load_verify_locations(context, tls->ca_path, NULL) != 1) {
        failed = tls->ca_path;
    } else if (SSL_CTX_use_certificate_chain_file(context, tls->cert_path) != 1) {
        failed = tls->cert_path;
    }
    if (failed != NULL) {
        client_tls_reason(NULL, reason, sizeof reason);
        snprintf(message, size, "cannot load %s: %s", failed, reason);
        SSL_CTX_free(context);
        return CLIENT_ERR_TLS;
    }
    EVP_PKEY *key = NULL;
    int error = tls_key_load(tls->key_path, &key, message, size);
    if (error == CLIENT_OK &&
        (SSL_CTX_use_PrivateKey(context, key) != 1 || SSL_CTX_check_private_key(context) != 1)) {
        ERR_clear_error();
        snprintf(message, size, "the TLS key %s does not match the certificate %s",
                 tls->key_path, tls->cert_path);
        error = CLIENT_ERR_TLS;
    }
    EVP_PKEY_free(key);
    if (error != CLIENT_OK) {
        SSL_CTX_free(context);
        return error;
    }
    *context_out = context;
    return CLIENT_OK;
}

/* Names the server we expect: an IP address must be in its certificate
 * as an IP, a name as a DNS name (and goes in the SNI extension). */
static bool tls_expect_host(SSL *ssl, const char *host) {
    unsigned char address[16];
    bool is_ip = inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
    if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1;
    return SSL_set1_host(ssl, host) == 1 && SSL_set_tlsext_host_name(ssl, host) == 1;
}

/* Runs SSL_connect to completion, waiting on `fd` as it asks. */
static int tls_handshake(SSL *ssl, int fd, const char *host, uint32_t timeout_ms,
                         char *message, size_t size) {
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int done = SSL_connect(ssl);
        if (done == 1) return CLIENT_OK;
        int code = SSL_get_error(ssl, done);
        if (code != SSL_ERROR_WANT_READ && code != SSL_ERROR_WANT_WRITE) {
            char reason[200];
            client_tls_reason(ssl, reason, sizeof reason);
            if (code == SSL_ERROR_ZERO_RETURN || (code == SSL_ERROR_SYSCALL && errno == 0)) {
                snprintf(message, size, "the server at %s closed the connection during the TLS "
                         "handshake (does it speak TLS?)", host);
                return CLIENT_ERR_CLOSED;
            }
            snprintf(message, size, "TLS handshake with %s failed: %s%s", host, reason,
                     SSL_get_verify_result(ssl) != X509_V_OK
                         ? " (is the server's certificate signed by the --tls-ca CA, and "
                           "for this host?)" : "");
            return CLIENT_ERR_TLS;
        }
        struct pollfd entry = {.fd = fd, .events = code == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        int ready;
        do {
            ready = poll(&entry, 1, timeout_ms == 0 ? -1 : (int)timeout_ms);
        } while (ready < 0 && errno == EINTR);
        if (ready == 0) {
            snprintf(message, size, "the TLS handshake with %s did not finish within %u ms "
                     "(is it a TLS server?)", host, timeout_ms);
            return CLIENT_ERR_TIMEOUT;
        }
        if (ready < 0) {
            snprintf(message, size, "TLS handshake with %s: %s", host, strerror(errno));
            return CLIENT_ERR_TLS;
        }
    }
}

int client_tls_start(int fd, const char *host, SSL_CTX *context, uint32_t timeout_ms,
                     SSL **ssl_out, char *message, size_t message_size) {
    *ssl_out = NULL;
    SSL *ssl = SSL_new(context);
    BIO *bio = socket_bio_new(fd);
    if (ssl != NULL && bio != NULL) {
        SSL_set_bio(ssl, bio, bio); /* one reference, now the SSL's */
        bio = NULL;
    }
    if (ssl == NULL || bio != NULL || !tls_expect_host(ssl, host)) {
        SSL_free(ssl);
        BIO_free(bio);
        ERR_clear_error();
        snprintf(message, message_size, "out of memory setting up TLS");
        return CLIENT_ERR_NO_MEMORY;
    }
    SSL_set_connect_state(ssl);
    int error = tls_handshake(ssl, fd, host, timeout_ms, message, message_size);
    if (error != CLIENT_OK) {
        SSL_free(ssl);
        return error;
    }
    *ssl_out = ssl;
    return CLIENT_OK;
}
