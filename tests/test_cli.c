/*
 * test_cli.c — the `borsellino` command-line tool and tools/client.c
 * against a real borsellinod.
 *
 * Each case that needs a server starts its own borsellinod ($BORSELLINOD,
 * set by meson) on an ephemeral loopback port with its own data directory,
 * and stops it with SIGTERM at the end, asserting exit status 0. The tool
 * ($BORSELLINO) runs as a child process with stdout and stderr captured to
 * files; a case checks exit codes, the human text and the --json documents
 * (each parsed by /usr/bin/python3's json module when it exists, so a
 * malformed document fails even where no field is read).
 *
 * Cases:
 *   help_and_usage      every --help exits 0 and names its options; bad
 *                       usage exits 2 (no server needed);
 *   values_text         ids, timestamps and flags survive format -> parse;
 *                       every result code has a sentence;
 *   not_running         a client command with no server: exit 1 and a
 *                       message saying how to start one;
 *   accounts            account create / lookup / balance, human and JSON;
 *   transfers           transfer create / post / void / lookup, account
 *                       history and balance --at, status, human and JSON;
 *   batch_files         transfer create --file with CSV and JSON Lines,
 *                       linked chains across request boundaries, reruns;
 *   client_pipelining   1,000 requests sent before the first answer is read,
 *                       answers in order with the ids sent;
 *   client_concurrent   16 threads with their own clients and accounts,
 *                       each pipelining batches; final balances exact;
 *   client_errors       refused, bad address, server stopped mid-session;
 *   bench               borsellino bench --transfers 20000 --connections 4
 *                       --json: no errors, balances verified.
 *
 * Files: under $BORSELLINO_TEST_TMP, one directory per case (data/,
 * server.log, the tool's outputs), removed when the case passes and kept,
 * with the log's tail printed, when it fails.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "welfare.h"
#include "test.h"
#include "ledger_fixture.h"
#include "cli.h"
#include "client.h"
#include "convert.h"
#include "frame.h"

enum {
    OUTPUT_SIZE_MAX = 4 << 20,
    SERVER_START_TIMEOUT_MS = 10000,
    SERVER_STOP_TIMEOUT_MS = 30000,
    TOOL_TIMEOUT_MS = 300000,
    CLIENT_TIMEOUT_MS = 20000,
    LOG_TAIL_PRINTED = 2000,
    ARGS_MAX = 48,
    PIPELINED_REQUESTS = 1000,
    CONCURRENT_CLIENTS = 16,
    CONCURRENT_BATCHES = 40,
    CONCURRENT_BATCH_SIZE = 100,
    CONCURRENT_IN_FLIGHT = 8,
};

#define TEST_LEDGER "978"

/* ------------------------------------------------------------------------ */
/* Time, files, processes                                                   */

static uint64_t now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static void sleep_ms(uint32_t ms) {
    struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Reads a whole file (up to OUTPUT_SIZE_MAX - 1 bytes), NUL-terminated. */
static size_t file_read(const char *path, char *buffer) {
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && used + 1 < OUTPUT_SIZE_MAX) {
        ssize_t n = read(fd, buffer + used, OUTPUT_SIZE_MAX - 1 - used);
        if (n <= 0) break;
        used += (size_t)n;
    }
    if (fd >= 0) close(fd);
    buffer[used] = '\0';
    return used;
}

static void file_write(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    TEST_REQUIRE(file != NULL);
    fputs(text, file);
    TEST_REQUIRE(fclose(file) == 0);
}

static const char *env_path(const char *name) {
    const char *path = getenv(name);
    if (path == NULL || path[0] == '\0') {
        printf("# $%s is not set (meson sets it)\nBail out!\n", name);
        exit(1);
    }
    return path;
}

/* Runs argv (argv[0] a path) with stdout/stderr to files; returns the
 * wait status, or -1 when it did not end within TOOL_TIMEOUT_MS. */
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
    uint64_t deadline = now_ms() + TOOL_TIMEOUT_MS;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(2);
    }
    return status;
}

/* ------------------------------------------------------------------------ */
/* The server                                                               */

typedef struct server {
    char directory[PATH_MAX];
    char data[PATH_MAX + 8];
    char log[PATH_MAX + 16];
    char address[64];
    size_t log_size; /* bytes of the log when the last start finished */
    pid_t pid;
} server_t;

/* The address in a complete "... event=listening address=HOST:PORT" line. */
static bool server_log_address(const char *log, char *address, size_t size) {
    const char *event = strstr(log, "event=listening");
    if (event == NULL || strchr(event, '\n') == NULL) return false;
    const char *found = strstr(event, "address=");
    if (found == NULL || found > strchr(event, '\n')) return false;
    found += strlen("address=");
    size_t length = strcspn(found, " \n");
    if (length == 0 || length >= size) return false;
    memcpy(address, found, length);
    address[length] = '\0';
    return true;
}

static char *log_text;

/* The running server, killed at exit: a TEST_REQUIRE that bails out must
 * not leave it behind (PR_SET_PDEATHSIG alone is not honoured everywhere,
 * e.g. in some sandboxes). */
static pid_t server_running_pid;

static void server_kill_at_exit(void) {
    if (server_running_pid > 0) kill(server_running_pid, SIGKILL);
}

