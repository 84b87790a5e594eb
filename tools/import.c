/*
 * import.c — `borsellino import KIND FILE.csv`: bulk import of accounts,
 * companies (welfare funders), employees, plans and grants from a CSV file
 * over the protocol, so it works against a running server like every
 * client command (TLS from the same options and variables).
 *
 * Two phases. (1) The whole file is read and every line parsed and checked
 * (import_csv.c does the CSV; this file the values): a line that fails is
 * reported as "FILE:LINE: what is wrong" and dropped, so nothing from it
 * is ever sent. A bad header stops everything before any byte is sent.
 * (2) The valid rows are sent in batches, pipelined on one connection:
 * accounts in create_accounts batches of up to the server's batch limit,
 * grants in welfare_grant requests of many entries (consecutive rows of
 * the same grant id and plan), companies, employees and plans in
 * welfare_register batches (each row exactly its single create, in file
 * order). Every row's result is kept; refusals are reported
 * as "FILE:LINE: refused: NAME (sentence)".
 *
 * Resumable: every row carries its own id (a grant row: grant id and
 * employee), and the server answers `exists` for an identical operation
 * already done. Re-running a file after an interruption re-sends
 * everything and counts what was done before as "already there".
 *
 * Workload: files of up to IMPORT_ROWS_MAX rows; each row is held in
 * memory (about 100 bytes) between the phases.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "frame.h"
#include "import_csv.h"
#include "import.h"

/* Parses a row from its column values (NULL: column absent or empty);
 * false with `problem` set. */
typedef bool (*import_parse_fn)(import_row_t *row, const char *const *values, uint64_t now_ns,
                                char problem[IMPORT_PROBLEM_SIZE]);

typedef struct import_kind {
    const char *name;
    import_kind_id_t id;
    const char *const *columns; /* NULL-terminated */
    uint32_t required;          /* bit i: columns[i] is required */
    import_parse_fn parse;
    bool ledger_results;        /* results are LEDGER_RESULT_* */
} import_kind_t;

#define IMPORT_COLUMNS_MAX 10

static const char import_usage[] =
    "usage: borsellino import KIND FILE.csv [--batch N] [--addr HOST:PORT] [--json]\n"
    "\n"
    "Creates what FILE.csv lists, over the protocol (a running borsellinod).\n"
    "KIND and the columns of its file (* required; the header line names the\n"
    "columns, in any order; an unknown or repeated column stops the import\n"
    "before anything is sent):\n"
    "  accounts   id*, ledger*, code*, flags, user_data_128, user_data_64,\n"
    "             user_data_32        (flags: names joined by | or a quoted ,)\n"
    "  companies  id*, kind           (kind: company (default) or public)\n"
    "  employees  id*, funder*, cap_class, year   (cap_class standard or\n"
    "             with-children, for the fiscal year; both or neither)\n"
    "  plans      id*, funder*, valid_from*, valid_until*, categories*,\n"
    "             expiry_policy*, next_plan, split, grant_limit\n"
    "             (times as in welfare plan create: 2026-01-01, RFC 3339, now,\n"
    "             +30d; categories 1|2|9 or \"1,2,9\"; expiry_policy\n"
    "             back-to-funder, forfeit or carry-over; split yes/no)\n"
    "  grants     grant_id*, plan*, employee*, amount*   (amount in euros,\n"
    "             258.23; consecutive rows of one grant_id and plan go in\n"
    "             requests of up to --batch rows, in employee-id order: if the\n"
    "             company's funds run short, which of them are refused does not\n"
    "             follow the file's order)\n"
    "Companies, employees and plans are applied in file order (a plan may\n"
    "carry over into a plan of an earlier line), in registry batches\n"
    "(welfare_register), which only the operator role may send; a company\n"
    "identity creates its own with `borsellino welfare`.\n"
    "Ids are decimal, 0x-hex or names (\"acme\" names the same id everywhere).\n"
    "CSV: RFC 4180 (quotes, \"\" inside quotes); lines of at most 4096 bytes.\n"
    "\n"
    "Errors are per line. Every line is checked before anything is sent; a\n"
    "line that is wrong is reported as FILE:LINE: what is wrong, and nothing\n"
    "from it is sent. The valid lines ARE applied even when others are wrong\n"
    "(fix the lines reported and run the same file again).\n"
    "\n"
    "Resumable: ids make every row idempotent. Running the same file again\n"
    "after an interruption (or after fixing bad lines) re-sends every row; the\n"
    "rows done before answer \"exists\" and are counted as already there.\n"
    "\n"
    "Prints the counts: created, already there, refused by the server (each\n"
    "as FILE:LINE: refused: NAME on stderr), invalid, not answered (the\n"
    "connection was lost: they may or may not be applied; run again); --json:\n"
    "one summary object. A progress bar on stderr when it is a terminal.\n"
    "Exit 0 when every line was created or already there, 1 when any line\n"
    "was invalid, refused or not answered, or the file could not be read,\n"
    "2 on bad usage.\n"
    "\n"
    "  --batch N     rows per request (default and maximum: the server's batch\n"
    "                limit, half of it for employees; 16384 for grants)\n";

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

