/*
 * test_backup.c — hot backup and restore (issue 7 point 3), end to end.
 *
 * backup_under_load: a borsellinod takes a continuous stream of transfer
 * batches from a client thread; `borsellino backup` (the CLI, $BORSELLINO)
 * copies its data directory in the middle of the stream; the stream goes on
 * a while, then everything stops. The copy must then
 *   (a) open and pass ledger_verify();
 *   (b) hold exactly the original journal up to the reported sequence,
 *       record by record, byte for byte (both read with LMDB directly);
 *   (c) serve, under a second borsellinod started on it, every transfer of
 *       that prefix and the balances the copy itself holds.
 * backup_refusals: an --out that is not empty, a data directory that does
 * not exist, a missing --out, and the engine's own argument checks; none
 * may create or change anything.
 *
 * Load: one connection, BATCH_TRANSFERS per request, about LOAD_BATCHES_*
 * batches before and after the backup; a few seconds even sanitized.
 */
#include <lmdb.h>
#include <pthread.h>
#include <sys/stat.h>

#include "welfare.h"
#include "server_fixture.h"

enum {
    ACCOUNTS_COUNT = 16,
    BATCH_TRANSFERS = 250,
    /* Acknowledged batches before the backup starts, and after it ends. */
    LOAD_BATCHES_BEFORE = 20,
    LOAD_BATCHES_AFTER = 20,
    /* The load thread stops by itself at either bound. */
    LOAD_BATCHES_MAX = 2000,
    LOAD_TIME_MAX_MS = 60000,
    /* How long the main thread waits for the load to reach a mark. */
    LOAD_WAIT_MS = 30000,
    TOOL_TIMEOUT_MS = 60000,
    TOOL_OUTPUT_MAX = 64 * 1024,
    LOOKUP_CHUNK = 1000,
    /* Must cover store.c's named tables. */
    DATABASES_MAX = 16,
};

/* Transfer ids start here so that they never look like account ids. */
static const uint64_t TRANSFER_ID_FIRST = 1000000;

/* ------------------------------------------------------------------------ */
/* The load                                                                 */

typedef struct load {
    uint16_t port;
    atomic_bool stop;
    atomic_uint_fast64_t sent;  /* transfers sent (acknowledged or in flight) */
    atomic_uint_fast64_t acked; /* transfers acknowledged OK */
    failures_t failures;
} load_t;

static ledger_transfer_t load_transfer(uint64_t index) {
    uint64_t debit = index % ACCOUNTS_COUNT;
    uint64_t credit = (debit + 1 + (index / ACCOUNTS_COUNT) % (ACCOUNTS_COUNT - 1)) %
                      ACCOUNTS_COUNT;
    return transfer_make(TRANSFER_ID_FIRST + index, 1 + debit, 1 + credit,
                         1 + index % 97);
}

static void *load_run(void *argument) {
    load_t *load = argument;
    conn_t conn;
    if (!conn_open(&conn, load->port, &load->failures)) return NULL;
    ledger_transfer_t batch[BATCH_TRANSFERS];
    uint64_t deadline = now_us() + LOAD_TIME_MAX_MS * UINT64_C(1000);
    for (int i = 0; i < LOAD_BATCHES_MAX && !atomic_load(&load->stop); i++) {
        if (now_us() > deadline) {
            FAIL(&load->failures, "load still running after %d ms", LOAD_TIME_MAX_MS);
            break;
        }
        uint64_t first = atomic_load(&load->sent);
        for (uint32_t j = 0; j < BATCH_TRANSFERS; j++) batch[j] = load_transfer(first + j);
        atomic_store(&load->sent, first + BATCH_TRANSFERS);
        if (!create_transfers_ok(&conn, batch, BATCH_TRANSFERS, NULL, &load->failures)) {
            break;
        }
        atomic_store(&load->acked, first + BATCH_TRANSFERS);
    }
    conn_close(&conn);
    return NULL;
}