static void server_start(server_t *server) {
    TEST_REQUIRE(server->pid == 0);
    char *argv[] = {(char *)env_path("BORSELLINOD"), "--data", server->data, "--listen",
                    "127.0.0.1:0", NULL};
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(server->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) dup2(fd, STDERR_FILENO), dup2(fd, STDOUT_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    server->pid = pid;
    server_running_pid = pid;
    uint64_t deadline = now_ms() + SERVER_START_TIMEOUT_MS;
    bool listening = false;
    while (!listening && now_ms() < deadline) {
        /* After a restart the log holds the old lines too: skip them. */
        size_t size = file_read(server->log, log_text);
        const char *fresh = log_text + (size < server->log_size ? size : server->log_size);
        listening = server_log_address(fresh, server->address, sizeof server->address);
        if (!listening) sleep_ms(5);
    }
    if (!listening) printf("# borsellinod did not print its listening line in time\n");
    TEST_REQUIRE(listening);
    server->log_size = file_read(server->log, log_text);
}

static void server_init_start(server_t *server, const char *prefix) {
    memset(server, 0, sizeof *server);
    fixture_tmp_dir_make(prefix, server->directory, sizeof server->directory);
    snprintf(server->data, sizeof server->data, "%s/data", server->directory);
    snprintf(server->log, sizeof server->log, "%s/server.log", server->directory);
    server_start(server);
}

/* SIGTERM: a graceful stop that must end with exit status 0. */
static void server_stop(server_t *server) {
    if (server->pid == 0) return;
    TEST_CHECK_EQ(kill(server->pid, SIGTERM), 0);
    uint64_t deadline = now_ms() + SERVER_STOP_TIMEOUT_MS;
    int status = 0;
    pid_t ended = 0;
    while ((ended = waitpid(server->pid, &status, WNOHANG)) == 0 && now_ms() < deadline) sleep_ms(5);
    if (ended != server->pid) {
        kill(server->pid, SIGKILL);
        waitpid(server->pid, &status, 0);
        printf("# borsellinod did not stop within %d ms of SIGTERM\n", SERVER_STOP_TIMEOUT_MS);
    }
    TEST_CHECK(ended == server->pid);
    TEST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    server->pid = 0;
    server_running_pid = 0;
}

static void server_finish(server_t *server) {
    server_stop(server);
    if (test_failures_in_case == 0) {
        fixture_tmp_dir_remove(server->directory);
        return;
    }
    size_t size = file_read(server->log, log_text);
    size_t from = size > LOG_TAIL_PRINTED ? size - LOG_TAIL_PRINTED : 0;
    printf("# files kept in %s; end of server.log:\n", server->directory);
    for (char *line = strtok(log_text + from, "\n"); line; line = strtok(NULL, "\n")) {
        printf("#   %s\n", line);
    }
}

/* ------------------------------------------------------------------------ */
/* Running the tool                                                         */

typedef struct run {
    int exit_code; /* -1 when it did not exit normally */
    char *out;
    char *err;
} run_t;

static run_t run_buffers;
static char run_directory[PATH_MAX];

/* Runs `borsellino ARGS...` (NULL-terminated), appending --addr ADDRESS
 * when `server` is not NULL. Returns the captured run (valid until the
 * next call). */
static run_t *tool_run(const server_t *server, const char *const *args) {
    char *argv[ARGS_MAX + 4];
    int count = 0;
    argv[count++] = (char *)env_path("BORSELLINO");
    for (int i = 0; args[i] != NULL; i++) {
        TEST_REQUIRE(count < ARGS_MAX);
        argv[count++] = (char *)args[i];
    }
    if (server != NULL) {
        argv[count++] = "--addr";
        argv[count++] = (char *)server->address;
    }
    argv[count] = NULL;
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/stdout", run_directory);
    snprintf(err_path, sizeof err_path, "%s/stderr", run_directory);
    int status = process_run(argv, out_path, err_path);
    run_buffers.exit_code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    file_read(out_path, run_buffers.out);
    file_read(err_path, run_buffers.err);
    return &run_buffers;
}

#define TOOL(server, ...) tool_run((server), (const char *const[]){__VA_ARGS__, NULL})

/* Checks that `text` contains `needle`, printing both when it does not. */
#define CHECK_CONTAINS(text, needle)                                              \
    do {                                                                          \
        if (strstr((text), (needle)) == NULL) {                                   \
            test_failures_in_case++;                                              \
            printf("# %s:%d: expected \"%s\" in:\n# %.1500s\n", __FILE__, __LINE__, \
                   (needle), (text));                                             \
        }                                                                         \
    } while (0)

/* Checks the exit code, printing the outputs when it differs. */
#define CHECK_EXIT(run, expected)                                                 \
    do {                                                                          \
        if ((run)->exit_code != (expected)) {                                     \
            test_failures_in_case++;                                              \
            printf("# %s:%d: exit %d, expected %d\n# stdout: %.1500s\n# stderr: %.1500s\n", \
                   __FILE__, __LINE__, (run)->exit_code, (expected), (run)->out,  \
                   (run)->err);                                                   \
        }                                                                         \
    } while (0)

/* Whether `text` is one JSON document (checked by python3 when present). */
static bool json_valid(const char *text) {
    static const char python[] = "/usr/bin/python3";
    if (access(python, X_OK) != 0) return true;
    char path[PATH_MAX + 16], out[PATH_MAX + 16], err[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/document.json", run_directory);
    snprintf(out, sizeof out, "%s/json.out", run_directory);
    snprintf(err, sizeof err, "%s/json.err", run_directory);
    file_write(path, text);
    char *argv[] = {(char *)python, "-c", "import json,sys; json.load(open(sys.argv[1]))", path, NULL};
    int status = process_run(argv, out, err);
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

#define CHECK_JSON(text)                                                          \
    do {                                                                          \
        if (!json_valid(text)) {                                                  \
            test_failures_in_case++;                                              \
            printf("# %s:%d: not valid JSON: %.1500s\n", __FILE__, __LINE__, (text)); \
        }                                                                         \
    } while (0)

/* The number after "key": in a JSON text (the first occurrence). */
static uint64_t json_number(const char *json, const char *key) {
    char pattern[128];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *found = strstr(json, pattern);
    if (found == NULL) return UINT64_MAX;
    return strtoull(found + strlen(pattern), NULL, 10);
}

/* A case directory for outputs when the case starts no server. */
static void case_directory(const char *prefix) {
    fixture_tmp_dir_make(prefix, run_directory, sizeof run_directory);
}

static void case_directory_done(void) {
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(run_directory);
    else printf("# files kept in %s\n", run_directory);
}

/* Starts a case's server; the tool's outputs go to its directory. */
static void case_server(server_t *server, const char *prefix) {
    server_init_start(server, prefix);
    snprintf(run_directory, sizeof run_directory, "%s", server->directory);
}

/* ------------------------------------------------------------------------ */
/* help_and_usage, values_text, not_running                                */

static void test_help_and_usage(void) {
    case_directory("cli-help");
    run_t *run = TOOL(NULL, "--help");
    CHECK_EXIT(run, 0);
    const char *commands[] = {"account", "transfer", "status", "bench", "demo", "bench-ledger"};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) CHECK_CONTAINS(run->out, commands[i]);
    const char *helps[][3] = {{"account", "--help", NULL},  {"transfer", "--help", NULL},
                              {"status", "--help", NULL},   {"bench", "--help", NULL},
                              {"account", "create", "--help"}, {"transfer", "post", "--help"}};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        run = tool_run(NULL, (const char *const[]){helps[i][0], helps[i][1], helps[i][2], NULL});
        CHECK_EXIT(run, 0);
        CHECK_CONTAINS(run->out, "--addr HOST:PORT");
        CHECK_CONTAINS(run->out, "--json");
    }
    run = TOOL(NULL, "transfer", "--help");
    CHECK_CONTAINS(run->out, "debit_account_id,credit_account_id,amount,ledger,code,flags");
    run = TOOL(NULL, "nosuch");
    CHECK_EXIT(run, 2);
    run = TOOL(NULL, "account");
    CHECK_EXIT(run, 2);
    run = TOOL(NULL, "account", "frobnicate");
    CHECK_EXIT(run, 2);
    run = TOOL(NULL, "account", "create", "--ledger", "1");
    CHECK_EXIT(run, 2);
    CHECK_CONTAINS(run->err, "required");
    run = TOOL(NULL, "account", "lookup", "xyz");
    CHECK_EXIT(run, 2);
    run = TOOL(NULL, "transfer", "create", "--debit", "1", "--credit", "2", "--amount", "1",
               "--ledger", "1", "--code", "1", "--timeout", "5");
    CHECK_EXIT(run, 2);
    CHECK_CONTAINS(run->err, "--timeout applies to --pending");
    run = TOOL(NULL, "bench", "--batch", "9000");
    CHECK_EXIT(run, 2);
    run = TOOL(NULL, "status", "--addr");
    CHECK_EXIT(run, 2);
    case_directory_done();
}

static void test_values_text(void) {
    ledger_u128_t value;
    char text[CLI_U128_TEXT_SIZE];
    TEST_CHECK(cli_parse_u128("340282366920938463463374607431768211455", &value));
    TEST_CHECK(ledger_u128_is_max(value));
    cli_format_u128(value, text);
    TEST_CHECK(strcmp(text, "340282366920938463463374607431768211455") == 0);
    TEST_CHECK(!cli_parse_u128("340282366920938463463374607431768211456", &value));
    TEST_CHECK(cli_parse_u128("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", &value) && ledger_u128_is_max(value));
    TEST_CHECK(!cli_parse_u128("0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", &value));
    TEST_CHECK(!cli_parse_u128("12a", &value) && !cli_parse_u128("", &value) && !cli_parse_u128("0x", &value));
    ledger_u128_t id = {0x0192aabbccddeeffull, 0x0011223344556677ull}, back;
    cli_format_id(id, text);
    TEST_CHECK(strcmp(text, "0x0192aabbccddeeff0011223344556677") == 0);
    TEST_CHECK(cli_parse_u128(text, &back) && ledger_u128_equal(id, back));
    cli_format_id(ledger_u128_from_u64(42), text);
    TEST_CHECK(strcmp(text, "42") == 0);

    uint64_t ns = 0;
    char when[CLI_TIMESTAMP_TEXT_SIZE];
    cli_format_timestamp(UINT64_C(1700000000123456789), when);
    TEST_CHECK(strcmp(when, "2023-11-14T22:13:20.123456789Z") == 0);
    TEST_CHECK(cli_parse_timestamp(when, &ns) && ns == UINT64_C(1700000000123456789));
    TEST_CHECK(cli_parse_timestamp("2025-01-31", &ns) && ns == UINT64_C(1738281600) * 1000000000u);
    TEST_CHECK(cli_parse_timestamp("2025-01-31T12:00:00.5Z", &ns) &&
               ns == UINT64_C(1738324800) * 1000000000u + 500000000u);
    TEST_CHECK(cli_parse_timestamp("123", &ns) && ns == 123);
    TEST_CHECK(!cli_parse_timestamp("2025-13-01", &ns) && !cli_parse_timestamp("2025-01-31T12:00", &ns));

    uint16_t flags = 0;
    char names[CLI_FLAGS_TEXT_SIZE];
    TEST_CHECK(cli_parse_transfer_flags("pending|linked", &flags) && flags == 3);
    cli_format_transfer_flags(flags, names);
    TEST_CHECK(strcmp(names, "linked,pending") == 0);
    TEST_CHECK(!cli_parse_transfer_flags("pending,nope", &flags));
    TEST_CHECK(cli_parse_account_flags("history", &flags) && flags == LEDGER_ACCOUNT_HISTORY);
    for (uint32_t code = 0; code < LEDGER_RESULT_CODE_COUNT; code++) {
        TEST_CHECK(strcmp(ledger_result_name(code), "unknown") != 0);
        TEST_CHECK(strstr(cli_result_message(code), "does not know") == NULL);
    }
    for (uint32_t status = 0; status <= BORSELLINO__V1__STATUS__STATUS_SHUTTING_DOWN; status++) {
        TEST_CHECK(strcmp(client_status_name(status), "unknown") != 0);
    }
}

/* An address where nothing listens: a port bound, then released. */
static void address_unused(char *address, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in bound = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof bound;
    TEST_REQUIRE(fd >= 0 && bind(fd, (struct sockaddr *)&bound, sizeof bound) == 0);
    TEST_REQUIRE(getsockname(fd, (struct sockaddr *)&bound, &length) == 0);
    close(fd);
    snprintf(address, size, "127.0.0.1:%u", ntohs(bound.sin_port));
}

static void test_not_running(void) {
    case_directory("cli-not-running");
    server_t nobody = {0};
    address_unused(nobody.address, sizeof nobody.address);
    char expected[128];
    snprintf(expected, sizeof expected, "no borsellino server is running at %s", nobody.address);
    run_t *run = TOOL(&nobody, "account", "lookup", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, expected);
    CHECK_CONTAINS(run->err, "borsellinod --data DIR --listen");
    run = TOOL(&nobody, "status", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"error\":\"server_not_running\"");
    case_directory_done();
}

/* ------------------------------------------------------------------------ */
/* accounts, transfers                                                      */

/* Creates account `id` in `ledger` with `flags` ("" for none); checks it. */
static void server_account_make(const server_t *server, const char *id, const char *ledger,
                         const char *flags) {
    run_t *run = flags[0] ? TOOL(server, "account", "create", "--id", id, "--ledger", ledger,
                                 "--code", "10", "--flags", flags)
                          : TOOL(server, "account", "create", "--id", id, "--ledger", ledger,
                                 "--code", "10");
    CHECK_EXIT(run, 0);
}

static void test_accounts(void) {
    server_t server;
    case_server(&server, "cli-accounts");
    run_t *run = TOOL(&server, "account", "create", "--id", "1", "--ledger", TEST_LEDGER, "--code", "10");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "created account 1");
    run = TOOL(&server, "account", "create", "--id", "2", "--ledger", TEST_LEDGER, "--code", "10",
               "--flags", "debits_must_not_exceed_credits", "--user-data-64", "42", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"id\":\"2\",\"result\":\"ok\"");
    run = TOOL(&server, "account", "create", "--id", "1", "--ledger", TEST_LEDGER, "--code", "10");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "already exists with the same fields");
    run = TOOL(&server, "account", "create", "--id", "1", "--ledger", TEST_LEDGER, "--code", "11");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "already exists with a different code (exists_with_different_code)");
    run = TOOL(&server, "account", "create", "--id", "0", "--ledger", TEST_LEDGER, "--code", "1", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"result\":\"id_must_not_be_zero\"");
    CHECK_CONTAINS(run->err, "the id must not be 0");

    run = TOOL(&server, "account", "create", "--ledger", TEST_LEDGER, "--code", "7");
    CHECK_EXIT(run, 0);
    char generated[CLI_U128_TEXT_SIZE] = "";
    TEST_CHECK(sscanf(run->out, "created account %39s", generated) == 1);
    TEST_CHECK(strncmp(generated, "0x", 2) == 0 && strlen(generated) == 34);
    run = TOOL(&server, "account", "lookup", generated);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, generated);

    run = TOOL(&server, "account", "lookup", "1", "2");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "DEBITS_POSTED");
    CHECK_CONTAINS(run->out, "debits_must_not_exceed_credits");
    run = TOOL(&server, "account", "lookup", "1", "2", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"id\":\"1\"");
    CHECK_CONTAINS(run->out, "\"flags\":[\"debits_must_not_exceed_credits\"]");
    CHECK_CONTAINS(run->out, "\"user_data_64\":42");
    CHECK_CONTAINS(run->out, "\"not_found\":0");
    run = TOOL(&server, "account", "lookup", "1", "999");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "no account has id 999");
    CHECK_CONTAINS(run->out, "978");

    run = TOOL(&server, "account", "balance", "2");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "account 2 now");
    CHECK_CONTAINS(run->out, "net posted (credits - debits): 0");
    run = TOOL(&server, "account", "balance", "999");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "no account has this id");
    run = TOOL(&server, "account", "balance", "999", "--at", "2025-01-01", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"error\":\"account_not_found\"");
    server_finish(&server);
}

