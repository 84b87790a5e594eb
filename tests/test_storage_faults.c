/*
 * test_storage_faults.c — borsellinod when the disk runs out of space or
 * fails (issue 7, point 2).
 *
 * Case "tmpfs_full": the test mounts a 16 MiB tmpfs (it runs as root in
 * CI; without root it fails, since a skip would hide a regression), puts a
 * filler file and the data directory on it, and writes transfers in small
 * batches until the server answers STATUS_STORAGE_FULL. While full, reads
 * must be answered and every acknowledged transfer must be there. Deleting
 * the filler must let writes commit again without a restart. After a
 * SIGTERM the data must verify (ledger_verify, read-only, in-process) and
 * a restarted server must hold everything acknowledged.
 *
 * Cases "eio_*" and "enospc_*": tests/fault_shim.c ($BORSELLINO_FAULT_SHIM)
 * is preloaded into the server and fails calls on data.mdb as its control
 * file says, switched by the test while another client keeps reading. An
 * EIO must give STATUS_STORAGE_FAULT for that write and every later one,
 * even once the disk is healthy again, until a restart; after the restart
 * every acknowledged transfer is present, and retrying the refused batches
 * with the same ids gives ok or exists, never a second posting (balances
 * equal a model of acknowledged + retried transfers). An ENOSPC from a
 * write must give STATUS_STORAGE_FULL with nothing applied, and writes
 * resume once the shim lets calls through again.
 *
 * A failed fdatasync (EIO or ENOSPC) hits a group the server has already
 * committed unsynced (server/writer.c): from then on every request, reads
 * included, gets STATUS_STORAGE_FAULT until the restart, which rolls that
 * group back; so every refused transfer is new when retried.
 *
 * The model: transfer id i always moves 1 + i % 13 units from account
 * 1 + i % ACCOUNTS to account 1 + (i + 1) % ACCOUNTS, so any batch can be
 * rebuilt for a retry from its ids alone; the model's balances are the sum
 * over the transfers known to be posted.
 *
 * Sizes: about 10 MiB of transfers in the tmpfs case, a few thousand in
 * each shim case; the program runs in seconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "server_fixture.h"

enum {
    ACCOUNTS = 16,
    /* Small batches keep each LMDB write transaction small, so that the
     * disk fills up (not the map) and the last good commit is close to it. */
    FILL_BATCH = 100,
    /* 16 MiB hold far fewer transfers: never reaching "full" is a failure. */
    FILL_BATCHES_MAX = 4000,
    TMPFS_FILLER_BYTES = 6 * 1024 * 1024,
    /* Batches acknowledged before a fault is injected. */
    WARMUP_BATCHES = 20,
    FAULT_BATCH = 50,
    /* Batches sent while the fault is on (each must be refused). */
    FAULTED_BATCHES = 3,
    LOOKUP_CHUNK = 1000,
    READER_ROUNDS_MAX = 200000,
    TRANSFERS_MAX = FILL_BATCH * FILL_BATCHES_MAX,
};

/* ------------------------------------------------------------------------ */
/* The model                                                                */

typedef struct model {
    ledger_balance_t balances[ACCOUNTS]; /* of account id i + 1 */
    uint64_t *posted_ids;                /* acknowledged (or retried) ids */
    uint32_t posted_count;
    uint64_t next_id; /* the first id of the next batch */
} model_t;

static void model_init(model_t *model) {
    memset(model, 0, sizeof *model);
    model->posted_ids = xcalloc(TRANSFERS_MAX, sizeof *model->posted_ids);
    model->next_id = 1;
}

static void model_free(model_t *model) { free(model->posted_ids); }

static ledger_transfer_t transfer_of(uint64_t id) {
    return transfer_make(id, 1 + id % ACCOUNTS, 1 + (id + 1) % ACCOUNTS, 1 + id % 13);
}

