/*
 * main.c — borsellinod: flags, the ledger (with the welfare layer's platform
 * set up), the network loop, and a clean exit. Exit codes: 0 after a
 * graceful shutdown, 1 when the server could not start or stopped on an
 * error, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "frame.h"
#include "server.h"
#include "tls.h"
#include "welfare.h"

static const char usage[] =
    "usage: borsellinod [OPTIONS]\n"
    "\n"
    "The borsellino ledger server: serves the ledger in --data over the\n"
    "protocol of docs/protocol.md (4-byte big-endian length + protobuf).\n"
    "\n"
    "  --data DIR              data directory (default: ./" SERVER_DATA_DEFAULT "; created\n"
    "                          and formatted if it does not exist)\n"
    "  --signing-key FILE      the Ed25519 key that signs checkpoints (default:\n"
    "                          DIR/signing.key, created mode 0600 with a new data\n"
    "                          directory; a key other users can read is refused)\n"
    "  --listen HOST:PORT      numeric address to listen on (default: " SERVER_LISTEN_DEFAULT ";\n"
    "                          [::1]:PORT for IPv6; port 0 picks a free port, logged)\n"
    "  --tls-cert FILE         serve TLS 1.3 only, with this PEM certificate (chain);\n"
    "                          needs --tls-key, --tls-ca and --roles too\n"
    "  --tls-key FILE          the certificate's PEM private key; refused when other\n"
    "                          users can read or write it (chmod 600)\n"
    "  --tls-ca FILE           PEM CA certificate(s): every client must present a\n"
    "                          certificate signed by it (mutual TLS)\n"
    "  --roles FILE            maps client certificates (sha256:FINGERPRINT or\n"
    "                          subject:RFC2253) to a role and scope, one per line;\n"
    "                          a certificate not in it is refused (docs/security.md)\n"
    "  --tls-handshake-timeout-ms MS  close a connection whose TLS handshake has\n"
    "                          not finished this long after accept (default 10000,\n"
    "                          100 to 600000)\n"
    "  --insecure-plaintext    allow listening on a non-loopback address without\n"
    "                          TLS (refused otherwise; with TLS any address is\n"
    "                          allowed)\n"
    "  --connections-max N     connections open at once (default 1024); more are\n"
    "                          closed right after accept\n"
    "  --in-flight-max N       requests in flight per connection (default 256);\n"
    "                          reading pauses at the limit\n"
    "  --frame-size-max BYTES  largest request body (default 1048576, at most\n"
    "                          67108864); a larger declared frame closes the connection\n"
    "  --batch-events-max N    events per create request (default 8190, at most 8190)\n"
    "  --queue-depth-max N     requests waiting for the writer (default 8192);\n"
    "                          reading pauses at the limit\n"
    "  --idle-timeout-ms MS    close a connection when nothing moved this long: no\n"
    "                          request read and none of its answers written, while\n"
    "                          the server is not working on one (default 300000;\n"
    "                          0 = never)\n"
    "  --group-events-max N    events per group commit (default 65536)\n"
    "  --commit-pipelining M   auto|on|off: sync a group while the next is built\n"
    "                          (default auto: under load)\n"
    "  --shutdown-timeout-ms MS  on SIGTERM, wait at most this long for clients\n"
    "                          to read their last answers (default 10000)\n"
    "  --metrics HOST:PORT     serve Prometheus metrics on GET /metrics over plain\n"
    "                          HTTP at this numeric address (default: off; port 0\n"
    "                          picks a free port, logged as event=metrics_listening;\n"
    "                          no TLS, no authentication: keep it on a private\n"
    "                          network; docs/operations.md lists the metrics)\n"
    "  --config FILE           read options from FILE first: one `key = value` per\n"
    "                          line, the keys are the options above without\n"
    "                          their dashes (data = /srv/borsellino,\n"
    "                          insecure-plaintext = true), '#' starts a comment;\n"
    "                          options on the command line win\n"
    "  --help                  this text\n"
    "\n"
    "A data directory that other users can write to is refused (chmod 700).\n"
    "Without --tls-cert the server speaks plaintext, and every client is the\n"
    "operator: allowed on loopback only, unless --insecure-plaintext.\n"
    "Logs: one line per event on stderr, key=value. SIGINT/SIGTERM: stop\n"
    "accepting, answer every request already received, checkpoint, exit 0.\n";

typedef struct flag_u64 {
    const char *name;
    uint64_t minimum;
    uint64_t maximum;
    uint64_t *value;
} flag_u64_t;

static int parse_u64(const char *flag, const char *text, uint64_t minimum, uint64_t maximum,
                     uint64_t *value_out) {
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || value < minimum ||
        value > maximum) {
        fprintf(stderr, "borsellinod: %s must be a number from %llu to %llu, not \"%s\"\n",
                flag, (unsigned long long)minimum, (unsigned long long)maximum, text);
        return -1;
    }
    *value_out = value;
    return 0;
}

static bool address_is_loopback(const char *address) {
    /* HOST is numeric (no name lookup): 127.0.0.0/8 or [::1]. */
    return strncmp(address, "127.", 4) == 0 || strncmp(address, "[::1]:", 6) == 0;
}