/* Creates a transfer with --json and returns its timestamp (0 on failure). */
static uint64_t server_transfer_make(const server_t *server, const char *id, const char *debit,
                              const char *credit, const char *amount) {
    run_t *run = TOOL(server, "transfer", "create", "--id", id, "--debit", debit, "--credit",
                      credit, "--amount", amount, "--ledger", TEST_LEDGER, "--code", "1", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"result\":\"ok\"");
    return json_number(run->out, "timestamp");
}

/* The refusals of transfer create, each with its sentence. */
static void transfers_refused(const server_t *server) {
    run_t *run = TOOL(server, "transfer", "create", "--debit", "2", "--credit", "1", "--amount",
                      "999999", "--ledger", TEST_LEDGER, "--code", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "insufficient funds");
    CHECK_CONTAINS(run->err, "(exceeds_credits)");
    run = TOOL(server, "transfer", "create", "--debit", "1", "--credit", "3", "--amount", "1",
               "--ledger", TEST_LEDGER, "--code", "1");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "different ledgers");
    run = TOOL(server, "transfer", "create", "--debit", "555", "--credit", "1", "--amount", "1",
               "--ledger", TEST_LEDGER, "--code", "1", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"result\":\"debit_account_not_found\"");
    CHECK_CONTAINS(run->err, "the debit account does not exist");
}

