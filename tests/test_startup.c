/*
 * test_startup.c — startup checks (issue 7, point 6): `borsellinod` and
 * `borsellino audit verify` must refuse a damaged data directory with a
 * clear message and a non-zero exit, and must never "repair" it.
 *
 * Each case builds a small ledger in-process (accounts and transfers, then
 * a clean close, so the checkpoint covers the whole journal), damages it in
 * one way, and runs both binaries ($BORSELLINOD, $BORSELLINO) on it:
 *  - format_newer:  meta "format_version" = 3 (u32 little-endian), written
 *                   straight through LMDB;
 *  - bad_checksum:  one byte flipped inside the last journal record (the
 *                   one every open reads: replay starts at the checkpoint's
 *                   record), the CRC left as it was;
 *  - bad_checksum_early: a byte flipped in record 3, which the checkpoint
 *                   covers: replay does not read it, but the checksum scan
 *                   of every open does, so both refuse it;
 *  - truncated:     data.mdb cut to half its size.
 * For each, the SHA-256 of data.mdb is taken before and after every refused
 * run and must not change. A healthy control case proves that the same
 * harness sees a server start and an audit pass, so that the refusals are
 * not an artefact of the harness.
 *
 * The server's refusal must point to `borsellino audit verify` (its
 * start_failed log line has a hint with the command).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger_fixture.h"
#include "test.h"

/* How long a refusing binary may take to exit; a server still running
 * after this has started, which is a failure. */
enum { STARTUP_EXIT_TIMEOUT_MS = 15000 };
/* How long a healthy server may take to log that it listens. */
enum { STARTUP_LISTEN_TIMEOUT_MS = 15000 };
enum { STARTUP_POLL_MS = 10 };
enum { STARTUP_LOG_MAX = 64 * 1024 };
enum { STARTUP_ACCOUNTS = 20, STARTUP_TRANSFERS = 2000, STARTUP_BATCH = 500 };
enum { JOURNAL_RECORD_MAX = 4096 };
/* A byte well inside a record: past the CRC (bytes 0..3) and the header. */
enum { TAMPER_OFFSET = 40 };

typedef struct digest {
    uint8_t bytes[32];
    off_t size;
} digest_t;

typedef struct run_result {
    bool exited;      /* exited by itself within the timeout */
    int exit_code;    /* when exited normally */
    int signal;       /* when killed by a signal (a crash is not a refusal) */
    char log[STARTUP_LOG_MAX];
} run_result_t;