/* Option values while they are read: defaults, then the config file,
 * then the command line, each overriding the one before. */
typedef struct options {
    uint64_t connections, in_flight, frame, batch, queue, idle, group, shutdown;
    bool insecure;
    uint64_t tls_handshake_timeout_ms;
    const char *tls_cert, *tls_key, *tls_ca, *roles; /* NULL when not given */
    const char *commit_pipelining; /* NULL: auto */
} options_t;

/* Limits of a config file: its size, a line's length, and the room for
 * "FILE:LINE: " in messages. */
enum { CONFIG_SIZE_MAX = 64 * 1024, CONFIG_LINE_MAX = 1024, PATH_MAX_TEXT = 4200 };

static const char *const COMMIT_PIPELINING_NAMES[] = {"auto", "on", "off"};

/* enum commit_pipelining of a --commit-pipelining value (NULL: auto); -1
 * for anything else. */
static int commit_pipelining_mode(const char *value) {
    if (value == NULL) return COMMIT_PIPELINING_AUTO;
    for (int mode = 0; mode < 3; mode++) {
        if (strcmp(value, COMMIT_PIPELINING_NAMES[mode]) == 0) return mode;
    }
    return -1;
}

/* Applies option `name` (with its dashes) = `value` (NULL when missing).
 * `where` is "" on the command line, "FILE:LINE: " in a config file.
 * Returns 1 when the option takes a value (used), 0 for a flag, -1 for an
 * unknown option, -2 for a bad or missing value; messages on stderr. */