static bool import_problem(char problem[IMPORT_PROBLEM_SIZE], const char *column,
                           const char *text, const char *expected) {
    snprintf(problem, IMPORT_PROBLEM_SIZE, "%s: %.200s is not %s", column, text, expected);
    return false;
}

static bool import_id(const char *text, const char *column, ledger_u128_t *out,
                      char problem[IMPORT_PROBLEM_SIZE]) {
    if (cli_parse_named_id(text, out)) return true;
    return import_problem(problem, column, text, "an id (decimal, 0x-hex or a name)");
}

static bool import_u32(const char *text, const char *column, uint64_t max, uint64_t *out,
                       char problem[IMPORT_PROBLEM_SIZE]) {
    if (cli_parse_u64(text, max, out)) return true;
    char expected[64];
    snprintf(expected, sizeof(expected), "a number up to %llu", (unsigned long long)max);
    return import_problem(problem, column, text, expected);
}

static bool import_flag_names(const char *text, uint16_t *flags_out,
                              char problem[IMPORT_PROBLEM_SIZE]) {
    char names[IMPORT_CSV_RECORD_SIZE_MAX + 1];
    snprintf(names, sizeof(names), "%s", text);
    for (char *c = names; *c != '\0'; c++) {
        if (*c == '|') *c = ',';
    }
    if (cli_parse_account_flags(names, flags_out)) return true;
    snprintf(problem, IMPORT_PROBLEM_SIZE, "flags: unknown flag in %.200s; flags are: %s", text,
             cli_account_flag_names);
    return false;
}

static bool import_parse_account(import_row_t *row, const char *const *values, uint64_t now_ns,
                                 char problem[IMPORT_PROBLEM_SIZE]) {
    (void)now_ns;
    uint64_t number = 0;
    if (!import_id(values[0], "id", &row->u.account.id, problem)) return false;
    if (!import_u32(values[1], "ledger", UINT32_MAX, &number, problem)) return false;
    row->u.account.ledger = (uint32_t)number;
    if (!import_u32(values[2], "code", UINT16_MAX, &number, problem)) return false;
    row->u.account.code = (uint16_t)number;
    if (values[3] != NULL && !import_flag_names(values[3], &row->u.account.flags, problem)) {
        return false;
    }
    if (values[4] != NULL && !cli_parse_u128(values[4], &row->u.account.user_data_128)) {
        return import_problem(problem, "user_data_128", values[4], "a number up to 2^128-1");
    }
    if (values[5] != NULL && !cli_parse_u64(values[5], UINT64_MAX, &row->u.account.user_data_64)) {
        return import_problem(problem, "user_data_64", values[5], "a number up to 2^64-1");
    }
    if (values[6] != NULL) {
        if (!import_u32(values[6], "user_data_32", UINT32_MAX, &number, problem)) return false;
        row->u.account.user_data_32 = (uint32_t)number;
    }
    return true;
}

static bool import_parse_company(import_row_t *row, const char *const *values, uint64_t now_ns,
                                 char problem[IMPORT_PROBLEM_SIZE]) {
    (void)now_ns;
    if (!import_id(values[0], "id", &row->u.funder.id, problem)) return false;
    row->u.funder.kind = WELFARE_FUNDER_COMPANY;
    if (values[1] == NULL || strcmp(values[1], "company") == 0) return true;
    if (strcmp(values[1], "public") == 0) {
        row->u.funder.kind = WELFARE_FUNDER_PUBLIC;
        return true;
    }
    return import_problem(problem, "kind", values[1], "company or public");
}

