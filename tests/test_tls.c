/*
 * test_tls.c — TLS 1.3 and client identities, end to end (issue 6): a real
 * borsellinod started with certificates made by `borsellino certs`, the
 * real command-line tool and the client library (tools/client.c) over TLS,
 * and hand-made hostile or broken clients.
 *
 * Cases:
 *  - certs_command: the files, their modes, the roles file's fingerprints,
 *    no overwriting, `certs issue`;
 *  - operator_round_trip: account create + lookup through the CLI (flags,
 *    then environment variables), the identity in the server's log;
 *  - rejected_*: no client certificate, a wrong CA, an expired certificate
 *    (made here with OpenSSL, and listed in the roles file so that only its
 *    dates are wrong), a valid certificate not in the roles file (while
 *    one listed by its subject gets in), and a plaintext client: each
 *    refused, each logged as event=tls_rejected;
 *  - handshake_stall: connections that never finish a handshake (silent,
 *    or trickling a ClientHello byte by byte) are closed after
 *    --tls-handshake-timeout-ms, while a well-behaved client is served
 *    with a p99 latency under LATENCY_P99_BOUND_MS;
 *  - startup_refusals: plaintext on a non-loopback address, a key file of
 *    mode 0644 (server and client), a data directory others can write to,
 *    incomplete TLS options, a bad roles file; TLS on 0.0.0.0 is allowed.
 */
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "client.h"
#include "server_fixture.h"

enum {
    TOOL_OUTPUT_MAX = 64 * 1024,
    /* A handshake that has not finished this long after accept is closed. */
    HANDSHAKE_TIMEOUT_MS = 1000,
    STALLED_CONNECTIONS = 32,
    /* The well-behaved client's one-at-a-time latency during the stall. */
    LATENCY_P99_BOUND_MS = 200,
    STALL_MEASURE_MS = 2500,
    LATENCY_SAMPLES_MAX = 200000,
    LOG_WAIT_MS = 3000,
};

/* ---- files and processes ---- */

typedef struct certs_dir {
    char root[PATH_MAX];        /* the case's scratch directory */
    char path[PATH_MAX + 16];   /* root/certs: made by borsellino certs */
    char config[PATH_MAX + 16]; /* root/tls.conf for borsellinod --config */
} certs_dir_t;

static void path_of(char *out, const char *dir, const char *name) {
    int length = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    TEST_REQUIRE(length > 0 && length < PATH_MAX);
}

static const char *tool_binary(void) {
    const char *path = getenv("BORSELLINO");
    TEST_REQUIRE(path != NULL && path[0] != '\0');
    return path;
}

/*
 * Runs argv (NULL-terminated) with `environment` ("NAME=VALUE" strings,
 * NULL-terminated, or NULL) added, stdout and stderr into `output`
 * (TOOL_OUTPUT_MAX bytes). Returns the exit status, or -1 when it did not
 * exit normally.
 */
