/*
 * test_welfare_cli.c — `borsellino welfare ...` end to end against a real
 * borsellinod, and the welfare part of the protocol it speaks.
 *
 * Each case that needs a server starts its own (tests/server_fixture.h:
 * $BORSELLINOD on an ephemeral loopback port, its own data directory,
 * stopped with SIGTERM that must end in exit status 0). The tool
 * ($BORSELLINO) runs as a child with stdout and stderr captured to files in
 * the case directory; cases check exit codes (0 ok/exists, 1 refused or no
 * server, 2 usage), the human text, and --json documents read with
 * /usr/bin/python3's json module (a malformed document fails the check),
 * and --csv rows.
 *
 * Cases:
 *   help             every subcommand's --help (exit 0, its synopsis, the
 *                    id rule, the common options, --csv where it applies);
 *   usage_errors     bad usage exits 2 without a server;
 *   values_text      euros, named ids (SHA-256 computed here independently),
 *                    relative times, dates, fiscal bases, policies, classes,
 *                    category lists, one sentence per welfare result;
 *   enum_numbers     the wire's welfare enums carry welfare.h's numbers and
 *                    names (and Result the core's welfare refusals);
 *   not_running      no server: exit 1 and a JSON error;
 *   registry         rules load of data/welfare-rules.csv, a malformed rules
 *                    file (FILE:LINE:, nothing sent), category set/list,
 *                    cap set, funder/provider/employee/plan create with
 *                    exists and refusals, cap-class;
 *   money            fund, bulk grant from a file (and its rerun), purchase,
 *                    the fringe cap to the cent, hold + capture, void,
 *                    refund, reimburse with a receipt file (the same receipt
 *                    refused again, also by --receipt-sha256), payout,
 *                    wallet (--json, --movements --csv), the three
 *                    statements in --json and --csv with every figure
 *                    checked, and the same wallet after a restart;
 *   sweep_offboard   a plan that ends in 3 s: sweep refused before, done
 *                    after (report), exists on retry; offboarding with a
 *                    hold voided; what is refused afterwards;
 *   protocol         request shapes the server refuses with a status
 *                    (empty and oversized grants, a receipt hash that is not
 *                    32 bytes, negative enums, long names, bad movement
 *                    limits, unknown funders), raw core transfers touching
 *                    welfare accounts, lookups and the fringe-cap query;
 *   statement_pages  with --frame-size-max 1024 a funder statement page
 *                    fits the limit, says more follow, and paging (by hand
 *                    and by the CLI) returns every employee once;
 *   frame_grant_max  the largest grant (16,384 entries, every field at its
 *                    maximum) fits the default frame size and survives
 *                    encode -> parse -> decode.
 */
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "convert.h"
#include "server_fixture.h"
#include "welfare_cli.h"

enum {
    OUTPUT_SIZE_MAX = 4 << 20,
    TOOL_TIMEOUT_MS = 120000,
    TOOL_ARGS_MAX = 40,
    PAGED_EMPLOYEES = 12,
    SWEEP_PLAN_SECONDS = 3,
};

/* ------------------------------------------------------------------------ */
/* Running the tool                                                         */

typedef struct run {
    int exit_code; /* -1 when it did not exit normally */
    char *out;
    char *err;
} run_t;

static run_t run_buffers;
static char case_dir[PATH_MAX];

static const char *env_required(const char *name) {
    const char *value = getenv(name);
    if (value == NULL || value[0] == '\0') {
        printf("# $%s is not set (meson sets it)\nBail out!\n", name);
        exit(1);
    }
    return value;
}

/* Runs argv with stdout and stderr to files; returns the wait status, or
 * -1 when it did not end within TOOL_TIMEOUT_MS. */
static int process_run(char *const *argv, const char *out_path, const char *err_path) {
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (out < 0 || err < 0 || null < 0) _exit(126);
        dup2(out, STDOUT_FILENO), dup2(err, STDERR_FILENO), dup2(null, STDIN_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    uint64_t deadline = now_us() + TOOL_TIMEOUT_MS * UINT64_C(1000);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_us() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(2);
    }
    return status;
}

/* Runs `borsellino ARGS...` (NULL-terminated), with --addr of `server`
 * when it is not NULL. The run is valid until the next call. */
static run_t *tool_run(const server_t *server, const char *const *args) {
    char *argv[TOOL_ARGS_MAX + 4];
    char address[32];
    int count = 0;
    argv[count++] = (char *)env_required("BORSELLINO");
    for (int i = 0; args[i] != NULL; i++) {
        TEST_REQUIRE(count < TOOL_ARGS_MAX);
        argv[count++] = (char *)args[i];
    }
    if (server != NULL) {
        snprintf(address, sizeof address, "127.0.0.1:%u", server->port);
        argv[count++] = "--addr";
        argv[count++] = address;
    }
    argv[count] = NULL;
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/stdout", case_dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", case_dir);
    int status = process_run(argv, out_path, err_path);
    run_buffers.exit_code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    file_read(out_path, run_buffers.out, OUTPUT_SIZE_MAX);
    file_read(err_path, run_buffers.err, OUTPUT_SIZE_MAX);
    return &run_buffers;
}

#define TOOL(server, ...) tool_run((server), (const char *const[]){__VA_ARGS__, NULL})

/* Prints `text` (up to 3,000 bytes) as TAP diagnostics: "# " before
 * every line, so that no line of it can pass for a TAP line. */
static void diagnostic_text(const char *label, const char *text) {
    printf("# %s:\n", label);
    size_t left = 3000;
    while (*text != '\0' && left > 0) {
        size_t length = strcspn(text, "\n");
        if (length > left) length = left;
        printf("#   %.*s\n", (int)length, text);
        left -= length;
        text += length;
        if (*text == '\n') text++;
    }
}

static void check_contains(const char *file, int line, const char *text, const char *needle) {
    if (strstr(text, needle) != NULL) return;
    test_failures_in_case++;
    printf("# %s:%d: expected to find:\n", file, line);
    diagnostic_text("this", needle);
    diagnostic_text("in", text);
}

static void check_exit(const char *file, int line, const run_t *run, int expected) {
    if (run->exit_code == expected) return;
    test_failures_in_case++;
    printf("# %s:%d: exit %d, expected %d\n", file, line, run->exit_code, expected);
    diagnostic_text("stdout", run->out);
    diagnostic_text("stderr", run->err);
}

#define CHECK_CONTAINS(text, needle) check_contains(__FILE__, __LINE__, (text), (needle))
#define CHECK_EXIT(run, expected) check_exit(__FILE__, __LINE__, (run), (expected))

static void file_write(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    TEST_REQUIRE(file != NULL);
    fputs(text, file);
    TEST_REQUIRE(fclose(file) == 0);
}

/* A path in the case directory. */
static const char *case_path(const char *name) {
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", case_dir, name);
    return path;
}

/* ------------------------------------------------------------------------ */
/* JSON, read by python3                                                    */

static char json_answer[4096];

/*
 * Evaluates `expression` (Python, over the document as `d`) on the JSON
 * text; returns what it prints, without the line end, or NULL (a failed
 * check) when the text is not one JSON document or the expression fails.
 */
static const char *json_eval(const char *json, const char *expression) {
    static const char python[] = "/usr/bin/python3";
    TEST_REQUIRE(access(python, X_OK) == 0);
    char document[PATH_MAX + 32], out[PATH_MAX + 32], err[PATH_MAX + 32];
    snprintf(document, sizeof document, "%s/document.json", case_dir);
    snprintf(out, sizeof out, "%s/json.out", case_dir);
    snprintf(err, sizeof err, "%s/json.err", case_dir);
    file_write(document, json);
    char *argv[] = {(char *)python, "-c",
                    "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))",
                    document, (char *)expression, NULL};
    int status = process_run(argv, out, err);
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        test_failures_in_case++;
        printf("# json: %s failed\n", expression);
        diagnostic_text("on", json);
        return NULL;
    }
    file_read(out, json_answer, sizeof json_answer);
    json_answer[strcspn(json_answer, "\n")] = '\0';
    return json_answer;
}