/* Waits until `count` transfers are acknowledged (or the load died). */
static bool load_wait(load_t *load, uint64_t count) {
    uint64_t deadline = now_us() + LOAD_WAIT_MS * UINT64_C(1000);
    while (atomic_load(&load->acked) < count) {
        if (now_us() > deadline || atomic_load(&load->failures.count) > 0) {
            printf("# load reached %" PRIu64 " of %" PRIu64 " transfers\n",
                   (uint64_t)atomic_load(&load->acked), count);
            return false;
        }
        sleep_ms(2);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* The command-line tool                                                    */

static const char *tool_binary(void) {
    const char *path = getenv("BORSELLINO");
    if (path == NULL || path[0] == '\0') {
        printf("# $BORSELLINO is not set (meson sets it)\nBail out!\n");
        exit(1);
    }
    return path;
}

/* Runs `borsellino backup ARGS...` with stdout into `out` (capacity
 * TOOL_OUTPUT_MAX) and stderr into `err`; returns its exit status, or -1
 * when it did not exit normally within TOOL_TIMEOUT_MS. */
static int backup_run(const char *directory, const char *const *args, char *out,
                      char *err) {
    char out_path[PATH_MAX + 16], err_path[PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/tool.out", directory);
    snprintf(err_path, sizeof err_path, "%s/tool.err", directory);
    char *argv[16] = {(char *)tool_binary(), "backup"};
    int argc = 2;
    for (int i = 0; args[i] != NULL; i++) {
        TEST_REQUIRE(argc < 15);
        argv[argc++] = (char *)args[i];
    }
    fflush(stdout);
    pid_t pid = fork();
    TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out_fd < 0 || err_fd < 0) _exit(126);
        dup2(out_fd, STDOUT_FILENO), dup2(err_fd, STDERR_FILENO);
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
    file_read(out_path, out, TOOL_OUTPUT_MAX);
    file_read(err_path, err, TOOL_OUTPUT_MAX);
    remove(out_path);
    remove(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint64_t json_u64(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    return at == NULL ? 0 : strtoull(at + strlen(pattern), NULL, 10);
}

static bool path_exists(const char *path) {
    struct stat info;
    return stat(path, &info) == 0;
}

/* ------------------------------------------------------------------------ */
/* (b) the journal prefix, read with LMDB alone                             */

static MDB_env *raw_open(const char *path) {
    MDB_env *env = NULL;
    TEST_REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, DATABASES_MAX);
    /* No server runs on either directory now: nothing needs the lock. */
    int error = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600);
    if (error) printf("# cannot open %s: %s\n", path, mdb_strerror(error));
    TEST_REQUIRE(error == 0);
    return env;
}

static uint64_t key_sequence(const MDB_val *key) {
    TEST_REQUIRE(key->mv_size == 8);
    const uint8_t *bytes = key->mv_data;
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) value = value << 8 | bytes[i];
    return value;
}

/* Every record of the copy's journal is the original's, in sequence 1..
 * `sequence`, and the original goes on after it (the load continued). */
static void journal_prefix_check(const char *original_path, const char *copy_path,
                                 uint64_t sequence) {
    MDB_env *original = raw_open(original_path);
    MDB_env *copy = raw_open(copy_path);
    MDB_txn *original_txn = NULL, *copy_txn = NULL;
    MDB_dbi original_dbi, copy_dbi;
    TEST_REQUIRE(mdb_txn_begin(original, NULL, MDB_RDONLY, &original_txn) == 0);
    TEST_REQUIRE(mdb_txn_begin(copy, NULL, MDB_RDONLY, &copy_txn) == 0);
    TEST_REQUIRE(mdb_dbi_open(original_txn, "journal", 0, &original_dbi) == 0);
    TEST_REQUIRE(mdb_dbi_open(copy_txn, "journal", 0, &copy_dbi) == 0);
    MDB_cursor *cursor = NULL;
    TEST_REQUIRE(mdb_cursor_open(copy_txn, copy_dbi, &cursor) == 0);
    MDB_val key, data;
    uint64_t expected = 1, differing = 0;
    int error = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
    for (; error == 0 && expected <= sequence + 1; expected++) {
        TEST_CHECK_EQ(key_sequence(&key), expected);
        MDB_val original_data;
        if (mdb_get(original_txn, original_dbi, &key, &original_data) != 0 ||
            original_data.mv_size != data.mv_size ||
            memcmp(original_data.mv_data, data.mv_data, data.mv_size) != 0) {
            if (differing++ == 0) printf("# record %" PRIu64 " differs\n", expected);
        }
        error = mdb_cursor_get(cursor, &key, &data, MDB_NEXT);
    }
    TEST_CHECK_EQ(error, MDB_NOTFOUND);
    TEST_CHECK_EQ(expected - 1, sequence);
    TEST_CHECK_EQ(differing, 0);
    MDB_stat original_stat;
    TEST_CHECK_EQ(mdb_stat(original_txn, original_dbi, &original_stat), 0);
    TEST_CHECK(original_stat.ms_entries > sequence);
    printf("# copy: %" PRIu64 " journal records of the original's %zu\n", sequence,
           original_stat.ms_entries);
    mdb_cursor_close(cursor);
    mdb_txn_abort(original_txn);
    mdb_txn_abort(copy_txn);
    mdb_env_close(original);
    mdb_env_close(copy);
}

/* ------------------------------------------------------------------------ */
/* (a) the copy in-process, and what (c) expects of a server on it          */

typedef struct contents {
    ledger_account_t accounts[ACCOUNTS_COUNT];
    ledger_transfer_t *transfers; /* the load's first transfers_count */
    uint64_t transfers_count;
} contents_t;

/* The load's transfers found in the copy: they must be a prefix of the
 * stream, since one connection sent them one batch after the other. */
static void contents_read(ledger_t *ledger, uint64_t sent, contents_t *contents) {
    contents->transfers = xcalloc(sent, sizeof *contents->transfers);
    ledger_u128_t ids[LOOKUP_CHUNK];
    uint64_t found_total = 0;
    for (uint64_t first = 0; first < sent; first += LOOKUP_CHUNK) {
        uint32_t count = (uint32_t)(sent - first < LOOKUP_CHUNK ? sent - first : LOOKUP_CHUNK);
        for (uint32_t i = 0; i < count; i++) ids[i] = id128(TRANSFER_ID_FIRST + first + i);
        uint32_t found = 0;
        TEST_REQUIRE(ledger_lookup_transfers(ledger, ids, count,
                                             contents->transfers + found_total, &found) == 0);
        for (uint32_t i = 0; i < found; i++) {
            TEST_CHECK_EQ(contents->transfers[found_total + i].id.lo,
                          TRANSFER_ID_FIRST + found_total + i);
        }
        found_total += found;
    }
    contents->transfers_count = found_total;
    ledger_u128_t account_ids[ACCOUNTS_COUNT];
    for (uint32_t i = 0; i < ACCOUNTS_COUNT; i++) account_ids[i] = id128(1 + i);
    uint32_t found = 0;
    TEST_REQUIRE(ledger_lookup_accounts(ledger, account_ids, ACCOUNTS_COUNT,
                                        contents->accounts, &found) == 0);
    TEST_CHECK_EQ(found, ACCOUNTS_COUNT);
}

/* (a): opens the copy read-only, verifies it, and reads its contents. */
static void copy_verify(const char *path, uint64_t sequence, uint64_t sent,
                        contents_t *contents) {
    ledger_options_t options = {.read_only = true};
    ledger_t *ledger = NULL;
    int error = ledger_open(path, &options, &ledger);
    if (error) printf("# open copy: %s\n", ledger_last_error_message(NULL));
    TEST_REQUIRE(error == 0);
    ledger_verify_report_t report;
    error = ledger_verify(ledger, &report, NULL, NULL);
    if (error) printf("# verify: %s (record %" PRIu64 ")\n", report.message,
                      report.first_bad_sequence);
    TEST_CHECK_EQ(error, 0);
    ledger_stats_t stats;
    TEST_CHECK_EQ(ledger_stats(ledger, &stats), 0);
    TEST_CHECK_EQ(stats.journal_sequence, sequence);
    contents_read(ledger, sent, contents);
    /* The welfare platform's accounts (created at startup), ACCOUNTS_COUNT
     * account events, then one event per transfer. */
    TEST_CHECK_EQ(contents->transfers_count + ACCOUNTS_COUNT + WELFARE_PLATFORM_ACCOUNTS, sequence);
    TEST_CHECK_EQ(ledger_close(ledger), 0);
}

/* (c): a server on the copy serves exactly those transfers and balances. */
static void restored_check(server_t *restored, const contents_t *contents) {
    if (!server_start(restored)) return;
    conn_t conn;
    if (!conn_open(&conn, restored->port, &case_failures)) return;
    ledger_u128_t ids[LOOKUP_CHUNK];
    ledger_transfer_t *served = xcalloc(LOOKUP_CHUNK, sizeof *served);
    uint64_t total = contents->transfers_count;
    for (uint64_t first = 0; first < total + 1; first += LOOKUP_CHUNK) {
        /* Asks one id past the prefix too: it must not be there. */
        uint32_t count = (uint32_t)(total + 1 - first < LOOKUP_CHUNK ? total + 1 - first
                                                                     : LOOKUP_CHUNK);
        for (uint32_t i = 0; i < count; i++) ids[i] = id128(TRANSFER_ID_FIRST + first + i);
        uint32_t found = 0;
        if (!lookup_transfers_call(&conn, ids, count, served, &found, &case_failures)) break;
        bool last = first + count == total + 1;
        TEST_CHECK_EQ(found, last ? count - 1 : count);
        for (uint32_t i = 0; i < found; i++) {
            transfer_check("restored transfer", &served[i],
                           &contents->transfers[first + i], &case_failures);
        }
    }
    free(served);
    for (uint32_t i = 0; i < ACCOUNTS_COUNT; i++) {
        ledger_balance_t balance;
        if (!account_balance(&conn, 1 + i, &balance, &case_failures)) break;
        balance_check("restored balance", balance,
                      balance_of_account(&contents->accounts[i]), &case_failures);
    }
    response_t *status = status_call(&conn, &case_failures);
    if (status != NULL) {
        TEST_CHECK_EQ(status->status_result->journal_sequence,
                      total + ACCOUNTS_COUNT + WELFARE_PLATFORM_ACCOUNTS);
        frame_response_free(status);
    }
    conn_close(&conn);
    server_stop(restored);
}

/* ------------------------------------------------------------------------ */
/* Cases                                                                    */

/* Takes the backup with the CLI; returns the reported journal sequence. */
static uint64_t backup_take(server_t *server, const char *out_path) {
    char *out = xcalloc(TOOL_OUTPUT_MAX, 1), *err = xcalloc(TOOL_OUTPUT_MAX, 1);
    const char *args[] = {"--data", server->data, "--out", out_path, "--json", NULL};
    uint64_t started = now_us();
    int status = backup_run(server->directory, args, out, err);
    if (status != 0) printf("# backup exit %d: %s", status, err);
    TEST_CHECK_EQ(status, 0);
    uint64_t sequence = json_u64(out, "journal_sequence");
    printf("# backup took %" PRIu64 " ms: %s", (now_us() - started) / 1000, out);
    free(out);
    free(err);
    return sequence;
}

static void test_backup_under_load(void) {
    server_t server, restored;
    server_init(&server, "backup", NULL);
    server_init(&restored, "restored", NULL);
    if (!server_start(&server)) goto done;
    conn_t conn;
    if (!conn_open(&conn, server.port, &case_failures)) goto done;
    TEST_CHECK(create_accounts_range(&conn, 1, ACCOUNTS_COUNT, &case_failures));
    conn_close(&conn);

    load_t load = {.port = server.port, .failures = {"load", 0}};
    pthread_t thread;
    TEST_REQUIRE(pthread_create(&thread, NULL, load_run, &load) == 0);
    bool loaded = load_wait(&load, LOAD_BATCHES_BEFORE * BATCH_TRANSFERS);
    uint64_t acked_before = atomic_load(&load.acked);
    /* The copy goes where the second server will look for its data. */
    uint64_t sequence = loaded ? backup_take(&server, restored.data) : 0;
    uint64_t sent_after = atomic_load(&load.sent);
    if (loaded) load_wait(&load, sent_after + LOAD_BATCHES_AFTER * BATCH_TRANSFERS);
    atomic_store(&load.stop, true);
    pthread_join(thread, NULL);
    failures_collect(&load.failures);
    server_stop(&server);
    TEST_REQUIRE(loaded && sequence > 0);

    struct stat info;
    TEST_CHECK(stat(restored.data, &info) == 0 && (info.st_mode & 0777) == 0700);
    char copy_file[PATH_MAX + 32];
    snprintf(copy_file, sizeof copy_file, "%s/data.mdb", restored.data);
    TEST_CHECK(stat(copy_file, &info) == 0 && (info.st_mode & 0777) == 0600);

    journal_prefix_check(server.data, restored.data, sequence);
    contents_t contents = {.transfers = NULL};
    copy_verify(restored.data, sequence, atomic_load(&load.sent), &contents);
    /* Taken in the middle: after what was acknowledged before it began,
     * before what was sent after it ended. */
    TEST_CHECK(contents.transfers_count >= acked_before);
    TEST_CHECK(contents.transfers_count <= sent_after);
    printf("# copy holds %" PRIu64 " transfers: %" PRIu64 " acknowledged before "
           "the backup, %" PRIu64 " sent by its end, %" PRIu64 " in all\n",
           contents.transfers_count, acked_before, sent_after,
           (uint64_t)atomic_load(&load.sent));
    restored_check(&restored, &contents);
    free(contents.transfers);
done:
    server_destroy(&restored);
    server_destroy(&server);
}

/* A small data directory with a few events, made in-process. */
static void small_ledger(const char *path) {
    ledger_t *ledger = NULL;
    TEST_REQUIRE(ledger_open(path, NULL, &ledger) == 0);
    ledger_account_t accounts[2] = {account_make(1, FIXTURE_LEDGER, 0),
                                    account_make(2, FIXTURE_LEDGER, 0)};
    ledger_result_t results[2];
    TEST_REQUIRE(ledger_create_accounts(ledger, accounts, 2, results) == 0);
    TEST_REQUIRE(ledger_close(ledger) == 0);
}

static void test_backup_refusals(void) {
    char directory[PATH_MAX];
    fixture_tmp_dir_make("backup-refusals", directory, sizeof directory);
    char data[PATH_MAX + 16], full[PATH_MAX + 16], marker[PATH_MAX + 32],
        missing[PATH_MAX + 16], out[PATH_MAX + 16], empty[PATH_MAX + 16];
    snprintf(data, sizeof data, "%s/data", directory);
    snprintf(full, sizeof full, "%s/full", directory);
    snprintf(marker, sizeof marker, "%s/full/keep", directory);
    snprintf(missing, sizeof missing, "%s/missing", directory);
    snprintf(out, sizeof out, "%s/out", directory);
    snprintf(empty, sizeof empty, "%s/empty", directory);
    small_ledger(data);
    TEST_REQUIRE(mkdir(full, 0700) == 0);
    FILE *file = fopen(marker, "w");
    TEST_REQUIRE(file != NULL && fputs("keep", file) >= 0 && fclose(file) == 0);
    char *stdout_text = xcalloc(TOOL_OUTPUT_MAX, 1), *stderr_text = xcalloc(TOOL_OUTPUT_MAX, 1);

    const char *into_full[] = {"--data", data, "--out", full, NULL};
    TEST_CHECK_EQ(backup_run(directory, into_full, stdout_text, stderr_text), 1);
    TEST_CHECK(strstr(stderr_text, "not empty") != NULL);
    char full_copy[PATH_MAX + 32];
    snprintf(full_copy, sizeof full_copy, "%s/data.mdb", full);
    TEST_CHECK(!path_exists(full_copy));
    TEST_CHECK(path_exists(marker));

    const char *from_missing[] = {"--data", missing, "--out", out, "--json", NULL};
    TEST_CHECK_EQ(backup_run(directory, from_missing, stdout_text, stderr_text), 1);
    TEST_CHECK(strstr(stderr_text, missing) != NULL);
    TEST_CHECK(strstr(stdout_text, "\"error\":") != NULL);
    TEST_CHECK(!path_exists(out));
    TEST_CHECK(!path_exists(missing));

    const char *no_out[] = {"--data", data, NULL};
    TEST_CHECK_EQ(backup_run(directory, no_out, stdout_text, stderr_text), 2);

    /* The engine: an existing empty directory is fine; a file, or NULLs, not. */
    uint64_t sequence = 0;
    TEST_REQUIRE(mkdir(empty, 0700) == 0);
    TEST_CHECK_EQ(ledger_backup(data, empty, &sequence), 0);
    TEST_CHECK_EQ(sequence, 2);
    TEST_CHECK(ledger_backup(data, marker, &sequence) != 0);
    TEST_CHECK(strstr(ledger_last_error_message(NULL), marker) != NULL);
    TEST_CHECK_EQ(ledger_backup(NULL, out, &sequence), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_backup(missing, out, &sequence), LEDGER_ERR_NOT_A_LEDGER);
    TEST_CHECK(!path_exists(out));

    free(stdout_text);
    free(stderr_text);
    if (test_failures_in_case == 0) fixture_tmp_dir_remove(directory);
    else printf("# kept %s\n", directory);
}

int main(int argc, char **argv) {
    if (server_binary() == NULL) {
        printf("1..0 # SKIP $BORSELLINOD is not set (meson sets it)\n");
        return 0;
    }
    static const test_case_t cases[] = {
        {"backup_under_load", test_backup_under_load},
        {"backup_refusals", test_backup_refusals},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