static int process_run(char *const *argv, const char *const *environment, char *output) {
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof log_path, "%s/tls-run-%d.out",
             getenv("BORSELLINO_TEST_TMP") ? getenv("BORSELLINO_TEST_TMP") : "/tmp", getpid());
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        for (int i = 0; environment != NULL && environment[i] != NULL; i++) {
            putenv((char *)environment[i]);
        }
        server_exec(log_path, argv);
    }
    int status = 0;
    TEST_REQUIRE(waitpid(pid, &status, 0) == pid);
    file_read(log_path, output, TOOL_OUTPUT_MAX);
    unlink(log_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool file_contains(const char *path, const char *text) {
    char *buffer = xcalloc(LOG_READ_MAX, 1);
    file_read(path, buffer, LOG_READ_MAX);
    bool found = strstr(buffer, text) != NULL;
    free(buffer);
    return found;
}

/* Waits for `text` to appear in the server's log (it is written by the
 * server's loop thread, a little after the client saw the effect). */
static bool log_wait_for(const server_t *server, const char *text) {
    uint64_t deadline = now_us() + LOG_WAIT_MS * UINT64_C(1000);
    while (!file_contains(server->log, text)) {
        if (now_us() > deadline) {
            printf("# not in the server's log: %s\n", text);
            return false;
        }
        sleep_ms(10);
    }
    return true;
}

static void file_write(const char *path, const char *text, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    TEST_REQUIRE(fd >= 0);
    TEST_REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* A scratch directory with `borsellino certs --out DIR/certs` in it, and a
 * config file that serves TLS with those files. */
static void certs_make(certs_dir_t *certs, const char *prefix) {
    fixture_tmp_dir_make(prefix, certs->root, sizeof certs->root);
    snprintf(certs->path, sizeof certs->path, "%s/certs", certs->root);
    snprintf(certs->config, sizeof certs->config, "%s/tls.conf", certs->root);
    char *argv[] = {(char *)tool_binary(), "certs", "--out", certs->path, NULL};
    char *output = xcalloc(TOOL_OUTPUT_MAX, 1);
    int status = process_run(argv, NULL, output);
    if (status != 0) printf("# borsellino certs: %s\n", output);
    TEST_REQUIRE(status == 0);
    free(output);
    char text[6 * PATH_MAX];
    snprintf(text, sizeof text,
             "# borsellinod with the development certificates\n"
             "tls-cert = %s/server.crt\ntls-key = %s/server.key\ntls-ca = %s/ca.crt\n"
             "roles = %s/roles\ntls-handshake-timeout-ms = %d\n",
             certs->path, certs->path, certs->path, certs->path, HANDSHAKE_TIMEOUT_MS);
    file_write(certs->config, text, 0600);
}

static void certs_remove(const certs_dir_t *certs) {
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(certs->root);
    else printf("# certificates kept in %s\n", certs->root);
}

/* Starts a TLS server configured by certs->config (plus `more`, NULL or a
 * NULL-terminated list of extra flags). */
static void tls_server_start(server_t *server, const certs_dir_t *certs, const char *const *more) {
    const char *args[SERVER_EXTRA_ARGS_MAX + 1] = {"--config", certs->config};
    int count = 2;
    for (int i = 0; more != NULL && more[i] != NULL; i++) {
        TEST_REQUIRE(count < SERVER_EXTRA_ARGS_MAX);
        args[count++] = more[i];
    }
    server_init(server, "tls", args);
    TEST_REQUIRE(server_start(server));
}

/* The client files of role file `name` ("operator") in `dir`. */
typedef struct client_files {
    char cert[PATH_MAX];
    char key[PATH_MAX];
    char ca[PATH_MAX];
    client_tls_t tls;
} client_files_t;

static void client_files(client_files_t *files, const char *dir, const char *name,
                         const char *ca_dir) {
    char file[128];
    snprintf(file, sizeof file, "%s.crt", name);
    path_of(files->cert, dir, file);
    snprintf(file, sizeof file, "%s.key", name);
    path_of(files->key, dir, file);
    path_of(files->ca, ca_dir, "ca.crt");
    files->tls = (client_tls_t){files->cert, files->key, files->ca};
}

/* ---- talking to the server ---- */

static int client_status(client_t *client) {
    Borsellino__V1__StatusRequest body = BORSELLINO__V1__STATUS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &body;
    Borsellino__V1__Response *response = NULL;
    int error = client_call(client, &request, &response);
    if (error == CLIENT_OK && response->status != BORSELLINO__V1__STATUS__STATUS_OK) error = -1;
    frame_response_free(response);
    return error;
}

/* Connects with `tls` and asks for the status. Returns CLIENT_OK when the
 * server answered, else the client error of the connect or the call, with
 * its message in `message` (512 bytes). */
static int tls_status(uint16_t port, const client_tls_t *tls, char *message) {
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%u", port);
    client_t *client = NULL;
    message[0] = '\0';
    int error = client_connect_tls(address, CONNECT_TIMEOUT_MS, tls, &client);
    if (error != CLIENT_OK) {
        snprintf(message, 512, "%s", client_last_error_message(NULL));
        return error;
    }
    error = client_status(client);
    if (error != CLIENT_OK) snprintf(message, 512, "%s", client_last_error_message(client));
    client_close(client);
    return error;
}

/* ---- certificates made here ---- */

static X509 *pem_certificate_read(const char *path) {
    FILE *file = fopen(path, "r");
    TEST_REQUIRE(file != NULL);
    X509 *cert = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    TEST_REQUIRE(cert != NULL);
    return cert;
}

static void fingerprint_of(const char *path, char hex[65]) {
    X509 *cert = pem_certificate_read(path);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    TEST_REQUIRE(X509_digest(cert, EVP_sha256(), digest, &length) == 1 && length == 32);
    for (unsigned int i = 0; i < length; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    X509_free(cert);
}

/* A client certificate signed by certs/ca.key whose validity ended a day
 * ago: DIR/expired.crt and .key. */
static void expired_certificate_make(const char *dir) {
    char path[PATH_MAX];
    path_of(path, dir, "ca.key");
    FILE *file = fopen(path, "r");
    TEST_REQUIRE(file != NULL);
    EVP_PKEY *ca_key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
    fclose(file);
    path_of(path, dir, "ca.crt");
    X509 *ca = pem_certificate_read(path);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    TEST_REQUIRE(ca_key != NULL && key != NULL && cert != NULL);
    X509_NAME *name = X509_get_subject_name(cert);
    TEST_REQUIRE(X509_set_version(cert, 2) == 1);
    TEST_REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(cert), 4242) == 1);
    TEST_REQUIRE(X509_gmtime_adj(X509_getm_notBefore(cert), -2L * 86400) != NULL);
    TEST_REQUIRE(X509_gmtime_adj(X509_getm_notAfter(cert), -1L * 86400) != NULL);
    TEST_REQUIRE(X509_set_pubkey(cert, key) == 1);
    TEST_REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                            (const unsigned char *)"expired", -1, -1, 0) == 1);
    TEST_REQUIRE(X509_set_issuer_name(cert, X509_get_subject_name(ca)) == 1);
    TEST_REQUIRE(X509_sign(cert, ca_key, EVP_sha256()) > 0);
    path_of(path, dir, "expired.crt");
    file = fopen(path, "w");
    TEST_REQUIRE(file != NULL && PEM_write_X509(file, cert) == 1);
    fclose(file);
    path_of(path, dir, "expired.key");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    file = fd >= 0 ? fdopen(fd, "w") : NULL;
    TEST_REQUIRE(file != NULL && PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(file);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(key);
    EVP_PKEY_free(ca_key);
}