static int option_apply(options_t *options, server_config_t *config, const char *name,
                        const char *value, const char *where) {
    flag_u64_t flags[] = {
        {"--connections-max", 1, 1000000, &options->connections},
        {"--in-flight-max", 1, 65536, &options->in_flight},
        {"--frame-size-max", 1024, FRAME_BODY_SIZE_MAX_LIMIT, &options->frame},
        {"--batch-events-max", 1, LEDGER_BATCH_EVENTS_MAX, &options->batch},
        {"--queue-depth-max", 1, 1000000, &options->queue},
        {"--idle-timeout-ms", 0, 86400000ull * 365, &options->idle},
        {"--group-events-max", 1, 1000000, &options->group},
        {"--shutdown-timeout-ms", 0, 3600000, &options->shutdown},
        {"--tls-handshake-timeout-ms", TLS_HANDSHAKE_TIMEOUT_MS_MIN, TLS_HANDSHAKE_TIMEOUT_MS_MAX,
         &options->tls_handshake_timeout_ms},
    };
    struct {
        const char *name;
        const char **value;
    } paths[] = {
        {"--data", &config->data_path},
        {"--signing-key", &config->signing_key_path},
        {"--listen", &config->listen_address},
        {"--metrics", &config->metrics_address},
        {"--tls-cert", &options->tls_cert},
        {"--tls-key", &options->tls_key},
        {"--tls-ca", &options->tls_ca},
        {"--roles", &options->roles},
        {"--commit-pipelining", &options->commit_pipelining},
    };
    if (strcmp(name, "--insecure-plaintext") == 0) {
        if (where[0] == '\0' || strcmp(value ? value : "", "true") == 0) {
            options->insecure = true;
        } else if (strcmp(value ? value : "", "false") == 0) {
            options->insecure = false;
        } else {
            fprintf(stderr, "borsellinod: %sinsecure-plaintext must be true or false\n", where);
            return -2;
        }
        return where[0] == '\0' ? 0 : 1;
    }
    bool known = false;
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]) && !known; p++) {
        known = strcmp(name, paths[p].name) == 0;
    }
    for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]) && !known; f++) {
        known = strcmp(name, flags[f].name) == 0;
    }
    if (!known) {
        fprintf(stderr, "borsellinod: %sunknown %s %s (see --help)\n", where,
                where[0] ? "key" : "option", where[0] ? name + 2 : name);
        return -1;
    }
    if (value == NULL || value[0] == '\0') {
        fprintf(stderr, "borsellinod: %s%s needs a value (see --help)\n", where, name);
        return -2;
    }
    if (strcmp(name, "--commit-pipelining") == 0 && commit_pipelining_mode(value) < 0) {
        fprintf(stderr, "borsellinod: %s--commit-pipelining must be auto, on or off\n", where);
        return -2;
    }
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        if (strcmp(name, paths[p].name) == 0) *paths[p].value = value;
    }
    for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
        if (strcmp(name, flags[f].name) != 0) continue;
        char flag[96];
        snprintf(flag, sizeof(flag), "%s%s", where, flags[f].name);
        if (parse_u64(flag, value, flags[f].minimum, flags[f].maximum, flags[f].value)) return -2;
    }
    return 1;
}

static char *trim(char *text) {
    while (*text == ' ' || *text == '\t') text++;
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t' ||
                          text[length - 1] == '\r')) {
        text[--length] = '\0';
    }
    return text;
}

/* Reads `key = value` lines from `path`. The file's text stays allocated
 * for the life of the process (config points into it). Returns 0 or 2. */
static int config_file_apply(const char *path, options_t *options, server_config_t *config) {
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        fprintf(stderr, "borsellinod: cannot read the config file %s: %s\n", path, strerror(errno));
        return 2;
    }
    static char text[CONFIG_SIZE_MAX + 1];
    size_t size = fread(text, 1, CONFIG_SIZE_MAX + 1, file);
    fclose(file);
    if (size > CONFIG_SIZE_MAX) {
        fprintf(stderr, "borsellinod: %s: larger than %d bytes\n", path, CONFIG_SIZE_MAX);
        return 2;
    }
    text[size] = '\0';
    char *line = text;
    for (int number = 1; line != NULL && *line != '\0'; number++) {
        char *next = strchr(line, '\n');
        if (next != NULL) *next++ = '\0';
        char *comment = strchr(line, '#');
        if (comment != NULL) *comment = '\0';
        char *content = trim(line);
        line = next;
        if (*content == '\0') continue;
        char where[PATH_MAX_TEXT];
        snprintf(where, sizeof(where), "%s:%d: ", path, number);
        char *equals = strchr(content, '=');
        if (equals == NULL || strlen(content) > CONFIG_LINE_MAX) {
            fprintf(stderr, "borsellinod: %sexpected `key = value`\n", where);
            return 2;
        }
        *equals = '\0';
        char name[128];
        snprintf(name, sizeof(name), "--%s", trim(content));
        if (option_apply(options, config, name, trim(equals + 1), where) < 0) return 2;
    }
    return 0;
}