/* Checks that `expression` evaluates to `expected` (as Python prints it). */
#define CHECK_JSON(json, expression, expected)                                        \
    do {                                                                              \
        const char *json_got_ = json_eval((json), (expression));                      \
        if (json_got_ != NULL && strcmp(json_got_, (expected)) != 0) {                \
            test_failures_in_case++;                                                  \
            printf("# %s:%d: %s = %s, expected %s\n", __FILE__, __LINE__,             \
                   (expression), json_got_, (expected));                              \
        }                                                                             \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Cases' setup                                                             */

/* A case directory without a server. */
static void case_begin(const char *prefix) {
    fixture_tmp_dir_make(prefix, case_dir, sizeof case_dir);
}

static void case_end(void) {
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(case_dir);
    else printf("# files kept in %s\n", case_dir);
}

/* A case's server (extra_args NULL-terminated, or NULL); the tool's files
 * go to its directory. */
static void case_server(server_t *server, const char *prefix, const char *const *extra_args) {
    server_init(server, prefix, extra_args);
    snprintf(case_dir, sizeof case_dir, "%s", server->directory);
    TEST_REQUIRE(server_start(server));
}

static void case_server_end(server_t *server) {
    server_stop(server);
    server_destroy(server);
}

/* The fiscal year of now, as the server will see it. */
static uint32_t year_now(void) {
    return welfare_fiscal_year(cli_now_ns());
}

static const char *year_text(void) {
    static char text[16];
    snprintf(text, sizeof text, "%u", year_now());
    return text;
}

/* Today as YYYY-MM-DD in Italian time, for receipt dates of this year. */
static const char *today_text(void) {
    static char text[48];
    time_t seconds = (time_t)(cli_now_ns() / 1000000000u) + 3600;
    struct tm fields;
    gmtime_r(&seconds, &fields);
    snprintf(text, sizeof text, "%04d-%02d-%02d", fields.tm_year + 1900, fields.tm_mon + 1,
             fields.tm_mday);
    return text;
}

/* Runs a command that must succeed (exit 0). */
#define MUST(server, ...)                                                             \
    do {                                                                              \
        run_t *must_run_ = TOOL((server), __VA_ARGS__);                               \
        CHECK_EXIT(must_run_, 0);                                                     \
    } while (0)

/*
 * The world the money cases start from: the shipped rules; this fiscal
 * year's fringe cap 150.00 (standard) / 300.00 (with children); funder
 * acme funded with 5,000.00; provider shop (fee 2.5%, categories
 * 1,2,9,10); employees alice and bob of acme; plan main (categories
 * 1,2,9,10, from now for 30 days, back to the funder at the end).
 */
static void world_make(const server_t *server) {
    MUST(server, "welfare", "rules", "load", env_required("BORSELLINO_WELFARE_RULES"));
    MUST(server, "welfare", "cap", "set", "--year", year_text(), "--standard", "150.00",
         "--with-children", "300");
    MUST(server, "welfare", "funder", "create", "--id", "acme");
    MUST(server, "welfare", "provider", "create", "--id", "shop", "--fee-bps", "250",
         "--categories", "1,2,9,10");
    MUST(server, "welfare", "employee", "create", "--id", "alice", "--funder", "acme");
    MUST(server, "welfare", "employee", "create", "--id", "bob", "--funder", "acme");
    MUST(server, "welfare", "plan", "create", "--id", "main", "--funder", "acme", "--from", "now",
         "--until", "+30d", "--categories", "1,2,9,10", "--expiry", "back-to-funder");
    MUST(server, "welfare", "fund", "--funder", "acme", "--amount", "5000.00", "--id", "fund-1");
}

/* The id a name stands for, in decimal (as JSON prints ids). */
static const char *id_decimal(const char *name) {
    static char text[2][CLI_U128_TEXT_SIZE];
    static int which;
    ledger_u128_t id;
    TEST_REQUIRE(cli_parse_named_id(name, &id));
    which = 1 - which;
    cli_format_u128(id, text[which]);
    return text[which];
}

/* ------------------------------------------------------------------------ */
/* help_and_usage                                                           */

static const char *const subcommands[][2] = {
    {"category", "set"}, {"category", "list"},     {"cap", "set"},
    {"rules", "load"},   {"funder", "create"},     {"provider", "create"},
    {"employee", "create"}, {"employee", "cap-class"}, {"plan", "create"},
    {"fund", NULL},      {"grant", NULL},          {"purchase", NULL},
    {"capture", NULL},   {"void", NULL},           {"refund", NULL},
    {"reimburse", NULL}, {"sweep", NULL},          {"offboard", NULL},
    {"payout", NULL},    {"wallet", NULL},         {"statement", "funder"},
    {"statement", "provider"}, {"statement", "employee"},
};

static void test_help(void) {
    case_begin("welfare-cli-help");
    run_t *run = TOOL(NULL, "--help");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "welfare");
    run = TOOL(NULL, "welfare", "--help");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "first 16 bytes of its SHA-256");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        char words[64];
        snprintf(words, sizeof words, "%s%s%s", subcommands[i][0], subcommands[i][1] ? " " : "",
                 subcommands[i][1] ? subcommands[i][1] : "");
        CHECK_CONTAINS(run->out, words);
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++) {
        const char *first = subcommands[i][0], *second = subcommands[i][1];
        run = second ? TOOL(NULL, "welfare", first, second, "--help")
                     : TOOL(NULL, "welfare", first, "--help");
        CHECK_EXIT(run, 0);
        char synopsis[96];
        snprintf(synopsis, sizeof synopsis, "usage: borsellino welfare %s%s%s", first,
                 second ? " " : "", second ? second : "");
        CHECK_CONTAINS(run->out, synopsis);
        CHECK_CONTAINS(run->out, "--addr HOST:PORT");
        CHECK_CONTAINS(run->out, "--json");
        CHECK_CONTAINS(run->out, "SHA-256");
        bool csv = strcmp(first, "wallet") == 0 || strcmp(first, "statement") == 0;
        TEST_CHECK((strstr(run->out, "--csv") != NULL) == csv);
    }
    run = TOOL(NULL, "welfare", "plan", "create", "--help");
    CHECK_CONTAINS(run->out, "+30d");
    run = TOOL(NULL, "welfare", "rules", "load", "--help");
    CHECK_CONTAINS(run->out, "cap,YEAR,STANDARD,WITH_CHILDREN");
    case_end();
}

/* Usage errors: exit 2 and a sentence, before any connection (no server
 * runs). */
static void usage_errors_check(void) {
    run_t *run = NULL;
    const char *const usage_errors[][20] = {
        {"welfare", NULL},
        {"welfare", "nosuch", NULL},
        {"welfare", "category", "frobnicate", NULL},
        {"welfare", "fund", "--funder", "acme", NULL},
        {"welfare", "fund", "--funder", "acme", "--amount", "1.234", NULL},
        {"welfare", "fund", "--funder", "acme", "--amount", "-1", NULL},
        {"welfare", "fund", "--funder", "acme", "--amount", "1", "--amount", "2", NULL},
        {"welfare", "fund", "--funder", "0xzz", "--amount", "1", NULL},
        {"welfare", "plan", "create", "--id", "p", "--funder", "f", "--from", "soon", "--until",
         "+1d", "--categories", "1", "--expiry", "forfeit", NULL},
        {"welfare", "provider", "create", "--id", "p", "--fee-bps", "1", "--categories", "0,64",
         NULL},
        {"welfare", "plan", "create", "--id", "p", "--funder", "f", "--from", "now", "--until",
         "+1d", "--categories", "1", "--expiry", "never", NULL},
        {"welfare", "wallet", "--employee", "a", "--csv", "--json", NULL},
        {"welfare", "grant", "--plan", "p", "--employee", "a", "--amount", "1", "--file", "x",
         NULL},
        {"welfare", "grant", "--plan", "p", "--employee", "a", NULL},
        {"welfare", "reimburse", "--employee", "a", "--category", "1", "--amount", "1",
         "--receipt-amount", "1", "--receipt-date", "2025-02-30", "--receipt-sha256", "00", NULL},
        {"welfare", "employee", "cap-class", "--id", "a", "--year", "2026", "sometimes", NULL},
        {"welfare", "employee", "cap-class", "--id", "a", "--year", "2026", NULL},
        {"welfare", "category", "list", "extra", NULL},
        {"welfare", "fund", "--csv", "--funder", "a", "--amount", "1", NULL},
        {"welfare", "purchase", "--employee", "a", "--provider", "b", "--category", "1",
         "--amount", "1", "--hold", "0", NULL},
    };
    for (size_t i = 0; i < sizeof usage_errors / sizeof usage_errors[0]; i++) {
        run = tool_run(NULL, usage_errors[i]);
        if (run->exit_code != 2) printf("# usage error case %zu (%s %s)\n", i, usage_errors[i][1],
                                        usage_errors[i][2] ? usage_errors[i][2] : "");
        CHECK_EXIT(run, 2);
        TEST_CHECK(run->err[0] != '\0');
    }
    run = TOOL(NULL, "welfare", "reimburse", "--employee", "a", "--category", "1", "--amount", "1",
               "--receipt-amount", "1", "--receipt-date", "2024-02-29", NULL);
    CHECK_EXIT(run, 2);
    CHECK_CONTAINS(run->err, "--receipt-file or --receipt-sha256");
}

static void test_usage_errors(void) {
    case_begin("welfare-cli-usage");
    usage_errors_check();
    case_end();
}

/* ------------------------------------------------------------------------ */
/* values_text                                                              */

static void values_euros(void) {
    uint64_t cents = 0;
    char text[CLI_EUROS_TEXT_SIZE];
    TEST_CHECK(cli_parse_euros("258.23", &cents) && cents == 25823);
    TEST_CHECK(cli_parse_euros("1000", &cents) && cents == 100000);
    TEST_CHECK(cli_parse_euros("0.5", &cents) && cents == 50);
    TEST_CHECK(cli_parse_euros("0.05", &cents) && cents == 5);
    TEST_CHECK(cli_parse_euros("184467440737095516.15", &cents) && cents == UINT64_MAX);
    TEST_CHECK(!cli_parse_euros("184467440737095516.16", &cents));
    const char *bad[] = {"", ".5", "1.", "1.234", "-1", "1,5", "1e3", "0x10", " 1", "1 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) TEST_CHECK(!cli_parse_euros(bad[i], &cents));
    cli_format_euros(25823, text);
    TEST_CHECK(strcmp(text, "258.23") == 0);
    cli_format_euros(5, text);
    TEST_CHECK(strcmp(text, "0.05") == 0);
    cli_format_euros(UINT64_MAX, text);
    TEST_CHECK(strcmp(text, "184467440737095516.15") == 0);
    for (uint64_t value = 0; value < 100000; value += 997) {
        cli_format_euros(value, text);
        TEST_CHECK(cli_parse_euros(text, &cents) && cents == value);
    }

}

/* Named ids: the first 16 bytes of SHA-256, computed here with EVP. */
static void values_ids(void) {
    ledger_u128_t id;
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    TEST_REQUIRE(EVP_Digest("alice", 5, digest, &size, EVP_sha256(), NULL) == 1);
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) hi = (hi << 8) | digest[i], lo = (lo << 8) | digest[8 + i];
    TEST_CHECK(cli_parse_named_id("alice", &id) && id.hi == hi && id.lo == lo);
    TEST_CHECK(cli_parse_named_id("42", &id) && id.hi == 0 && id.lo == 42);
    TEST_CHECK(cli_parse_named_id("0x10", &id) && id.hi == 0 && id.lo == 16);
    TEST_CHECK(cli_parse_named_id("12a", &id) && id.hi != 0);
    TEST_CHECK(!cli_parse_named_id("", &id) && !cli_parse_named_id("0xzz", &id));
    TEST_CHECK(!cli_parse_named_id("340282366920938463463374607431768211456", &id));

}

