/*
 * backup.c — `borsellino backup`: a hot, compacted copy of a data
 * directory (ledger_backup), safe while borsellinod keeps serving from it.
 * Prints what was copied and how to start a server on the copy. Works on
 * the directory in-process, not over the protocol: run it on the server's
 * machine, as the user that owns the data directory.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const char *const BACKUP_COMMAND = "backup";

typedef struct backup_options {
    const char *data_path;
    const char *out_path;
    bool json;
} backup_options_t;

static int backup_help(void) {
    printf("usage: borsellino backup [--data DIR] --out DIR [--json]\n\n"
           "Copies the data directory into a new one while a server may keep\n"
           "writing to it: one consistent snapshot (an exact prefix of the journal),\n"
           "compacted. Start a server on the copy with `borsellinod --data OUT`.\n\n"
           "  --data DIR   data directory to copy (default: ./%s, the server's)\n"
           "  --out DIR    where the copy goes: must not exist or be empty;\n"
           "               created mode 0700, the copy's file is mode 0600\n"
           "  --json       one JSON object on stdout: out, journal_sequence,\n"
           "               bytes, seconds (or error and message)\n",
           CLI_DATA_PATH_DEFAULT);
    return CLI_EXIT_OK;
}

/* Returns -1 to go on, or an exit code. */
static int backup_parse(int argc, char **argv, backup_options_t *options) {
    memset(options, 0, sizeof *options);
    options->data_path = CLI_DATA_PATH_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return backup_help();
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            options->data_path = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            options->out_path = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            options->json = true;
        } else {
            return cli_usage_error(BACKUP_COMMAND, "unknown option %s", argv[i]);
        }
    }
    if (options->out_path == NULL) {
        return cli_usage_error(BACKUP_COMMAND, "--out DIR is required");
    }
    return -1;
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static unsigned long long copy_bytes(const char *out_path) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/data.mdb", out_path);
    struct stat info;
    return stat(path, &info) == 0 ? (unsigned long long)info.st_size : 0;
}

static int backup_fail(const backup_options_t *options, int error) {
    const char *message = ledger_last_error_message(NULL);
    fprintf(stderr, "borsellino %s: %s\n", BACKUP_COMMAND, message);
    if (options->json) {
        fputs("{\"error\":", stdout);
        cli_json_string(stdout, ledger_strerror(error));
        fputs(",\"message\":", stdout);
        cli_json_string(stdout, message);
        fputs("}\n", stdout);
    }
    return CLI_EXIT_FAILURE;
}

static void backup_report(const backup_options_t *options, uint64_t sequence,
                          double seconds) {
    unsigned long long bytes = copy_bytes(options->out_path);
    if (options->json) {
        fputs("{\"out\":", stdout);
        cli_json_string(stdout, options->out_path);
        printf(",\"journal_sequence\":%llu,\"bytes\":%llu,\"seconds\":%.3f}\n",
               (unsigned long long)sequence, bytes, seconds);
        return;
    }
    printf("backed up %s to %s\n", options->data_path, options->out_path);
    printf("  journal sequence     %llu (the copy holds the journal up to here)\n",
           (unsigned long long)sequence);
    printf("  size                 %llu bytes (%.1f MiB), compacted\n", bytes,
           (double)bytes / (1 << 20));
    printf("  time                 %.3f s\n", seconds);
    printf("to restore, start a server on it:  borsellinod --data %s\n",
           options->out_path);
}

int cli_backup(int argc, char **argv) {
    backup_options_t options;
    int parsed = backup_parse(argc, argv, &options);
    if (parsed >= 0) return parsed;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t sequence = 0;
    int error = ledger_backup(options.data_path, options.out_path, &sequence);
    if (error) return backup_fail(&options, error);
    backup_report(&options, sequence, seconds_since(&start));
    return CLI_EXIT_OK;
}