/* Appends "sha256:FINGERPRINT ROLE" for `cert_path` to the roles file. */
static void roles_append(const char *dir, const char *cert_path, const char *role) {
    char hex[65], line[128], path[PATH_MAX];
    fingerprint_of(cert_path, hex);
    snprintf(line, sizeof line, "sha256:%s %s\n", hex, role);
    path_of(path, dir, "roles");
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    TEST_REQUIRE(fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line));
    close(fd);
}

/*
 * A TLS 1.3 client written here with OpenSSL alone, presenting no client
 * certificate: connects, sends one status request and waits for an
 * answer. Returns true only if an answer came (it must not).
 */
static bool no_certificate_answered(uint16_t port, const char *ca_path) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    TEST_REQUIRE(context != NULL);
    SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION);
    TEST_REQUIRE(SSL_CTX_load_verify_locations(context, ca_path, NULL) == 1);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    TEST_REQUIRE(connect(fd, (struct sockaddr *)&address, sizeof address) == 0);
    struct timeval timeout = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    SSL *ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    bool answered = false;
    if (SSL_connect(ssl) == 1) {
        wire_t wire = request_status(1);
        uint8_t reply[64];
        answered = SSL_write(ssl, wire.bytes, (int)wire.size) == (int)wire.size &&
                   SSL_read(ssl, reply, sizeof reply) > 0;
        free(wire.bytes);
    }
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(context);
    close(fd);
    return answered;
}

