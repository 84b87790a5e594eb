/*
 * certs.c — `borsellino certs`: development certificates for TLS, made
 * with OpenSSL's C API (no `openssl` command is run).
 *
 *   borsellino certs --out DIR   a development CA, a server certificate for
 *                                loopback (and --server-name names), one
 *                                client certificate per role, and the roles
 *                                file mapping each client's fingerprint to
 *                                its role (server/authz.h's format)
 *   borsellino certs issue       one more client certificate from that CA,
 *                                and its roles line (rotation, new clients)
 *
 * Keys are ECDSA P-256 (fast handshakes), certificates X.509 v3 signed
 * with SHA-256, serials 127 random bits. Private keys are written mode
 * 0600 through a secure-memory BIO (wiped when freed) into files created
 * with O_EXCL: nothing existing is ever overwritten. DIR is created 0700.
 * Everything is generated in memory first, so a bad option or a failed
 * generation leaves no file behind.
 *
 * This is a development CA: its key sits next to the certificates it
 * signs. docs/security.md says how to do it for production.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char *const CERTS_COMMAND = "certs";

enum {
    CERTS_DAYS_DEFAULT = 365,
    CERTS_DAYS_MAX = 3650,
    CERTS_SERVER_NAMES_MAX = 16,
    CERTS_NAME_LENGTH_MAX = 253, /* a DNS name */
    CERTS_PATH_SIZE = 4096,
    CERTS_FINGERPRINT_HEX_SIZE = 65,
    /* notBefore is this far in the past, for clocks slightly behind. */
    CERTS_BACKDATE_SECONDS = 300,
    CERTS_KEY_FILE_SIZE_MAX = 64 * 1024,
};

#define CERTS_ORGANIZATION "borsellino development"
#define CERTS_COMPANY_DEFAULT "latteria-padana"
#define CERTS_PROVIDER_DEFAULT "coop-il-torrazzo"

typedef enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT } cert_kind_t;

/* One certificate with its key, in memory until written. */
typedef struct cert_item {
    char file[64];        /* FILE.crt and FILE.key */
    char common_name[128];
    char role[160];       /* the roles-file value ("company:acme"); "" for CA and server */
    EVP_PKEY *key;
    X509 *cert;
} cert_item_t;

typedef struct certs_options {
    const char *out_dir;
    uint32_t days;
    const char *server_names[CERTS_SERVER_NAMES_MAX];
    uint32_t server_names_count;
    const char *company;
    const char *provider;
    /* issue */
    const char *ca_dir;
    const char *name;
    const char *issue_role;
    const char *roles_path;
    bool json; /* print what was made as one JSON object */
} certs_options_t;

static int certs_help(void) {
    printf("usage: borsellino certs --out DIR [--days N] [--server-name NAME ...]\n"
           "                        [--company ID] [--provider ID]\n"
           "       borsellino certs issue --ca-dir DIR --name NAME --role ROLE[:SCOPE]\n"
           "                        [--out DIR] [--days N] [--roles FILE]\n"
           "\n"
           "Development certificates for borsellinod's TLS (mutual TLS 1.3), made with\n"
           "OpenSSL. The first form creates, in DIR (made mode 0700 if missing; no\n"
           "existing file is overwritten):\n"
           "  ca.crt ca.key          a development CA\n"
           "  server.crt server.key  the server's certificate, for 127.0.0.1, ::1,\n"
           "                         localhost and every --server-name\n"
           "  operator.crt .key      a client certificate per role: operator,\n"
           "  company.crt .key       company (of --company ID, default %s),\n"
           "  app.crt .key           app, provider (of --provider ID, default\n"
           "  provider.crt .key      %s) and auditor\n"
           "  auditor.crt .key\n"
           "  roles                  the roles file for borsellinod --roles: each\n"
           "                         client certificate's SHA-256 fingerprint and role\n"
           "Keys are ECDSA P-256, mode 0600.\n"
           "\n"
           "`certs issue` signs one more client certificate with the CA in --ca-dir:\n"
           "NAME.crt and NAME.key in --out (default: the CA's directory), and prints\n"
           "its roles line; with --roles FILE the line is also appended to FILE. The\n"
           "server reads its roles file when it starts (docs/security.md, rotation).\n"
           "\n"
           "  --out DIR            where the files go\n"
           "  --days N             validity in days (default %d, at most %d)\n"
           "  --server-name NAME   another DNS name or IP address of the server\n"
           "                       (repeatable, at most %d)\n"
           "  --company ID         the company of company.crt (an id or a name, as\n"
           "                       borsellino welfare takes them)\n"
           "  --provider ID        the provider of provider.crt\n"
           "  --ca-dir DIR         issue: the directory holding ca.crt and ca.key\n"
           "  --name NAME          issue: the files' name and the certificate's CN\n"
           "  --role ROLE[:SCOPE]  issue: operator, app, auditor, company:ID or\n"
           "                       provider:ID\n"
           "  --roles FILE         issue: append the new roles line to FILE\n"
           "  --json               print what was made as one JSON object: {\"out\": DIR,\n"
           "                       \"days\": N, \"files\": [...], \"roles\": FILE} (issue:\n"
           "                       {\"cert\", \"key\", \"role\", \"roles_line\"})\n",
           CERTS_COMPANY_DEFAULT, CERTS_PROVIDER_DEFAULT, CERTS_DAYS_DEFAULT, CERTS_DAYS_MAX,
           CERTS_SERVER_NAMES_MAX);
    return CLI_EXIT_OK;
}