static void values_times(void) {
    uint64_t ns = 0, now = UINT64_C(1800000000) * 1000000000u;
    TEST_CHECK(cli_parse_time("now", now, &ns) && ns == now);
    TEST_CHECK(cli_parse_time("+30d", now, &ns) && ns == now + UINT64_C(30) * 86400 * 1000000000u);
    TEST_CHECK(cli_parse_time("+10s", now, &ns) && ns == now + UINT64_C(10) * 1000000000u);
    TEST_CHECK(cli_parse_time("+2h", now, &ns) && ns == now + UINT64_C(7200) * 1000000000u);
    TEST_CHECK(cli_parse_time("+5m", now, &ns) && ns == now + UINT64_C(300) * 1000000000u);
    TEST_CHECK(cli_parse_time("2026-12-31T23:00:00Z", now, &ns) &&
               ns == UINT64_C(1798758000) * 1000000000u);
    TEST_CHECK(!cli_parse_time("+10", now, &ns) && !cli_parse_time("+d", now, &ns));
    TEST_CHECK(!cli_parse_time("+10w", now, &ns) && !cli_parse_time("later", now, &ns));
    TEST_CHECK(!cli_parse_time("+99999999999999d", now, &ns));
    uint32_t date = 0;
    TEST_CHECK(cli_parse_date("2024-02-29", &date) && date == 20240229);
    TEST_CHECK(cli_parse_date("2000-02-29", &date) && date == 20000229);
    TEST_CHECK(!cli_parse_date("2100-02-29", &date) && !cli_parse_date("2025-02-29", &date));
    TEST_CHECK(!cli_parse_date("2025-04-31", &date) && !cli_parse_date("2025-13-01", &date));
    TEST_CHECK(!cli_parse_date("2025-1-01", &date) && !cli_parse_date("2025-01-01x", &date));

}

/* Welfare names: every name parses back to its number. */
static void values_names(void) {
    uint32_t value = 0;
    for (uint32_t basis = WELFARE_BASIS_F; basis < WELFARE_BASIS_COUNT; basis++) {
        TEST_CHECK(cli_welfare_basis_parse(cli_welfare_basis_name(basis), &value) && value == basis);
    }
    TEST_CHECK(cli_welfare_basis_parse("f-bis", &value) && value == WELFARE_BASIS_F_BIS);
    TEST_CHECK(!cli_welfare_basis_parse("g", &value) && strcmp(cli_welfare_basis_name(0), "?") == 0);
    for (uint32_t policy = WELFARE_EXPIRY_BACK_TO_FUNDER; policy <= WELFARE_EXPIRY_CARRY_OVER; policy++) {
        TEST_CHECK(cli_welfare_expiry_parse(cli_welfare_expiry_name(policy), &value) && value == policy);
    }
    TEST_CHECK(cli_welfare_cap_class_parse("with-children", &value) &&
               value == WELFARE_CAP_WITH_CHILDREN);
    TEST_CHECK(strcmp(cli_welfare_cap_class_name(WELFARE_CAP_STANDARD), "standard") == 0);
    for (uint32_t posting = 1; posting <= WELFARE_POSTING_CODE_MAX; posting++) {
        TEST_CHECK(strcmp(cli_welfare_posting_name(posting), "?") != 0);
    }
    uint64_t mask = 0;
    char categories[CLI_WELFARE_CATEGORIES_TEXT_SIZE];
    TEST_CHECK(cli_welfare_categories_parse("1,2,9", &mask) && mask == 0x206);
    TEST_CHECK(cli_welfare_categories_parse("63|1", &mask) && mask == (UINT64_C(1) << 63 | 2));
    cli_welfare_categories_format(mask, categories);
    TEST_CHECK(strcmp(categories, "1,63") == 0);
    TEST_CHECK(!cli_welfare_categories_parse("0", &mask) && !cli_welfare_categories_parse("64", &mask));
    TEST_CHECK(!cli_welfare_categories_parse("1,1", &mask) && !cli_welfare_categories_parse("", &mask));
    TEST_CHECK(!cli_welfare_categories_parse("1,", &mask) && !cli_welfare_categories_parse("100", &mask));
    cli_welfare_categories_format(0, categories);
    TEST_CHECK(strcmp(categories, "-") == 0);
}

static void values_results(void) {
    for (uint32_t result = 0; result < WELFARE_RESULT_CODE_COUNT; result++) {
        TEST_CHECK(strcmp(welfare_result_name(result), "unknown") != 0);
        TEST_CHECK(strstr(cli_welfare_result_message(result), "does not know") == NULL);
        TEST_CHECK(cli_welfare_result_succeeded(result) ==
                   (result == WELFARE_RESULT_OK || result == WELFARE_RESULT_EXISTS));
    }
    TEST_CHECK(strstr(cli_welfare_result_message(WELFARE_RESULT_CODE_COUNT), "does not know") != NULL);
    for (uint32_t result = LEDGER_RESULT_ID_RESERVED; result < LEDGER_RESULT_CODE_COUNT; result++) {
        TEST_CHECK(strstr(cli_result_message(result), "does not know") == NULL);
    }
}

static void test_values_text(void) {
    values_euros();
    values_ids();
    values_times();
    values_names();
    values_results();
}

/* ------------------------------------------------------------------------ */
/* enum_numbers                                                             */

/* Whether a wire enum name ("WELFARE_RESULT_FRINGE_CAP_EXCEEDED", prefix
 * "WELFARE_RESULT_") names the same thing as a snake_case name
 * ("fringe_cap_exceeded"). */
static bool enum_name_same(const char *wire, const char *prefix, const char *name) {
    if (strncmp(wire, prefix, strlen(prefix)) != 0) return false;
    wire += strlen(prefix);
    if (strlen(wire) != strlen(name)) return false;
    for (size_t c = 0; name[c] != '\0'; c++) {
        char lower = wire[c] >= 'A' && wire[c] <= 'Z' ? (char)(wire[c] - 'A' + 'a') : wire[c];
        bool dash = name[c] == '-' && wire[c] == '_';
        if (lower != name[c] && !dash) return false;
    }
    return true;
}

/* The wire enums carry welfare.h's numbers, name by name. */
static void test_enum_numbers(void) {
    const ProtobufCEnumDescriptor *results = &borsellino__v1__welfare_result__descriptor;
    TEST_CHECK_EQ(results->n_values, WELFARE_RESULT_CODE_COUNT);
    TEST_CHECK_EQ(BORSELLINO__V1__WELFARE_RESULT__WELFARE_RESULT_TOO_MANY_POTS_FOR_SPLIT + 1,
                  WELFARE_RESULT_CODE_COUNT);
    for (unsigned i = 0; i < results->n_values; i++) {
        const ProtobufCEnumValue *value = &results->values[i];
        const char *name = welfare_result_name((uint32_t)value->value);
        bool same = enum_name_same(value->name, "WELFARE_RESULT_", name);
        if (!same) printf("# result %d: wire %s, ledger %s\n", value->value, value->name, name);
        TEST_CHECK(same);
    }
    const ProtobufCEnumDescriptor *bases = &borsellino__v1__welfare_fiscal_basis__descriptor;
    TEST_CHECK_EQ(bases->n_values, WELFARE_BASIS_COUNT);
    for (unsigned i = 1; i < bases->n_values; i++) {
        const ProtobufCEnumValue *value = &bases->values[i];
        TEST_CHECK(enum_name_same(value->name, "WELFARE_BASIS_",
                                  cli_welfare_basis_name((uint32_t)value->value)));
    }
    const ProtobufCEnumDescriptor *policies = &borsellino__v1__welfare_expiry_policy__descriptor;
    TEST_CHECK_EQ(policies->n_values, WELFARE_EXPIRY_CARRY_OVER + 1);
    for (unsigned i = 1; i < policies->n_values; i++) {
        const ProtobufCEnumValue *value = &policies->values[i];
        TEST_CHECK(enum_name_same(value->name, "WELFARE_EXPIRY_",
                                  cli_welfare_expiry_name((uint32_t)value->value)));
    }
    const ProtobufCEnumDescriptor *postings = &borsellino__v1__welfare_posting__descriptor;
    TEST_CHECK_EQ(postings->n_values, WELFARE_POSTING_CODE_MAX + 1);
    for (unsigned i = 1; i < postings->n_values; i++) {
        const ProtobufCEnumValue *value = &postings->values[i];
        TEST_CHECK(enum_name_same(value->name, "WELFARE_POSTING_",
                                  cli_welfare_posting_name((uint32_t)value->value)));
    }
    TEST_CHECK_EQ(BORSELLINO__V1__WELFARE_FUNDER_KIND__WELFARE_FUNDER_COMPANY, WELFARE_FUNDER_COMPANY);
    TEST_CHECK_EQ(BORSELLINO__V1__WELFARE_FUNDER_KIND__WELFARE_FUNDER_PUBLIC, WELFARE_FUNDER_PUBLIC);
    TEST_CHECK_EQ(BORSELLINO__V1__WELFARE_CAP_CLASS__WELFARE_CAP_STANDARD, WELFARE_CAP_STANDARD);
    TEST_CHECK_EQ(BORSELLINO__V1__WELFARE_CAP_CLASS__WELFARE_CAP_WITH_CHILDREN,
                  WELFARE_CAP_WITH_CHILDREN);
    TEST_CHECK_EQ(BORSELLINO__V1__WELFARE_PLAN_FLAGS__WELFARE_PLAN_SPLIT_ALLOWED,
                  WELFARE_PLAN_SPLIT_ALLOWED);
    /* The core's refusals of welfare money, in the wire's Result. */
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_ID_RESERVED, LEDGER_RESULT_ID_RESERVED);
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_WELFARE_ACCOUNT_RESERVED,
                  LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_WELFARE_CASH_OUT_FORBIDDEN,
                  LEDGER_RESULT_WELFARE_CASH_OUT_FORBIDDEN);
    TEST_CHECK_EQ(BORSELLINO__V1__RESULT__RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN,
                  LEDGER_RESULT_WELFARE_TRANSFER_BETWEEN_EMPLOYEES_FORBIDDEN);
}

/* ------------------------------------------------------------------------ */
/* not_running                                                              */