/* ---- cases ---- */

static void test_certs_command(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-certs");
    static const char *const names[] = {"ca", "server", "operator", "company", "app",
                                        "provider", "auditor"};
    struct stat status;
    TEST_CHECK(stat(certs.path, &status) == 0 && (status.st_mode & 0777) == 0700);
    char path[PATH_MAX], file[64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(file, sizeof file, "%s.key", names[i]);
        path_of(path, certs.path, file);
        TEST_CHECK(stat(path, &status) == 0 && (status.st_mode & 0777) == 0600);
        snprintf(file, sizeof file, "%s.crt", names[i]);
        path_of(path, certs.path, file);
        TEST_CHECK(stat(path, &status) == 0 && (status.st_mode & 077) == 044);
    }
    /* The roles file maps each client's fingerprint to its role. */
    static const char *const roles[][2] = {{"operator", " operator\n"},
                                           {"company", " company:latteria-padana\n"},
                                           {"app", " app\n"},
                                           {"provider", " provider:coop-il-torrazzo\n"},
                                           {"auditor", " auditor\n"}};
    char roles_path[PATH_MAX], hex[65], line[160];
    path_of(roles_path, certs.path, "roles");
    for (size_t i = 0; i < 5; i++) {
        snprintf(file, sizeof file, "%s.crt", roles[i][0]);
        path_of(path, certs.path, file);
        fingerprint_of(path, hex);
        snprintf(line, sizeof line, "sha256:%s%s", hex, roles[i][1]);
        TEST_CHECK(file_contains(roles_path, line));
    }
    /* Nothing is overwritten; bad values are usage errors. */
    char *output = xcalloc(TOOL_OUTPUT_MAX, 1);
    char *again[] = {(char *)tool_binary(), "certs", "--out", certs.path, NULL};
    TEST_CHECK_EQ(process_run(again, NULL, output), 1);
    TEST_CHECK(strstr(output, "already exists") != NULL);
    char *zero_days[] = {(char *)tool_binary(), "certs", "--out", certs.root, "--days", "0", NULL};
    TEST_CHECK_EQ(process_run(zero_days, NULL, output), 2);
    /* certs issue: one more client, its roles line appended. */
    char *issue[] = {(char *)tool_binary(), "certs", "issue", "--ca-dir", certs.path, "--name",
                     "app-2", "--role", "app", "--roles", roles_path, NULL};
    TEST_CHECK_EQ(process_run(issue, NULL, output), 0);
    path_of(path, certs.path, "app-2.crt");
    fingerprint_of(path, hex);
    snprintf(line, sizeof line, "sha256:%s app\n", hex);
    TEST_CHECK(file_contains(roles_path, line));
    TEST_CHECK(strstr(output, line) != NULL);
    free(output);
    certs_remove(&certs);
}