/* ---- checking names ---- */

static bool name_is_ip(const char *name) {
    unsigned char address[16];
    return inet_pton(AF_INET, name, address) == 1 || inet_pton(AF_INET6, name, address) == 1;
}

/* A DNS name (letters, digits, '-', '.', a leading "*.") or an IP
 * address: nothing that could inject into OpenSSL's extension syntax. */
static bool name_is_valid(const char *name) {
    size_t length = strlen(name);
    if (length == 0 || length > CERTS_NAME_LENGTH_MAX) return false;
    if (name_is_ip(name)) return true;
    const char *rest = strncmp(name, "*.", 2) == 0 ? name + 2 : name;
    return rest[0] != '\0' && rest[0] != '.' && rest[0] != '-' &&
           strspn(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
               strlen(rest);
}

/* A scope as the roles file takes it: an id or a name without blanks. */
static bool scope_is_valid(const char *scope) {
    ledger_u128_t id;
    return scope[0] != '\0' && strlen(scope) <= 64 && strpbrk(scope, " \t\r\n#:") == NULL &&
           cli_parse_named_id(scope, &id);
}

/* ROLE[:SCOPE] as the roles file takes it. */
static bool role_is_valid(const char *role) {
    if (strcmp(role, "operator") == 0 || strcmp(role, "app") == 0 ||
        strcmp(role, "auditor") == 0) {
        return true;
    }
    if (strncmp(role, "company:", 8) == 0) return scope_is_valid(role + 8);
    if (strncmp(role, "provider:", 9) == 0) return scope_is_valid(role + 9);
    return false;
}

/* ---- options ---- */

static int certs_option_value(certs_options_t *options, const char *option, const char *value) {
    uint64_t days = 0;
    if (strcmp(option, "--out") == 0) options->out_dir = value;
    else if (strcmp(option, "--company") == 0) options->company = value;
    else if (strcmp(option, "--provider") == 0) options->provider = value;
    else if (strcmp(option, "--ca-dir") == 0) options->ca_dir = value;
    else if (strcmp(option, "--name") == 0) options->name = value;
    else if (strcmp(option, "--role") == 0) options->issue_role = value;
    else if (strcmp(option, "--roles") == 0) options->roles_path = value;
    else if (strcmp(option, "--days") == 0) {
        if (!cli_parse_u64(value, CERTS_DAYS_MAX, &days) || days == 0) {
            return cli_usage_error(CERTS_COMMAND, "--days wants 1 to %d, not %s", CERTS_DAYS_MAX,
                                   value);
        }
        options->days = (uint32_t)days;
    } else if (strcmp(option, "--server-name") == 0) {
        if (!name_is_valid(value)) {
            return cli_usage_error(CERTS_COMMAND, "--server-name wants a DNS name or an IP "
                                   "address, not \"%s\"", value);
        }
        if (options->server_names_count == CERTS_SERVER_NAMES_MAX) {
            return cli_usage_error(CERTS_COMMAND, "at most %d --server-name",
                                   CERTS_SERVER_NAMES_MAX);
        }
        options->server_names[options->server_names_count++] = value;
    } else {
        return cli_usage_error(CERTS_COMMAND, "unknown option %s", option);
    }
    return -1;
}

/* Returns -1 to go on, or an exit code. */
static int certs_parse(int argc, char **argv, int first, certs_options_t *options) {
    memset(options, 0, sizeof *options);
    options->days = CERTS_DAYS_DEFAULT;
    options->company = CERTS_COMPANY_DEFAULT;
    options->provider = CERTS_PROVIDER_DEFAULT;
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return certs_help();
        if (strcmp(argv[i], "--json") == 0) {
            options->json = true;
            continue;
        }
        if (i + 1 >= argc) {
            return cli_usage_error(CERTS_COMMAND, "unknown option or missing value: %s", argv[i]);
        }
        int status = certs_option_value(options, argv[i], argv[i + 1]);
        if (status >= 0) return status;
        i++;
    }
    if (!scope_is_valid(options->company) || !scope_is_valid(options->provider)) {
        return cli_usage_error(CERTS_COMMAND, "--company and --provider want an id or a name "
                               "without blanks, '#' or ':'");
    }
    return -1;
}