static uint64_t monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint32_t ms) {
    struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *binary(const char *variable) {
    const char *path = getenv(variable);
    if (path == NULL || path[0] == '\0') {
        printf("Bail out! $%s is not set (meson sets it)\n", variable);
        exit(1);
    }
    return path;
}

/* ---- the data directory ---- */

/* A ledger with accounts and transfers, closed cleanly (checkpointed). */
static void ledger_build(fixture_t *f) {
    fixture_open(f, "startup");
    fixture_accounts_range(f, 1, STARTUP_ACCOUNTS, FIXTURE_LEDGER, 0);
    ledger_transfer_t *batch = calloc(STARTUP_BATCH, sizeof *batch);
    TEST_REQUIRE(batch != NULL);
    for (uint64_t done = 0; done < STARTUP_TRANSFERS; done += STARTUP_BATCH) {
        for (uint32_t i = 0; i < STARTUP_BATCH; i++) {
            uint64_t n = done + i;
            batch[i] = transfer_make(1000 + n, 1 + n % STARTUP_ACCOUNTS,
                                     1 + (n + 1) % STARTUP_ACCOUNTS, 1 + n % 97);
        }
        f->now_ns += FIXTURE_NS_PER_S;
        fixture_transfers_create(f, batch, STARTUP_BATCH);
    }
    free(batch);
    fixture_shut(f);
}

static void data_file(const fixture_t *f, char *out, size_t size) {
    int length = snprintf(out, size, "%s/data.mdb", f->path);
    TEST_REQUIRE(length > 0 && (size_t)length < size);
}

/* SHA-256 and size of data.mdb. */
static digest_t data_digest(const fixture_t *f) {
    char path[PATH_MAX];
    data_file(f, path, sizeof path);
    digest_t digest;
    memset(&digest, 0, sizeof digest);
    int fd = open(path, O_RDONLY);
    TEST_REQUIRE(fd >= 0);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    TEST_REQUIRE(context != NULL);
    TEST_REQUIRE(EVP_DigestInit_ex(context, EVP_sha256(), NULL) == 1);
    uint8_t buffer[65536];
    ssize_t got;
    while ((got = read(fd, buffer, sizeof buffer)) > 0) {
        TEST_REQUIRE(EVP_DigestUpdate(context, buffer, (size_t)got) == 1);
        digest.size += got;
    }
    TEST_REQUIRE(got == 0);
    TEST_REQUIRE(EVP_DigestFinal_ex(context, digest.bytes, NULL) == 1);
    EVP_MD_CTX_free(context);
    close(fd);
    return digest;
}

static bool digest_equal(const digest_t *a, const digest_t *b) {
    return a->size == b->size && memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

/* ---- LMDB, directly ---- */

static MDB_env *raw_open(const char *path) {
    MDB_env *env = NULL;
    TEST_REQUIRE(mdb_env_create(&env) == 0);
    TEST_REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    int rc = mdb_env_open(env, path, 0, 0600);
    if (rc != 0) printf("# mdb_env_open(%s): %s\n", path, mdb_strerror(rc));
    TEST_REQUIRE(rc == 0);
    return env;
}

/* db[key] = value, in its own committed transaction. */
static void raw_put(const char *path, const char *db, const void *key, size_t key_size,
                    const void *value, size_t value_size) {
    MDB_env *env = raw_open(path);
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, db, 0, &dbi) == 0);
    MDB_val k = {key_size, (void *)key}, v = {value_size, (void *)value};
    TEST_REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
    TEST_REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

static void format_version_write(const char *path, uint32_t version) {
    const uint8_t bytes[4] = {(uint8_t)version, (uint8_t)(version >> 8),
                              (uint8_t)(version >> 16), (uint8_t)(version >> 24)};
    raw_put(path, "meta", "format_version", strlen("format_version"), bytes, 4);
}

static void key_sequence(uint64_t sequence, uint8_t key[8]) {
    for (int i = 0; i < 8; i++) key[i] = (uint8_t)(sequence >> (56 - 8 * i));
}

/* Flips one byte of journal record `sequence`, leaving its CRC as it was. */
static void journal_byte_flip(const char *path, uint64_t sequence) {
    uint8_t key[8], record[JOURNAL_RECORD_MAX];
    key_sequence(sequence, key);
    MDB_env *env = raw_open(path);
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(txn, "journal", 0, &dbi) == 0);
    MDB_val k = {8, key}, v = {0, NULL};
    TEST_REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
    size_t size = v.mv_size;
    TEST_REQUIRE(size > TAMPER_OFFSET && size <= sizeof record);
    memcpy(record, v.mv_data, size);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    record[TAMPER_OFFSET] ^= 0x5A;
    raw_put(path, "journal", key, 8, record, size);
}

static void data_truncate_half(const fixture_t *f) {
    char path[PATH_MAX];
    data_file(f, path, sizeof path);
    struct stat st;
    TEST_REQUIRE(stat(path, &st) == 0);
    printf("# data.mdb: %lld bytes, cut to %lld\n", (long long)st.st_size,
           (long long)(st.st_size / 2));
    TEST_REQUIRE(truncate(path, st.st_size / 2) == 0);
}

/* ---- running the binaries ---- */

static void log_read(const char *path, char *out, size_t capacity) {
    out[0] = '\0';
    FILE *file = fopen(path, "r");
    if (file == NULL) return;
    size_t got = fread(out, 1, capacity - 1, file);
    out[got] = '\0';
    fclose(file);
}

/* Starts argv with stdout and stderr into `log_path`. */
static pid_t spawn(char *const *argv, const char *log_path) {
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) _exit(126);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits up to timeout_ms for pid; fills exited/exit_code/signal. When
 * `until_log` is given, also stops waiting (still running) as soon as the
 * log contains it. Returns true when the process is gone. */
static bool wait_for(pid_t pid, const char *log_path, const char *until_log,
                     uint32_t timeout_ms, run_result_t *result) {
    uint64_t deadline = monotonic_ms() + timeout_ms;
    for (;;) {
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            result->exited = true;
            result->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            result->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            log_read(log_path, result->log, sizeof result->log);
            return true;
        }
        log_read(log_path, result->log, sizeof result->log);
        if (until_log != NULL && strstr(result->log, until_log) != NULL) return false;
        if (monotonic_ms() >= deadline) return false;
        sleep_ms(STARTUP_POLL_MS);
    }
}

static void kill_and_reap(pid_t pid) {
    kill(pid, SIGKILL);
    int status = 0;
    (void)waitpid(pid, &status, 0);
}

static void log_print(const char *who, const char *log) {
    printf("# %s said:\n", who);
    const char *line = log;
    for (int lines = 0; *line != '\0' && lines < 20; lines++) {
        const char *end = strchr(line, '\n');
        int length = end ? (int)(end - line) : (int)strlen(line);
        printf("#   %.*s\n", length, line);
        line = end ? end + 1 : line + length;
    }
}