/* Pending transfers posted and voided. */
static void transfers_two_phase(const server_t *server) {
    run_t *run = TOOL(server, "transfer", "create", "--id", "200", "--debit", "1", "--credit", "2",
                      "--amount", "700", "--ledger", TEST_LEDGER, "--code", "1", "--pending",
                      "--timeout", "3600");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "created pending transfer 200");
    run = TOOL(server, "transfer", "post", "200", "--amount", "500", "--id", "201");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "posted pending transfer with transfer 201");
    run = TOOL(server, "transfer", "void", "200");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "already posted");
    run = TOOL(server, "transfer", "create", "--id", "300", "--debit", "1", "--credit", "2",
               "--amount", "50", "--ledger", TEST_LEDGER, "--code", "1", "--pending");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "transfer", "void", "300", "--id", "301", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"id\":\"301\"");
    CHECK_CONTAINS(run->out, "\"result\":\"ok\"");
    run = TOOL(server, "transfer", "post", "999");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "no transfer has this pending id");
    run = TOOL(server, "transfer", "lookup", "100", "200", "201");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "post_pending");
    CHECK_CONTAINS(run->out, "1500");
    run = TOOL(server, "transfer", "lookup", "201", "4242", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"pending_id\":\"200\"");
    CHECK_CONTAINS(run->out, "\"amount\":500");
    CHECK_CONTAINS(run->out, "\"not_found\":1");
    CHECK_CONTAINS(run->err, "no transfer has id 4242");
}

/* Counts occurrences of `needle` in `text`. */
static int count_of(const char *text, const char *needle) {
    int count = 0;
    for (const char *c = strstr(text, needle); c != NULL; c = strstr(c + 1, needle)) count++;
    return count;
}

/* History and balances of account 1 after the transfers above. */
static void transfers_history(const server_t *server, uint64_t t101) {
    run_t *run = TOOL(server, "account", "history", "1");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "OTHER_ACCOUNT");
    CHECK_CONTAINS(run->out, " pending ");
    CHECK_CONTAINS(run->out, " post ");
    CHECK_CONTAINS(run->out, " void ");
    run = TOOL(server, "account", "history", "1", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(count_of(run->out, "\"balance_after\""), 6);
    run = TOOL(server, "account", "history", "1", "--reversed", "--limit", "1", "--json");
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(count_of(run->out, "\"balance_after\""), 1);
    CHECK_CONTAINS(run->out, "\"event\":\"void\"");
    char at[32], before[32];
    snprintf(at, sizeof at, "%llu", (unsigned long long)t101);
    snprintf(before, sizeof before, "%llu", (unsigned long long)(t101 - 1));
    run = TOOL(server, "account", "history", "1", "--from", at, "--to", at, "--json");
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(count_of(run->out, "\"balance_after\""), 1);
    run = TOOL(server, "account", "history", "1", "--limit", "0");
    CHECK_EXIT(run, 2);

    run = TOOL(server, "account", "balance", "1", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(json_number(run->out, "debits_posted"), 2500);
    TEST_CHECK_EQ(json_number(run->out, "debits_pending"), 0);
    run = TOOL(server, "account", "balance", "1", "--at", at, "--json");
    CHECK_EXIT(run, 0);
    TEST_CHECK_EQ(json_number(run->out, "debits_posted"), 2000);
    run = TOOL(server, "account", "balance", "1", "--at", before);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "net posted (credits - debits): -1500");
}

static void test_transfers(void) {
    server_t server;
    case_server(&server, "cli-transfers");
    server_account_make(&server, "1", TEST_LEDGER, "");
    server_account_make(&server, "2", TEST_LEDGER, "debits_must_not_exceed_credits");
    server_account_make(&server, "3", "840", "");
    run_t *run = TOOL(&server, "transfer", "create", "--id", "100", "--debit", "1", "--credit", "2",
                      "--amount", "1500", "--ledger", TEST_LEDGER, "--code", "1");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "created transfer 100");
    uint64_t t101 = server_transfer_make(&server, "101", "1", "2", "500");
    TEST_CHECK(t101 != 0 && t101 != UINT64_MAX);
    run = TOOL(&server, "transfer", "create", "--id", "101", "--debit", "1", "--credit", "2",
               "--amount", "500", "--ledger", TEST_LEDGER, "--code", "1");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "already exists with the same fields");
    transfers_refused(&server);
    transfers_two_phase(&server);
    transfers_history(&server, t101);

    run = TOOL(&server, "status");
    CHECK_EXIT(run, 0);
    /* 3 accounts of this case, 3 of the welfare platform. */
    CHECK_CONTAINS(run->out, "accounts             6");
    run = TOOL(&server, "status", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(json_number(run->out, "accounts_count"), 3 + WELFARE_PLATFORM_ACCOUNTS);
    TEST_CHECK_EQ(json_number(run->out, "pending_count"), 0);
    TEST_CHECK_EQ(json_number(run->out, "batch_events_max"), LEDGER_BATCH_EVENTS_MAX);
    server_finish(&server);
}