/* ---- making keys and certificates ---- */

static bool cert_extension(X509 *cert, X509 *issuer, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL) return false;
    bool added = X509_add_ext(cert, extension, -1) == 1;
    X509_EXTENSION_free(extension);
    return added;
}

/* Subject, serial, validity and public key. */
static bool cert_basics(X509 *cert, const cert_item_t *item, uint32_t days) {
    X509_NAME *name = X509_get_subject_name(cert);
    BIGNUM *serial = BN_new();
    bool ok = serial != NULL && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) != NULL;
    BN_free(serial);
    return ok && X509_set_version(cert, 2) == 1 &&
           X509_gmtime_adj(X509_getm_notBefore(cert), -CERTS_BACKDATE_SECONDS) != NULL &&
           X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) != NULL &&
           X509_set_pubkey(cert, item->key) == 1 &&
           X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                      (const unsigned char *)CERTS_ORGANIZATION, -1, -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)item->common_name, -1, -1, 0) == 1;
}

/* The subjectAltName value of the server: loopback and the given names. */
static void server_alt_names(const certs_options_t *options, char *text, size_t size) {
    size_t used = (size_t)snprintf(text, size, "IP:127.0.0.1,IP:::1,DNS:localhost");
    for (uint32_t i = 0; i < options->server_names_count && used < size; i++) {
        const char *name = options->server_names[i];
        used += (size_t)snprintf(text + used, size - used, ",%s:%s",
                                 name_is_ip(name) ? "IP" : "DNS", name);
    }
}

/* Makes item->key and item->cert, signed by `issuer` (NULL: self-signed). */
static bool cert_make(cert_item_t *item, cert_kind_t kind, const cert_item_t *issuer,
                      const certs_options_t *options) {
    item->key = EVP_EC_gen("P-256");
    item->cert = X509_new();
    if (item->key == NULL || item->cert == NULL) return false;
    X509 *cert = item->cert;
    X509 *issuer_cert = issuer != NULL ? issuer->cert : cert;
    if (!cert_basics(cert, item, options->days)) return false;
    if (X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)) != 1) return false;
    bool ok = cert_extension(cert, issuer_cert, NID_subject_key_identifier, "hash");
    if (kind == CERT_CA) {
        ok = ok && cert_extension(cert, issuer_cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             cert_extension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        char alt_names[CERTS_SERVER_NAMES_MAX * (CERTS_NAME_LENGTH_MAX + 6) + 64];
        server_alt_names(options, alt_names, sizeof alt_names);
        ok = ok && cert_extension(cert, issuer_cert, NID_authority_key_identifier, "keyid:always") &&
             cert_extension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE") &&
             cert_extension(cert, issuer_cert, NID_key_usage, "critical,digitalSignature") &&
             cert_extension(cert, issuer_cert, NID_ext_key_usage,
                            kind == CERT_SERVER ? "serverAuth" : "clientAuth") &&
             (kind != CERT_SERVER ||
              cert_extension(cert, issuer_cert, NID_subject_alt_name, alt_names));
    }
    EVP_PKEY *signing_key = issuer != NULL ? issuer->key : item->key;
    return ok && X509_sign(cert, signing_key, EVP_sha256()) > 0;
}