/* Runs borsellinod on the directory; it must exit by itself, non-zero. */
static void server_refuses(const fixture_t *f, const char *reason_word) {
    char log_path[PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s.server.log", f->path);
    char *argv[] = {(char *)binary("BORSELLINOD"), "--data", (char *)f->path,
                    "--listen", "127.0.0.1:0", NULL};
    static run_result_t result;
    memset(&result, 0, sizeof result);
    pid_t pid = spawn(argv, log_path);
    if (!wait_for(pid, log_path, NULL, STARTUP_EXIT_TIMEOUT_MS, &result)) {
        printf("# borsellinod did not refuse: still running after %d ms\n",
               STARTUP_EXIT_TIMEOUT_MS);
        kill_and_reap(pid);
    }
    log_print("borsellinod", result.log);
    TEST_CHECK(result.exited);
    TEST_CHECK_EQ(result.signal, 0);
    TEST_CHECK(result.exit_code > 0);
    TEST_CHECK(strstr(result.log, "event=start_failed") != NULL);
    TEST_CHECK(strcasestr(result.log, reason_word) != NULL);
    /* The pointer for the operator. */
    TEST_CHECK(strstr(result.log, "borsellino audit verify") != NULL);
    TEST_CHECK(strstr(result.log, "event=listening") == NULL);
    unlink(log_path);
}

/* Runs `borsellino audit verify`; returns the exit code (-1 for a crash or
 * a timeout), with its output in `result`. */
static int audit_run(const fixture_t *f, run_result_t *result) {
    char log_path[PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s.audit.log", f->path);
    char *argv[] = {(char *)binary("BORSELLINO"), "audit", "verify", "--data",
                    (char *)f->path, NULL};
    memset(result, 0, sizeof *result);
    pid_t pid = spawn(argv, log_path);
    if (!wait_for(pid, log_path, NULL, STARTUP_EXIT_TIMEOUT_MS, result)) {
        printf("# audit verify did not finish within %d ms\n", STARTUP_EXIT_TIMEOUT_MS);
        kill_and_reap(pid);
        return -1;
    }
    unlink(log_path);
    return result->signal != 0 ? -1 : result->exit_code;
}

static void audit_refuses(const fixture_t *f, const char *reason_word) {
    static run_result_t result;
    int code = audit_run(f, &result);
    log_print("borsellino audit verify", result.log);
    TEST_CHECK_EQ(code, 1);
    TEST_CHECK(strstr(result.log, "borsellino audit verify:") != NULL);
    TEST_CHECK(strcasestr(result.log, reason_word) != NULL);
    TEST_CHECK(strstr(result.log, "books hold") == NULL);
}

/* Both binaries refuse, and data.mdb is byte-for-byte what it was. */
static void both_refuse_unchanged(fixture_t *f, const char *server_word,
                                  const char *audit_word) {
    digest_t before = data_digest(f);
    server_refuses(f, server_word);
    digest_t after_server = data_digest(f);
    TEST_CHECK(digest_equal(&before, &after_server));
    audit_refuses(f, audit_word);
    digest_t after_audit = data_digest(f);
    TEST_CHECK(digest_equal(&before, &after_audit));
    /* A second server attempt sees the same damage: nothing was fixed. */
    server_refuses(f, server_word);
    digest_t after_again = data_digest(f);
    TEST_CHECK(digest_equal(&before, &after_again));
}

/* ---- cases ---- */

/* Control: the untouched directory starts a server and passes the audit. */
static void test_healthy(void) {
    fixture_t f;
    ledger_build(&f);
    static run_result_t result;
    TEST_CHECK_EQ(audit_run(&f, &result), 0);
    TEST_CHECK(strstr(result.log, "books hold") != NULL);
    char log_path[PATH_MAX + 32];
    snprintf(log_path, sizeof log_path, "%s.server.log", f.path);
    char *argv[] = {(char *)binary("BORSELLINOD"), "--data", f.path, "--listen",
                    "127.0.0.1:0", NULL};
    pid_t pid = spawn(argv, log_path);
    bool gone = wait_for(pid, log_path, "event=listening", STARTUP_LISTEN_TIMEOUT_MS,
                         &result);
    TEST_CHECK(!gone);
    TEST_CHECK(strstr(result.log, "event=listening") != NULL);
    if (!gone) {
        kill(pid, SIGTERM);
        gone = wait_for(pid, log_path, NULL, STARTUP_EXIT_TIMEOUT_MS, &result);
        if (!gone) kill_and_reap(pid);
        TEST_CHECK(gone);
        TEST_CHECK_EQ(result.exit_code, 0);
    }
    if (test_failures_in_case != 0) log_print("borsellinod", result.log);
    unlink(log_path);
    fixture_close(&f);
}

/* --config FILE: `key = value` lines with the options' names; the command
 * line wins; a bad line stops startup naming FILE:LINE. */
static void config_write(const char *path, const char *text) {
    FILE *file = fopen(path, "w");
    TEST_REQUIRE(file != NULL);
    fputs(text, file);
    fclose(file);
}

static void test_config_file(void) {
    fixture_t f;
    ledger_build(&f);
    char config_path[PATH_MAX + 32], log_path[PATH_MAX + 32], text[PATH_MAX + 256];
    snprintf(config_path, sizeof config_path, "%s.conf", f.path);
    snprintf(log_path, sizeof log_path, "%s.server.log", f.path);
    static run_result_t result;
    /* The file names the data and a non-loopback address (refused without
     * TLS); the command line's --listen wins, so the server starts. */
    snprintf(text, sizeof text,
             "# borsellinod configuration\n"
             "data = %s\n"
             "listen = 10.0.0.1:7450   # overridden below\n"
             "idle-timeout-ms = 60000\n"
             "insecure-plaintext = false\n", f.path);
    config_write(config_path, text);
    char *start[] = {(char *)binary("BORSELLINOD"), "--config", config_path, "--listen",
                     "127.0.0.1:0", NULL};
    pid_t pid = spawn(start, log_path);
    bool gone = wait_for(pid, log_path, "event=listening", STARTUP_LISTEN_TIMEOUT_MS, &result);
    TEST_CHECK(!gone);
    TEST_CHECK(strstr(result.log, "event=listening address=127.0.0.1:") != NULL);
    if (!gone) {
        kill(pid, SIGTERM);
        gone = wait_for(pid, log_path, NULL, STARTUP_EXIT_TIMEOUT_MS, &result);
        if (!gone) kill_and_reap(pid);
        TEST_CHECK_EQ(result.exit_code, 0);
    }
    /* Without the override, the file's address is refused. */
    char *file_only[] = {(char *)binary("BORSELLINOD"), "--config", config_path, NULL};
    pid = spawn(file_only, log_path);
    TEST_CHECK(wait_for(pid, log_path, NULL, STARTUP_EXIT_TIMEOUT_MS, &result));
    TEST_CHECK_EQ(result.exit_code, 2);
    TEST_CHECK(strstr(result.log, "refusing to listen on 10.0.0.1:7450") != NULL);
    /* A bad key and a bad value name their line; nothing starts. */
    const char *bad[][2] = {{"listen = 127.0.0.1:0\nconnection-max = 5\n", ":2: unknown key connection-max"},
                            {"in-flight-max = many\n", ":1: --in-flight-max must be a number"},
                            {"commit-pipelining = sometimes\n",
                             ":1: --commit-pipelining must be auto, on or off"},
                            {"data\n", ":1: expected `key = value`"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_write(config_path, bad[i][0]);
        pid = spawn(file_only, log_path);
        TEST_CHECK(wait_for(pid, log_path, NULL, STARTUP_EXIT_TIMEOUT_MS, &result));
        TEST_CHECK_EQ(result.exit_code, 2);
        TEST_CHECK(strstr(result.log, bad[i][1]) != NULL);
        TEST_CHECK(strstr(result.log, config_path) != NULL);
        TEST_CHECK(strstr(result.log, "event=listening") == NULL);
    }
    if (test_failures_in_case != 0) log_print("borsellinod", result.log);
    unlink(log_path);
    unlink(config_path);
    fixture_close(&f);
}

static void test_format_newer(void) {
    fixture_t f;
    ledger_build(&f);
    format_version_write(f.path, 3);
    both_refuse_unchanged(&f, "format", "format");
    fixture_close(&f);
}

static void test_bad_checksum(void) {
    fixture_t f;
    ledger_build(&f);
    uint64_t last = STARTUP_ACCOUNTS + STARTUP_TRANSFERS;
    journal_byte_flip(f.path, last);
    both_refuse_unchanged(&f, "damaged", "damaged");
    fixture_close(&f);
}

/* A record the checkpoint covers is not replayed, but every open scans all
 * checksums: the server refuses to start and the audit names the record. */
static void test_bad_checksum_early(void) {
    fixture_t f;
    ledger_build(&f);
    enum { EARLY_SEQUENCE = 3 };
    journal_byte_flip(f.path, EARLY_SEQUENCE);
    both_refuse_unchanged(&f, "journal record 3 is damaged", "journal record 3 is damaged");
    fixture_close(&f);
}

static void test_truncated(void) {
    fixture_t f;
    ledger_build(&f);
    data_truncate_half(&f);
    both_refuse_unchanged(&f, "truncated", "truncated");
    fixture_close(&f);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"config_file", test_config_file},
        {"healthy", test_healthy},
        {"format_newer", test_format_newer},
        {"bad_checksum", test_bad_checksum},
        {"bad_checksum_early", test_bad_checksum_early},
        {"truncated", test_truncated},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
