/*
 * storage_limit.c — the storage-only limit of borsellino's layout on this
 * machine, with no engine logic (bench/compare builds and runs it).
 *
 * It writes what the engine writes per transfer and nothing else:
 *  - one 264-byte journal record (the layout of ledger/record.h: fields,
 *    both accounts' balances after, the chain hash
 *    h[n] = SHA-256(h[n-1] || bytes 4..231) at 232, a CRC-32C of bytes
 *    4..263 at 0), appended to the `journal` table with MDB_APPEND under
 *    its big-endian u64 sequence;
 *  - one `transfer_ids` entry (u128 id big-endian -> u64 sequence):
 *    MDB_APPEND when the id is the largest so far, else MDB_NOOVERWRITE
 *    (the engine appends a group's new ids sorted at its end,
 *    ledger/transfer_index.c: ids generated in order are appends either
 *    way);
 *  - per group, the chain head in `meta`, then one durable commit,
 *    pipelined as the server commits (ledger/durability.c): a 16-byte
 *    marker written and synced, the LMDB commit with MDB_NOSYNC for that
 *    transaction, then on a second thread fdatasync of data.mdb and the
 *    marker cleared and synced, while the next group is written; a group
 *    commits only once the one before it is synced. With --sync-commits,
 *    LMDB's default durable commit instead (fdatasync of the data pages,
 *    then the meta page through an O_DSYNC descriptor), as before the
 *    server pipelined. The environment is opened with MDB_NOTLS as
 *    ledger/store.c does.
 * It writes them as the engine does: through one LMDB cursor per table,
 * kept for the group (ledger.c's group_cursor: a put lands on the
 * cursor's leaf without a descent of the B-tree), and hashes with
 * OpenSSL's SHA256_Init/Update/Final on a stack context (record.c), not
 * through EVP's provider dispatch, which costs about as much as the hash.
 * No validation, no balances, no account table, no network.
 *
 *   storage_limit --dir DIR [--records N] [--group N] [--ids time|random]
 *                 [--sync-commits] [--json]
 *
 * Prints records/s (wall clock from the first record to the last group
 * durable).
 * Build: cc -O2 -pthread -o storage_limit storage_limit.c -llmdb -lcrypto
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    RECORD_SIZE = 264,
    HASHED_OFFSET = 4,
    HASH_OFFSET = 232,
    HASH_SIZE = 32,
};

typedef struct { uint64_t hi, lo; } u128_t;

static uint64_t now_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/* xorshift64* */
static uint64_t rng(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

static void put_u16(uint8_t *p, uint16_t v) { for (int i = 0; i < 2; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static void put_u128(uint8_t *p, u128_t v) { put_u64(p, v.lo); put_u64(p + 8, v.hi); }
static void put_be64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i)); }

static int u128_cmp(u128_t a, u128_t b) {
    if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
    return 0;
}

/* CRC-32C as ledger/crc32c.c: SSE4.2 when the CPU has it, else a table. */
static uint32_t crc_table[256];

static void crc_table_build(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        crc_table[byte] = crc;
    }
}