static bool import_parse_employee(import_row_t *row, const char *const *values, uint64_t now_ns,
                                  char problem[IMPORT_PROBLEM_SIZE]) {
    (void)now_ns;
    if (!import_id(values[0], "id", &row->u.employee.employee.id, problem)) return false;
    if (!import_id(values[1], "funder", &row->u.employee.employee.funder_id, problem)) {
        return false;
    }
    if ((values[2] == NULL) != (values[3] == NULL)) {
        snprintf(problem, IMPORT_PROBLEM_SIZE, "cap_class and year go together: give both or "
                 "neither");
        return false;
    }
    if (values[2] == NULL) return true;
    if (!cli_welfare_cap_class_parse(values[2], &row->u.employee.cap_class)) {
        return import_problem(problem, "cap_class", values[2], "standard or with-children");
    }
    uint64_t year = 0;
    if (!cli_parse_u64(values[3], 9999, &year) || year < 1970) {
        return import_problem(problem, "year", values[3], "a year (1970..9999)");
    }
    row->u.employee.year = (uint32_t)year;
    row->u.employee.cap_given = true;
    return true;
}

static bool import_parse_split(const char *text, bool *split_out) {
    static const char *const yes[] = {"yes", "true", "1", "split"};
    static const char *const no[] = {"no", "false", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(text, yes[i]) == 0) return *split_out = true, true;
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (strcmp(text, no[i]) == 0) return *split_out = false, true;
    }
    return false;
}

static bool import_parse_plan(import_row_t *row, const char *const *values, uint64_t now_ns,
                              char problem[IMPORT_PROBLEM_SIZE]) {
    welfare_plan_t *plan = &row->u.plan;
    if (!import_id(values[0], "id", &plan->id, problem)) return false;
    if (!import_id(values[1], "funder", &plan->funder_id, problem)) return false;
    if (!cli_parse_time(values[2], now_ns, &plan->valid_from)) {
        return import_problem(problem, "valid_from", values[2], "a time (2026-01-01, RFC 3339, "
                              "now, +30d)");
    }
    if (!cli_parse_time(values[3], now_ns, &plan->valid_until)) {
        return import_problem(problem, "valid_until", values[3], "a time (2026-12-31, RFC 3339, "
                              "now, +30d)");
    }
    if (!cli_welfare_categories_parse(values[4], &plan->categories)) {
        return import_problem(problem, "categories", values[4], "a list of category ids 1..63 "
                              "(1|2|9)");
    }
    if (!cli_welfare_expiry_parse(values[5], &plan->expiry_policy)) {
        return import_problem(problem, "expiry_policy", values[5], "back-to-funder, forfeit or "
                              "carry-over");
    }
    if (values[6] != NULL && !import_id(values[6], "next_plan", &plan->next_plan_id, problem)) {
        return false;
    }
    bool split = false;
    if (values[7] != NULL && !import_parse_split(values[7], &split)) {
        return import_problem(problem, "split", values[7], "yes or no");
    }
    plan->flags = split ? WELFARE_PLAN_SPLIT_ALLOWED : 0;
    if (values[8] != NULL && !cli_parse_euros(values[8], &plan->grant_limit_per_employee)) {
        return import_problem(problem, "grant_limit", values[8], "an amount of euros (258.23)");
    }
    return true;
}

static bool import_parse_grant(import_row_t *row, const char *const *values, uint64_t now_ns,
                               char problem[IMPORT_PROBLEM_SIZE]) {
    (void)now_ns;
    if (!import_id(values[0], "grant_id", &row->u.grant.grant_id, problem)) return false;
    if (!import_id(values[1], "plan", &row->u.grant.plan_id, problem)) return false;
    if (!import_id(values[2], "employee", &row->u.grant.employee_id, problem)) return false;
    if (!cli_parse_euros(values[3], &row->u.grant.amount) || row->u.grant.amount == 0) {
        return import_problem(problem, "amount", values[3], "an amount of euros above 0 (258.23)");
    }
    return true;
}

static const char *const import_account_columns[] = {
    "id", "ledger", "code", "flags", "user_data_128", "user_data_64", "user_data_32", NULL};
static const char *const import_company_columns[] = {"id", "kind", NULL};
static const char *const import_employee_columns[] = {"id", "funder", "cap_class", "year", NULL};
static const char *const import_plan_columns[] = {
    "id", "funder", "valid_from", "valid_until", "categories", "expiry_policy", "next_plan",
    "split", "grant_limit", NULL};