/* ------------------------------------------------------------------------ */
/* batch_files                                                              */

static const char batch_csv[] =
    "# transfers for the batch test\n"
    "debit_account_id, credit_account_id, amount, ledger, code, flags, id\n"
    "1,2,100," TEST_LEDGER ",1,linked,\n"
    "1,2,200," TEST_LEDGER ",1,,\n"
    "2,1,999999," TEST_LEDGER ",1,,\n"
    "1,3,5," TEST_LEDGER ",1,pending,900\n";

static const char batch_jsonl[] =
    "{\"id\":\"5000\",\"debit_account_id\":\"1\",\"credit_account_id\":\"2\",\"amount\":10,"
    "\"ledger\":" TEST_LEDGER ",\"code\":1}\n"
    "{\"id\":\"5001\",\"debit_account_id\":\"1\",\"credit_account_id\":\"2\",\"amount\":20,"
    "\"ledger\":" TEST_LEDGER ",\"code\":1,\"flags\":[\"linked\"]}\n"
    "\n"
    "{\"id\":\"5002\",\"debit_account_id\":\"3\",\"credit_account_id\":\"2\",\"amount\":30,"
    "\"ledger\":" TEST_LEDGER ",\"code\":1,\"user_data_64\":7}\n"
    "{\"id\":\"0x2710\",\"pending_id\":\"900\",\"flags\":\"post_pending\"}\n";

/* 6001..6003 are one chain whose last transfer is refused. */
static const char chain_csv[] =
    "id,debit_account_id,credit_account_id,amount,ledger,code,flags\n"
    "6000,1,2,1," TEST_LEDGER ",1,\n"
    "6001,1,2,1," TEST_LEDGER ",1,linked\n"
    "6002,1,2,1," TEST_LEDGER ",1,linked\n"
    "6003,2,1,999999999," TEST_LEDGER ",1,\n"
    "6004,1,2,1," TEST_LEDGER ",1,\n";

static void batch_path(char *path, size_t size, const char *name, const char *text) {
    snprintf(path, size, "%s/%s", run_directory, name);
    file_write(path, text);
}

static void batch_chains(const server_t *server) {
    char path[PATH_MAX + 32];
    batch_path(path, sizeof path, "chain.csv", chain_csv);
    run_t *run = TOOL(server, "transfer", "create", "--file", path, "--batch-size", "2");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "linked chain longer than --batch-size 2");
    run = TOOL(server, "transfer", "lookup", "6000");
    CHECK_EXIT(run, 1); /* nothing was sent */
    run = TOOL(server, "transfer", "create", "--file", path, "--batch-size", "3", "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"created\":2,\"exists\":0,\"failed\":3");
    CHECK_CONTAINS(run->out, "\"id\":\"6001\",\"id_generated\":false,\"result\":\"linked_event_failed\"");
    CHECK_CONTAINS(run->out, "\"id\":\"6003\",\"id_generated\":false,\"result\":\"exceeds_credits\"");
    run = TOOL(server, "transfer", "lookup", "6000", "6004");
    CHECK_EXIT(run, 0);
    run = TOOL(server, "transfer", "lookup", "6002");
    CHECK_EXIT(run, 1);

    /* --linked: the whole file is one chain; one refusal refuses all. */
    static const char linked_csv[] =
        "id,debit_account_id,credit_account_id,amount,ledger,code\n"
        "7000,1,2,1," TEST_LEDGER ",1\n"
        "7001,2,1,999999999," TEST_LEDGER ",1\n";
    batch_path(path, sizeof path, "linked.csv", linked_csv);
    run = TOOL(server, "transfer", "create", "--file", path, "--linked");
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->out, "2 transfers: 0 created, 0 already existed, 2 failed");
    run = TOOL(server, "transfer", "lookup", "7000");
    CHECK_EXIT(run, 1);
}

static void test_batch_files(void) {
    server_t server;
    case_server(&server, "cli-batch");
    server_account_make(&server, "1", TEST_LEDGER, "");
    server_account_make(&server, "2", TEST_LEDGER, "debits_must_not_exceed_credits");
    server_account_make(&server, "3", TEST_LEDGER, "");
    char path[PATH_MAX + 32];
    batch_path(path, sizeof path, "batch.csv", batch_csv);
    run_t *run = TOOL(&server, "transfer", "create", "--file", path);
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->out, "4 transfers: 3 created, 0 already existed, 1 failed");
    CHECK_CONTAINS(run->err, "line 5: transfer");
    CHECK_CONTAINS(run->err, "(exceeds_credits)");

    batch_path(path, sizeof path, "batch.jsonl", batch_jsonl);
    run = TOOL(&server, "transfer", "create", "--file", path, "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"transfers\":4,\"created\":4,\"exists\":0,\"failed\":0");
    CHECK_CONTAINS(run->out, "\"line\":4,\"id\":\"5002\"");
    run = TOOL(&server, "transfer", "create", "--file", path, "--json");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "\"created\":0,\"exists\":4,\"failed\":0");
    run = TOOL(&server, "transfer", "lookup", "5002", "0x2710", "--json");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "\"user_data_64\":7");
    CHECK_CONTAINS(run->out, "\"flags\":[\"post_pending\"]");
    run = TOOL(&server, "account", "balance", "3", "--json");
    TEST_CHECK_EQ(json_number(run->out, "credits_posted"), 5);
    TEST_CHECK_EQ(json_number(run->out, "debits_posted"), 30);

    batch_chains(&server);

    batch_path(path, sizeof path, "bad.jsonl",
               "{\"id\":\"1\",\"amount\":1}\n{\"id\":\"2\",\"amonut\":1}\n");
    run = TOOL(&server, "transfer", "create", "--file", path);
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "bad.jsonl:2: unknown field \"amonut\"");
    batch_path(path, sizeof path, "bad.csv", "id,amount\n1,2,3\n");
    run = TOOL(&server, "transfer", "create", "--file", path, "--json");
    CHECK_EXIT(run, 1);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"error\":\"bad_file\"");
    batch_path(path, sizeof path, "batch.txt", "x");
    run = TOOL(&server, "transfer", "create", "--file", path);
    CHECK_EXIT(run, 1);
    CHECK_CONTAINS(run->err, "must end in .csv or .jsonl");
    server_finish(&server);
}

/* ------------------------------------------------------------------------ */
/* tools/client.c                                                           */