static void test_not_running(void) {
    case_begin("welfare-cli-not-running");
    server_t nobody;
    memset(&nobody, 0, sizeof nobody);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in bound = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof bound;
    TEST_REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&bound, sizeof bound) == 0);
    TEST_REQUIRE(getsockname(fd, (struct sockaddr *)&bound, &length) == 0);
    close(fd);
    nobody.port = ntohs(bound.sin_port);
    run_t *run = TOOL(&nobody, "welfare", "fund", "--funder", "acme", "--amount", "1", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "d['error']", "server_not_running");
    CHECK_CONTAINS(run->err, "no borsellino server is running");
    run = TOOL(&nobody, "welfare", "statement", "funder", "--funder", "acme", "--csv");
    CHECK_EXIT(run, 1);
    TEST_CHECK(run->out[0] == '\0');
    case_end();
}

/* ------------------------------------------------------------------------ */
/* registry                                                                 */

/* rules load of the shipped file, category list, a malformed file. */
static void registry_rules(const server_t *server) {
    const char *rules = env_required("BORSELLINO_WELFARE_RULES");
    run_t *run = TOOL(server, "welfare", "rules", "load", rules);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "category 9 shopping-vouchers: ok");
    CHECK_CONTAINS(run->out, "15 rules: 15 ok, 0 already existed, 0 refused");
    run = TOOL(server, "welfare", "rules", "load", rules, "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['rules'], d['ok'], d['refused'])", "(15, 15, 0)");
    CHECK_JSON(run->out, "[r['key'] for r in d['results'] if r['rule'] == 'cap']",
               "[0, 2024, 2025, 2026, 2027]");

    run = TOOL(server, "welfare", "category", "list", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "len(d['categories'])", "10");
    CHECK_JSON(run->out, "[(c['basis'], c['reimbursable'], c['name']) for c in d['categories'] "
                         "if c['id'] in (1, 5, 7, 9, 10)]",
               "[('f-bis', True, 'education'), ('f-quater', False, 'long-term-care-insurance'), "
               "('f', False, 'recreation-and-culture'), ('fringe', False, 'shopping-vouchers'), "
               "('fringe', True, 'utilities')]");
    char address[32];
    snprintf(address, sizeof address, "127.0.0.1:%u", server->port);
    run = TOOL(NULL, "welfare", "category", "list", "--address", address);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "ID  BASIS     KIND          NAME\n");
    CHECK_CONTAINS(run->out, "6   d-bis     reimbursable  public-transport\n");

    /* A malformed rules file: FILE:LINE, nothing sent. */
    file_write(case_path("bad-rules.csv"),
               "# new catalog\ncategory,11,f-bis,nursery,reimbursable\n\ncap,2030,1.2.3,5\n");
    run = TOOL(server, "welfare", "rules", "load", case_path("bad-rules.csv"));
    CHECK_EXIT(run, 1);
    char expected[PATH_MAX + 128];
    snprintf(expected, sizeof expected, "%s:4: amounts are euros", case_path("bad-rules.csv"));
    CHECK_CONTAINS(run->err, expected);
    CHECK_CONTAINS(run->err, "nothing was sent");
    file_write(case_path("bad-rules.csv"), "category,11,f-ter,ok,in-kind\nfee,1,2\n");
    run = TOOL(server, "welfare", "rules", "load", case_path("bad-rules.csv"));
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, ":2: unknown rule");
    run = TOOL(server, "welfare", "category", "list", "--json");
    CHECK_JSON(run->out, "len(d['categories'])", "10");

}

/* category set and cap set, with refusals and the server's detail. */
static void registry_catalog(const server_t *server) {
    run_t *run = TOOL(server, "welfare", "category", "set", "--id", "11", "--basis", "f-ter", "--name",
               "home-care", "--reimbursable");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "category 11 (home-care): ok");
    run = TOOL(server, "welfare", "category", "set", "--id", "12", "--basis", "f", "--name",
               "gym", "--reimbursable", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "(d['operation'], d['result'], len(d['detail']) > 0)",
               "('category set', 'invalid_field', True)");
    CHECK_CONTAINS(run->err, "refused: invalid_field");
    run = TOOL(server, "welfare", "category", "set", "--id", "64", "--basis", "f", "--name", "x");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: invalid_field");
    run = TOOL(server, "welfare", "category", "list", "--json");
    CHECK_JSON(run->out, "[c['name'] for c in d['categories'] if c['id'] >= 11]", "['home-care']");

    /* cap set */
    run = TOOL(server, "welfare", "cap", "set", "--year", "2030", "--standard", "500",
               "--with-children", "400");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: invalid_field");
    run = TOOL(server, "welfare", "cap", "set", "--year", "2030", "--standard", "500",
               "--with-children", "900.50", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['operation'], d['id'], d['result'])", "('cap set', '2030', 'ok')");

}

/* Funders, providers, employees: ok, exists, conflicts, refusals. */
static void registry_entities(const server_t *server) {
    run_t *run = TOOL(server, "welfare", "funder", "create", "--id", "acme");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "funder acme: ok");
    run = TOOL(server, "welfare", "funder", "create", "--id", "acme", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['operation'], d['result'])", "('funder create', 'exists')");
    CHECK_JSON(run->out, "d['id']", id_decimal("acme"));
    run = TOOL(server, "welfare", "funder", "create", "--id", "acme", "--public");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: exists_with_different_fields");
    MUST(server, "welfare", "funder", "create", "--id", "comune", "--public");
    run = TOOL(server, "welfare", "provider", "create", "--id", "coop", "--fee-bps", "300",
               "--categories", "4,11");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "welfare", "provider", "create", "--id", "nocat", "--fee-bps", "300",
               "--categories", "40");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: category_not_found");
    run = TOOL(server, "welfare", "provider", "create", "--id", "greedy", "--fee-bps", "10001",
               "--categories", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: invalid_field");
    run = TOOL(server, "welfare", "employee", "create", "--id", "alice", "--funder", "acme");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "welfare", "employee", "create", "--id", "zed", "--funder", "nobody");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: funder_not_found");
    run = TOOL(server, "welfare", "employee", "cap-class", "--id", "alice", "--year", "2026",
               "with-children");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "welfare", "employee", "cap-class", "--id", "nobody", "--year", "2026",
               "standard");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: employee_not_found");

}

/* Plans: ok, exists, a carry-over chain, refusals. */
static void registry_plans(const server_t *server) {
    run_t *run = TOOL(server, "welfare", "plan", "create", "--id", "2027", "--funder", "acme", "--from",
               "2027-01-01", "--until", "2028-01-01", "--categories", "1,2,9", "--expiry", "forfeit");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "welfare", "plan", "create", "--id", "2026", "--funder", "acme", "--from",
               "2026-01-01T00:00:00Z", "--until", "2027-01-01", "--categories", "1,2,9",
               "--expiry", "carry-over", "--next-plan", "2027", "--split", "--grant-limit",
               "1500.00");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "welfare", "plan", "create", "--id", "2026", "--funder", "acme", "--from",
               "2026-01-01T00:00:00Z", "--until", "2027-01-01", "--categories", "1,2,9",
               "--expiry", "carry-over", "--next-plan", "2027", "--split", "--grant-limit",
               "1500.00", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "d['result']", "exists");
    run = TOOL(server, "welfare", "plan", "create", "--id", "bad", "--funder", "acme", "--from",
               "now", "--until", "+1d", "--categories", "1", "--expiry", "carry-over",
               "--next-plan", "missing");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: next_plan_invalid");
    run = TOOL(server, "welfare", "plan", "create", "--id", "bad", "--funder", "acme", "--from",
               "+1d", "--until", "now", "--categories", "1", "--expiry", "forfeit");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: invalid_field");
    run = TOOL(server, "welfare", "plan", "create", "--id", "bad", "--funder", "acme", "--from",
               "now", "--until", "+1d", "--categories", "30", "--expiry", "forfeit");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: category_not_found");
}

static void test_registry(void) {
    server_t server;
    case_server(&server, "welfare-cli-registry", NULL);
    registry_rules(&server);
    registry_catalog(&server);
    registry_entities(&server);
    registry_plans(&server);
    case_server_end(&server);
}

/* ------------------------------------------------------------------------ */
/* money                                                                    */

/* Bulk grant from a file, and its rerun with the same id. */
static void money_grant(const server_t *server) {
    file_write(case_path("grant.csv"),
               "employee_id,amount\n# the first grant of the year\nalice,600.00\n\n"
               "bob, 300.50\ncarol,10\n");
    run_t *run = TOOL(server, "welfare", "grant", "--plan", "main", "--file", case_path("grant.csv"),
                      "--id", "G1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->out, "grant G1 to employee alice");
    CHECK_CONTAINS(run->out, "3 employees: 2 ok, 0 already granted, 1 failed");
    CHECK_CONTAINS(run->err, "line 6: employee carol: refused: employee_not_found");
    run = TOOL(server, "welfare", "grant", "--plan", "main", "--file", case_path("grant.csv"),
               "--id", "G1", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "(d['employees'], d['ok'], d['exists'], d['failed'])", "(3, 0, 2, 1)");
    CHECK_JSON(run->out, "[(r['line'], r['employee'], r['amount'], r['result']) for r in d['results']]",
               "[(3, 'alice', 60000, 'exists'), (5, 'bob', 30050, 'exists'), "
               "(6, 'carol', 1000, 'employee_not_found')]");
    file_write(case_path("bad-grant.csv"), "alice,1\nbob,1.001\n");
    run = TOOL(server, "welfare", "grant", "--plan", "main", "--file", case_path("bad-grant.csv"));
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "bad-grant.csv:2: the amount is not euros");
    /* A grant the funder cannot cover. */
    run = TOOL(server, "welfare", "grant", "--plan", "main", "--employee", "bob", "--amount",
               "100000");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: insufficient_funds");
}