static const char *const import_grant_columns[] = {"grant_id", "plan", "employee", "amount",
                                                   NULL};

static const import_kind_t import_kinds[] = {
    {"accounts", IMPORT_ACCOUNTS, import_account_columns, 0x7, import_parse_account, true},
    {"companies", IMPORT_COMPANIES, import_company_columns, 0x1, import_parse_company, false},
    {"employees", IMPORT_EMPLOYEES, import_employee_columns, 0x3, import_parse_employee, false},
    {"plans", IMPORT_PLANS, import_plan_columns, 0x3f, import_parse_plan, false},
    {"grants", IMPORT_GRANTS, import_grant_columns, 0xf, import_parse_grant, false},
};

/* ------------------------------------------------------------------------ */
/* Phase 1: reading and checking the file                                   */

typedef struct import_file {
    const import_kind_t *kind;
    const char *path;
    int column_of_field[IMPORT_CSV_FIELDS_MAX]; /* kind column index of each field */
    size_t header_fields;
    import_row_t *rows;
    size_t rows_count, rows_capacity;
    uint64_t invalid;
} import_file_t;

/* Maps the header's fields to the kind's columns; false with `error`. */
static bool import_header(import_file_t *file, const import_csv_t *csv,
                          char error[IMPORT_CSV_ERROR_SIZE]) {
    uint32_t seen = 0;
    const char *const *columns = file->kind->columns;
    for (size_t f = 0; f < csv->fields_count; f++) {
        int found = -1;
        for (int c = 0; columns[c] != NULL; c++) {
            if (strcmp(csv->fields[f], columns[c]) == 0) found = c;
        }
        if (found < 0 || (seen & (1u << found))) {
            char list[256] = "";
            for (int c = 0; columns[c] != NULL; c++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof(list) - used, "%s%s", c ? ", " : "", columns[c]);
            }
            snprintf(error, IMPORT_CSV_ERROR_SIZE, "%s:%u: %s column \"%.100s\" in the header "
                     "(the columns of %s: %s); nothing was sent", file->path, csv->line,
                     found < 0 ? "unknown" : "repeated", csv->fields[f], file->kind->name, list);
            return false;
        }
        seen |= 1u << found;
        file->column_of_field[f] = found;
    }
    for (int c = 0; columns[c] != NULL; c++) {
        if ((file->kind->required & (1u << c)) && !(seen & (1u << c))) {
            snprintf(error, IMPORT_CSV_ERROR_SIZE, "%s:%u: the header has no column \"%s\" "
                     "(required for %s); nothing was sent", file->path, csv->line, columns[c],
                     file->kind->name);
            return false;
        }
    }
    file->header_fields = csv->fields_count;
    return true;
}

/* Checks one record into a row; false with `problem` set. */
static bool import_record(const import_file_t *file, const import_csv_t *csv, uint64_t now_ns,
                          import_row_t *row, char problem[IMPORT_PROBLEM_SIZE]) {
    if (csv->fields_count != file->header_fields) {
        snprintf(problem, IMPORT_PROBLEM_SIZE, "%zu fields where the header has %zu",
                 csv->fields_count, file->header_fields);
        return false;
    }
    const char *values[IMPORT_COLUMNS_MAX] = {NULL};
    for (size_t f = 0; f < csv->fields_count; f++) {
        if (csv->fields[f][0] != '\0') values[file->column_of_field[f]] = csv->fields[f];
    }
    const char *const *columns = file->kind->columns;
    for (int c = 0; columns[c] != NULL; c++) {
        if ((file->kind->required & (1u << c)) && values[c] == NULL) {
            snprintf(problem, IMPORT_PROBLEM_SIZE, "%s is empty (required)", columns[c]);
            return false;
        }
    }
    memset(row, 0, sizeof(*row));
    row->line = csv->line;
    row->result = IMPORT_RESULT_UNSENT;
    return file->kind->parse(row, values, now_ns, problem);
}

static bool import_rows_grow(import_file_t *file) {
    if (file->rows_count < file->rows_capacity) return true;
    size_t capacity = file->rows_capacity ? file->rows_capacity * 2 : 4096;
    import_row_t *rows = realloc(file->rows, capacity * sizeof(*rows));
    if (rows == NULL) return false;
    file->rows = rows;
    file->rows_capacity = capacity;
    return true;
}

