/*
 * cli.h — what the subcommands of the `borsellino` tool share: exit codes,
 * the common option parser, and each subcommand's entry point.
 *
 * Exit codes (documented in README.md and `borsellino --help`):
 *   0 success, 1 the operation failed, 2 bad usage.
 */
#ifndef BORSELLINO_TOOLS_CLI_H
#define BORSELLINO_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
};

/* The default data directory: relative to the working directory. */
#define CLI_DATA_PATH_DEFAULT "borsellino-data"

typedef struct cli_options {
    const char *data_path;
} cli_options_t;

/* Parses `--data DIR` and `--help` for `command`. Returns -1 to go on, or
 * an exit code (after printing help or a usage error). */
int cli_parse_data_options(int argc, char **argv, const char *command,
                           cli_options_t *options_out);

/* Parses a decimal u64 with an optional k/M suffix (1000s); false when it
 * is not a number or overflows. */
bool cli_parse_count(const char *text, uint64_t *value_out);

int cli_demo(int argc, char **argv);
int cli_bench_ledger(int argc, char **argv);

#endif
