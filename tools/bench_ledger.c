/*
 * bench_ledger.c — `borsellino bench-ledger`: the in-process micro-benchmark
 * of the ledger engine (a program, not a test).
 *
 * In one run, on one machine, in fresh data directories:
 *  1. the storage-only limit of the layout: the same journal records
 *     (264 bytes, SHA-256 chained, MDB_APPEND) and id-index appends, in
 *     durable LMDB commits of the same batch size, with no validation and
 *     no balances — written with LMDB and OpenSSL directly;
 *  2. the engine: N accounts created, then M transfers between uniformly
 *     chosen accounts through ledger_create_transfers, durable commits,
 *     checkpoints included;
 *  3. replay: a second, read-only handle opened on the engine's directory
 *     replays the whole journal (no checkpoint was written during the run);
 *  4. memory: anonymous resident memory added per account by that handle.
 * It prints transfers/s for 1 and 2 and their ratio, events/s for 3, and
 * bytes per account for 4.
 */
#include <inttypes.h>
#include <lmdb.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ledger.h"

enum {
    BENCH_RECORD_SIZE = 264, /* as ledger/record.h */
    BENCH_HASHED_SIZE = 228,
    BENCH_LEDGER = 978,
};

typedef struct bench_options {
    const char *directory;
    uint64_t transfers_count;
    uint64_t accounts_count;
    uint32_t batch_size;
    bool random_ids;
    bool keep;
    bool json;
} bench_options_t;

/* What one run measured, printed as text or with --json as one object. */
typedef struct bench_figures {
    double replay_events_per_second;
    uint64_t replayed_events;
    double replay_seconds;
    double memory_per_account;
    double storage_per_second;
    double engine_per_second;
} bench_figures_t;

static uint64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* xorshift64*: fast, deterministic, good enough to pick accounts. */
static uint64_t bench_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

static ledger_u128_t bench_id(const bench_options_t *options, uint64_t *state) {
    if (!options->random_ids) return ledger_id_time_ordered();
    ledger_u128_t id = {bench_random(state), bench_random(state)};
    return id;
}

static int bench_usage(void) {
    printf("usage: borsellino bench-ledger [OPTIONS]\n\n"
           "  --dir DIR          where to create the data directories (default: .)\n"
           "  --transfers N      transfers to post (default 2M; k and M suffixes)\n"
           "  --accounts N       accounts to spread them over (default 100k)\n"
           "  --batch N          transfers per batch and commit (default 8000, max %d)\n"
           "  --random-ids       random 128-bit ids instead of time-ordered ones\n"
           "  --keep             keep the data directories afterwards\n"
           "  --json             one JSON object: {\"transfers\", \"accounts\", \"batch\",\n"
           "                     \"ids\", \"storage_per_second\", \"engine_per_second\",\n"
           "                     \"ratio\", \"replay_events_per_second\",\n"
           "                     \"memory_per_account\", \"directory\" (kept)}\n",
           LEDGER_BATCH_EVENTS_MAX);
    return CLI_EXIT_OK;
}