/* Purchases up to the fringe cap to the cent, holds, voids, refunds. */
static void money_spend(const server_t *server) {
    run_t *run = TOOL(server, "welfare", "purchase", "--id", "P1", "--employee", "alice",
                      "--provider", "shop", "--category", "9", "--amount", "100");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "purchase P1 (100.00 EUR, category 9): ok");
    /* The cap of the year is 150.00: 50.01 more is one cent over. */
    run = TOOL(server, "welfare", "purchase", "--employee", "alice", "--provider", "shop",
               "--category", "9", "--amount", "50.01");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: fringe_cap_exceeded");
    MUST(server, "welfare", "purchase", "--id", "P2", "--employee", "alice", "--provider", "shop",
         "--category", "9", "--amount", "50.00");
    MUST(server, "welfare", "employee", "cap-class", "--id", "alice", "--year", year_text(),
         "with-children");
    run = TOOL(server, "welfare", "purchase", "--employee", "alice", "--provider", "shop",
               "--category", "7", "--amount", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: category_not_sold_by_provider");
    /* A hold, partly captured; a second capture is refused. */
    run = TOOL(server, "welfare", "purchase", "--id", "H1", "--employee", "alice", "--provider",
               "shop", "--category", "1", "--amount", "80", "--hold", "3600");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "hold H1 (80.00 EUR, category 1): ok");
    run = TOOL(server, "welfare", "wallet", "--employee", "alice", "--json");
    CHECK_JSON(run->out, "(d['available'], d['held'])", "(37000, 8000)");
    MUST(server, "welfare", "capture", "--purchase", "H1", "--amount", "60", "--id", "C1");
    run = TOOL(server, "welfare", "capture", "--purchase", "H1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: hold_not_pending");
    /* A hold voided; the void again is a safe retry. */
    MUST(server, "welfare", "purchase", "--id", "H2", "--employee", "alice", "--provider", "shop",
         "--category", "2", "--amount", "20", "--hold", "60");
    MUST(server, "welfare", "void", "--purchase", "H2", "--id", "V2");
    run = TOOL(server, "welfare", "void", "--purchase", "H2", "--id", "V2");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "void V2 of purchase H2: exists");
    run = TOOL(server, "welfare", "capture", "--purchase", "H2", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "d['result']", "hold_not_pending");
    /* Refunds: partial, then more than is left. */
    MUST(server, "welfare", "refund", "--purchase", "P1", "--amount", "30", "--id", "R1");
    run = TOOL(server, "welfare", "refund", "--purchase", "P1", "--amount", "70.01");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: refund_exceeds_purchase");
    run = TOOL(server, "welfare", "refund", "--purchase", "H2", "--amount", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: purchase_not_captured");
}

/* Reimbursements against a receipt file, once only. */
static void money_reimburse(const server_t *server) {
    const char *receipt = "Receipt 2026/0042\nUtilities, November\nTotal EUR 30.00\n";
    file_write(case_path("receipt.txt"), receipt);
    run_t *run = TOOL(server, "welfare", "reimburse", "--id", "RB1", "--employee", "alice",
                      "--category", "10", "--amount", "25", "--receipt-amount", "30.00",
                      "--receipt-file", case_path("receipt.txt"), "--receipt-date", today_text());
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "reimbursement RB1 (25.00 EUR, category 10): ok");
    run = TOOL(server, "welfare", "reimburse", "--employee", "alice", "--category", "10",
               "--amount", "5", "--receipt-amount", "30.00", "--receipt-file",
               case_path("receipt.txt"), "--receipt-date", today_text());
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: receipt_already_reimbursed");
    /* The same receipt by its hash, computed here: the CLI hashed the file. */
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    TEST_REQUIRE(EVP_Digest(receipt, strlen(receipt), digest, &size, EVP_sha256(), NULL) == 1);
    char hex[65];
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    run = TOOL(server, "welfare", "reimburse", "--employee", "bob", "--category", "10", "--amount",
               "5", "--receipt-amount", "30.00", "--receipt-sha256", hex, "--receipt-date",
               today_text(), "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "d['result']", "receipt_already_reimbursed");
    file_write(case_path("receipt-2.txt"), "another receipt\n");
    run = TOOL(server, "welfare", "reimburse", "--employee", "alice", "--category", "9",
               "--amount", "5", "--receipt-amount", "30.00", "--receipt-file",
               case_path("receipt-2.txt"), "--receipt-date", today_text());
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: category_not_reimbursable");
    run = TOOL(server, "welfare", "reimburse", "--employee", "alice", "--category", "10",
               "--amount", "30.01", "--receipt-amount", "30.00", "--receipt-file",
               case_path("receipt-2.txt"), "--receipt-date", today_text());
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: amount_exceeds_receipt");
    run = TOOL(server, "welfare", "reimburse", "--employee", "alice", "--category", "10",
               "--amount", "1", "--receipt-amount", "1", "--receipt-file", case_path("nothing"),
               "--receipt-date", today_text());
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "No such file");
}

/*
 * Alice's wallet after money_spend and money_reimburse: granted 600.00;
 * out 100 + 50 (P1, P2) + 60 (C1) + 25 (RB1); back 30 (R1): 395.00.
 */
static void money_wallet(const server_t *server, char *wallet_json, size_t size) {
    run_t *run = TOOL(server, "welfare", "wallet", "--employee", "alice", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['available'], d['held'], d['balance'], d['offboarded'])",
               "(39500, 0, 39500, False)");
    CHECK_JSON(run->out, "d['employee_id']", id_decimal("alice"));
    CHECK_JSON(run->out, "d['funder_id']", id_decimal("acme"));
    CHECK_JSON(run->out, "[(p['granted'], p['categories'], p['expired'], p['closed']) "
                         "for p in d['pots']]",
               "[(60000, [1, 2, 9, 10], False, False)]");
    snprintf(wallet_json, size, "%s", run->out);
    run = TOOL(server, "welfare", "wallet", "--employee", "alice");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "employee alice of funder");
    CHECK_CONTAINS(run->out, "395.00 EUR available, 0.00 EUR held, 1 pots");
    run = TOOL(server, "welfare", "wallet", "--employee", "alice", "--csv");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "plan_id,available,held,balance,granted,valid_from,valid_until,"
                             "categories,state\n");
    CHECK_CONTAINS(run->out, ",395.00,0.00,395.00,600.00,");
    CHECK_CONTAINS(run->out, ",1|2|9|10,open\n");
    run = TOOL(server, "welfare", "wallet", "--employee", "alice", "--movements", "--csv");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "timestamp,operation_id,plan_id,posting,category,amount,held,"
                             "pot_balance_after\n");
    CHECK_CONTAINS(run->out, ",grant,0,600.00,no,600.00\n");
    CHECK_CONTAINS(run->out, ",purchase,9,-100.00,no,500.00\n");
    CHECK_CONTAINS(run->out, ",refund,9,30.00,no,");
    CHECK_CONTAINS(run->out, ",reimbursement,10,-25.00,no,395.00\n");
    run = TOOL(server, "welfare", "wallet", "--employee", "alice", "--movements", "--json");
    CHECK_JSON(run->out, "[m['posting'] for m in d['movements']][0]", "grant");
    CHECK_JSON(run->out, "sum(m['amount'] for m in d['movements'] if not m['held'])", "39500");
    CHECK_JSON(run->out, "d['movements'][-1]['pot_balance_after']", "39500");
    run = TOOL(server, "welfare", "wallet", "--employee", "nobody", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "d['error']", "employee_not_found");
}

/* Payouts: all that is payable, then nothing left. */
static void money_payout(const server_t *server) {
    /* sales 210.00 - refunds 30.00 - (fees 5.25 - fees returned 0.75) */
    run_t *run = TOOL(server, "welfare", "payout", "--provider", "shop", "--id", "PO1",
                      "--reference", "sepa-0001");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "payout PO1 to provider shop: ok\n  paid 175.50 EUR");
    run = TOOL(server, "welfare", "payout", "--provider", "shop", "--id", "PO1", "--reference",
               "sepa-0002", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "d['result']", "exists_with_different_fields");
    run = TOOL(server, "welfare", "payout", "--provider", "shop", "--amount", "0.01");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: payable_insufficient");
    run = TOOL(server, "welfare", "payout", "--provider", "shop", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['result'], d['paid'])", "('ok', 0)");
}

static void money_statements(const server_t *server) {
    run_t *run = TOOL(server, "welfare", "statement", "provider", "--provider", "shop", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "[d[k] for k in ('sales', 'refunds', 'fees', 'fees_returned', 'payouts', "
                         "'payable', 'held')]",
               "[21000, 3000, 525, 75, 17550, 0, 0]");
    CHECK_JSON(run->out, "d['sales'] - d['refunds'] - (d['fees'] - d['fees_returned']) == "
                         "d['payouts'] + d['payable']",
               "True");
    run = TOOL(server, "welfare", "statement", "provider", "--provider", "shop", "--csv");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "item,key,value\nsales,,210.00\nrefunds,,30.00\nfees,,5.25\n"
                             "fees_returned,,0.75\npayouts,,175.50\npayable,,0.00\nheld,,0.00\n");

    run = TOOL(server, "welfare", "statement", "funder", "--funder", "acme", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "[d[k] for k in ('funded', 'granted', 'spent', 'refunded', 'reimbursed', "
                         "'expired_back', 'forfeited', 'carried_over', 'fees', 'fees_returned', "
                         "'funds_balance', 'pots_balance', 'held')]",
               "[500000, 90050, 21000, 3000, 2500, 0, 0, 0, 525, 75, 409950, 69550, 0]");
    CHECK_JSON(run->out, "d['spent_by_category']", "{'1': 6000, '9': 15000}");
    CHECK_JSON(run->out, "sorted((e['balance'], e['held']) for e in d['employees'])",
               "[(30050, 0), (39500, 0)]");
    CHECK_JSON(run->out, "sum(e['balance'] for e in d['employees']) == d['pots_balance']", "True");
    run = TOOL(server, "welfare", "statement", "funder", "--funder", "acme", "--csv");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "item,key,amount,held\nfunded,,5000.00,\ngranted,,900.50,\n"
                             "spent,,210.00,\n");
    CHECK_CONTAINS(run->out, "funds_balance,,4099.50,\npots_balance,,695.50,\nheld,,0.00,\n");
    CHECK_CONTAINS(run->out, "spent_by_category,1,60.00,\nspent_by_category,9,150.00,\n");
    CHECK_CONTAINS(run->out, ",395.00,0.00\n");
    CHECK_CONTAINS(run->out, ",300.50,0.00\n");
    run = TOOL(server, "welfare", "statement", "funder", "--funder", "acme");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "funder acme, from the beginning until now\n");
    CHECK_CONTAINS(run->out, "    category 9");
    CHECK_CONTAINS(run->out, "2 employees\n");
    /* A period that has not begun: no movement in it, balances as now. */
    run = TOOL(server, "welfare", "statement", "funder", "--funder", "acme", "--from", "+1d",
               "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['funded'], d['spent'], d['pots_balance'], len(d['employees']))",
               "(0, 0, 69550, 2)");

    char year_expression[64];
    snprintf(year_expression, sizeof year_expression, "(d['year'], d['cap_class'])");
    run = TOOL(server, "welfare", "statement", "employee", "--employee", "alice", "--year",
               year_text(), "--json");
    CHECK_EXIT(run, 0);
    char expected[64];
    snprintf(expected, sizeof expected, "(%u, 'with-children')", year_now());
    CHECK_JSON(run->out, year_expression, expected);
    CHECK_JSON(run->out, "(d['fringe_cap'], d['fringe_used'])", "(30000, 14500)");
    CHECK_JSON(run->out, "d['spent']", "{'f': 0, 'f-bis': 6000, 'f-ter': 0, 'f-quater': 0, "
                                       "'d-bis': 0, 'fringe': 12000}");
    CHECK_JSON(run->out, "d['reimbursed']['fringe']", "2500");
    run = TOOL(server, "welfare", "statement", "employee", "--employee", "alice", "--year",
               year_text(), "--csv");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "cap_class,,with-children\nfringe_cap,,300.00\nfringe_used,,145.00\n");
    CHECK_CONTAINS(run->out, "spent,f-bis,60.00\n");
    CHECK_CONTAINS(run->out, "reimbursed,fringe,25.00\n");
    run = TOOL(server, "welfare", "statement", "employee", "--employee", "alice", "--year", "1999");
    CHECK_EXIT(run, 1);
    run = TOOL(server, "welfare", "statement", "funder", "--funder", "nobody", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "d['error']", "account_not_found");
}

