/*
 * import.h — what the two files of `borsellino import` share:
 *
 *   import.c       the command: options, --help, the columns of each kind,
 *                  phase 1 (read and check every line of the file), the
 *                  summary;
 *   import_send.c  phase 2: the valid rows sent in batches, pipelined on
 *                  one connection, and each row's result kept.
 *
 * (import_csv.c, the CSV reader, has its own manual: import_csv.h.)
 */
#ifndef BORSELLINO_TOOLS_IMPORT_H
#define BORSELLINO_TOOLS_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "welfare_cli.h"

enum {
    /* Most rows of one file. */
    IMPORT_ROWS_MAX = 4000000,
    /* Batch requests in flight on the connection (each up to a frame). */
    IMPORT_BATCHES_IN_FLIGHT = 8,
    /* Upper bounds of one encoded row of a batch request, bytes, to keep
     * every request under the server's frame_size_max. A registry row is
     * at most a plan (four ids, five numbers) or an employee and its cap
     * class (two entries). */
    IMPORT_ACCOUNT_WIRE_SIZE_MAX = 96,
    IMPORT_GRANT_ENTRY_WIRE_SIZE_MAX = 48,
    IMPORT_REGISTER_ROW_WIRE_SIZE_MAX = 160,
    IMPORT_REQUEST_OVERHEAD_MAX = 256,
    /* Room for one row's problem. */
    IMPORT_PROBLEM_SIZE = 512,
};

/* The result of a row not answered (the connection failed before). */
#define IMPORT_RESULT_UNSENT UINT32_MAX

typedef enum import_kind_id {
    IMPORT_ACCOUNTS, IMPORT_COMPANIES, IMPORT_EMPLOYEES, IMPORT_PLANS, IMPORT_GRANTS,
} import_kind_id_t;

/* One valid line of the file. */
typedef struct import_row {
    uint32_t line;
    /* LEDGER_RESULT_* for accounts, WELFARE_RESULT_* otherwise; or
     * IMPORT_RESULT_UNSENT. */
    uint32_t result;
    union {
        struct {
            ledger_u128_t id, user_data_128;
            uint64_t user_data_64;
            uint32_t user_data_32, ledger;
            uint16_t code, flags;
        } account;
        welfare_funder_t funder;
        struct {
            welfare_employee_t employee;
            uint32_t cap_class, year;
            bool cap_given; /* then a set_cap_class follows the create */
        } employee;
        welfare_plan_t plan;
        struct {
            ledger_u128_t grant_id, plan_id, employee_id;
            uint64_t amount;
        } grant;
    } u;
} import_row_t;

/*
 * Sends rows[0, count) of `kind` on `client`, at most `batch` rows per
 * batch request (an employee row with a cap class is two registry
 * entries, so `batch` of employees is at most half the server's batch
 * limit), keeping several requests in flight,
 * and sets each answered row's result. Draws `progress` as answers come.
 * Returns 0 when every row was answered, or CLI_EXIT_FAILURE with `error`
 * saying why the rest was not (the connection failed, or the server
 * refused a whole request: a status other than OK); rows not answered
 * keep IMPORT_RESULT_UNSENT.
 */
int import_send(client_t *client, import_kind_id_t kind, import_row_t *rows, size_t count,
                uint32_t batch, cli_progress_t *progress, char *error, size_t error_size);

/* `borsellino import KIND FILE.csv ...` (import.c). */
int cli_import(int argc, char **argv);

#endif