static uint32_t crc32c_portable(const uint8_t *bytes, size_t size) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) crc = crc_table[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc32c_hardware(const uint8_t *bytes, size_t size) {
    uint64_t crc = 0xFFFFFFFFu;
    while (size >= 8) {
        uint64_t word;
        memcpy(&word, bytes, sizeof word);
        crc = __builtin_ia32_crc32di(crc, word);
        bytes += 8;
        size -= 8;
    }
    uint32_t crc32 = (uint32_t)crc;
    while (size > 0) crc32 = __builtin_ia32_crc32qi(crc32, *bytes++), size--;
    return crc32 ^ 0xFFFFFFFFu;
}
static uint32_t crc32c(const uint8_t *bytes, size_t size) {
    static int hardware = -1;
    if (hardware < 0) hardware = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return hardware ? crc32c_hardware(bytes, size) : crc32c_portable(bytes, size);
}
#else
static uint32_t crc32c(const uint8_t *bytes, size_t size) { return crc32c_portable(bytes, size); }
#endif

/* Time-ordered ids as ledger_id_time_ordered(): 48-bit milliseconds, 80
 * random bits, monotonic within the process. */
static u128_t id_time_ordered(uint64_t *state, u128_t *last) {
    uint64_t ms = now_ns(CLOCK_REALTIME) / 1000000ull;
    u128_t id = {(ms & 0xFFFFFFFFFFFFull) << 16 | (rng(state) & 0xFFFF), rng(state)};
    if (u128_cmp(id, *last) <= 0) {
        id = *last;
        if (++id.lo == 0) id.hi++;
    }
    *last = id;
    return id;
}

typedef struct options {
    const char *dir;
    uint64_t records;
    uint32_t group;
    bool random_ids;
    bool sync_commits;
    bool json;
} options_t;

/* ---- pipelined commits: one group syncing while the next is written ---- */

typedef struct syncer {
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    int data_fd;
    int marker_fd;
    bool pending;  /* a group is committed and not yet synced */
    bool stopping;
    int error;
} syncer_t;

static int marker_write(int fd, uint64_t txnid) {
    uint8_t bytes[16] = {'b', 'o', 'r', 's', 'u', 'n', 's', 'y'};
    for (int i = 0; i < 8; i++) bytes[8 + i] = (uint8_t)(txnid >> (56 - 8 * i));
    if (pwrite(fd, bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) return errno ? errno : EIO;
    return fdatasync(fd) == 0 ? 0 : errno;
}

static void *syncer_main(void *argument) {
    syncer_t *syncer = argument;
    pthread_mutex_lock(&syncer->mutex);
    for (;;) {
        while (!syncer->pending && !syncer->stopping) pthread_cond_wait(&syncer->changed, &syncer->mutex);
        if (!syncer->pending) break;
        pthread_mutex_unlock(&syncer->mutex);
        int error = fdatasync(syncer->data_fd) == 0 ? 0 : errno;
        if (!error) error = marker_write(syncer->marker_fd, 0);
        pthread_mutex_lock(&syncer->mutex);
        if (error && !syncer->error) syncer->error = error;
        syncer->pending = false;
        pthread_cond_broadcast(&syncer->changed);
    }
    pthread_mutex_unlock(&syncer->mutex);
    return NULL;
}

/* Waits until no group is syncing; returns the first sync error. */
static int syncer_wait(syncer_t *syncer) {
    pthread_mutex_lock(&syncer->mutex);
    while (syncer->pending) pthread_cond_wait(&syncer->changed, &syncer->mutex);
    int error = syncer->error;
    pthread_mutex_unlock(&syncer->mutex);
    return error;
}

/* Commits `txn` as the server does: marker, MDB_NOSYNC commit, then the
 * sync thread; the previous group must be synced first. */
static int commit_pipelined(MDB_env *env, MDB_txn *txn, syncer_t *syncer) {
    int error = syncer_wait(syncer);
    if (!error) error = marker_write(syncer->marker_fd, mdb_txn_id(txn));
    if (error) {
        mdb_txn_abort(txn);
        return error;
    }
    mdb_env_set_flags(env, MDB_NOSYNC, 1);
    error = mdb_txn_commit(txn);
    mdb_env_set_flags(env, MDB_NOSYNC, 0);
    if (error) return error;
    pthread_mutex_lock(&syncer->mutex);
    syncer->pending = true;
    pthread_cond_broadcast(&syncer->changed);
    pthread_mutex_unlock(&syncer->mutex);
    return 0;
}

static int syncer_start(syncer_t *syncer, MDB_env *env, const char *dir) {
    memset(syncer, 0, sizeof *syncer);
    char path[4096];
    snprintf(path, sizeof path, "%s/unsynced_txn", dir);
    syncer->marker_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (syncer->marker_fd < 0) return errno;
    int error = mdb_env_get_fd(env, &syncer->data_fd);
    if (error) return error;
    pthread_mutex_init(&syncer->mutex, NULL);
    pthread_cond_init(&syncer->changed, NULL);
    return pthread_create(&syncer->thread, NULL, syncer_main, syncer);
}

/* Waits for the last sync and stops the thread; returns any sync error. */
static int syncer_stop(syncer_t *syncer) {
    int error = syncer_wait(syncer);
    pthread_mutex_lock(&syncer->mutex);
    syncer->stopping = true;
    pthread_cond_broadcast(&syncer->changed);
    pthread_mutex_unlock(&syncer->mutex);
    pthread_join(syncer->thread, NULL);
    close(syncer->marker_fd);
    return error;
}

static int usage(FILE *out) {
    fprintf(out,
            "usage: storage_limit --dir DIR [--records N] [--group N] [--ids time|random]\n"
            "                     [--sync-commits] [--json]\n\n"
            "Appends N 264-byte SHA-256-chained, CRC-32C-checked journal records\n"
            "(MDB_APPEND) and their transfer_ids entries into a fresh LMDB environment\n"
            "in DIR (created; must not exist), one durable commit per group of N\n"
            "records, pipelined as borsellinod commits (the next group is written\n"
            "while the last one syncs; --sync-commits: LMDB's own durable commit,\n"
            "one at a time); prints records/s. Defaults: 2000000 records, groups of\n"
            "8000, time-ordered ids.\n");
    return out == stdout ? 0 : 2;
}

static bool parse_count(const char *text, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text) return false;
    if (*end == 'k' || *end == 'K') value *= 1000ull, end++;
    else if (*end == 'M' || *end == 'm') value *= 1000000ull, end++;
    if (*end != '\0' || value == 0) return false;
    *out = value;
    return true;
}

int main(int argc, char **argv) {
    options_t options = {NULL, 2000000, 8000, false, false, false};
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t value = 0;
        if (strcmp(argv[i], "--help") == 0) return usage(stdout);
        if (strcmp(argv[i], "--json") == 0) { options.json = true; continue; }
        if (strcmp(argv[i], "--sync-commits") == 0) { options.sync_commits = true; continue; }
        if (next == NULL) return usage(stderr);
        if (strcmp(argv[i], "--dir") == 0) options.dir = next;
        else if (strcmp(argv[i], "--ids") == 0 && strcmp(next, "time") == 0) options.random_ids = false;
        else if (strcmp(argv[i], "--ids") == 0 && strcmp(next, "random") == 0) options.random_ids = true;
        else if (strcmp(argv[i], "--records") == 0 && parse_count(next, &value)) options.records = value;
        else if (strcmp(argv[i], "--group") == 0 && parse_count(next, &value) && value <= 1000000)
            options.group = (uint32_t)value;
        else return usage(stderr);
        i++;
    }
    if (options.dir == NULL) return usage(stderr);
    if (mkdir(options.dir, 0700) != 0) {
        fprintf(stderr, "storage_limit: cannot create %s: %s\n", options.dir, strerror(errno));
        return 1;
    }
    crc_table_build();
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi journal, index, meta;
    int error = mdb_env_create(&env);
    if (!error) error = mdb_env_set_maxdbs(env, 8);
    /* Large enough never to grow during the run (the engine doubles its
     * map when a quarter is left; that is not a per-record cost). */
    if (!error) error = mdb_env_set_mapsize(env, 64ull << 30);
    if (!error) error = mdb_env_open(env, options.dir, MDB_NOTLS, 0600);
    if (!error) error = mdb_txn_begin(env, NULL, 0, &txn);
    if (!error) error = mdb_dbi_open(txn, "journal", MDB_CREATE, &journal);
    if (!error) error = mdb_dbi_open(txn, "transfer_ids", MDB_CREATE, &index);
    if (!error) error = mdb_dbi_open(txn, "meta", MDB_CREATE, &meta);
    if (!error) error = mdb_txn_commit(txn);
    if (error) {
        fprintf(stderr, "storage_limit: setup failed: %s\n", mdb_strerror(error));
        return 1;
    }

    syncer_t syncer;
    error = options.sync_commits ? 0 : syncer_start(&syncer, env, options.dir);
    if (error) {
        fprintf(stderr, "storage_limit: cannot start the sync thread: %s\n", strerror(error));
        return 1;
    }
    uint64_t state = 0x9E3779B97F4A7C15ull ^ now_ns(CLOCK_REALTIME);
    u128_t id_last = {0, 0}, id_max = {0, 0};
    uint8_t hash[HASH_SIZE] = {0};
    uint64_t sequence = 0, commits = 0;
    const uint64_t started = now_ns(CLOCK_MONOTONIC);
    while (sequence < options.records && !error) {
        uint64_t left = options.records - sequence;
        uint32_t count = left < options.group ? (uint32_t)left : options.group;
        error = mdb_txn_begin(env, NULL, 0, &txn);
        MDB_cursor *journal_cursor = NULL, *index_cursor = NULL;
        if (!error) error = mdb_cursor_open(txn, journal, &journal_cursor);
        if (!error) error = mdb_cursor_open(txn, index, &index_cursor);
        for (uint32_t i = 0; i < count && !error; i++) {
            uint8_t record[RECORD_SIZE];
            uint64_t r = rng(&state);
            u128_t id = options.random_ids ? (u128_t){rng(&state), rng(&state)}
                                           : id_time_ordered(&state, &id_last);
            sequence++;
            /* The fields of a transfer record (ledger/record.h). */
            record[4] = 1;                         /* format version */
            record[5] = 2;                         /* kind: transfer */
            put_u16(record + 6, 0);                /* result */
            put_u64(record + 8, sequence);
            put_u64(record + 16, now_ns(CLOCK_REALTIME));
            put_u128(record + 24, id);
            put_u128(record + 40, (u128_t){0x0b0b, 1 + r % 100000});
            put_u128(record + 56, (u128_t){0x0b0b, 1 + (r >> 20) % 100000});
            memset(record + 72, 0, 32);            /* pending id, user_data_128 */
            put_u64(record + 104, 1 + (r >> 40) % 1000);
            memset(record + 112, 0, 16);           /* user data, timeout */
            put_u32(record + 128, 978);
            put_u16(record + 132, 1);
            put_u16(record + 134, 0);
            for (int side = 0; side < 2; side++) { /* previous sequence, balances, flags */
                uint8_t *p = record + 136 + 48 * side;
                put_u64(p, sequence > 1000 ? sequence - 1000 : 0);
                for (int b = 0; b < 4; b++) put_u64(p + 8 + 8 * b, rng(&state) >> 20);
                put_u64(p + 40, 0);
            }
            uint8_t input[HASH_SIZE + HASH_OFFSET - HASHED_OFFSET];
            memcpy(input, hash, HASH_SIZE);
            memcpy(input + HASH_SIZE, record + HASHED_OFFSET, HASH_OFFSET - HASHED_OFFSET);
            SHA256_CTX sha256;
            SHA256_Init(&sha256);
            SHA256_Update(&sha256, input, sizeof input);
            SHA256_Final(hash, &sha256);
            memcpy(record + HASH_OFFSET, hash, HASH_SIZE);
            put_u32(record, crc32c(record + 4, RECORD_SIZE - 4));

            uint8_t sequence_key[8], id_key[16];
            put_be64(sequence_key, sequence);
            put_be64(id_key, id.hi);
            put_be64(id_key + 8, id.lo);
            MDB_val key = {sizeof sequence_key, sequence_key}, data = {sizeof record, record};
            error = mdb_cursor_put(journal_cursor, &key, &data, MDB_APPEND);
            if (error) break;
            bool append = u128_cmp(id, id_max) > 0;
            MDB_val id_value = {sizeof id_key, id_key}, sequence_value = {sizeof sequence_key, sequence_key};
            error = mdb_cursor_put(index_cursor, &id_value, &sequence_value,
                                   append ? MDB_APPEND : MDB_NOOVERWRITE);
            if (append) id_max = id;
        }
        if (!error) {
            uint8_t head[8 + HASH_SIZE];
            put_u64(head, sequence);
            memcpy(head + 8, hash, HASH_SIZE);
            MDB_val key = {10, "chain_head"}, data = {sizeof head, head};
            error = mdb_put(txn, meta, &key, &data, 0);
        }
        if (error) {
            mdb_txn_abort(txn);
            break;
        }
        error = options.sync_commits ? mdb_txn_commit(txn) : commit_pipelined(env, txn, &syncer);
        commits++;
    }
    if (!options.sync_commits) {
        int sync_error = syncer_stop(&syncer);
        if (!error) error = sync_error;
    }
    double seconds = (double)(now_ns(CLOCK_MONOTONIC) - started) / 1e9;
    mdb_env_close(env);
    if (error) {
        fprintf(stderr, "storage_limit: %s\n", mdb_strerror(error));
        return 1;
    }
    double per_second = (double)options.records / seconds;
    if (options.json) {
        printf("{\"records_per_second\":%.0f,\"records\":%" PRIu64 ",\"group\":%u,\"commits\":%" PRIu64
               ",\"seconds\":%.3f,\"ids\":\"%s\",\"commit\":\"%s\"}\n",
               per_second, options.records, options.group, commits, seconds,
               options.random_ids ? "random" : "time", options.sync_commits ? "sync" : "pipelined");
    } else {
        printf("storage-only: %" PRIu64 " records in %.2f s = %.0f records/s (groups of %u, %" PRIu64
               " durable commits, %s, %s ids)\n",
               options.records, seconds, per_second, options.group, commits,
               options.sync_commits ? "one at a time" : "pipelined",
               options.random_ids ? "random" : "time");
    }
    return 0;
}