static void model_post(model_t *model, uint64_t id) {
    TEST_REQUIRE(model->posted_count < TRANSFERS_MAX);
    ledger_transfer_t transfer = transfer_of(id);
    model->balances[transfer.debit_account_id.lo - 1].debits_posted += transfer.amount;
    model->balances[transfer.credit_account_id.lo - 1].credits_posted += transfer.amount;
    model->posted_ids[model->posted_count++] = id;
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                   */

/* Sends transfers first..first+count-1 as one request. Returns the
 * response's status (-1 when none came); on STATUS_OK, codes_out holds one
 * result per transfer. */
static int batch_send(conn_t *conn, uint64_t first, uint32_t count, uint32_t *codes_out,
                      failures_t *failures) {
    ledger_transfer_t *transfers = xcalloc(count, sizeof *transfers);
    for (uint32_t i = 0; i < count; i++) transfers[i] = transfer_of(first + i);
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(
        conn, request_id, request_create_transfers(request_id, transfers, count), failures);
    free(transfers);
    if (response == NULL) return -1;
    int status = (int)response->status;
    if (status == BORSELLINO__V1__STATUS__STATUS_OK) {
        if (!event_results_copy(response->create_transfers->results,
                                response->create_transfers->n_results, count, codes_out,
                                NULL, failures)) {
            status = -1;
        }
    } else if (response->message == NULL || response->message[0] == '\0') {
        FAIL(failures, "status %d without a message", status);
    }
    frame_response_free(response);
    return status;
}

/* A batch that must be acknowledged with every result ok: posts it to
 * the model. */
static bool batch_acknowledged(conn_t *conn, model_t *model, uint32_t count) {
    uint32_t codes[FILL_BATCH];
    TEST_REQUIRE(count <= FILL_BATCH);
    uint64_t first = model->next_id;
    model->next_id += count;
    int status = batch_send(conn, first, count, codes, &case_failures);
    if (status != BORSELLINO__V1__STATUS__STATUS_OK) {
        FAIL(&case_failures, "batch at %" PRIu64 ": status %d, expected ok", first, status);
        return false;
    }
    if (!codes_all(codes, count, LEDGER_RESULT_OK, "batch", &case_failures)) return false;
    for (uint32_t i = 0; i < count; i++) model_post(model, first + i);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Checks through the server and in-process                                 */

/* Every posted transfer is found, with its debit, credit and amount. */
static void check_posted_present(conn_t *conn, const model_t *model, failures_t *failures) {
    ledger_u128_t *ids = xcalloc(LOOKUP_CHUNK, sizeof *ids);
    ledger_transfer_t *found = xcalloc(LOOKUP_CHUNK, sizeof *found);
    for (uint32_t from = 0; from < model->posted_count; from += LOOKUP_CHUNK) {
        uint32_t count = model->posted_count - from;
        if (count > LOOKUP_CHUNK) count = LOOKUP_CHUNK;
        for (uint32_t i = 0; i < count; i++) ids[i] = id128(model->posted_ids[from + i]);
        uint32_t found_count = 0;
        if (!lookup_transfers_call(conn, ids, count, found, &found_count, failures)) break;
        if (found_count != count) {
            FAIL(failures, "lookup of %u acknowledged transfers from id %" PRIu64
                 " found %u", count, model->posted_ids[from], found_count);
            break;
        }
        for (uint32_t i = 0; i < count; i++) {
            ledger_transfer_t expected = transfer_of(found[i].id.lo);
            if (found[i].debit_account_id.lo != expected.debit_account_id.lo ||
                found[i].credit_account_id.lo != expected.credit_account_id.lo ||
                found[i].amount != expected.amount) {
                FAIL(failures, "transfer %" PRIu64 " differs", found[i].id.lo);
            }
        }
    }
    free(found);
    free(ids);
}

static void check_balances(conn_t *conn, const model_t *model, failures_t *failures) {
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        ledger_balance_t balance;
        if (!account_balance(conn, i + 1, &balance, failures)) return;
        char what[48];
        snprintf(what, sizeof what, "account %u", i + 1);
        balance_check(what, balance, model->balances[i], failures);
    }
}

/* None of transfers first..first+count-1 exists. */
static void check_absent(conn_t *conn, uint64_t first, uint32_t count, failures_t *failures) {
    ledger_u128_t ids[FILL_BATCH];
    ledger_transfer_t found[FILL_BATCH];
    TEST_REQUIRE(count <= FILL_BATCH);
    for (uint32_t i = 0; i < count; i++) ids[i] = id128(first + i);
    uint32_t found_count = 0;
    if (lookup_transfers_call(conn, ids, count, found, &found_count, failures) &&
        found_count != 0) {
        FAIL(failures, "%u transfers of a refused batch at %" PRIu64 " exist", found_count,
             first);
    }
}

/* Opens the stopped server's data read-only in this process: the journal
 * verifies, and holds exactly the model's balances. */
static void check_offline(const char *data_path, const model_t *model) {
    ledger_options_t options;
    memset(&options, 0, sizeof options);
    options.read_only = true;
    ledger_t *ledger = NULL;
    int rc = ledger_open(data_path, &options, &ledger);
    if (rc != 0) {
        printf("# ledger_open(%s): %s: %s\n", data_path, ledger_strerror(rc),
               ledger_last_error_message(NULL));
    }
    TEST_CHECK_EQ(rc, 0);
    if (rc != 0) return;
    ledger_verify_report_t report;
    memset(&report, 0, sizeof report);
    rc = ledger_verify(ledger, &report, NULL, NULL);
    if (rc != 0) {
        printf("# ledger_verify: %s at sequence %" PRIu64 ": %s\n", ledger_strerror(rc),
               report.first_bad_sequence, report.message);
    }
    TEST_CHECK_EQ(rc, 0);
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        ledger_u128_t id = id128(i + 1);
        ledger_account_t account;
        uint32_t found = 0;
        TEST_CHECK_EQ(ledger_lookup_accounts(ledger, &id, 1, &account, &found), 0);
        TEST_CHECK_EQ(found, 1);
        if (found == 1) {
            balance_check("offline balance", balance_of_account(&account), model->balances[i],
                          &case_failures);
        }
    }
    TEST_CHECK_EQ(ledger_close(ledger), 0);
}