/* Returns -1 to go on, or an exit code. */
static int parse_arguments(int argc, char **argv, server_config_t *config, options_t *options_out) {
    options_t options = {1024, 256, FRAME_BODY_SIZE_MAX_DEFAULT, LEDGER_BATCH_EVENTS_MAX,
                         8192, 300000, 65536, 10000, false, TLS_HANDSHAKE_TIMEOUT_MS_DEFAULT,
                         NULL, NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
    }
    /* The config file first, so that the command line wins. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") != 0) continue;
        if (i + 1 >= argc) {
            fprintf(stderr, "borsellinod: --config needs a file (see --help)\n");
            return 2;
        }
        if (config_file_apply(argv[i + 1], &options, config) != 0) return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int used = option_apply(&options, config, argv[i], next, "");
        if (used < 0) return 2;
        i += used;
    }
    *options_out = options;
    config->connections_max = (uint32_t)options.connections;
    config->in_flight_max = (uint32_t)options.in_flight;
    config->frame_size_max = (uint32_t)options.frame;
    config->batch_events_max = (uint32_t)options.batch;
    config->queue_depth_max = (uint32_t)options.queue;
    config->idle_timeout_ms = options.idle;
    config->group_events_max = (uint32_t)options.group;
    config->shutdown_timeout_ms = options.shutdown;
    config->commit_pipelining = commit_pipelining_mode(options.commit_pipelining);
    return -1;
}

/* With any TLS option, all four are needed; then loads them (tls.h).
 * Returns -1 to go on (config->tls set, or NULL for plaintext), or an exit
 * code after saying what is wrong. */
static int tls_setup(const options_t *options, server_config_t *config) {
    const char *given[] = {options->tls_cert, options->tls_key, options->tls_ca, options->roles};
    const char *names[] = {"--tls-cert", "--tls-key", "--tls-ca", "--roles"};
    bool any = false;
    for (size_t i = 0; i < 4; i++) any = any || given[i] != NULL;
    if (!any) return -1;
    for (size_t i = 0; i < 4; i++) {
        if (given[i] != NULL) continue;
        fprintf(stderr, "borsellinod: TLS needs --tls-cert, --tls-key, --tls-ca and --roles "
                        "together: %s is missing (see --help)\n", names[i]);
        return 2;
    }
    tls_server_config_t tls_config = {options->tls_cert, options->tls_key, options->tls_ca,
                                      options->roles, options->tls_handshake_timeout_ms};
    char error[PATH_MAX_TEXT];
    int status = tls_server_create(&tls_config, &config->tls, error, sizeof(error));
    if (status != TLS_OK) {
        server_log("start_failed", "error=\"%s\"", tls_strerror(status));
        fprintf(stderr, "borsellinod: %s\n", error);
        return 1;
    }
    return -1;
}

/* Refuses a data directory other users can write to: they could replace
 * the journal or the signing key (one that does not exist yet is created
 * 0700 by the ledger). Returns -1 to go on, or an exit code. */
static int data_directory_check(const char *path) {
    struct stat status;
    if (stat(path, &status) != 0 || !S_ISDIR(status.st_mode)) return -1; /* the ledger says */
    if ((status.st_mode & 022) == 0) return -1;
    server_log("start_failed", "data=%s error=\"other users can write to the data directory\"",
               path);
    fprintf(stderr, "borsellinod: refusing the data directory %s: other users can write to it "
                    "(mode %03o): chmod 700 %s\n",
            path, (unsigned)(status.st_mode & 0777), path);
    return 1;
}

int main(int argc, char **argv) {
    /* A client that goes away with answers in flight makes a write fail
     * with EPIPE; the signal would kill the whole server. */
    signal(SIGPIPE, SIG_IGN);
    server_config_t config = {.data_path = SERVER_DATA_DEFAULT,
                              .listen_address = SERVER_LISTEN_DEFAULT};
    options_t options;
    int status = parse_arguments(argc, argv, &config, &options);
    if (status >= 0) return status;
    bool tls_wanted = options.tls_cert || options.tls_key || options.tls_ca || options.roles;
    if (!tls_wanted && !address_is_loopback(config.listen_address) && !options.insecure) {
        fprintf(stderr, "borsellinod: refusing to listen on %s without TLS: plaintext is "
                        "allowed only on loopback; pass --tls-cert, --tls-key, --tls-ca and "
                        "--roles, or --insecure-plaintext to override\n",
                config.listen_address);
        return 2;
    }
    status = tls_setup(&options, &config);
    if (status >= 0) return status;
    status = data_directory_check(config.data_path);
    if (status >= 0) {
        tls_server_free(config.tls);
        return status;
    }
    ledger_t *ledger = NULL;
    ledger_options_t ledger_options;
    memset(&ledger_options, 0, sizeof(ledger_options));
    ledger_options.signing_key_path = config.signing_key_path;
    /* The writer syncs a group while it builds the next (writer.c). */
    ledger_options.commit_pipelined = config.commit_pipelining != COMMIT_PIPELINING_OFF;
    int error = ledger_open(config.data_path, &ledger_options, &ledger);
    if (error) {
        /* Never repaired silently: say what is wrong and how to look. */
        server_log("start_failed",
                   "data=%s error=\"%s\" hint=\"nothing was changed; inspect the data "
                   "with: borsellino audit verify --data %s\"",
                   config.data_path, ledger_last_error_message(NULL), config.data_path);
        fprintf(stderr, "borsellinod: cannot open the ledger in %s: %s\n"
                        "Nothing was changed. Inspect it with: borsellino audit verify --data %s\n",
                config.data_path, ledger_last_error_message(NULL), config.data_path);
        tls_server_free(config.tls);
        return 1;
    }
    /* The welfare layer's platform accounts, default catalog and fringe-cap
     * table, in their own durable commit, before any client is served. */
    error = welfare_platform_ensure(ledger);
    if (error) {
        server_log("start_failed",
                   "data=%s error=\"%s\" detail=\"%s\" hint=\"the welfare platform accounts "
                   "could not be created; nothing else was changed\"",
                   config.data_path, ledger_strerror(error), ledger_last_error_message(ledger));
        fprintf(stderr, "borsellinod: cannot set up the welfare platform in %s: %s (%s)\n",
                config.data_path, ledger_strerror(error), ledger_last_error_message(ledger));
        ledger_close(ledger);
        tls_server_free(config.tls);
        return 1;
    }
    if (ledger_rolled_back_txnid(ledger) != 0) {
        server_log("unsynced_group_rolled_back",
                   "lmdb_txn=%llu detail=\"the last write group was committed but the server "
                   "stopped before it was on disk; none of it had been acknowledged\"",
                   (unsigned long long)ledger_rolled_back_txnid(ledger));
    }
    ledger_stats_t stats;
    ledger_stats(ledger, &stats);
    server_log("ledger_opened", "data=%s journal_sequence=%llu accounts=%llu replayed=%llu",
               config.data_path, (unsigned long long)stats.journal_sequence,
               (unsigned long long)stats.accounts_count,
               (unsigned long long)stats.replayed_events);
    server_log("transport", "tls=%s clients=%s", config.tls != NULL ? "on" : "off",
               config.tls != NULL ? "by_certificate" : "operator");
    bool storage_faulted = false;
    error = net_run(&config, ledger, &storage_faulted);
    tls_server_free(config.tls);
    config.tls = NULL;
    int close_error = 0;
    if (storage_faulted) {
        /* After a disk fault nothing more is written: the next start
         * replays the journal from the last good checkpoint. */
        ledger_close_without_checkpoint(ledger);
        server_log("checkpoint_skipped", "reason=storage_fault");
    } else {
        close_error = ledger_close(ledger);
    }
    if (close_error) {
        server_log("checkpoint_failed", "error=\"%s\"", ledger_strerror(close_error));
    }
    server_log("stopped", "status=%s", error || close_error ? "error" : "clean");
    return error || close_error ? 1 : 0;
}