/* A create_transfers request over caller-owned storage. */
typedef struct transfers_request {
    Borsellino__V1__Transfer proto[CONCURRENT_BATCH_SIZE];
    Borsellino__V1__Transfer *pointers[CONCURRENT_BATCH_SIZE];
    convert_transfer_storage_t storage[CONCURRENT_BATCH_SIZE];
    Borsellino__V1__CreateTransfersRequest create;
    Borsellino__V1__Request request;
} transfers_request_t;

static void transfers_request_build(transfers_request_t *built, const ledger_transfer_t *transfers,
                                    uint32_t count) {
    TEST_REQUIRE(count <= CONCURRENT_BATCH_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        convert_transfer_to_proto(&transfers[i], &built->proto[i], &built->storage[i]);
        built->pointers[i] = &built->proto[i];
    }
    borsellino__v1__create_transfers_request__init(&built->create);
    built->create.n_transfers = count;
    built->create.transfers = built->pointers;
    borsellino__v1__request__init(&built->request);
    built->request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_TRANSFERS;
    built->request.create_transfers = &built->create;
}

/* Creates two accounts of TEST_LEDGER over `client`; true when both OK. */
static bool client_accounts_create(client_t *client, uint64_t first, uint64_t second) {
    ledger_account_t accounts[2] = {{.id = {0, first}, .ledger = 978, .code = 1},
                                    {.id = {0, second}, .ledger = 978, .code = 1}};
    Borsellino__V1__Account proto[2];
    Borsellino__V1__Account *pointers[2] = {&proto[0], &proto[1]};
    convert_account_storage_t storage[2];
    for (int i = 0; i < 2; i++) convert_account_to_proto(&accounts[i], &proto[i], &storage[i]);
    Borsellino__V1__CreateAccountsRequest create = BORSELLINO__V1__CREATE_ACCOUNTS_REQUEST__INIT;
    create.n_accounts = 2;
    create.accounts = pointers;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_CREATE_ACCOUNTS;
    request.create_accounts = &create;
    Borsellino__V1__Response *response = NULL;
    if (client_call(client, &request, &response) != CLIENT_OK) return false;
    bool ok = response->status == BORSELLINO__V1__STATUS__STATUS_OK &&
              response->result_case == BORSELLINO__V1__RESPONSE__RESULT_CREATE_ACCOUNTS &&
              response->create_accounts->n_results == 2 &&
              response->create_accounts->results[0]->result == 0 &&
              response->create_accounts->results[1]->result == 0;
    frame_response_free(response);
    return ok;
}

/* A lookup_accounts request of one id (storage in `id_storage`). */
static void lookup_request_build(Borsellino__V1__Request *request,
                                 Borsellino__V1__LookupAccountsRequest *lookup,
                                 Borsellino__V1__U128 *id_storage, Borsellino__V1__U128 **pointer,
                                 uint64_t id) {
    convert_u128_to_proto(ledger_u128_from_u64(id), id_storage);
    *pointer = id_storage;
    borsellino__v1__lookup_accounts_request__init(lookup);
    lookup->n_ids = 1;
    lookup->ids = pointer;
    borsellino__v1__request__init(request);
    request->op_case = BORSELLINO__V1__REQUEST__OP_LOOKUP_ACCOUNTS;
    request->lookup_accounts = lookup;
}

/* Looks up one account; true when found. */
static bool client_account_get(client_t *client, uint64_t id, ledger_account_t *account) {
    Borsellino__V1__Request request;
    Borsellino__V1__LookupAccountsRequest lookup;
    Borsellino__V1__U128 storage, *pointer;
    lookup_request_build(&request, &lookup, &storage, &pointer, id);
    Borsellino__V1__Response *response = NULL;
    if (client_call(client, &request, &response) != CLIENT_OK) return false;
    bool found = response->status == BORSELLINO__V1__STATUS__STATUS_OK &&
                 response->result_case == BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS &&
                 response->lookup_accounts->n_accounts == 1;
    if (found) convert_account_from_proto(response->lookup_accounts->accounts[0], account);
    frame_response_free(response);
    return found;
}

static client_t *client_open(const server_t *server) {
    client_t *client = NULL;
    int error = client_connect(server->address, CLIENT_TIMEOUT_MS, &client);
    if (error != CLIENT_OK) printf("# client_connect: %s\n", client_last_error_message(NULL));
    TEST_REQUIRE(error == CLIENT_OK);
    return client;
}

/* Sends request i of the pipelining case: even ones move 1 from account 1
 * to 2, odd ones look account 1 up. */
static void pipelining_send(client_t *client, transfers_request_t *built, uint32_t i) {
    int error = CLIENT_OK;
    if (i % 2 == 0) {
        ledger_transfer_t transfer = {.id = {0, 10000 + i}, .debit_account_id = {0, 1},
                                      .credit_account_id = {0, 2}, .amount = 1, .ledger = 978,
                                      .code = 1};
        transfers_request_build(built, &transfer, 1);
        error = client_send(client, &built->request);
        TEST_CHECK_EQ(built->request.request_id, i + 1);
    } else {
        Borsellino__V1__Request request;
        Borsellino__V1__LookupAccountsRequest lookup;
        Borsellino__V1__U128 storage, *pointer;
        lookup_request_build(&request, &lookup, &storage, &pointer, 1);
        error = client_send(client, &request);
        TEST_CHECK_EQ(request.request_id, i + 1);
    }
    TEST_CHECK_EQ(error, CLIENT_OK);
}

/* Checks answer i: in order, and each lookup sees every transfer sent
 * before it and none after. */
static void pipelining_check(client_t *client, uint32_t i) {
    Borsellino__V1__Response *response = NULL;
    int error = client_receive(client, &response);
    TEST_CHECK_EQ(error, CLIENT_OK);
    if (error != CLIENT_OK) return;
    TEST_CHECK_EQ(response->request_id, i + 1);
    TEST_CHECK_EQ(response->status, BORSELLINO__V1__STATUS__STATUS_OK);
    if (i % 2 == 0) {
        TEST_CHECK_EQ(response->result_case, BORSELLINO__V1__RESPONSE__RESULT_CREATE_TRANSFERS);
        TEST_CHECK(response->create_transfers->n_results == 1 &&
                   response->create_transfers->results[0]->result == 0);
    } else {
        TEST_CHECK_EQ(response->result_case, BORSELLINO__V1__RESPONSE__RESULT_LOOKUP_ACCOUNTS);
        TEST_CHECK(response->lookup_accounts->n_accounts == 1 &&
                   response->lookup_accounts->accounts[0]->debits_posted == (i + 1) / 2);
    }
    frame_response_free(response);
}