static bool log_contains(const char *path, const char *needle) {
    char *text = xcalloc(LOG_READ_MAX, 1);
    file_read(path, text, LOG_READ_MAX);
    bool found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* ------------------------------------------------------------------------ */
/* A client that keeps reading while faults come and go                     */

/* The status a status request gets, without judging it; -1: no answer. */
static int status_call_status(conn_t *conn, failures_t *failures) {
    uint64_t request_id = ++conn->request_id_last;
    response_t *response = exchange(conn, request_id, request_status(request_id), failures);
    if (response == NULL) return -1;
    int status = (int)response->status;
    frame_response_free(response);
    return status;
}

typedef struct reader {
    uint16_t port;
    bool refusal_expected; /* a failed sync: reads end in STATUS_STORAGE_FAULT */
    atomic_bool refused;
    atomic_bool stop;
    atomic_uint_fast64_t rounds;
    failures_t failures;
    pthread_t thread;
} reader_t;

static void *reader_main(void *argument) {
    reader_t *reader = argument;
    conn_t conn;
    if (!conn_open(&conn, reader->port, &reader->failures)) return NULL;
    ledger_u128_t ids[ACCOUNTS];
    ledger_account_t accounts[ACCOUNTS];
    for (uint32_t i = 0; i < ACCOUNTS; i++) ids[i] = id128(i + 1);
    for (int round = 0; round < READER_ROUNDS_MAX && !atomic_load(&reader->stop); round++) {
        uint32_t found = 0;
        int status = status_call_status(&conn, &reader->failures);
        if (status == BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT && reader->refusal_expected) {
            atomic_store(&reader->refused, true);
            break;
        }
        if (status != BORSELLINO__V1__STATUS__STATUS_OK) {
            FAIL(&reader->failures, "reader: status request answered %d", status);
            break;
        }
        /* Once the server refuses, a lookup may be what meets it first. */
        failures_t lookup_failures = {"reader lookup", 0};
        if (!lookup_accounts_call(&conn, ids, ACCOUNTS, accounts, &found,
                                  reader->refusal_expected ? &lookup_failures
                                                           : &reader->failures)) {
            if (reader->refusal_expected &&
                status_call_status(&conn, &reader->failures) ==
                    BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT) {
                atomic_store(&reader->refused, true);
            } else if (reader->refusal_expected) {
                FAIL(&reader->failures, "reader: a lookup failed and the server is not refusing");
            }
            break;
        }
        if (found != ACCOUNTS) {
            FAIL(&reader->failures, "reader found %u of %d accounts", found, ACCOUNTS);
            break;
        }
        atomic_fetch_add(&reader->rounds, 1);
        sleep_ms(1);
    }
    conn_close(&conn);
    return NULL;
}

static void reader_start(reader_t *reader, uint16_t port, bool refusal_expected) {
    memset(reader, 0, sizeof *reader);
    reader->port = port;
    reader->refusal_expected = refusal_expected;
    reader->failures.who = "reader";
    TEST_REQUIRE(pthread_create(&reader->thread, NULL, reader_main, reader) == 0);
}

/* Stops the reader; it must have read all along. */
static void reader_stop(reader_t *reader) {
    atomic_store(&reader->stop, true);
    TEST_REQUIRE(pthread_join(reader->thread, NULL) == 0);
    failures_collect(&reader->failures);
    TEST_CHECK(atomic_load(&reader->rounds) > 0);
}

/* ------------------------------------------------------------------------ */
/* Case: a full tmpfs                                                       */

static bool write_filler(const char *path, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    static char block[64 * 1024];
    memset(block, 0xa5, sizeof block);
    size_t written = 0;
    while (written < size) {
        ssize_t n = write(fd, block, sizeof block);
        if (n <= 0) break;
        written += (size_t)n;
    }
    close(fd);
    return written >= size;
}

/* Writes small batches until the server says the storage is full; returns
 * the first id of the refused batch, or 0 if it never filled up. */
static uint64_t fill_until_full(conn_t *conn, model_t *model) {
    uint32_t codes[FILL_BATCH];
    for (int batch = 0; batch < FILL_BATCHES_MAX; batch++) {
        uint64_t first = model->next_id;
        int status = batch_send(conn, first, FILL_BATCH, codes, &case_failures);
        if (status == BORSELLINO__V1__STATUS__STATUS_STORAGE_FULL) return first;
        if (status != BORSELLINO__V1__STATUS__STATUS_OK) {
            FAIL(&case_failures, "batch %d: status %d while filling", batch, status);
            return 0;
        }
        if (!codes_all(codes, FILL_BATCH, LEDGER_RESULT_OK, "fill", &case_failures)) return 0;
        for (uint32_t i = 0; i < FILL_BATCH; i++) model_post(model, first + i);
        model->next_id += FILL_BATCH;
    }
    FAIL(&case_failures, "%d batches and still not full", FILL_BATCHES_MAX);
    return 0;
}

/* While full: reads work, nothing acknowledged is missing, the refused
 * batch left nothing behind. */
static void check_while_full(conn_t *conn, const model_t *model, uint64_t refused_first,
                             const char *log_path) {
    TEST_CHECK(status_ok(conn, &case_failures));
    check_posted_present(conn, model, &case_failures);
    check_balances(conn, model, &case_failures);
    check_absent(conn, refused_first, FILL_BATCH, &case_failures);
    TEST_CHECK(log_contains(log_path, "event=storage_full"));
    TEST_CHECK(!log_contains(log_path, "event=storage_fault"));
}

static void tmpfs_full_run(server_t *server, const char *filler, model_t *model) {
    TEST_REQUIRE(write_filler(filler, TMPFS_FILLER_BYTES));
    if (!server_start(server)) return;
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, ACCOUNTS, &case_failures));
    uint64_t refused_first = fill_until_full(&conn, model);
    printf("# full after %u acknowledged transfers\n", model->posted_count);
    TEST_CHECK(refused_first != 0);
    if (refused_first != 0) {
        check_while_full(&conn, model, refused_first, server->log);
        TEST_CHECK_EQ(unlink(filler), 0);
        /* The refused batch, again with the same ids: nothing of it was
         * applied, so every transfer must now be created. */
        TEST_CHECK(batch_acknowledged(&conn, model, FILL_BATCH));
        for (int i = 0; i < 5; i++) TEST_CHECK(batch_acknowledged(&conn, model, FILL_BATCH));
        TEST_CHECK(log_contains(server->log, "event=storage_writable"));
        check_balances(&conn, model, &case_failures);
    }
    conn_close(&conn);
    server_stop(server);
    check_offline(server->data, model);
    if (!server_start(server)) return;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    check_posted_present(&conn, model, &case_failures);
    check_balances(&conn, model, &case_failures);
    TEST_CHECK(batch_acknowledged(&conn, model, FILL_BATCH));
    conn_close(&conn);
    server_stop(server);
}