static void test_money(void) {
    server_t server;
    case_server(&server, "welfare-cli-money", NULL);
    world_make(&server);
    run_t *run = TOOL(&server, "welfare", "fund", "--funder", "acme", "--amount", "5000.00",
                      "--id", "fund-1");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "fund fund-1 (5000.00 EUR to funder acme): exists");
    run = TOOL(&server, "welfare", "fund", "--funder", "nobody", "--amount", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: funder_not_found");
    run = TOOL(&server, "welfare", "fund", "--funder", "acme", "--amount", "0", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out, "(d['result'], len(d['detail']) > 0)", "('invalid_field', True)");
    money_grant(&server);
    money_spend(&server);
    money_reimburse(&server);
    static char wallet_before[1 << 16];
    money_wallet(&server, wallet_before, sizeof wallet_before);
    money_payout(&server);
    money_statements(&server);
    /* Everything acknowledged survives a restart. */
    server_stop(&server);
    TEST_REQUIRE(server_start(&server));
    run = TOOL(&server, "welfare", "wallet", "--employee", "alice", "--json");
    CHECK_EXIT(run, 0);
    TEST_CHECK(strcmp(run->out, wallet_before) == 0);
    run = TOOL(&server, "welfare", "statement", "provider", "--provider", "shop", "--json");
    CHECK_JSON(run->out, "(d['payouts'], d['payable'])", "(17550, 0)");
    case_server_end(&server);
}

/* ------------------------------------------------------------------------ */
/* sweep_offboard                                                           */

static void test_sweep_offboard(void) {
    server_t server;
    case_server(&server, "welfare-cli-sweep", NULL);
    world_make(&server);
    char until[16];
    snprintf(until, sizeof until, "+%ds", SWEEP_PLAN_SECONDS);
    uint64_t created_us = now_us();
    MUST(&server, "welfare", "plan", "create", "--id", "short", "--funder", "acme", "--from", "now",
         "--until", until, "--categories", "9", "--expiry", "forfeit");
    MUST(&server, "welfare", "grant", "--plan", "short", "--employee", "alice", "--amount", "10");
    MUST(&server, "welfare", "grant", "--plan", "short", "--employee", "bob", "--amount", "2.50");
    run_t *run = TOOL(&server, "welfare", "sweep", "--plan", "short");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: plan_not_ended");
    /* Wait until the plan has ended (with a margin for the clocks). */
    uint64_t ended_us = created_us + (SWEEP_PLAN_SECONDS + 1) * UINT64_C(1000000);
    while (now_us() < ended_us) sleep_ms(50);
    run = TOOL(&server, "welfare", "purchase", "--employee", "bob", "--provider", "shop",
               "--category", "9", "--amount", "1");
    CHECK_EXIT(run, 1);
    run = TOOL(&server, "welfare", "sweep", "--plan", "short", "--id", "S1", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['result'], d['report'])",
               "('ok', {'pots_swept': 2, 'holds_voided': 0, 'expired_back': 0, 'forfeited': 1250, "
               "'carried_over': 0})");
    run = TOOL(&server, "welfare", "sweep", "--plan", "short", "--id", "S1");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "sweep S1 of plan short: exists");
    run = TOOL(&server, "welfare", "sweep", "--plan", "short");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "pots swept     0");
    run = TOOL(&server, "welfare", "sweep", "--plan", "nosuch");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: plan_not_found");

    /* Offboarding bob: his open hold is voided, his credit goes back. */
    MUST(&server, "welfare", "grant", "--plan", "main", "--employee", "bob", "--amount", "20");
    MUST(&server, "welfare", "purchase", "--id", "HB", "--employee", "bob", "--provider", "shop",
         "--category", "9", "--amount", "5", "--hold", "3600");
    run = TOOL(&server, "welfare", "offboard", "--employee", "bob", "--id", "OFF1");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "offboard OFF1 of employee bob: ok\n  pots swept     ");
    CHECK_CONTAINS(run->out, "holds voided   1\n  back to funder 20.00 EUR\n");
    run = TOOL(&server, "welfare", "offboard", "--employee", "bob", "--id", "OFF1", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "d['result']", "exists");
    run = TOOL(&server, "welfare", "offboard", "--employee", "bob");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: employee_offboarded");
    run = TOOL(&server, "welfare", "purchase", "--employee", "bob", "--provider", "shop",
               "--category", "9", "--amount", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: pot_closed");
    run = TOOL(&server, "welfare", "grant", "--plan", "main", "--employee", "bob", "--amount", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "refused: pot_closed");
    run = TOOL(&server, "welfare", "wallet", "--employee", "bob", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(d['offboarded'], d['available'], d['held'], d['balance'])",
               "(True, 0, 0, 0)");
    CHECK_JSON(run->out, "sorted(p['closed'] for p in d['pots'])", "[True, True]");
    run = TOOL(&server, "welfare", "statement", "funder", "--funder", "acme", "--json");
    /* 5,000.00 - 10.00 - 2.50 - 20.00 granted + 20.00 back. */
    CHECK_JSON(run->out, "(d['forfeited'], d['expired_back'], d['funds_balance'])",
               "(1250, 2000, 498750)");
    case_server_end(&server);
}

/* ------------------------------------------------------------------------ */
/* protocol                                                                 */

/* Sends `request` on `conn`; returns the response (free it) or NULL. */
static response_t *protocol_call(conn_t *conn, request_t *request) {
    request->request_id = ++conn->request_id_last;
    return exchange(conn, request->request_id, wire_encode(request), &case_failures);
}

/* Expects a status (and a message) for `request`. */
static void protocol_expect_status(conn_t *conn, request_t *request, Borsellino__V1__Status status) {
    response_t *response = protocol_call(conn, request);
    TEST_CHECK(response_expect(response, status, 0, &case_failures));
    if (response != NULL) frame_response_free(response);
}

/* Grants of 0 and of 16,385 entries. */
static void protocol_grant_shapes(conn_t *conn) {
    Borsellino__V1__U128 one = BORSELLINO__V1__U128__INIT;
    one.lo = 1;
    Borsellino__V1__WelfareGrantRequest grant = BORSELLINO__V1__WELFARE_GRANT_REQUEST__INIT;
    grant.id = &one, grant.plan_id = &one;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT;
    request.welfare_grant = &grant;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_BATCH_EMPTY);
    size_t count = WELFARE_GRANT_EMPLOYEES_MAX + 1;
    Borsellino__V1__WelfareGrantEntry *entries = xcalloc(count, sizeof *entries);
    Borsellino__V1__WelfareGrantEntry **pointers = xcalloc(count, sizeof *pointers);
    for (size_t i = 0; i < count; i++) {
        borsellino__v1__welfare_grant_entry__init(&entries[i]);
        entries[i].employee_id = &one;
        entries[i].amount = 1;
        pointers[i] = &entries[i];
    }
    grant.n_entries = count;
    grant.entries = pointers;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_BATCH_TOO_LARGE);
    free(entries);
    free(pointers);
}

/* A receipt hash of 31 bytes; none at all. */
static void protocol_receipt_shapes(conn_t *conn) {
    Borsellino__V1__U128 one = BORSELLINO__V1__U128__INIT;
    one.lo = 1;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    uint8_t hash[31] = {1};
    Borsellino__V1__WelfareReimburseRequest reimburse = BORSELLINO__V1__WELFARE_REIMBURSE_REQUEST__INIT;
    reimburse.id = &one, reimburse.employee_id = &one;
    reimburse.receipt_hash.data = hash;
    reimburse.receipt_hash.len = sizeof hash;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_REIMBURSE;
    request.welfare_reimburse = &reimburse;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST);
    /* No hash at all: the layer's receipt_required. */
    ledger_u128_t alice;
    Borsellino__V1__U128 alice_id;
    TEST_REQUIRE(cli_parse_named_id("alice", &alice));
    convert_u128_to_proto(alice, &alice_id);
    reimburse.employee_id = &alice_id;
    reimburse.receipt_hash.len = 0;
    reimburse.amount = 100, reimburse.receipt_amount = 100, reimburse.category = 10;
    TEST_REQUIRE(cli_parse_date(today_text(), &reimburse.receipt_date));
    response_t *response = protocol_call(conn, &request);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_WELFARE_REIMBURSE, &case_failures)) {
        TEST_CHECK_EQ(response->welfare_reimburse->result,
                      BORSELLINO__V1__WELFARE_RESULT__WELFARE_RESULT_RECEIPT_REQUIRED);
    }
    if (response != NULL) frame_response_free(response);
}