static void test_client_pipelining(void) {
    server_t server;
    case_server(&server, "cli-pipelining");
    client_t *client = client_open(&server);
    TEST_CHECK(client_accounts_create(client, 1, 2));
    transfers_request_t *built = calloc(1, sizeof *built);
    TEST_REQUIRE(built != NULL);
    uint64_t first_id = 0;
    {
        Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
        Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
        request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
        request.status = &status;
        Borsellino__V1__Response *response = NULL;
        TEST_CHECK_EQ(client_call(client, &request, &response), CLIENT_OK);
        first_id = request.request_id;
        frame_response_free(response);
    }
    client_close(client);
    client = client_open(&server); /* a fresh counter: ids start at 1 */
    TEST_CHECK_EQ(first_id, 2);    /* after the accounts request */
    for (uint32_t i = 0; i < PIPELINED_REQUESTS; i++) pipelining_send(client, built, i);
    TEST_CHECK_EQ(client_in_flight(client), PIPELINED_REQUESTS);
    for (uint32_t i = 0; i < PIPELINED_REQUESTS; i++) pipelining_check(client, i);
    Borsellino__V1__Response *response = NULL;
    TEST_CHECK_EQ(client_receive(client, &response), CLIENT_ERR_NOTHING_IN_FLIGHT);

    /* An explicit id is kept and echoed; client_call refuses to skip
     * answers still in flight. */
    Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &status;
    request.request_id = 777;
    TEST_CHECK_EQ(client_send(client, &request), CLIENT_OK);
    TEST_CHECK_EQ(client_call(client, &request, &response), CLIENT_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(client_receive(client, &response), CLIENT_OK);
    TEST_CHECK_EQ(response->request_id, 777);
    TEST_CHECK(response->status_result != NULL && response->status_result->connections >= 1);
    frame_response_free(response);
    Borsellino__V1__Request empty = BORSELLINO__V1__REQUEST__INIT;
    TEST_CHECK_EQ(client_send(client, &empty), CLIENT_ERR_INVALID_ARGUMENT);
    client_close(client);
    free(built);
    server_finish(&server);
}

typedef struct concurrent_worker {
    const server_t *server;
    uint32_t index;
    bool ok;
    char message[160];
} concurrent_worker_t;

/* Sends CONCURRENT_BATCHES batches from account A to B, at most
 * CONCURRENT_IN_FLIGHT on the wire; returns false on any failure. */
static bool concurrent_send_all(concurrent_worker_t *worker, client_t *client, uint64_t a,
                                uint64_t b, transfers_request_t *built) {
    ledger_transfer_t transfers[CONCURRENT_BATCH_SIZE];
    for (uint32_t batch = 0; batch < CONCURRENT_BATCHES || client_in_flight(client) > 0;) {
        if (batch < CONCURRENT_BATCHES && client_in_flight(client) < CONCURRENT_IN_FLIGHT) {
            for (uint32_t j = 0; j < CONCURRENT_BATCH_SIZE; j++) {
                transfers[j] = (ledger_transfer_t){
                    .id = {a, (uint64_t)batch * CONCURRENT_BATCH_SIZE + j + 1},
                    .debit_account_id = {0, a}, .credit_account_id = {0, b},
                    .amount = j + 1, .ledger = 978, .code = 1};
            }
            transfers_request_build(built, transfers, CONCURRENT_BATCH_SIZE);
            if (client_send(client, &built->request) != CLIENT_OK) return false;
            batch++;
            continue;
        }
        Borsellino__V1__Response *response = NULL;
        if (client_receive(client, &response) != CLIENT_OK) return false;
        bool ok = response->status == 0 && response->create_transfers != NULL &&
                  response->create_transfers->n_results == CONCURRENT_BATCH_SIZE;
        for (uint32_t j = 0; ok && j < CONCURRENT_BATCH_SIZE; j++) {
            ok = (uint32_t)response->create_transfers->results[j]->result == LEDGER_RESULT_OK;
        }
        frame_response_free(response);
        if (!ok) {
            snprintf(worker->message, sizeof worker->message, "a batch was not all ok");
            return false;
        }
    }
    return true;
}

static void *concurrent_run(void *argument) {
    concurrent_worker_t *worker = argument;
    client_t *client = NULL;
    transfers_request_t *built = calloc(1, sizeof *built);
    uint64_t a = (worker->index + 1) * 1000ull + 1, b = a + 1;
    if (built == NULL || client_connect(worker->server->address, CLIENT_TIMEOUT_MS, &client) != 0) {
        snprintf(worker->message, sizeof worker->message, "connect: %s", client_last_error_message(NULL));
        free(built);
        return NULL;
    }
    ledger_account_t account;
    const uint64_t expected = CONCURRENT_BATCHES * (CONCURRENT_BATCH_SIZE * (CONCURRENT_BATCH_SIZE + 1ull) / 2);
    worker->ok = client_accounts_create(client, a, b) &&
                 concurrent_send_all(worker, client, a, b, built) &&
                 client_account_get(client, a, &account) && account.debits_posted == expected &&
                 client_account_get(client, b, &account) && account.credits_posted == expected;
    if (!worker->ok && worker->message[0] == '\0') {
        snprintf(worker->message, sizeof worker->message, "%s", client_last_error_message(client));
    }
    client_close(client);
    free(built);
    return NULL;
}

static void test_client_concurrent(void) {
    server_t server;
    case_server(&server, "cli-concurrent");
    concurrent_worker_t workers[CONCURRENT_CLIENTS];
    pthread_t threads[CONCURRENT_CLIENTS];
    for (uint32_t i = 0; i < CONCURRENT_CLIENTS; i++) {
        workers[i] = (concurrent_worker_t){.server = &server, .index = i};
        TEST_REQUIRE(pthread_create(&threads[i], NULL, concurrent_run, &workers[i]) == 0);
    }
    for (uint32_t i = 0; i < CONCURRENT_CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        if (!workers[i].ok) printf("# client %u: %s\n", i, workers[i].message);
        TEST_CHECK(workers[i].ok);
    }
    run_t *run = TOOL(&server, "status", "--json");
    TEST_CHECK_EQ(json_number(run->out, "accounts_count"),
                  2 * CONCURRENT_CLIENTS + WELFARE_PLATFORM_ACCOUNTS);
    server_finish(&server);
}

static void test_client_errors(void) {
    client_t *client = NULL;
    char address[64];
    address_unused(address, sizeof address);
    TEST_CHECK_EQ(client_connect(address, CLIENT_TIMEOUT_MS, &client), CLIENT_ERR_REFUSED);
    TEST_CHECK(strstr(client_last_error_message(NULL), "no borsellino server is running at") != NULL);
    TEST_CHECK_EQ(client_connect("nonsense", CLIENT_TIMEOUT_MS, &client), CLIENT_ERR_ADDRESS);
    TEST_CHECK(strstr(client_last_error_message(NULL), "HOST:PORT") != NULL);
    TEST_CHECK_EQ(client_connect("127.0.0.1:99999", CLIENT_TIMEOUT_MS, &client), CLIENT_ERR_ADDRESS);
    TEST_CHECK_EQ(client_connect("[::1", CLIENT_TIMEOUT_MS, &client), CLIENT_ERR_ADDRESS);

    server_t server;
    case_server(&server, "cli-client-errors");
    client = client_open(&server);
    TEST_CHECK(client_accounts_create(client, 1, 2));
    server_stop(&server);
    ledger_account_t account;
    TEST_CHECK(!client_account_get(client, 1, &account));
    Borsellino__V1__Response *response = NULL;
    Borsellino__V1__StatusRequest status = BORSELLINO__V1__STATUS_REQUEST__INIT;
    Borsellino__V1__Request request = BORSELLINO__V1__REQUEST__INIT;
    request.op_case = BORSELLINO__V1__REQUEST__OP_STATUS;
    request.status = &status;
    TEST_CHECK_EQ(client_call(client, &request, &response), CLIENT_ERR_BROKEN);
    client_close(client);

    server_start(&server); /* same data, new port */
    client = client_open(&server);
    TEST_CHECK(client_account_get(client, 1, &account));
    client_close(client);
    server_finish(&server);
}

/* ------------------------------------------------------------------------ */
/* demo                                                                     */

/* borsellino demo seeds the demo platform (idempotently), and a server on
 * that directory serves it: wallets and statements through the CLI. */
static void test_demo(void) {
    server_t server;
    memset(&server, 0, sizeof server);
    fixture_tmp_dir_make("cli-demo", server.directory, sizeof server.directory);
    snprintf(server.data, sizeof server.data, "%s/data", server.directory);
    snprintf(server.log, sizeof server.log, "%s/server.log", server.directory);
    snprintf(run_directory, sizeof run_directory, "%s", server.directory);
    run_t *run = TOOL(NULL, "demo", "--data", server.data);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "43 operations applied, 0 already there");
    CHECK_CONTAINS(run->out, "refused as expected: latteria-emp-03 order-0004 (fringe_cap_exceeded)");
    CHECK_CONTAINS(run->out, "latteria-emp-01    granted   1500.00  balance    950.00");
    CHECK_CONTAINS(run->out, "latteria-padana: funded 20000.00, granted 6000.00, spent 1030.00, refunded 120.00");
    CHECK_CONTAINS(run->out, "verified:");
    run = TOOL(NULL, "demo", "--data", server.data);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "0 operations applied, 43 already there");
    run = TOOL(NULL, "audit", "verify", "--data", server.data);
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "welfare     3 funders and 4 providers reconcile");
    server_start(&server);
    run = TOOL(&server, "welfare", "wallet", "--employee", "latteria-emp-01", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    CHECK_CONTAINS(run->out, "\"balance\":95000"); /* JSON amounts are cents */
    run = TOOL(&server, "welfare", "statement", "provider", "--provider", "coop-il-torrazzo");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "1180.00");
    server_finish(&server);
}