static void test_tmpfs_full(void) {
    server_t server;
    server_init(&server, "storage-full", NULL);
    char mount_point[PATH_MAX + 8];
    char filler[PATH_MAX + 32];
    snprintf(mount_point, sizeof mount_point, "%s/fs", server.directory);
    snprintf(filler, sizeof filler, "%s/filler", mount_point);
    snprintf(server.data, sizeof server.data, "%s/data", mount_point);
    TEST_REQUIRE(mkdir(mount_point, 0700) == 0);
    if (mount("tmpfs", mount_point, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0700") != 0) {
        /* Not a skip: CI runs as root, and a skip would hide a regression. */
        printf("# SKIP-like: cannot mount a tmpfs on %s (%s); this case needs root\n",
               mount_point, strerror(errno));
        TEST_CHECK(false);
        server_destroy(&server);
        return;
    }
    model_t model;
    model_init(&model);
    tmpfs_full_run(&server, filler, &model);
    server_kill_hard(&server);
    TEST_CHECK_EQ(umount2(mount_point, MNT_DETACH), 0);
    model_free(&model);
    server_destroy(&server);
}

/* ------------------------------------------------------------------------ */
/* Cases: faults injected by tests/fault_shim.c                             */

static void control_set(const char *path, const char *mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    TEST_REQUIRE(fd >= 0);
    size_t length = strlen(mode);
    TEST_REQUIRE(write(fd, mode, length) == (ssize_t)length);
    close(fd);
}

/* Saves an environment variable and sets it; restored by env_restore. */
typedef struct saved_env {
    const char *name;
    char *value; /* NULL: was unset */
} saved_env_t;

static void env_set(saved_env_t *saved, const char *name, const char *value) {
    const char *old = getenv(name);
    saved->name = name;
    saved->value = old != NULL ? strdup(old) : NULL;
    TEST_REQUIRE(setenv(name, value, 1) == 0);
}

static void env_restore(saved_env_t *saved) {
    if (saved->value != NULL) setenv(saved->name, saved->value, 1);
    else unsetenv(saved->name);
    free(saved->value);
}

/* Starts the server with the shim preloaded; the environment of this
 * process is restored right after, so later starts run without it. */
static bool server_start_shimmed(server_t *server, const char *control) {
    const char *shim = getenv("BORSELLINO_FAULT_SHIM");
    if (shim == NULL || shim[0] == '\0') {
        printf("# BORSELLINO_FAULT_SHIM is not set: run through meson test\n");
        TEST_CHECK(false);
        return false;
    }
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_options[1024];
    /* An LD_PRELOADed library comes before the ASan runtime in the list of
     * libraries, which ASan refuses unless told that it is intended. */
    snprintf(asan_options, sizeof asan_options, "%s%sverify_asan_link_order=0",
             asan != NULL ? asan : "", asan != NULL && asan[0] != '\0' ? ":" : "");
    saved_env_t saved[3];
    env_set(&saved[0], "LD_PRELOAD", shim);
    env_set(&saved[1], "BORSELLINO_FAULT_CONTROL", control);
    env_set(&saved[2], "ASAN_OPTIONS", asan_options);
    bool started = server_start(server);
    for (int i = 2; i >= 0; i--) env_restore(&saved[i]);
    return started;
}

typedef struct fault_case {
    const char *control; /* the mode written into the control file */
    bool fatal;          /* EIO: refused until restart; else storage full */
    /* The failure hits the sync of a group already committed (pipelined,
     * server/writer.c): reads are refused too, and the restart rolls that
     * group back, so every refused transfer is new when retried. */
    bool sync;
} fault_case_t;

/* Sends the batches while the fault is on (and one after it is off for a
 * fatal fault); each must be refused with the expected status. Returns the
 * first id of the first refused batch. */
static uint64_t faulted_batches(conn_t *conn, model_t *model, const fault_case_t *fault,
                                const char *control) {
    int expected = fault->fatal ? BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT
                                : BORSELLINO__V1__STATUS__STATUS_STORAGE_FULL;
    uint64_t first_refused = model->next_id;
    uint32_t codes[FAULT_BATCH];
    int batches = fault->fatal ? FAULTED_BATCHES + 1 : FAULTED_BATCHES;
    for (int batch = 0; batch < batches; batch++) {
        /* A fatal fault outlives a disk that became healthy again. */
        if (fault->fatal && batch == FAULTED_BATCHES) control_set(control, "none");
        int status = batch_send(conn, model->next_id, FAULT_BATCH, codes, &case_failures);
        if (status != expected) {
            FAIL(&case_failures, "%s: batch %d at %" PRIu64 ": status %d, expected %d",
                 fault->control, batch, model->next_id, status, expected);
        }
        model->next_id += FAULT_BATCH;
    }
    return first_refused;
}

/* After the restart: the refused batches, retried with the same ids, give
 * ok or exists for every transfer, and each counts once. */
static void retry_refused(conn_t *conn, model_t *model, uint64_t first, uint64_t end,
                          bool must_be_new) {
    uint32_t codes[FAULT_BATCH];
    for (uint64_t batch = first; batch < end; batch += FAULT_BATCH) {
        int status = batch_send(conn, batch, FAULT_BATCH, codes, &case_failures);
        if (status != BORSELLINO__V1__STATUS__STATUS_OK) {
            FAIL(&case_failures, "retry at %" PRIu64 ": status %d", batch, status);
            continue;
        }
        for (uint32_t i = 0; i < FAULT_BATCH; i++) {
            bool ok = codes[i] == LEDGER_RESULT_OK ||
                      (!must_be_new && codes[i] == LEDGER_RESULT_EXISTS);
            if (!ok) {
                FAIL(&case_failures, "retry of %" PRIu64 ": %s", batch + i,
                     ledger_result_name(codes[i]));
            }
            model_post(model, batch + i);
        }
    }
}

static void fault_case_run(server_t *server, const fault_case_t *fault, const char *control,
                           model_t *model) {
    control_set(control, "none");
    if (!server_start_shimmed(server, control)) return;
    conn_t conn;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    TEST_CHECK(create_accounts_range(&conn, 1, ACCOUNTS, &case_failures));
    for (int i = 0; i < WARMUP_BATCHES; i++) batch_acknowledged(&conn, model, FAULT_BATCH);
    reader_t reader;
    reader_start(&reader, server->port, fault->sync);
    sleep_ms(20);
    control_set(control, fault->control);
    uint64_t refused_first = faulted_batches(&conn, model, fault, control);
    uint64_t refused_end = model->next_id;
    control_set(control, "none");
    if (fault->sync) {
        /* Every answer would show the group that could not be synced. */
        TEST_CHECK_EQ(status_call_status(&conn, &case_failures),
                      BORSELLINO__V1__STATUS__STATUS_STORAGE_FAULT);
        for (int waited_ms = 0; waited_ms < 5000 && !atomic_load(&reader.refused); waited_ms += 5) {
            sleep_ms(5);
        }
        TEST_CHECK(atomic_load(&reader.refused));
    } else {
        /* Reads while (or right after) the storage failed. */
        check_posted_present(&conn, model, &case_failures);
        TEST_CHECK(status_ok(&conn, &case_failures));
        sleep_ms(20);
    }
    reader_stop(&reader);
    TEST_CHECK(log_contains(server->log, fault->fatal ? "event=storage_fault"
                                                      : "event=storage_full"));
    if (!fault->fatal) {
        check_absent(&conn, refused_first, FAULT_BATCH, &case_failures);
        check_balances(&conn, model, &case_failures);
        /* Writes resume without a restart. */
        retry_refused(&conn, model, refused_first, refused_end, true);
        TEST_CHECK(batch_acknowledged(&conn, model, FAULT_BATCH));
        TEST_CHECK(log_contains(server->log, "event=storage_writable"));
        TEST_CHECK(!log_contains(server->log, "event=storage_fault"));
    }
    conn_close(&conn);
    /* After an EIO the server is restarted as an operator would after a
     * disk error: it is killed (a graceful stop is not what is tested).
     * After a failed sync it is stopped gracefully: the stop must not
     * retry the sync nor write a checkpoint over the failed group. */
    if (fault->fatal && !fault->sync) server_crash(server);
    else server_stop(server);
    if (fault->sync) TEST_CHECK(log_contains(server->log, "event=checkpoint_skipped"));
    if (!server_start(server)) return;
    if (!conn_open(&conn, server->port, &case_failures)) return;
    check_posted_present(&conn, model, &case_failures);
    if (fault->fatal) retry_refused(&conn, model, refused_first, refused_end, fault->sync);
    check_posted_present(&conn, model, &case_failures);
    check_balances(&conn, model, &case_failures);
    TEST_CHECK(batch_acknowledged(&conn, model, FAULT_BATCH));
    conn_close(&conn);
    server_stop(server);
    check_offline(server->data, model);
}

static void fault_case(const fault_case_t *fault, const char *prefix) {
    server_t server;
    /* A failed sync of a committed group needs a pipelined commit, which a
     * lone request does not get by default. */
    static const char *const pipelined[] = {"--commit-pipelining", "on", NULL};
    server_init(&server, prefix, fault->sync ? pipelined : NULL);
    char control[PATH_MAX + 16];
    snprintf(control, sizeof control, "%s/fault-control", server.directory);
    model_t model;
    model_init(&model);
    fault_case_run(&server, fault, control, &model);
    printf("# %s: %u transfers posted in the end\n", fault->control, model.posted_count);
    model_free(&model);
    server_destroy(&server);
}

static void test_eio_write(void) {
    fault_case(&(fault_case_t){"eio-write", true, false}, "fault-eio-write");
}

/* Lets the first page write through: the failure hits a later page or
 * the meta page of the same commit. */
static void test_eio_write_later(void) {
    fault_case(&(fault_case_t){"eio-write 1", true, false}, "fault-eio-write-later");
}

static void test_eio_fsync(void) {
    fault_case(&(fault_case_t){"eio-fsync", true, true}, "fault-eio-fsync");
}

static void test_enospc_write(void) {
    fault_case(&(fault_case_t){"enospc-write", false, false}, "fault-enospc-write");
}

/* A failed sync is final whatever its errno: after it, the page cache no
 * longer says what the disk holds (see server/writer.c). */
static void test_enospc_fsync(void) {
    fault_case(&(fault_case_t){"enospc-fsync", true, true}, "fault-enospc-fsync");
}

int main(int argc, char **argv) {
    if (server_binary() == NULL) {
        printf("Bail out! $BORSELLINOD is not set: run through meson test\n");
        return 1;
    }
    static const test_case_t cases[] = {
        {"tmpfs_full", test_tmpfs_full},
        {"eio_write", test_eio_write},
        {"eio_write_later", test_eio_write_later},
        {"eio_fsync", test_eio_fsync},
        {"enospc_write", test_enospc_write},
        {"enospc_fsync", test_enospc_fsync},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