/* Enum numbers that do not fit, a name too long, unknown enum numbers. */
static void protocol_value_shapes(conn_t *conn) {
    Borsellino__V1__U128 one = BORSELLINO__V1__U128__INIT;
    one.lo = 1;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    Borsellino__V1__WelfarePlan plan = BORSELLINO__V1__WELFARE_PLAN__INIT;
    plan.id = &one, plan.funder_id = &one;
    plan.expiry_policy = (Borsellino__V1__WelfareExpiryPolicy)-1;
    Borsellino__V1__WelfareCreatePlanRequest create_plan = BORSELLINO__V1__WELFARE_CREATE_PLAN_REQUEST__INIT;
    create_plan.plan = &plan;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_CREATE_PLAN;
    request.welfare_create_plan = &create_plan;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST);
    /* An unknown (positive) enum number is the layer's to refuse. */
    plan.expiry_policy = (Borsellino__V1__WelfareExpiryPolicy)9;
    response_t *response = protocol_call(conn, &request);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_WELFARE_CREATE_PLAN, &case_failures)) {
        TEST_CHECK(response->welfare_create_plan->result ==
                   BORSELLINO__V1__WELFARE_RESULT__WELFARE_RESULT_INVALID_FIELD);
        TEST_CHECK(response->welfare_create_plan->message[0] != '\0');
    }
    if (response != NULL) frame_response_free(response);

    Borsellino__V1__WelfareCategory category = BORSELLINO__V1__WELFARE_CATEGORY__INIT;
    category.id = 20, category.fiscal_basis = BORSELLINO__V1__WELFARE_FISCAL_BASIS__WELFARE_BASIS_F;
    category.name = "a-name-of-exactly-thirty-two-b!!";
    TEST_CHECK(strlen(category.name) == 32);
    Borsellino__V1__WelfareSetCategoryRequest set = BORSELLINO__V1__WELFARE_SET_CATEGORY_REQUEST__INIT;
    set.category = &category;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_SET_CATEGORY;
    request.welfare_set_category = &set;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST);
    Borsellino__V1__WelfareFringeCapRequest cap = BORSELLINO__V1__WELFARE_FRINGE_CAP_REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FRINGE_CAP;
    request.welfare_fringe_cap = &cap;
    cap.year = 2026;
    cap.cap_class = (Borsellino__V1__WelfareCapClass)-3;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_BAD_REQUEST);
}

/* Movement filters, statements of what does not exist. */
static void protocol_read_shapes(conn_t *conn) {
    Borsellino__V1__U128 one = BORSELLINO__V1__U128__INIT;
    one.lo = 1;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    Borsellino__V1__WelfareMovementsRequest movements = BORSELLINO__V1__WELFARE_MOVEMENTS_REQUEST__INIT;
    movements.employee_id = &one;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_MOVEMENTS;
    request.welfare_movements = &movements;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    movements.limit = WELFARE_MOVEMENTS_MAX + 1;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_INVALID_FILTER);
    movements.limit = 10;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND);

    Borsellino__V1__WelfareFunderStatementRequest statement =
        BORSELLINO__V1__WELFARE_FUNDER_STATEMENT_REQUEST__INIT;
    statement.funder_id = &one;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FUNDER_STATEMENT;
    request.welfare_funder_statement = &statement;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND);
    Borsellino__V1__WelfareAnnualStatementRequest annual =
        BORSELLINO__V1__WELFARE_ANNUAL_STATEMENT_REQUEST__INIT;
    annual.employee_id = &one;
    annual.year = 2026;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_ANNUAL_STATEMENT;
    request.welfare_annual_statement = &annual;
    protocol_expect_status(conn, &request, BORSELLINO__V1__STATUS__STATUS_ACCOUNT_NOT_FOUND);
}

/* The fringe-cap query, and the lookups (found and not). */
static void protocol_queries(conn_t *conn) {
    Borsellino__V1__WelfareFringeCapRequest cap = BORSELLINO__V1__WELFARE_FRINGE_CAP_REQUEST__INIT;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FRINGE_CAP;
    request.welfare_fringe_cap = &cap;
    /* 2024 is a row of the shipped rules (world_make changes only this
     * year's), 2199 has none: the default row. */
    uint32_t years[3] = {2024, 2024, 2199};
    uint64_t caps[3] = {100000, 200000, 25823};
    for (int i = 0; i < 3; i++) {
        cap.year = years[i];
        cap.cap_class = i == 1 ? BORSELLINO__V1__WELFARE_CAP_CLASS__WELFARE_CAP_WITH_CHILDREN
                               : BORSELLINO__V1__WELFARE_CAP_CLASS__WELFARE_CAP_STANDARD;
        response_t *response = protocol_call(conn, &request);
        if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                            BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FRINGE_CAP, &case_failures)) {
            TEST_CHECK_EQ(response->welfare_fringe_cap->cap, caps[i]);
        }
        if (response != NULL) frame_response_free(response);
    }

    ledger_u128_t acme, nobody;
    TEST_REQUIRE(cli_parse_named_id("acme", &acme) && cli_parse_named_id("nobody", &nobody));
    Borsellino__V1__U128 id;
    Borsellino__V1__WelfareLookupFunderRequest lookup = BORSELLINO__V1__WELFARE_LOOKUP_FUNDER_REQUEST__INIT;
    lookup.id = &id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_LOOKUP_FUNDER;
    request.welfare_lookup_funder = &lookup;
    for (int i = 0; i < 2; i++) {
        convert_u128_to_proto(i == 0 ? acme : nobody, &id);
        response_t *response = protocol_call(conn, &request);
        if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                            BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LOOKUP_FUNDER, &case_failures)) {
            const Borsellino__V1__WelfareLookupFunderResponse *found = response->welfare_lookup_funder;
            TEST_CHECK(found->found == (i == 0));
            if (i == 0 && found->funder != NULL) {
                welfare_funder_t funder;
                convert_welfare_funder_from_proto(found->funder, &funder);
                TEST_CHECK(ledger_u128_equal(funder.id, acme));
                TEST_CHECK_EQ(funder.kind, WELFARE_FUNDER_COMPANY);
                TEST_CHECK((funder.account_id.hi >> 32) == WELFARE_ACCOUNT_ID_TAG);
            }
            if (i == 1) TEST_CHECK(found->funder == NULL);
        }
        if (response != NULL) frame_response_free(response);
    }
    Borsellino__V1__WelfareLookupPlanRequest plan_lookup = BORSELLINO__V1__WELFARE_LOOKUP_PLAN_REQUEST__INIT;
    ledger_u128_t main_plan;
    TEST_REQUIRE(cli_parse_named_id("main", &main_plan));
    convert_u128_to_proto(main_plan, &id);
    plan_lookup.id = &id;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_LOOKUP_PLAN;
    request.welfare_lookup_plan = &plan_lookup;
    response_t *response = protocol_call(conn, &request);
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_WELFARE_LOOKUP_PLAN, &case_failures) &&
        response->welfare_lookup_plan->found) {
        welfare_plan_t plan;
        convert_welfare_plan_from_proto(response->welfare_lookup_plan->plan, &plan);
        TEST_CHECK(ledger_u128_equal(plan.funder_id, acme));
        TEST_CHECK_EQ(plan.categories, 0x606);
        TEST_CHECK_EQ(plan.expiry_policy, WELFARE_EXPIRY_BACK_TO_FUNDER);
    } else {
        TEST_CHECK(false);
    }
    if (response != NULL) frame_response_free(response);
}

/* Raw core transfers and accounts in the welfare ranges are refused. */
static void protocol_core_guard(conn_t *conn) {
    Borsellino__V1__WelfarePlatformRequest platform = BORSELLINO__V1__WELFARE_PLATFORM_REQUEST__INIT;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_PLATFORM;
    request.welfare_platform = &platform;
    response_t *response = protocol_call(conn, &request);
    ledger_u128_t bank = {0, 0};
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_WELFARE_PLATFORM, &case_failures)) {
        bank = convert_u128_from_proto(response->welfare_platform->bank_account_id);
        TEST_CHECK((bank.hi >> 32) == WELFARE_ACCOUNT_ID_TAG);
        TEST_CHECK(!ledger_u128_equal(bank, convert_u128_from_proto(
                                                response->welfare_platform->fees_account_id)));
    }
    if (response != NULL) frame_response_free(response);
    ledger_account_t accounts[2];
    memset(accounts, 0, sizeof accounts);
    accounts[0].id = ledger_u128_from_u64(77);
    accounts[1].id.hi = (uint64_t)WELFARE_ACCOUNT_ID_TAG << 32;
    accounts[1].id.lo = 1;
    for (int i = 0; i < 2; i++) accounts[i].ledger = WELFARE_LEDGER, accounts[i].code = 1;
    uint32_t codes[2] = {0, 0};
    TEST_CHECK(create_accounts_call(conn, accounts, 2, codes, NULL, &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_OK);
    TEST_CHECK_EQ(codes[1], LEDGER_RESULT_ID_RESERVED);
    ledger_transfer_t transfer;
    memset(&transfer, 0, sizeof transfer);
    transfer.id = ledger_u128_from_u64(1000);
    transfer.debit_account_id = bank;
    transfer.credit_account_id = accounts[0].id;
    transfer.amount = 100;
    transfer.ledger = WELFARE_LEDGER;
    transfer.code = 1;
    TEST_CHECK(create_transfers_call(conn, &transfer, 1, codes, NULL, &case_failures));
    TEST_CHECK_EQ(codes[0], LEDGER_RESULT_WELFARE_ACCOUNT_RESERVED);
}