static void cert_item_free(cert_item_t *item) {
    EVP_PKEY_free(item->key); /* OpenSSL wipes the private scalar */
    X509_free(item->cert);
    item->key = NULL;
    item->cert = NULL;
}

/* The lowercase hex SHA-256 of the certificate's DER encoding. */
static void cert_fingerprint(X509 *cert, char hex[CERTS_FINGERPRINT_HEX_SIZE]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    hex[0] = '\0';
    if (X509_digest(cert, EVP_sha256(), digest, &length) != 1 || length != 32) return;
    for (unsigned int i = 0; i < length; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* ---- files ---- */

/* Creates `path` (never overwriting) with `mode` and writes `size` bytes. */
static bool file_create(const char *path, mode_t mode, const void *bytes, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "borsellino certs: cannot create %s: %s\n", path, strerror(errno));
        return false;
    }
    const char *at = bytes;
    size_t left = size;
    while (left > 0) {
        ssize_t written = write(fd, at, left);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) break;
        at += written;
        left -= (size_t)written;
    }
    bool ok = left == 0 && fchmod(fd, mode) == 0 && fsync(fd) == 0;
    if (close(fd) != 0) ok = false;
    if (!ok) fprintf(stderr, "borsellino certs: cannot write %s: %s\n", path, strerror(errno));
    return ok;
}

/* Writes DIR/FILE.crt (0644) and DIR/FILE.key (0600). The key's PEM goes
 * through secure memory, wiped when the BIO is freed. */
static bool item_write(const char *dir, const cert_item_t *item) {
    char path[CERTS_PATH_SIZE];
    BIO *pem = BIO_new(BIO_s_mem());
    BIO *secret = BIO_new(BIO_s_secmem());
    char *bytes = NULL;
    bool ok = pem != NULL && secret != NULL && PEM_write_bio_X509(pem, item->cert) == 1;
    long size = ok ? BIO_get_mem_data(pem, &bytes) : 0;
    snprintf(path, sizeof path, "%s/%s.crt", dir, item->file);
    ok = ok && file_create(path, 0644, bytes, (size_t)size);
    ok = ok && PEM_write_bio_PrivateKey(secret, item->key, NULL, NULL, 0, NULL, NULL) == 1;
    size = ok ? BIO_get_mem_data(secret, &bytes) : 0;
    snprintf(path, sizeof path, "%s/%s.key", dir, item->file);
    ok = ok && file_create(path, 0600, bytes, (size_t)size);
    BIO_free(pem);
    BIO_free(secret);
    ERR_clear_error();
    return ok;
}

/* Refuses to go on when any of the files would overwrite one. */
static bool files_absent(const char *dir, const cert_item_t *items, size_t count,
                         bool with_roles) {
    char path[CERTS_PATH_SIZE];
    struct stat status;
    for (size_t i = 0; i < count + (with_roles ? 1 : 0); i++) {
        for (int key = 0; key < 2; key++) {
            if (i == count) {
                snprintf(path, sizeof path, "%s/roles", dir);
            } else {
                snprintf(path, sizeof path, "%s/%s.%s", dir, items[i].file, key ? "key" : "crt");
            }
            if (stat(path, &status) == 0) {
                fprintf(stderr, "borsellino certs: %s already exists: nothing was written "
                                "(remove it, or choose another --out)\n", path);
                return false;
            }
        }
    }
    return true;
}