/* ------------------------------------------------------------------------ */
/* bench                                                                    */

static void test_bench(void) {
    server_t server;
    case_server(&server, "cli-bench");
    run_t *run = TOOL(&server, "bench", "--transfers", "20000", "--connections", "4", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(json_number(run->out, "errors"), 0);
    TEST_CHECK_EQ(json_number(run->out, "transfers"), 20000);
    CHECK_CONTAINS(run->out, "\"verified\":true");
    CHECK_CONTAINS(run->out, "\"accounts_mismatched\":0");
    const char *keys[] = {"transfers_per_second", "latency_ms_p50", "latency_ms_p99", "latency_ms_p999"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint64_t value = json_number(run->out, keys[i]);
        TEST_CHECK(value != UINT64_MAX);
    }
    TEST_CHECK(json_number(run->out, "transfers_per_second") > 0);

    run = TOOL(&server, "bench", "--transfers", "6000", "--connections", "3", "--batch", "100",
               "--accounts", "50", "--hot-share", "0.5", "--pending-share", "0.3", "--ids", "random");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "verification passed");
    CHECK_CONTAINS(run->out, "p999");
    run = TOOL(&server, "bench", "--batch", "1", "--connections", "1", "--transfers", "300",
               "--accounts", "10", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(json_number(run->out, "in_flight"), 1);
    TEST_CHECK_EQ(json_number(run->out, "requests"), 300);
    run = TOOL(&server, "bench", "--duration", "0.5", "--accounts", "10", "--batch", "10",
               "--idle-connections", "50", "--json");
    CHECK_EXIT(run, 0);
    CHECK_CONTAINS(run->out, "\"verified\":true");
    TEST_CHECK_EQ(json_number(run->out, "idle_connections"), 50);
    server_finish(&server);
}

/* `bench-ledger` end to end, small, and the engine's memory budget at the
 * size that matters for sizing a server: at most 256 bytes of resident
 * memory per account with 100,000 accounts loaded (docs/storage.md), as
 * bench-ledger measures it in its own fresh process (the table's arrays
 * grow several times on the way; the ones they outgrew once stayed on
 * glibc's heap: 289 bytes). Under AddressSanitizer resident memory
 * measures the sanitizer, so only the run itself is checked. */
static void test_bench_ledger(void) {
    case_directory("cli-bench-ledger");
    run_t *run = TOOL(NULL, "bench-ledger", "--dir", run_directory, "--transfers", "10k",
                      "--accounts", "100k", "--json");
    CHECK_EXIT(run, 0);
    CHECK_JSON(run->out);
    TEST_CHECK_EQ(json_number(run->out, "transfers"), 10000);
    TEST_CHECK_EQ(json_number(run->out, "accounts"), 100000);
    TEST_CHECK(json_number(run->out, "engine_per_second") > 0);
    TEST_CHECK(json_number(run->out, "storage_per_second") > 0);
    uint64_t memory_per_account = json_number(run->out, "memory_per_account");
    printf("# %" PRIu64 " bytes of resident memory per account\n", memory_per_account);
    bool sanitized = false;
#if defined(__SANITIZE_ADDRESS__)
    sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    sanitized = true;
#endif
#endif
    if (!sanitized) TEST_CHECK(memory_per_account <= 256);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"help_and_usage", test_help_and_usage},
        {"values_text", test_values_text},
        {"not_running", test_not_running},
        {"accounts", test_accounts},
        {"transfers", test_transfers},
        {"batch_files", test_batch_files},
        {"client_pipelining", test_client_pipelining},
        {"client_concurrent", test_client_concurrent},
        {"client_errors", test_client_errors},
        {"bench", test_bench},
        {"bench_ledger", test_bench_ledger},
        {"demo", test_demo},
    };
    signal(SIGPIPE, SIG_IGN);
    atexit(server_kill_at_exit);
    log_text = malloc(OUTPUT_SIZE_MAX);
    run_buffers.out = malloc(OUTPUT_SIZE_MAX);
    run_buffers.err = malloc(OUTPUT_SIZE_MAX);
    TEST_REQUIRE(log_text != NULL && run_buffers.out != NULL && run_buffers.err != NULL);
    int result = test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
    free(log_text);
    free(run_buffers.out);
    free(run_buffers.err);
    return result;
}