static int bench_parse(int argc, char **argv, bench_options_t *options) {
    *options = (bench_options_t){".", 2000000, 100000, 8000, false, false, false};
    for (int i = 1; i < argc; i++) {
        uint64_t value = 0;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0) return bench_usage();
        if (strcmp(argv[i], "--random-ids") == 0) { options->random_ids = true; continue; }
        if (strcmp(argv[i], "--keep") == 0) { options->keep = true; continue; }
        if (strcmp(argv[i], "--json") == 0) { options->json = true; continue; }
        if (strcmp(argv[i], "--dir") == 0 && next) { options->directory = next; i++; continue; }
        if (next == NULL || !cli_parse_count(next, &value) || value == 0) {
            fprintf(stderr, "borsellino bench-ledger: bad or missing value for %s\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
        i++;
        if (strcmp(argv[i - 1], "--transfers") == 0) options->transfers_count = value;
        else if (strcmp(argv[i - 1], "--accounts") == 0 && value >= 2) options->accounts_count = value;
        else if (strcmp(argv[i - 1], "--batch") == 0 && value <= LEDGER_BATCH_EVENTS_MAX) {
            options->batch_size = (uint32_t)value;
        } else {
            fprintf(stderr, "borsellino bench-ledger: bad option %s (see --help)\n", argv[i - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

static void bench_progress(const char *what, uint64_t done, uint64_t total) {
    if (!isatty(STDERR_FILENO)) return;
    fprintf(stderr, "\r%-12s %3" PRIu64 "%%", what, total ? done * 100 / total : 100);
    if (done >= total) fputs("\r                    \r", stderr);
}

/* ---- 1. storage-only limit ---- */

static int bench_storage_batch(MDB_env *env, MDB_dbi journal, MDB_dbi index,
                               const bench_options_t *options, uint64_t *sequence,
                               uint8_t hash[32], uint64_t *state, uint32_t count) {
    MDB_txn *txn = NULL;
    MDB_cursor *journal_cursor = NULL, *index_cursor = NULL;
    int error = mdb_txn_begin(env, NULL, 0, &txn);
    /* One cursor per table for the batch, and the low-level SHA-256, as
     * the engine writes (ledger.c's group_cursor, record.c). */
    if (!error) error = mdb_cursor_open(txn, journal, &journal_cursor);
    if (!error) error = mdb_cursor_open(txn, index, &index_cursor);
    for (uint32_t i = 0; i < count && !error; i++) {
        uint8_t record[BENCH_RECORD_SIZE] = {0};
        uint8_t input[32 + BENCH_HASHED_SIZE];
        ledger_u128_t id = bench_id(options, state);
        (*sequence)++;
        memcpy(record + 8, sequence, 8);
        memcpy(record + 24, &id, sizeof(id));
        memcpy(input, hash, 32);
        memcpy(input + 32, record + 4, BENCH_HASHED_SIZE);
        SHA256_CTX sha256;
        SHA256_Init(&sha256);
        SHA256_Update(&sha256, input, sizeof(input));
        SHA256_Final(hash, &sha256);
        memcpy(record + 232, hash, 32);
        uint8_t sequence_key[8];
        uint8_t id_key[16];
        for (int b = 0; b < 8; b++) sequence_key[b] = (uint8_t)(*sequence >> (56 - 8 * b));
        for (int b = 0; b < 8; b++) id_key[b] = (uint8_t)(id.hi >> (56 - 8 * b));
        for (int b = 0; b < 8; b++) id_key[8 + b] = (uint8_t)(id.lo >> (56 - 8 * b));
        MDB_val key = {8, sequence_key}, data = {sizeof(record), record};
        error = mdb_cursor_put(journal_cursor, &key, &data, MDB_APPEND);
        MDB_val id_value = {16, id_key}, sequence_value = {8, sequence_key};
        if (!error) {
            error = mdb_cursor_put(index_cursor, &id_value, &sequence_value,
                                   options->random_ids ? 0 : MDB_APPEND);
        }
    }
    if (error) {
        mdb_txn_abort(txn);
        return error;
    }
    return mdb_txn_commit(txn);
}

static int bench_storage(const char *path, const bench_options_t *options,
                         double *per_second_out) {
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi journal, index;
    if (mkdir(path, 0700) != 0) return CLI_EXIT_FAILURE;
    int error = mdb_env_create(&env);
    if (!error) error = mdb_env_set_maxdbs(env, 4);
    if (!error) error = mdb_env_set_mapsize(env, 64ull << 30);
    if (!error) error = mdb_env_open(env, path, MDB_NOTLS | MDB_NORDAHEAD, 0600);
    if (!error) error = mdb_txn_begin(env, NULL, 0, &txn);
    if (!error) error = mdb_dbi_open(txn, "journal", MDB_CREATE, &journal);
    if (!error) error = mdb_dbi_open(txn, "transfer_ids", MDB_CREATE, &index);
    if (!error) error = mdb_txn_commit(txn);
    uint64_t sequence = 0, state = 0x9E3779B97F4A7C15ull;
    uint8_t hash[32] = {0};
    uint64_t started = now_ns();
    for (uint64_t done = 0; done < options->transfers_count && !error;) {
        uint64_t left = options->transfers_count - done;
        uint32_t count = left < options->batch_size ? (uint32_t)left : options->batch_size;
        error = bench_storage_batch(env, journal, index, options, &sequence, hash, &state, count);
        done += count;
        bench_progress("storage", done, options->transfers_count);
    }
    *per_second_out = options->transfers_count / ((now_ns() - started) / 1e9);
    mdb_env_close(env);
    if (error) fprintf(stderr, "storage-only run failed: %s\n", mdb_strerror(error));
    return error ? CLI_EXIT_FAILURE : 0;
}

/* ---- 2. the engine ---- */

static ledger_u128_t bench_account_id(uint64_t index) {
    ledger_u128_t id = {0x0b0b, index + 1};
    return id;
}

static int bench_create_accounts(ledger_t *ledger, const bench_options_t *options) {
    ledger_account_t *accounts = calloc(LEDGER_BATCH_EVENTS_MAX, sizeof(*accounts));
    ledger_result_t *results = calloc(LEDGER_BATCH_EVENTS_MAX, sizeof(*results));
    int error = accounts && results ? 0 : LEDGER_ERR_NO_MEMORY;
    for (uint64_t done = 0; done < options->accounts_count && !error;) {
        uint64_t left = options->accounts_count - done;
        uint32_t count = left < LEDGER_BATCH_EVENTS_MAX ? (uint32_t)left : LEDGER_BATCH_EVENTS_MAX;
        for (uint32_t i = 0; i < count; i++) {
            memset(&accounts[i], 0, sizeof(accounts[i]));
            accounts[i].id = bench_account_id(done + i);
            accounts[i].ledger = BENCH_LEDGER;
            accounts[i].code = 1;
        }
        error = ledger_create_accounts(ledger, accounts, count, results);
        for (uint32_t i = 0; i < count && !error; i++) {
            if (results[i].result != LEDGER_RESULT_OK) error = LEDGER_ERR_VERIFY_FAILED;
        }
        done += count;
        bench_progress("accounts", done, options->accounts_count);
    }
    free(accounts);
    free(results);
    return error;
}

static void bench_fill_batch(ledger_transfer_t *transfers, uint32_t count,
                             const bench_options_t *options, uint64_t *state) {
    for (uint32_t i = 0; i < count; i++) {
        ledger_transfer_t *transfer = &transfers[i];
        memset(transfer, 0, sizeof(*transfer));
        uint64_t debit = bench_random(state) % options->accounts_count;
        uint64_t credit = bench_random(state) % (options->accounts_count - 1);
        if (credit >= debit) credit++;
        transfer->id = bench_id(options, state);
        transfer->debit_account_id = bench_account_id(debit);
        transfer->credit_account_id = bench_account_id(credit);
        transfer->amount = 1 + bench_random(state) % 10000;
        transfer->ledger = BENCH_LEDGER;
        transfer->code = 1;
    }
}

static int bench_engine(ledger_t *ledger, const bench_options_t *options,
                        double *per_second_out) {
    ledger_transfer_t *transfers = calloc(options->batch_size, sizeof(*transfers));
    ledger_result_t *results = calloc(options->batch_size, sizeof(*results));
    int error = transfers && results ? 0 : LEDGER_ERR_NO_MEMORY;
    uint64_t state = 0x2545F4914F6CDD1Dull, elapsed = 0;
    for (uint64_t done = 0; done < options->transfers_count && !error;) {
        uint64_t left = options->transfers_count - done;
        uint32_t count = left < options->batch_size ? (uint32_t)left : options->batch_size;
        bench_fill_batch(transfers, count, options, &state);
        uint64_t started = now_ns(); /* time the engine, not the generator */
        error = ledger_create_transfers(ledger, transfers, count, results);
        elapsed += now_ns() - started;
        for (uint32_t i = 0; i < count && !error; i++) {
            if (results[i].result != LEDGER_RESULT_OK) {
                fprintf(stderr, "transfer refused: %s\n", ledger_result_name(results[i].result));
                error = LEDGER_ERR_VERIFY_FAILED;
            }
        }
        done += count;
        bench_progress("engine", done, options->transfers_count);
    }
    free(transfers);
    free(results);
    *per_second_out = options->transfers_count / (elapsed / 1e9);
    return error;
}

/* ---- 3 and 4. replay and memory ---- */

static uint64_t rss_anonymous_bytes(void) {
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kilobytes = 0;
    while (status && fgets(line, sizeof(line), status)) {
        if (sscanf(line, "RssAnon: %" SCNu64, &kilobytes) == 1) break;
    }
    if (status) fclose(status);
    return kilobytes * 1024;
}

static int bench_replay(const char *path, const bench_options_t *options,
                        bench_figures_t *figures) {
    ledger_options_t ledger_options = {.read_only = true};
    uint64_t rss_before = rss_anonymous_bytes();
    ledger_t *reader = NULL;
    int error = ledger_open(path, &ledger_options, &reader);
    if (error) {
        fprintf(stderr, "replay open failed: %s\n", ledger_last_error_message(NULL));
        return error;
    }
    uint64_t rss_after = rss_anonymous_bytes();
    ledger_stats_t stats;
    ledger_stats(reader, &stats);
    figures->replayed_events = stats.replayed_events;
    figures->replay_seconds = stats.replay_ns / 1e9;
    figures->replay_events_per_second = stats.replayed_events / (stats.replay_ns / 1e9);
    figures->memory_per_account =
        (double)(rss_after - rss_before) / (double)options->accounts_count;
    return ledger_close(reader);
}

static void bench_print(const bench_options_t *options, const bench_figures_t *f,
                        const char *engine_path) {
    if (options->json) {
        printf("{\"transfers\": %" PRIu64 ", \"accounts\": %" PRIu64 ", \"batch\": %u, "
               "\"ids\": \"%s\", \"storage_per_second\": %.0f, \"engine_per_second\": %.0f, "
               "\"ratio\": %.3f, \"replay_events_per_second\": %.0f, "
               "\"memory_per_account\": %.1f, \"directory\": ",
               options->transfers_count, options->accounts_count, options->batch_size,
               options->random_ids ? "random" : "time-ordered", f->storage_per_second,
               f->engine_per_second, f->engine_per_second / f->storage_per_second,
               f->replay_events_per_second, f->memory_per_account);
        if (options->keep) cli_json_string(stdout, engine_path);
        else fputs("null", stdout);
        puts("}");
        return;
    }
    printf("replay on open       %12.0f events/s  (%" PRIu64 " events in %.3f s)\n",
           f->replay_events_per_second, f->replayed_events, f->replay_seconds);
    printf("memory per account   %12.1f bytes     (anonymous RSS added by opening, "
           "%" PRIu64 " accounts)\n", f->memory_per_account, options->accounts_count);
    printf("storage-only limit   %12.0f transfers/s\n", f->storage_per_second);
    printf("engine, in-process   %12.0f transfers/s\n", f->engine_per_second);
    printf("ratio engine/storage %12.2f\n", f->engine_per_second / f->storage_per_second);
}

static int bench_run(const bench_options_t *options, const char *storage_path,
                     const char *engine_path) {
    bench_figures_t figures;
    memset(&figures, 0, sizeof(figures));
    if (bench_storage(storage_path, options, &figures.storage_per_second) != 0) {
        return CLI_EXIT_FAILURE;
    }
    /* No checkpoint during the run, so that the replay below replays it all;
     * the default interval (1M events) would add about one checkpoint per
     * 1M transfers. */
    ledger_options_t ledger_options = {.checkpoint_events = UINT64_MAX};
    ledger_t *ledger = NULL;
    int error = ledger_open(engine_path, &ledger_options, &ledger);
    if (!error) error = bench_create_accounts(ledger, options);
    if (!error) error = bench_engine(ledger, options, &figures.engine_per_second);
    if (!error) error = bench_replay(engine_path, options, &figures);
    if (error) fprintf(stderr, "borsellino bench-ledger: %s\n", ledger_strerror(error));
    ledger_close(ledger);
    if (error) return CLI_EXIT_FAILURE;
    bench_print(options, &figures, engine_path);
    return CLI_EXIT_OK;
}

int cli_bench_ledger(int argc, char **argv) {
    bench_options_t options;
    int status = bench_parse(argc, argv, &options);
    if (status >= 0) return status;
    char storage_path[4096], engine_path[4096];
    snprintf(storage_path, sizeof(storage_path), "%s/bench-data-%d-storage",
             options.directory, (int)getpid());
    snprintf(engine_path, sizeof(engine_path), "%s/bench-data-%d-engine",
             options.directory, (int)getpid());
    if (!options.json) printf("bench-ledger: %" PRIu64 " transfers, %" PRIu64 " accounts, batches of %u, "
           "%s ids, durable commits\n",
           options.transfers_count, options.accounts_count, options.batch_size,
           options.random_ids ? "random" : "time-ordered");
    status = bench_run(&options, storage_path, engine_path);
    if (!options.keep) {
        char command[8300];
        snprintf(command, sizeof(command), "rm -rf '%s' '%s'", storage_path, engine_path);
        if (system(command) != 0) fprintf(stderr, "could not remove %s\n", engine_path);
    }
    return status;
}