/* Makes DIR (0700) unless it exists as a directory. */
static bool dir_ensure(const char *dir) {
    struct stat status;
    if (stat(dir, &status) == 0 && S_ISDIR(status.st_mode)) return true;
    if (mkdir(dir, 0700) == 0) return true;
    fprintf(stderr, "borsellino certs: cannot create %s: %s\n", dir, strerror(errno));
    return false;
}

/* One roles-file line for a client certificate. */
static void roles_line(const cert_item_t *item, char *line, size_t size) {
    char hex[CERTS_FINGERPRINT_HEX_SIZE];
    cert_fingerprint(item->cert, hex);
    snprintf(line, size, "sha256:%s %s\n", hex, item->role);
}

/* ---- borsellino certs --out DIR ---- */

enum { CERTS_ITEMS = 7 }; /* ca, server, operator, company, app, provider, auditor */

static void certs_items_name(cert_item_t *items, const certs_options_t *options) {
    static const char *const files[CERTS_ITEMS] = {"ca", "server", "operator", "company",
                                                   "app", "provider", "auditor"};
    for (size_t i = 0; i < CERTS_ITEMS; i++) {
        snprintf(items[i].file, sizeof items[i].file, "%s", files[i]);
        snprintf(items[i].common_name, sizeof items[i].common_name, "borsellino %s", files[i]);
        snprintf(items[i].role, sizeof items[i].role, "%s", i >= 2 ? files[i] : "");
    }
    snprintf(items[0].common_name, sizeof items[0].common_name, "borsellino development CA");
    snprintf(items[1].common_name, sizeof items[1].common_name, "%s",
             options->server_names_count > 0 ? options->server_names[0] : "localhost");
    snprintf(items[3].role, sizeof items[3].role, "company:%s", options->company);
    snprintf(items[3].common_name, sizeof items[3].common_name, "borsellino company %s",
             options->company);
    snprintf(items[5].role, sizeof items[5].role, "provider:%s", options->provider);
    snprintf(items[5].common_name, sizeof items[5].common_name, "borsellino provider %s",
             options->provider);
}

static bool certs_roles_write(const char *dir, const cert_item_t *items, uint32_t days) {
    char text[4096];
    size_t used = (size_t)snprintf(
        text, sizeof text,
        "# borsellinod --roles: which client certificate is which role (docs/security.md).\n"
        "# Made by `borsellino certs` for the development CA in this directory, valid %u days.\n"
        "# One mapping a line: sha256:FINGERPRINT ROLE[:SCOPE], or subject:RFC2253 ROLE[:SCOPE].\n",
        days);
    for (size_t i = 2; i < CERTS_ITEMS && used < sizeof text; i++) {
        used += (size_t)snprintf(text + used, sizeof text - used, "# %s.crt (%s)\n",
                                 items[i].file, items[i].common_name);
        if (used < sizeof text) roles_line(&items[i], text + used, sizeof text - used);
        used += strlen(text + used);
    }
    char path[CERTS_PATH_SIZE];
    snprintf(path, sizeof path, "%s/roles", dir);
    return used < sizeof text && file_create(path, 0644, text, used);
}

static void certs_report_json(const certs_options_t *options, const cert_item_t *items) {
    char path[CERTS_PATH_SIZE];
    printf("{\"out\": ");
    cli_json_string(stdout, options->out_dir);
    printf(", \"days\": %u, \"files\": [", options->days);
    for (size_t i = 0; i < CERTS_ITEMS; i++) {
        for (int key = 0; key < 2; key++) {
            snprintf(path, sizeof path, "%s/%s.%s", options->out_dir, items[i].file,
                     key ? "key" : "crt");
            if (i > 0 || key > 0) fputs(", ", stdout);
            cli_json_string(stdout, path);
        }
    }
    snprintf(path, sizeof path, "%s/roles", options->out_dir);
    fputs("], \"roles\": ", stdout);
    cli_json_string(stdout, path);
    puts("}");
}