static void test_operator_round_trip(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-round-trip");
    server_t server;
    tls_server_start(&server, &certs, NULL);
    client_files_t operator_files;
    client_files(&operator_files, certs.path, "operator", certs.path);
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%u", server.port);
    char *output = xcalloc(TOOL_OUTPUT_MAX, 1);
    char *create[] = {(char *)tool_binary(), "account", "create", "--addr", address,
                      "--tls-cert", operator_files.cert, "--tls-key", operator_files.key,
                      "--tls-ca", operator_files.ca, "--id", "7001", "--ledger", "978",
                      "--code", "1", NULL};
    int status = process_run(create, NULL, output);
    if (status != 0) printf("# account create: %s\n", output);
    TEST_CHECK_EQ(status, 0);
    /* The same files through the environment variables. */
    char cert_env[PATH_MAX + 32], key_env[PATH_MAX + 32], ca_env[PATH_MAX + 32];
    snprintf(cert_env, sizeof cert_env, "BORSELLINO_TLS_CERT=%s", operator_files.cert);
    snprintf(key_env, sizeof key_env, "BORSELLINO_TLS_KEY=%s", operator_files.key);
    snprintf(ca_env, sizeof ca_env, "BORSELLINO_TLS_CA=%s", operator_files.ca);
    const char *environment[] = {cert_env, key_env, ca_env, NULL};
    char *lookup[] = {(char *)tool_binary(), "account", "lookup", "7001", "--addr", address,
                      "--json", NULL};
    status = process_run(lookup, environment, output);
    if (status != 0) printf("# account lookup: %s\n", output);
    TEST_CHECK_EQ(status, 0);
    TEST_CHECK(strstr(output, "\"7001\"") != NULL);
    /* The server knew who it was. */
    char hex[65], established[128];
    fingerprint_of(operator_files.cert, hex);
    snprintf(established, sizeof established, "identity=\"sha256:%s\" role=operator", hex);
    TEST_CHECK(log_wait_for(&server, "event=tls_established"));
    TEST_CHECK(log_wait_for(&server, established));
    /* The client library too, by host name: the certificate names it. */
    client_t *client = NULL;
    snprintf(address, sizeof address, "localhost:%u", server.port);
    TEST_CHECK_EQ(client_connect_tls(address, CONNECT_TIMEOUT_MS, &operator_files.tls, &client),
                  CLIENT_OK);
    if (client != NULL) {
        TEST_CHECK(client_is_tls(client));
        TEST_CHECK_EQ(client_status(client), CLIENT_OK);
        client_close(client);
    }
    free(output);
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&certs);
}

static void test_rejected_no_certificate(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-no-cert");
    server_t server;
    tls_server_start(&server, &certs, NULL);
    char ca[PATH_MAX];
    path_of(ca, certs.path, "ca.crt");
    TEST_CHECK(!no_certificate_answered(server.port, ca));
    TEST_CHECK(log_wait_for(&server, "event=tls_rejected"));
    TEST_CHECK(log_wait_for(&server, "reason=\"peer did not return a certificate\""));
    /* A plaintext client gets nothing either. */
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%u", server.port);
    client_t *client = NULL;
    TEST_REQUIRE(client_connect(address, CONNECT_TIMEOUT_MS, &client) == CLIENT_OK);
    TEST_CHECK_EQ(client_status(client), CLIENT_ERR_CLOSED);
    TEST_CHECK(strstr(client_last_error_message(client), "--tls-cert") != NULL);
    client_close(client);
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&certs);
}

static void test_rejected_wrong_ca(void) {
    certs_dir_t certs, other;
    certs_make(&certs, "tls-wrong-ca");
    certs_make(&other, "tls-other-ca");
    server_t server;
    tls_server_start(&server, &certs, NULL);
    /* Another CA's operator, trusting our server's CA. */
    client_files_t files;
    client_files(&files, other.path, "operator", certs.path);
    char message[512];
    int error = tls_status(server.port, &files.tls, message);
    printf("# wrong CA: %s\n", message);
    TEST_CHECK_EQ(error, CLIENT_ERR_TLS);
    TEST_CHECK(strstr(message, "unknown ca") != NULL);
    char hex[65], rejected[160];
    fingerprint_of(files.cert, hex);
    snprintf(rejected, sizeof rejected, "event=tls_rejected connection=1 peer=127.0.0.1:");
    TEST_CHECK(log_wait_for(&server, rejected));
    snprintf(rejected, sizeof rejected, "identity=sha256:%s", hex);
    TEST_CHECK(log_wait_for(&server, rejected));
    TEST_CHECK(log_wait_for(&server, "certificate refused: unable to get local issuer"));
    /* The client refuses a server whose certificate its CA did not sign. */
    client_files(&files, certs.path, "operator", other.path);
    error = tls_status(server.port, &files.tls, message);
    printf("# server from another CA: %s\n", message);
    TEST_CHECK_EQ(error, CLIENT_ERR_TLS);
    TEST_CHECK(strstr(message, "failed verification") != NULL);
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&other);
    certs_remove(&certs);
}