/* Reads the whole file: valid rows into file->rows, each bad line
 * reported on stderr. Returns 0, or CLI_EXIT_FAILURE with `error` set
 * (the file cannot be used: nothing must be sent). */
static int import_read(import_file_t *file, FILE *stream, import_csv_t *csv,
                       char error[IMPORT_CSV_ERROR_SIZE]) {
    import_csv_init(csv, stream, file->path);
    import_csv_status_t status = import_csv_next(csv, error);
    if (status == IMPORT_CSV_END) {
        snprintf(error, IMPORT_CSV_ERROR_SIZE, "%s: empty file (a header line naming the "
                 "columns is required); nothing was sent", file->path);
        return CLI_EXIT_FAILURE;
    }
    if (status != IMPORT_CSV_RECORD) return CLI_EXIT_FAILURE;
    if (!import_header(file, csv, error)) return CLI_EXIT_FAILURE;
    uint64_t now_ns = cli_now_ns();
    char problem[IMPORT_PROBLEM_SIZE];
    while ((status = import_csv_next(csv, error)) != IMPORT_CSV_END) {
        if (status == IMPORT_CSV_IO_ERROR) return CLI_EXIT_FAILURE;
        if (status == IMPORT_CSV_BAD_RECORD) {
            fprintf(stderr, "%s\n", error);
            file->invalid++;
            continue;
        }
        if (file->rows_count == IMPORT_ROWS_MAX) {
            snprintf(error, IMPORT_CSV_ERROR_SIZE, "%s:%u: more than %u rows: split the file; "
                     "nothing was sent", file->path, csv->line, (unsigned)IMPORT_ROWS_MAX);
            return CLI_EXIT_FAILURE;
        }
        if (!import_rows_grow(file)) {
            snprintf(error, IMPORT_CSV_ERROR_SIZE, "out of memory at %s:%u; nothing was sent",
                     file->path, csv->line);
            return CLI_EXIT_FAILURE;
        }
        if (!import_record(file, csv, now_ns, &file->rows[file->rows_count], problem)) {
            fprintf(stderr, "%s:%u: %s\n", file->path, csv->line, problem);
            file->invalid++;
            continue;
        }
        file->rows_count++;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */

typedef struct import_options {
    cli_net_options_t net;
    const import_kind_t *kind;
    const char *path;
    uint64_t batch; /* 0: the server's limit */
} import_options_t;

static int import_help(void) {
    fputs(import_usage, stdout);
    fputs(cli_net_options_help, stdout);
    return CLI_EXIT_OK;
}

static int import_parse_options(int argc, char **argv, import_options_t *options) {
    const char *command = "import";
    const char *positionals[2] = {NULL, NULL};
    int positionals_count = 0;
    cli_net_options_init(&options->net);
    for (int i = 1; i < argc; i++) {
        int common = cli_net_option(argc, argv, &i, command, &options->net);
        if (common < 0) return CLI_EXIT_USAGE;
        if (common > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return import_help();
        if (strcmp(argv[i], "--batch") == 0) {
            if (i + 1 >= argc || !cli_parse_count(argv[i + 1], &options->batch) ||
                options->batch == 0 || options->batch > WELFARE_GRANT_EMPLOYEES_MAX) {
                return cli_usage_error(command, "--batch takes a number of rows, 1..%u",
                                       (unsigned)WELFARE_GRANT_EMPLOYEES_MAX);
            }
            i++;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error(command, "unknown option %s (see --help)", argv[i]);
        }
        if (positionals_count == 2) return cli_usage_error(command, "too many arguments: %s", argv[i]);
        positionals[positionals_count++] = argv[i];
    }
    if (positionals_count != 2) {
        return cli_usage_error(command, "give KIND and FILE.csv (KIND: accounts, companies, "
                               "employees, plans or grants)");
    }
    for (size_t k = 0; k < sizeof(import_kinds) / sizeof(import_kinds[0]); k++) {
        if (strcmp(positionals[0], import_kinds[k].name) == 0) options->kind = &import_kinds[k];
    }
    if (options->kind == NULL) {
        return cli_usage_error(command, "unknown KIND %s: accounts, companies, employees, plans "
                               "or grants", positionals[0]);
    }
    options->path = positionals[1];
    return -1;
}

/* Rows per batch request: --batch, bounded by the server's limits (asked
 * with a status request) and by what fits its largest frame. */
static int import_batch(client_t *client, const import_options_t *options, uint32_t *batch_out) {
    Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &status;
    Borsellino__V1__Response *response = NULL;
    int exit_code = cli_call(client, &options->net, "import", &request,
                             BORSELLINO__V1__RESPONSE__RESULT_STATUS_RESULT, &response);
    if (exit_code != 0) return exit_code;
    uint64_t frame = response->status_result->frame_size_max;
    uint64_t limit = response->status_result->batch_events_max;
    frame_response_free(response);
    uint64_t row_size = IMPORT_ACCOUNT_WIRE_SIZE_MAX;
    if (options->kind->id == IMPORT_GRANTS) {
        limit = WELFARE_GRANT_EMPLOYEES_MAX;
        row_size = IMPORT_GRANT_ENTRY_WIRE_SIZE_MAX;
    } else if (options->kind->id != IMPORT_ACCOUNTS) {
        row_size = IMPORT_REGISTER_ROW_WIRE_SIZE_MAX;
        if (options->kind->id == IMPORT_EMPLOYEES) limit /= 2; /* two entries a row */
    }
    uint64_t fits = frame > IMPORT_REQUEST_OVERHEAD_MAX
                        ? (frame - IMPORT_REQUEST_OVERHEAD_MAX) / row_size : 1;
    uint64_t batch = options->batch != 0 ? options->batch : limit;
    if (batch > limit) batch = limit;
    if (batch > fits) batch = fits;
    *batch_out = batch == 0 ? 1 : (uint32_t)batch;
    return 0;
}

typedef struct import_tally {
    uint64_t created, exists, refused, unanswered;
} import_tally_t;

/* Counts the results and reports each refused row. */
static void import_count(const import_options_t *options, const import_file_t *file,
                         import_tally_t *tally) {
    bool ledger = options->kind->ledger_results;
    uint32_t ok = ledger ? LEDGER_RESULT_OK : WELFARE_RESULT_OK;
    uint32_t exists = ledger ? LEDGER_RESULT_EXISTS : WELFARE_RESULT_EXISTS;
    for (size_t i = 0; i < file->rows_count; i++) {
        uint32_t result = file->rows[i].result;
        if (result == ok) { tally->created++; continue; }
        if (result == exists) { tally->exists++; continue; }
        if (result == IMPORT_RESULT_UNSENT) { tally->unanswered++; continue; }
        tally->refused++;
        fprintf(stderr, "%s:%u: refused: %s (%s)\n", file->path, file->rows[i].line,
                ledger ? ledger_result_name(result) : welfare_result_name(result),
                ledger ? cli_result_message(result) : cli_welfare_result_message(result));
    }
}

static void import_summary(const import_options_t *options, const import_file_t *file,
                           const import_tally_t *tally, double seconds, const char *error) {
    uint64_t rows = file->rows_count + file->invalid;
    double rate = seconds > 0 ? (double)file->rows_count / seconds : 0;
    if (options->net.json) {
        printf("{\"kind\":\"%s\",\"file\":", options->kind->name);
        cli_json_string(stdout, file->path);
        printf(",\"rows\":%llu,\"created\":%llu,\"exists\":%llu,\"refused\":%llu,"
               "\"invalid\":%llu,\"unanswered\":%llu,\"seconds\":%.3f,\"rows_per_second\":%.0f,"
               "\"error\":", (unsigned long long)rows, (unsigned long long)tally->created,
               (unsigned long long)tally->exists, (unsigned long long)tally->refused,
               (unsigned long long)file->invalid, (unsigned long long)tally->unanswered,
               seconds, rate);
        if (error[0] != '\0') cli_json_string(stdout, error);
        else fputs("null", stdout);
        fputs("}\n", stdout);
        return;
    }
    printf("%s %s: %llu rows: %llu created, %llu already there, %llu refused, %llu invalid",
           options->kind->name, file->path, (unsigned long long)rows,
           (unsigned long long)tally->created, (unsigned long long)tally->exists,
           (unsigned long long)tally->refused, (unsigned long long)file->invalid);
    if (tally->unanswered != 0) {
        printf(", %llu not answered (run the same file again)",
               (unsigned long long)tally->unanswered);
    }
    printf(" (%.3f s, %.0f rows/s)\n", seconds, rate);
}

/* Grant rows: by grant id and plan, then employee id, then line. */
static int import_grant_row_compare(const void *a, const void *b) {
    const import_row_t *x = a;
    const import_row_t *y = b;
    int order = ledger_u128_compare(x->u.grant.grant_id, y->u.grant.grant_id);
    if (order == 0) order = ledger_u128_compare(x->u.grant.plan_id, y->u.grant.plan_id);
    if (order == 0) order = ledger_u128_compare(x->u.grant.employee_id, y->u.grant.employee_id);
    if (order == 0) order = x->line < y->line ? -1 : x->line > y->line;
    return order;
}

static int import_line_compare(const void *a, const void *b) {
    const import_row_t *x = a;
    const import_row_t *y = b;
    return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * The rows of each run of consecutive grant rows of one grant id and plan
 * are sent in employee-id order (rows of one employee keep their file
 * order). The server keys pots, grant entries and employees by employee
 * id, so a run in that order writes each B-tree page once for many rows,
 * request after request; in file order, every request touches pages all
 * over the tables. The results are the same unless the funds run short,
 * and then which rows are refused does not follow the file (--help says
 * so). The report goes back to line order (import_lines_restore).
 */
static void import_grants_order(import_row_t *rows, size_t count) {
    size_t start = 0;
    while (start < count) {
        size_t end = start + 1;
        while (end < count &&
               ledger_u128_compare(rows[end].u.grant.grant_id, rows[start].u.grant.grant_id) == 0 &&
               ledger_u128_compare(rows[end].u.grant.plan_id, rows[start].u.grant.plan_id) == 0) {
            end++;
        }
        qsort(rows + start, end - start, sizeof(*rows), import_grant_row_compare);
        start = end;
    }
}

static void import_lines_restore(import_row_t *rows, size_t count) {
    qsort(rows, count, sizeof(*rows), import_line_compare);
}

/* Phase 2 and the summary; returns the exit code. */
static int import_apply_file(const import_options_t *options, import_file_t *file) {
    client_t *client = NULL;
    char error[IMPORT_CSV_ERROR_SIZE] = "";
    uint32_t batch = 1;
    int exit_code = cli_connect(&options->net, "import", &client);
    if (exit_code == 0) exit_code = import_batch(client, options, &batch);
    if (exit_code != 0) {
        client_close(client);
        return exit_code;
    }
    cli_progress_t progress;
    cli_progress_init(&progress, "importing", "rows");
    uint64_t started_ns = cli_monotonic_ns();
    bool grants = options->kind->id == IMPORT_GRANTS;
    if (grants) import_grants_order(file->rows, file->rows_count);
    if (file->rows_count != 0) {
        exit_code = import_send(client, options->kind->id, file->rows, file->rows_count, batch,
                                &progress, error, sizeof(error));
    }
    if (grants) import_lines_restore(file->rows, file->rows_count);
    double seconds = (double)(cli_monotonic_ns() - started_ns) / 1e9;
    cli_progress_end(&progress);
    client_close(client);
    if (exit_code != 0) fprintf(stderr, "borsellino import: %s\n", error);
    import_tally_t tally = {0, 0, 0, 0};
    import_count(options, file, &tally);
    import_summary(options, file, &tally, seconds, error);
    bool clean = exit_code == 0 && tally.refused == 0 && tally.unanswered == 0 &&
                 file->invalid == 0;
    return clean ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int cli_import(int argc, char **argv) {
    import_options_t options = {.kind = NULL};
    int parsed = import_parse_options(argc, argv, &options);
    if (parsed >= 0) return parsed;
    FILE *stream = strcmp(options.path, "-") == 0 ? stdin : fopen(options.path, "rb");
    if (stream == NULL) {
        return cli_fail(&options.net, "import", "bad_file", "cannot open %s: %s", options.path,
                        strerror(errno));
    }
    import_file_t file = {.kind = options.kind, .path = options.path};
    import_csv_t *csv = malloc(sizeof(*csv));
    char error[IMPORT_CSV_ERROR_SIZE] = "out of memory";
    int exit_code = csv == NULL ? CLI_EXIT_FAILURE : import_read(&file, stream, csv, error);
    free(csv);
    if (stream != stdin) fclose(stream);
    if (exit_code == 0) {
        exit_code = import_apply_file(&options, &file);
    } else {
        exit_code = cli_fail(&options.net, "import", "bad_file", "%s", error);
    }
    free(file.rows);
    return exit_code;
}
