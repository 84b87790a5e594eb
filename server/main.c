/*
 * main.c — borsellinod: flags, the ledger (with the welfare layer's platform
 * set up), the network loop, and a clean exit. Exit codes: 0 after a
 * graceful shutdown, 1 when the server could not start or stopped on an
 * error, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "server.h"
#include "welfare.h"

static const char usage[] =
    "usage: borsellinod [OPTIONS]\n"
    "\n"
    "The borsellino ledger server: serves the ledger in --data over the\n"
    "protocol of docs/protocol.md (4-byte big-endian length + protobuf).\n"
    "\n"
    "  --data DIR              data directory (default: ./" SERVER_DATA_DEFAULT "; created\n"
    "                          and formatted if it does not exist)\n"
    "  --listen HOST:PORT      numeric address to listen on (default: " SERVER_LISTEN_DEFAULT ";\n"
    "                          [::1]:PORT for IPv6; port 0 picks a free port, logged)\n"
    "  --insecure-plaintext    allow listening on a non-loopback address without\n"
    "                          TLS (refused otherwise)\n"
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
    "  --shutdown-timeout-ms MS  on SIGTERM, wait at most this long for clients\n"
    "                          to read their last answers (default 10000)\n"
    "  --help                  this text\n"
    "\n"
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

/* Returns -1 to go on, or an exit code. */
static int parse_arguments(int argc, char **argv, server_config_t *config, bool *insecure) {
    uint64_t connections = 1024, in_flight = 256, frame = FRAME_BODY_SIZE_MAX_DEFAULT,
             batch = LEDGER_BATCH_EVENTS_MAX, queue = 8192, idle = 300000, group = 65536,
             shutdown = 10000;
    flag_u64_t flags[] = {
        {"--connections-max", 1, 1000000, &connections},
        {"--in-flight-max", 1, 65536, &in_flight},
        {"--frame-size-max", 1024, FRAME_BODY_SIZE_MAX_LIMIT, &frame},
        {"--batch-events-max", 1, LEDGER_BATCH_EVENTS_MAX, &batch},
        {"--queue-depth-max", 1, 1000000, &queue},
        {"--idle-timeout-ms", 0, 86400000ull * 365, &idle},
        {"--group-events-max", 1, 1000000, &group},
        {"--shutdown-timeout-ms", 0, 3600000, &shutdown},
    };
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--insecure-plaintext") == 0) { *insecure = true; continue; }
        bool takes_path = strcmp(argv[i], "--data") == 0 || strcmp(argv[i], "--listen") == 0;
        if (takes_path && next == NULL) {
            fprintf(stderr, "borsellinod: %s needs a value (see --help)\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--data") == 0) { config->data_path = next; i++; continue; }
        if (strcmp(argv[i], "--listen") == 0) { config->listen_address = next; i++; continue; }
        bool known = false;
        for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]) && !known; f++) {
            if (strcmp(argv[i], flags[f].name) != 0) continue;
            known = true;
            if (next == NULL) {
                fprintf(stderr, "borsellinod: %s needs a value\n", argv[i]);
                return 2;
            }
            if (parse_u64(argv[i], next, flags[f].minimum, flags[f].maximum, flags[f].value)) return 2;
            i++;
        }
        if (!known) {
            fprintf(stderr, "borsellinod: unknown option %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    config->connections_max = (uint32_t)connections;
    config->in_flight_max = (uint32_t)in_flight;
    config->frame_size_max = (uint32_t)frame;
    config->batch_events_max = (uint32_t)batch;
    config->queue_depth_max = (uint32_t)queue;
    config->idle_timeout_ms = idle;
    config->group_events_max = (uint32_t)group;
    config->shutdown_timeout_ms = shutdown;
    return -1;
}

int main(int argc, char **argv) {
    server_config_t config = {.data_path = SERVER_DATA_DEFAULT,
                              .listen_address = SERVER_LISTEN_DEFAULT};
    bool insecure = false;
    int status = parse_arguments(argc, argv, &config, &insecure);
    if (status >= 0) return status;
    if (!address_is_loopback(config.listen_address) && !insecure) {
        fprintf(stderr, "borsellinod: refusing to listen on %s without TLS: plaintext is "
                        "allowed only on loopback; pass --insecure-plaintext to override\n",
                config.listen_address);
        return 2;
    }
    ledger_t *ledger = NULL;
    int error = ledger_open(config.data_path, NULL, &ledger);
    if (error) {
        /* Never repaired silently: say what is wrong and how to look. */
        server_log("start_failed",
                   "data=%s error=\"%s\" hint=\"nothing was changed; inspect the data "
                   "with: borsellino audit verify --data %s\"",
                   config.data_path, ledger_last_error_message(NULL), config.data_path);
        fprintf(stderr, "borsellinod: cannot open the ledger in %s: %s\n"
                        "Nothing was changed. Inspect it with: borsellino audit verify --data %s\n",
                config.data_path, ledger_last_error_message(NULL), config.data_path);
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
        return 1;
    }
    ledger_stats_t stats;
    ledger_stats(ledger, &stats);
    server_log("ledger_opened", "data=%s journal_sequence=%llu accounts=%llu replayed=%llu",
               config.data_path, (unsigned long long)stats.journal_sequence,
               (unsigned long long)stats.accounts_count,
               (unsigned long long)stats.replayed_events);
    bool storage_faulted = false;
    error = net_run(&config, ledger, &storage_faulted);
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