static void test_rejected_expired(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-expired");
    expired_certificate_make(certs.path);
    client_files_t files;
    client_files(&files, certs.path, "expired", certs.path);
    /* Listed as an operator: only its dates are wrong. */
    roles_append(certs.path, files.cert, "operator");
    server_t server;
    tls_server_start(&server, &certs, NULL);
    char message[512];
    int error = tls_status(server.port, &files.tls, message);
    printf("# expired: %s\n", message);
    TEST_CHECK_EQ(error, CLIENT_ERR_TLS);
    TEST_CHECK(strstr(message, "expired") != NULL);
    TEST_CHECK(log_wait_for(&server, "reason=\"certificate refused: certificate has expired\""));
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&certs);
}

static void test_rejected_unknown_fingerprint(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-unknown");
    /* Signed by the right CA, but never added to the roles file; and one
     * more added by its subject instead of its fingerprint. */
    char *output = xcalloc(TOOL_OUTPUT_MAX, 1);
    char *issue[] = {(char *)tool_binary(), "certs", "issue", "--ca-dir", certs.path, "--name",
                     "stranger", "--role", "operator", NULL};
    TEST_REQUIRE(process_run(issue, NULL, output) == 0);
    issue[6] = "by-subject";
    TEST_REQUIRE(process_run(issue, NULL, output) == 0);
    free(output);
    char roles[PATH_MAX];
    path_of(roles, certs.path, "roles");
    int fd = open(roles, O_WRONLY | O_APPEND | O_CLOEXEC);
    static const char by_subject[] =
        "subject:CN=borsellino by-subject,O=borsellino development auditor\n";
    TEST_REQUIRE(fd >= 0 && write(fd, by_subject, strlen(by_subject)) == (ssize_t)strlen(by_subject));
    close(fd);
    server_t server;
    tls_server_start(&server, &certs, NULL);
    client_files_t files;
    client_files(&files, certs.path, "stranger", certs.path);
    char message[512];
    int error = tls_status(server.port, &files.tls, message);
    printf("# unknown fingerprint: %s\n", message);
    TEST_CHECK_EQ(error, CLIENT_ERR_CLOSED);
    TEST_CHECK(strstr(message, "roles file") != NULL);
    char hex[65], rejected[200];
    fingerprint_of(files.cert, hex);
    snprintf(rejected, sizeof rejected, "identity=sha256:%s subject=\"CN=borsellino stranger", hex);
    TEST_CHECK(log_wait_for(&server, rejected));
    TEST_CHECK(log_wait_for(&server, "reason=\"certificate not in the roles file"));
    TEST_CHECK(log_wait_for(&server, "reason=tls_unknown_certificate"));
    /* The operator still gets in, and so does the one named by subject. */
    client_files(&files, certs.path, "operator", certs.path);
    TEST_CHECK_EQ(tls_status(server.port, &files.tls, message), CLIENT_OK);
    client_files(&files, certs.path, "by-subject", certs.path);
    TEST_CHECK_EQ(tls_status(server.port, &files.tls, message), CLIENT_OK);
    TEST_CHECK(log_wait_for(&server, "identity=\"subject:CN=borsellino by-subject,O=borsellino "
                                     "development\" role=auditor"));
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&certs);
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Opens the stalled connections: even ones silent, odd ones sending a TLS
 * record header (a ClientHello of 512 bytes to come) and then trickling. */