static void certs_report(const certs_options_t *options, const cert_item_t *items) {
    if (options->json) {
        certs_report_json(options, items);
        return;
    }
    const char *dir = options->out_dir;
    char alt_names[CERTS_SERVER_NAMES_MAX * (CERTS_NAME_LENGTH_MAX + 6) + 64];
    server_alt_names(options, alt_names, sizeof alt_names);
    printf("borsellino certs: created in %s (valid %u days; keys ECDSA P-256, mode 0600):\n"
           "  ca.crt, ca.key              the development CA: it signed everything below;\n"
           "                              keep ca.key private (borsellino certs issue uses it)\n"
           "  server.crt, server.key      borsellinod's certificate for %s\n",
           dir, options->days, alt_names);
    for (size_t i = 2; i < CERTS_ITEMS; i++) {
        char files[64];
        snprintf(files, sizeof files, "%s.crt, %s.key", items[i].file, items[i].file);
        printf("  %-27s a client: role %s\n", files, items[i].role);
    }
    printf("  roles                       the roles file: each client certificate's SHA-256\n"
           "                              fingerprint and its role\n"
           "\n"
           "Start the server with TLS:\n"
           "  borsellinod --data DATA --listen 127.0.0.1:7450 --tls-cert %s/server.crt \\\n"
           "      --tls-key %s/server.key --tls-ca %s/ca.crt --roles %s/roles\n"
           "Then talk to it as the operator (or another role's files):\n"
           "  export BORSELLINO_TLS_CERT=%s/operator.crt BORSELLINO_TLS_KEY=%s/operator.key \\\n"
           "      BORSELLINO_TLS_CA=%s/ca.crt\n"
           "  borsellino status --addr 127.0.0.1:7450\n",
           dir, dir, dir, dir, dir, dir, dir);
}

