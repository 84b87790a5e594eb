/*
 * transfer_file.h — reading a batch of transfers from a CSV or JSON Lines
 * file for `borsellino transfer create --file`.
 *
 * Both formats name the same fields, those of the protocol's Transfer:
 *   id, debit_account_id, credit_account_id, amount, pending_id, ledger,
 *   code, flags, timeout, user_data_128, user_data_64, user_data_32
 * A missing or empty field is 0, except a missing id, which is filled with
 * a new time-ordered id (in file order) and reported as generated. flags
 * are names separated by '|' (or ',' in JSON): "pending|linked".
 *
 * CSV (.csv): the first non-comment line is a header naming the columns,
 * in any order; then one transfer per line. Cells are separated by ',',
 * surrounding spaces are ignored, there is no quoting (no value needs a
 * comma). Blank lines and lines starting with '#' are skipped.
 *
 * JSON Lines (.jsonl, .ndjson): one flat JSON object per line. Values are
 * numbers or strings (write 128-bit ids as strings: JSON numbers above 2^53
 * lose precision in most tools); flags may also be an array of names.
 * Blank lines are skipped.
 */
#ifndef BORSELLINO_TOOLS_TRANSFER_FILE_H
#define BORSELLINO_TOOLS_TRANSFER_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

enum {
    /* Most transfers one file may hold (they are sent in several batches). */
    TRANSFER_FILE_ROWS_MAX = 1000000,
    /* Longest line accepted, bytes. */
    TRANSFER_FILE_LINE_SIZE_MAX = 4096,
    TRANSFER_FILE_ERROR_SIZE = 256,
};

typedef struct transfer_file_row {
    ledger_transfer_t transfer;
    uint32_t line;     /* 1-based line number in the file */
    bool id_generated; /* the file gave no id */
} transfer_file_row_t;

/*
 * Reads `path` as CSV or JSON Lines (chosen by its extension: .csv, or
 * .jsonl/.ndjson/.json), filling *rows_out (malloc'd, caller frees with
 * free()) with *count_out rows (at least 1). On failure returns false with
 * `error` saying which line and what is wrong, and *rows_out NULL.
 */
bool transfer_file_read(const char *path, transfer_file_row_t **rows_out, size_t *count_out,
                        char error[TRANSFER_FILE_ERROR_SIZE]);

#endif