static void test_protocol(void) {
    server_t server;
    case_server(&server, "welfare-cli-protocol", NULL);
    world_make(&server);
    conn_t conn;
    TEST_REQUIRE(conn_open(&conn, server.port, &case_failures));
    protocol_grant_shapes(&conn);
    protocol_receipt_shapes(&conn);
    protocol_value_shapes(&conn);
    protocol_read_shapes(&conn);
    protocol_queries(&conn);
    protocol_core_guard(&conn);
    /* The server is still well after all of it. */
    TEST_CHECK(status_ok(&conn, &case_failures));
    conn_close(&conn);
    failures_collect(&case_failures);
    case_server_end(&server);
}

/* ------------------------------------------------------------------------ */
/* statement_pages                                                          */

/* Asks for one page after `after`; returns the rows and sets *more_out. */
static size_t statement_page(conn_t *conn, ledger_u128_t funder, ledger_u128_t after,
                             ledger_u128_t *ids_out, bool *more_out) {
    Borsellino__V1__U128 funder_id, after_id;
    convert_u128_to_proto(funder, &funder_id);
    convert_u128_to_proto(after, &after_id);
    Borsellino__V1__WelfareFunderStatementRequest page =
        BORSELLINO__V1__WELFARE_FUNDER_STATEMENT_REQUEST__INIT;
    page.funder_id = &funder_id;
    page.employees_after = &after_id;
    page.employees_limit = WELFARE_STATEMENT_EMPLOYEES_MAX;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_FUNDER_STATEMENT;
    request.welfare_funder_statement = &page;
    response_t *response = protocol_call(conn, &request);
    size_t count = 0;
    *more_out = false;
    if (response_expect(response, BORSELLINO__V1__STATUS__STATUS_OK,
                        BORSELLINO__V1__RESPONSE__RESULT_WELFARE_FUNDER_STATEMENT, &case_failures)) {
        const Borsellino__V1__WelfareFunderStatementResponse *answer =
            response->welfare_funder_statement;
        TEST_CHECK(conn->last_body_size <= 1024);
        TEST_CHECK_EQ(answer->n_spent_by_category, WELFARE_CATEGORY_ID_MAX + 1);
        TEST_CHECK(answer->n_employees <= PAGED_EMPLOYEES);
        count = answer->n_employees;
        for (size_t i = 0; i < count; i++) {
            ids_out[i] = convert_u128_from_proto(answer->employees[i]->employee_id);
            TEST_CHECK_EQ(answer->employees[i]->balance, 100);
        }
        *more_out = answer->more;
    }
    if (response != NULL) frame_response_free(response);
    return count;
}

static void test_statement_pages(void) {
    server_t server;
    const char *const extra[] = {"--frame-size-max", "1024", NULL};
    case_server(&server, "welfare-cli-pages", extra);
    MUST(&server, "welfare", "funder", "create", "--id", "acme");
    MUST(&server, "welfare", "plan", "create", "--id", "main", "--funder", "acme", "--from", "now",
         "--until", "+1d", "--categories", "9", "--expiry", "forfeit");
    MUST(&server, "welfare", "fund", "--funder", "acme", "--amount", "100");
    char grant[PAGED_EMPLOYEES * 32] = "";
    for (int i = 0; i < PAGED_EMPLOYEES; i++) {
        char name[16];
        snprintf(name, sizeof name, "employee-%02d", i);
        MUST(&server, "welfare", "employee", "create", "--id", name, "--funder", "acme");
        snprintf(grant + strlen(grant), sizeof grant - strlen(grant), "%s,1.00\n", name);
    }
    file_write(case_path("grant.csv"), grant);
    MUST(&server, "welfare", "grant", "--plan", "main", "--file", case_path("grant.csv"));

    conn_t conn;
    TEST_REQUIRE(conn_open(&conn, server.port, &case_failures));
    ledger_u128_t acme, after = {0, 0}, seen[PAGED_EMPLOYEES + 8];
    TEST_REQUIRE(cli_parse_named_id("acme", &acme));
    size_t total = 0, pages = 0;
    bool more = true;
    while (more && total <= PAGED_EMPLOYEES && pages < PAGED_EMPLOYEES) {
        size_t got = statement_page(&conn, acme, after, seen + total, &more);
        /* Within 1,024 bytes, a page holds fewer than all 12 rows. */
        if (pages == 0) TEST_CHECK(more && got > 0 && got < PAGED_EMPLOYEES);
        if (got == 0) break;
        total += got;
        after = seen[total - 1];
        pages++;
    }
    TEST_CHECK(!more);
    TEST_CHECK_EQ(total, PAGED_EMPLOYEES);
    for (size_t i = 1; i < total; i++) {
        bool increasing = seen[i - 1].hi < seen[i].hi ||
                          (seen[i - 1].hi == seen[i].hi && seen[i - 1].lo < seen[i].lo);
        TEST_CHECK(increasing);
    }
    conn_close(&conn);
    failures_collect(&case_failures);
    run_t *run = TOOL(&server, "welfare", "statement", "funder", "--funder", "acme", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out, "(len(d['employees']), len(set(e['employee_id'] for e in d['employees'])))",
               "(12, 12)");
    CHECK_JSON(run->out, "(d['granted'], d['pots_balance'])", "(1200, 1200)");
    case_server_end(&server);
}

/* ------------------------------------------------------------------------ */
/* frame_grant_max                                                          */

/* bench-welfare over the protocol with refunds: every refund it sends is
 * accepted (none refused), and it sends refund_permille in 1,000. */
static void test_bench_refunds(void) {
    server_t server;
    case_server(&server, "welfare_cli_bench_refunds", NULL);
    run_t *run = TOOL(&server, "bench-welfare", "--employees", "200", "--purchases", "3000",
                      "--batch", "100", "--connections", "2", "--in-flight", "2",
                      "--refund-permille", "50", "--json");
    check_exit(__FILE__, __LINE__, run, 0);
    /* JSON Lines: the purchases stage is the last line. */
    char *end = run->out + strlen(run->out);
    while (end > run->out && end[-1] == '\n') *--end = '\0';
    char *last = strrchr(run->out, '\n');
    const char *line = last != NULL ? last + 1 : run->out;
    CHECK_JSON(line, "d['stage']", "purchases");
    CHECK_JSON(line, "d['purchases']", "3000");
    CHECK_JSON(line, "d['refunds']", "150");
    CHECK_JSON(line, "d['refused']", "0");
    run = TOOL(NULL, "bench-welfare", "--refund-permille", "1001");
    check_exit(__FILE__, __LINE__, run, 2);
    case_server_end(&server);
}

static void test_frame_grant_max(void) {
    size_t count = WELFARE_GRANT_EMPLOYEES_MAX;
    Borsellino__V1__WelfareGrantEntry *entries = xcalloc(count, sizeof *entries);
    Borsellino__V1__WelfareGrantEntry **pointers = xcalloc(count, sizeof *pointers);
    Borsellino__V1__U128 *ids = xcalloc(count, sizeof *ids);
    for (size_t i = 0; i < count; i++) {
        borsellino__v1__welfare_grant_entry__init(&entries[i]);
        u128_message(&ids[i], (ledger_u128_t){UINT64_MAX, UINT64_MAX - i});
        entries[i].employee_id = &ids[i];
        entries[i].amount = UINT64_MAX - i;
        pointers[i] = &entries[i];
    }
    Borsellino__V1__U128 id = BORSELLINO__V1__U128__INIT, plan = BORSELLINO__V1__U128__INIT;
    id.hi = id.lo = plan.hi = plan.lo = UINT64_MAX;
    Borsellino__V1__WelfareGrantRequest grant = BORSELLINO__V1__WELFARE_GRANT_REQUEST__INIT;
    grant.id = &id, grant.plan_id = &plan;
    grant.n_entries = count;
    grant.entries = pointers;
    request_t request = BORSELLINO__V1__REQUEST__INIT;
    request.request_id = UINT64_MAX;
    request.op_case = BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT;
    request.welfare_grant = &grant;
    uint8_t *frame = NULL;
    size_t frame_size = 0;
    TEST_REQUIRE(frame_encode_request(&request, &frame, &frame_size) == FRAME_OK);
    printf("# the largest grant is %zu bytes\n", frame_size);
    const uint8_t *body = NULL;
    uint32_t body_size = 0;
    size_t parsed_size = 0;
    TEST_CHECK(frame_parse(frame, frame_size, FRAME_BODY_SIZE_MAX_DEFAULT, &body, &body_size,
                           &parsed_size) == FRAME_OK);
    TEST_CHECK_EQ(parsed_size, frame_size);
    int error = 0;
    request_t *decoded = frame_request_decode(body, body_size, &error);
    TEST_CHECK(decoded != NULL);
    if (decoded != NULL) {
        TEST_CHECK(decoded->op_case == BORSELLINO__V1__REQUEST__OP_WELFARE_GRANT);
        TEST_CHECK_EQ(decoded->welfare_grant->n_entries, count);
        for (size_t i = 0; i < decoded->welfare_grant->n_entries; i++) {
            const Borsellino__V1__WelfareGrantEntry *entry = decoded->welfare_grant->entries[i];
            ledger_u128_t employee = convert_u128_from_proto(entry->employee_id);
            if (employee.hi != UINT64_MAX || employee.lo != UINT64_MAX - i ||
                entry->amount != UINT64_MAX - i) {
                TEST_CHECK(false);
                break;
            }
        }
        frame_request_free(decoded);
    }
    free(frame);
    free(entries);
    free(pointers);
    free(ids);
}

int main(int argc, char **argv) {
    run_buffers.out = xcalloc(OUTPUT_SIZE_MAX, 1);
    run_buffers.err = xcalloc(OUTPUT_SIZE_MAX, 1);
    static const test_case_t cases[] = {
        {"help", test_help},
        {"usage_errors", test_usage_errors},
        {"values_text", test_values_text},
        {"enum_numbers", test_enum_numbers},
        {"not_running", test_not_running},
        {"registry", test_registry},
        {"money", test_money},
        {"sweep_offboard", test_sweep_offboard},
        {"protocol", test_protocol},
        {"statement_pages", test_statement_pages},
        {"frame_grant_max", test_frame_grant_max},
        {"bench_refunds", test_bench_refunds},
    };
    int status = test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
    free(run_buffers.out);
    free(run_buffers.err);
    return status;
}