static int certs_create(const certs_options_t *options) {
    cert_item_t items[CERTS_ITEMS];
    memset(items, 0, sizeof items);
    certs_items_name(items, options);
    bool ok = cert_make(&items[0], CERT_CA, NULL, options) &&
              cert_make(&items[1], CERT_SERVER, &items[0], options);
    for (size_t i = 2; i < CERTS_ITEMS && ok; i++) {
        ok = cert_make(&items[i], CERT_CLIENT, &items[0], options);
    }
    if (!ok) {
        char reason[200];
        ERR_error_string_n(ERR_peek_error(), reason, sizeof reason);
        fprintf(stderr, "borsellino certs: OpenSSL could not make the certificates: %s\n",
                reason);
    }
    ERR_clear_error();
    ok = ok && dir_ensure(options->out_dir) &&
         files_absent(options->out_dir, items, CERTS_ITEMS, true);
    for (size_t i = 0; i < CERTS_ITEMS && ok; i++) ok = item_write(options->out_dir, &items[i]);
    ok = ok && certs_roles_write(options->out_dir, items, options->days);
    if (ok) certs_report(options, items);
    for (size_t i = 0; i < CERTS_ITEMS; i++) cert_item_free(&items[i]);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

/* ---- borsellino certs issue ---- */

/* Loads DIR/ca.crt and DIR/ca.key (a key others may read is refused; its
 * file bytes are wiped after parsing). */
static bool certs_ca_load(const char *dir, cert_item_t *ca) {
    char path[CERTS_PATH_SIZE];
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    FILE *file = fopen(path, "r");
    ca->cert = file != NULL ? PEM_read_X509(file, NULL, NULL, NULL) : NULL;
    if (file != NULL) fclose(file);
    if (ca->cert == NULL) {
        fprintf(stderr, "borsellino certs: cannot read the CA certificate %s\n", path);
        return false;
    }
    snprintf(path, sizeof path, "%s/ca.key", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat status;
    if (fd < 0 || fstat(fd, &status) != 0 || (status.st_mode & 077) != 0 ||
        status.st_size <= 0 || status.st_size > CERTS_KEY_FILE_SIZE_MAX) {
        fprintf(stderr, "borsellino certs: cannot use the CA key %s: %s\n", path,
                fd < 0 ? strerror(errno) : "other users can read or write it (chmod 600), "
                                           "or it is not a key");
        if (fd >= 0) close(fd);
        return false;
    }
    char buffer[CERTS_KEY_FILE_SIZE_MAX];
    ssize_t got = read(fd, buffer, (size_t)status.st_size);
    close(fd);
    BIO *bio = got == status.st_size ? BIO_new_mem_buf(buffer, (int)got) : NULL;
    ca->key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(buffer, sizeof buffer);
    ERR_clear_error();
    if (ca->key == NULL || X509_check_private_key(ca->cert, ca->key) != 1) {
        ERR_clear_error();
        fprintf(stderr, "borsellino certs: %s is not the key of %s/ca.crt\n", path, dir);
        return false;
    }
    return true;
}

static bool certs_roles_append(const char *path, const char *line) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    bool ok = fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
    if (!ok) fprintf(stderr, "borsellino certs: cannot append to %s: %s\n", path, strerror(errno));
    if (fd >= 0 && close(fd) != 0) ok = false;
    return ok;
}

static int certs_issue(const certs_options_t *options) {
    if (options->ca_dir == NULL || options->name == NULL || options->issue_role == NULL) {
        return cli_usage_error(CERTS_COMMAND, "issue needs --ca-dir, --name and --role");
    }
    if (!role_is_valid(options->issue_role)) {
        return cli_usage_error(CERTS_COMMAND, "--role wants operator, app, auditor, company:ID "
                               "or provider:ID, not \"%s\"", options->issue_role);
    }
    if (strspn(options->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
            strlen(options->name) || options->name[0] == '\0' || options->name[0] == '.' ||
        strlen(options->name) > 48) {
        return cli_usage_error(CERTS_COMMAND, "--name wants letters, digits, '-', '_' or '.'");
    }
    const char *out_dir = options->out_dir != NULL ? options->out_dir : options->ca_dir;
    cert_item_t ca = {0}, item = {0};
    snprintf(item.file, sizeof item.file, "%s", options->name);
    snprintf(item.common_name, sizeof item.common_name, "borsellino %s", options->name);
    snprintf(item.role, sizeof item.role, "%s", options->issue_role);
    bool ok = certs_ca_load(options->ca_dir, &ca) && cert_make(&item, CERT_CLIENT, &ca, options);
    ERR_clear_error();
    ok = ok && dir_ensure(out_dir) && files_absent(out_dir, &item, 1, false) &&
         item_write(out_dir, &item);
    char line[256];
    if (ok) roles_line(&item, line, sizeof line);
    ok = ok && (options->roles_path == NULL || certs_roles_append(options->roles_path, line));
    if (ok && options->json) {
        char path[CERTS_PATH_SIZE];
        snprintf(path, sizeof path, "%s/%s.crt", out_dir, item.file);
        fputs("{\"cert\": ", stdout);
        cli_json_string(stdout, path);
        snprintf(path, sizeof path, "%s/%s.key", out_dir, item.file);
        fputs(", \"key\": ", stdout);
        cli_json_string(stdout, path);
        fputs(", \"role\": ", stdout);
        cli_json_string(stdout, item.role);
        line[strcspn(line, "\n")] = '\0';
        fputs(", \"roles_line\": ", stdout);
        cli_json_string(stdout, line);
        puts("}");
    } else if (ok) {
        printf("borsellino certs: created %s/%s.crt and %s/%s.key (valid %u days), role %s\n"
               "Its roles line%s:\n%s",
               out_dir, item.file, out_dir, item.file, options->days, item.role,
               options->roles_path != NULL ? " (appended to the roles file; restart borsellinod "
                                             "to read it)" : "", line);
    }
    cert_item_free(&ca);
    cert_item_free(&item);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_certs(int argc, char **argv) {
    bool issue = argc > 1 && strcmp(argv[1], "issue") == 0;
    certs_options_t options;
    int status = certs_parse(argc, argv, issue ? 2 : 1, &options);
    if (status >= 0) return status;
    if (issue) return certs_issue(&options);
    if (options.out_dir == NULL) return cli_usage_error(CERTS_COMMAND, "--out DIR is required");
    if (options.ca_dir != NULL || options.name != NULL || options.issue_role != NULL ||
        options.roles_path != NULL) {
        return cli_usage_error(CERTS_COMMAND, "--ca-dir, --name, --role and --roles belong to "
                               "`borsellino certs issue`");
    }
    return certs_create(&options);
}