static void stalled_open(int *fds, uint64_t *opened_us, uint16_t port) {
    static const uint8_t record_header[] = {0x16, 0x03, 0x01, 0x02, 0x00};
    for (int i = 0; i < STALLED_CONNECTIONS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = connect(fds[i], (struct sockaddr *)&address, sizeof address);
        TEST_REQUIRE(rc == 0 || errno == EINPROGRESS);
        opened_us[i] = now_us();
        if (i % 2 == 1) {
            TEST_REQUIRE(fd_wait(fds[i], POLLOUT, now_us() + 2000000) & POLLOUT);
            TEST_REQUIRE(send(fds[i], record_header, sizeof record_header, MSG_NOSIGNAL) == 5);
        }
    }
}

/* Trickles one byte into each open odd connection, and notes when the
 * server closed each one. */
static void stalled_poll(int *fds, uint64_t *closed_us, bool trickle) {
    for (int i = 0; i < STALLED_CONNECTIONS; i++) {
        if (closed_us[i] != 0) continue;
        uint8_t byte = 0x01, sink[64];
        if (trickle && i % 2 == 1) (void)send(fds[i], &byte, 1, MSG_NOSIGNAL);
        ssize_t got = recv(fds[i], sink, sizeof sink, 0);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            closed_us[i] = now_us();
        }
    }
}

static void test_handshake_stall(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-stall");
    server_t server;
    tls_server_start(&server, &certs, NULL);
    client_files_t files;
    client_files(&files, certs.path, "operator", certs.path);
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%u", server.port);
    client_t *client = NULL;
    TEST_REQUIRE(client_connect_tls(address, CONNECT_TIMEOUT_MS, &files.tls, &client) == CLIENT_OK);
    int fds[STALLED_CONNECTIONS];
    uint64_t opened_us[STALLED_CONNECTIONS], closed_us[STALLED_CONNECTIONS] = {0};
    stalled_open(fds, opened_us, server.port);
    uint64_t *latencies = xcalloc(LATENCY_SAMPLES_MAX, sizeof *latencies);
    size_t count = 0;
    uint64_t start = now_us(), last_trickle = 0;
    while (now_us() - start < STALL_MEASURE_MS * UINT64_C(1000) && count < LATENCY_SAMPLES_MAX) {
        uint64_t before = now_us();
        TEST_REQUIRE(client_status(client) == CLIENT_OK);
        latencies[count++] = now_us() - before;
        bool trickle = now_us() - last_trickle > 100000;
        if (trickle) last_trickle = now_us();
        stalled_poll(fds, closed_us, trickle);
    }
    qsort(latencies, count, sizeof *latencies, compare_u64);
    uint64_t p50 = latencies[count / 2], p99 = latencies[count * 99 / 100];
    printf("# %zu requests during the stall: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", count,
           p50 / 1000.0, p99 / 1000.0, latencies[count - 1] / 1000.0);
    TEST_CHECK(count >= 100);
    TEST_CHECK(p99 < LATENCY_P99_BOUND_MS * UINT64_C(1000));
    /* Every stalled connection closed after the bound, not before. */
    for (int i = 0; i < STALLED_CONNECTIONS; i++) {
        uint64_t lived_ms = closed_us[i] != 0 ? (closed_us[i] - opened_us[i]) / 1000 : 0;
        if (closed_us[i] == 0 || lived_ms < HANDSHAKE_TIMEOUT_MS - 50 ||
            lived_ms > HANDSHAKE_TIMEOUT_MS + 1000) {
            printf("# stalled connection %d: %s after %llu ms\n", i,
                   closed_us[i] ? "closed" : "still open", (unsigned long long)lived_ms);
            test_failures_in_case++;
        }
        close(fds[i]);
    }
    TEST_CHECK(log_wait_for(&server, "reason=\"handshake not finished within 1000 ms\""));
    TEST_CHECK(log_wait_for(&server, "reason=tls_handshake_timeout"));
    TEST_CHECK_EQ(client_status(client), CLIENT_OK);
    client_close(client);
    free(latencies);
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&certs);
}

/* Runs borsellinod with `args` (NULL-terminated, after the binary) and
 * expects it to refuse to start with `status` and `message`. */
static void server_refuses(const char *const *args, int status, const char *message) {
    char *argv[24] = {(char *)server_binary()};
    int count = 1;
    for (int i = 0; args[i] != NULL && count < 23; i++) argv[count++] = (char *)args[i];
    char *output = xcalloc(TOOL_OUTPUT_MAX, 1);
    int got = process_run(argv, NULL, output);
    if (got != status || strstr(output, message) == NULL) {
        printf("# expected exit %d and \"%s\", got %d: %s\n", status, message, got, output);
        test_failures_in_case++;
    }
    free(output);
}

static void test_startup_refusals(void) {
    certs_dir_t certs;
    certs_make(&certs, "tls-startup");
    char data[PATH_MAX], key[PATH_MAX], roles[PATH_MAX], cert[PATH_MAX], ca[PATH_MAX];
    path_of(data, certs.root, "data");
    path_of(key, certs.path, "server.key");
    path_of(cert, certs.path, "server.crt");
    path_of(ca, certs.path, "ca.crt");
    path_of(roles, certs.path, "roles");
    /* Plaintext beyond loopback, without --insecure-plaintext. */
    const char *plaintext[] = {"--data", data, "--listen", "0.0.0.0:0", NULL};
    server_refuses(plaintext, 2, "refusing to listen on 0.0.0.0:0 without TLS");
    /* TLS options must come together. */
    const char *partial[] = {"--data", data, "--tls-cert", cert, "--tls-key", key,
                             "--tls-ca", ca, NULL};
    server_refuses(partial, 2, "--roles is missing");
    /* A server key other users may read. */
    TEST_REQUIRE(chmod(key, 0644) == 0);
    const char *config[] = {"--data", data, "--config", certs.config, NULL};
    server_refuses(config, 1, "can be read or written by other users (mode 644)");
    /* ... and a client key. */
    client_files_t files;
    client_files(&files, certs.path, "operator", certs.path);
    TEST_REQUIRE(chmod(files.key, 0644) == 0);
    client_t *client = NULL;
    TEST_CHECK_EQ(client_connect_tls("127.0.0.1:1", CONNECT_TIMEOUT_MS, &files.tls, &client),
                  CLIENT_ERR_TLS);
    TEST_CHECK(strstr(client_last_error_message(NULL), "mode 644") != NULL);
    TEST_REQUIRE(chmod(files.key, 0600) == 0);
    TEST_REQUIRE(chmod(key, 0600) == 0);
    /* A roles file with a bad line names it. */
    char bad_roles[PATH_MAX + 16];
    snprintf(bad_roles, sizeof bad_roles, "%s/bad-roles", certs.root);
    file_write(bad_roles, "# fine\nsha256:nothex operator\n", 0644);
    const char *bad[] = {"--data", data, "--config", certs.config, "--roles", bad_roles, NULL};
    char where[PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:2", bad_roles);
    server_refuses(bad, 1, where);
    /* A data directory other users can write to. */
    TEST_REQUIRE(mkdir(data, 0700) == 0 && chmod(data, 0777) == 0);
    server_refuses(config, 1, "other users can write to it (mode 777)");
    TEST_REQUIRE(chmod(data, 0700) == 0);
    /* With TLS, any address is allowed. */
    server_t server;
    const char *anywhere[] = {"--listen", "0.0.0.0:0", NULL};
    tls_server_start(&server, &certs, anywhere);
    char message[512];
    TEST_CHECK_EQ(tls_status(server.port, &files.tls, message), CLIENT_OK);
    server_stop(&server);
    server_destroy(&server);
    certs_remove(&certs);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"certs_command", test_certs_command},
        {"operator_round_trip", test_operator_round_trip},
        {"rejected_no_certificate", test_rejected_no_certificate},
        {"rejected_wrong_ca", test_rejected_wrong_ca},
        {"rejected_expired", test_rejected_expired},
        {"rejected_unknown_fingerprint", test_rejected_unknown_fingerprint},
        {"handshake_stall", test_handshake_stall},
        {"startup_refusals", test_startup_refusals},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
