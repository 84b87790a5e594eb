/*
 * test_power_loss.c — pipelined commits (ledger_write_commit_unsynced,
 * ledger_write_sync) against a simulated power loss, and their rules.
 *
 * Case "torn_group", many rounds: a ledger opened with commit_pipelined
 * commits a few groups durably (commit unsynced, then sync), then copies
 * data.mdb: that is what the disk holds. It commits one more group
 * unsynced and "loses power" before its sync: the handle is dropped
 * without writing anything, and every 4 KiB page that the group changed
 * is kept or put back as it was on disk, at random (a page past the old
 * end of the file comes back as zeros), as a disk with a volatile cache
 * may do. Most rounds keep the group's meta page, the dangerous case: the
 * newest meta page names B-tree pages that never reached the disk. Then:
 * a read-only open must refuse (LEDGER_ERR_NEEDS_RECOVERY) whenever that
 * meta page survived; a writable open must roll the group back
 * (ledger_rolled_back_txnid), verify (ledger_verify: hash chain, balances
 * recomputed from the journal), and show exactly the state before the
 * group, account by account; and more groups must commit and verify after
 * it. Without the rollback, the opens fail or verification does. When
 * the meta page was lost the marker is stale (it names the id the next
 * commit takes): a plain handle opens, commits synchronously and closes,
 * and the next open must not roll that commit back. Now and then a child
 * process keeps the torn directory open through a raw LMDB handle: the
 * writable open must then refuse (LEDGER_ERR_LOCKED) rather than roll back
 * under a reader.
 *
 * Case "rules": a second commit_pipelined open is refused
 * (LEDGER_ERR_LOCKED), a commit while a group is unsynced is refused and
 * changes nothing, a plain handle cannot commit unsynced, and an unsynced
 * group that is synced survives a reopen.
 *
 * Case "readers_wait": a read-only open and a backup taken beside a live
 * pipelined writer wait for the sync of the group they see; once the
 * writer stops with a group unsynced, both refuse until a writable open
 * has rolled it back.
 *
 * Sizes: 64 accounts, groups of 1,500 transfers, a checkpoint every 4,000
 * events so that some torn groups hold a checkpoint too; 40 rounds take a
 * few seconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

#include "ledger_fixture.h"

enum {
    ACCOUNTS = 64,
    GROUP_TRANSFERS = 1500,
    DURABLE_GROUPS_MAX = 4,
    ROUNDS = 40,
    PAGE_SIZE_BYTES = 4096,
    CHECKPOINT_EVENTS = 4000,
};

/* A whole file in memory. */
typedef struct file_bytes {
    uint8_t *bytes;
    size_t size;
} file_bytes_t;

static file_bytes_t file_read(const char *path) {
    file_bytes_t file = {NULL, 0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    TEST_REQUIRE(fd >= 0);
    struct stat status;
    TEST_REQUIRE(fstat(fd, &status) == 0);
    file.size = (size_t)status.st_size;
    file.bytes = malloc(file.size ? file.size : 1);
    TEST_REQUIRE(file.bytes != NULL);
    TEST_REQUIRE(pread(fd, file.bytes, file.size, 0) == (ssize_t)file.size);
    close(fd);
    return file;
}

static void file_write(const char *path, const file_bytes_t *file) {
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    TEST_REQUIRE(fd >= 0);
    TEST_REQUIRE(pwrite(fd, file->bytes, file->size, 0) == (ssize_t)file->size);
    close(fd);
}

/* The file after the power loss: each page that differs between what the
 * disk held (`disk`) and what the process wrote (`written`) is one or the
 * other at random; the two meta pages (0 and 1) as `keep_meta` says.
 * Returns how many changed pages were put back. */
static uint32_t power_loss_mix(const file_bytes_t *disk, file_bytes_t *written, bool keep_meta,
                               unsigned *seed) {
    uint32_t reverted = 0;
    for (size_t offset = 0; offset < written->size; offset += PAGE_SIZE_BYTES) {
        size_t length = written->size - offset < PAGE_SIZE_BYTES ? written->size - offset
                                                                 : PAGE_SIZE_BYTES;
        bool on_disk = offset + length <= disk->size;
        if (on_disk && memcmp(disk->bytes + offset, written->bytes + offset, length) == 0) continue;
        bool meta = offset < 2 * PAGE_SIZE_BYTES;
        bool keep = meta ? keep_meta : rand_r(seed) % 2 == 0;
        if (keep) continue;
        if (on_disk) memcpy(written->bytes + offset, disk->bytes + offset, length);
        else memset(written->bytes + offset, 0, length);
        reverted++;
    }
    return reverted;
}

/* One group of random transfers among the accounts, inside a write group. */
static void group_fill(fixture_t *f, uint64_t *next_id, unsigned *seed) {
    static ledger_transfer_t transfers[GROUP_TRANSFERS];
    for (uint32_t i = 0; i < GROUP_TRANSFERS; i++) {
        uint64_t debit = 1 + (uint64_t)(rand_r(seed) % ACCOUNTS);
        uint64_t credit = 1 + (debit + (uint64_t)(rand_r(seed) % (ACCOUNTS - 1))) % ACCOUNTS;
        transfers[i] = transfer_make((*next_id)++, debit, credit, 1 + rand_r(seed) % 1000);
    }
    fixture_transfers_create(f, transfers, GROUP_TRANSFERS);
}

static void group_durable(fixture_t *f, uint64_t *next_id, unsigned *seed) {
    TEST_REQUIRE(ledger_write_begin(f->ledger) == 0);
    group_fill(f, next_id, seed);
    TEST_REQUIRE(ledger_write_commit_unsynced(f->ledger) == 0);
    TEST_REQUIRE(ledger_write_sync(f->ledger) == 0);
}

typedef struct state {
    ledger_account_t accounts[ACCOUNTS];
    uint64_t journal_sequence;
} state_t;

static void state_take(fixture_t *f, state_t *state) {
    for (uint32_t i = 0; i < ACCOUNTS; i++) state->accounts[i] = fixture_account(f, i + 1);
    state->journal_sequence = fixture_stats(f).journal_sequence;
}

static void state_check(fixture_t *f, const state_t *expected) {
    state_t state;
    state_take(f, &state);
    TEST_CHECK_EQ(state.journal_sequence, expected->journal_sequence);
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        if (!account_equal(&state.accounts[i], &expected->accounts[i])) {
            printf("# account %u differs from the state before the torn group\n", i + 1);
            test_failures_in_case++;
            return;
        }
    }
}

static void verify_ok(fixture_t *f) {
    ledger_verify_report_t report;
    int rc = ledger_verify(f->ledger, &report, NULL, NULL);
    if (rc != 0) printf("# verify: %s (sequence %" PRIu64 ")\n", report.message,
                        report.first_bad_sequence);
    TEST_CHECK_EQ(rc, 0);
}

/* A torn directory that another process has open (a child holding a raw
 * LMDB handle, as a reader would) is not rolled back under it: its
 * readers may be inside the group. */
static void environment_in_use_refused(const char *path) {
    int ready[2], release[2];
    TEST_REQUIRE(pipe(ready) == 0 && pipe(release) == 0);
    pid_t child = fork();
    TEST_REQUIRE(child >= 0);
    if (child == 0) {
        MDB_env *env = NULL;
        char byte = mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 16) == 0 &&
                            mdb_env_open(env, path, MDB_RDONLY, 0600) == 0
                        ? 'y'
                        : 'n';
        if (write(ready[1], &byte, 1) != 1 || read(release[0], &byte, 1) < 0) _exit(1);
        _exit(0);
    }
    char byte = 0;
    TEST_REQUIRE(read(ready[0], &byte, 1) == 1);
    TEST_CHECK_EQ(byte, 'y');
    ledger_t *writer = NULL;
    TEST_CHECK_EQ(ledger_open(path, NULL, &writer), LEDGER_ERR_LOCKED);
    TEST_CHECK(strstr(ledger_last_error_message(NULL), "has the directory open") != NULL);
    ledger_close(writer);
    TEST_CHECK(write(release[1], "x", 1) == 1);
    int status = 0;
    TEST_CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]), close(ready[1]), close(release[0]), close(release[1]);
}

static void torn_round(int round, unsigned *seed) {
    ledger_options_t options = {.commit_pipelined = true, .checkpoint_events = CHECKPOINT_EVENTS};
    fixture_t f;
    fixture_open_with(&f, "power-loss", &options);
    fixture_accounts_range(&f, 1, ACCOUNTS, FIXTURE_LEDGER, 0);
    uint64_t next_id = 1;
    int durable_groups = 1 + rand_r(seed) % DURABLE_GROUPS_MAX;
    for (int g = 0; g < durable_groups; g++) group_durable(&f, &next_id, seed);
    state_t before;
    state_take(&f, &before);
    char data_path[PATH_MAX + 16];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", f.path);
    file_bytes_t disk = file_read(data_path);

    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    group_fill(&f, &next_id, seed);
    TEST_REQUIRE(ledger_write_commit_unsynced(f.ledger) == 0);
    /* Power lost before ledger_write_sync: nothing more is written. */
    ledger_close_without_checkpoint(f.ledger);
    f.ledger = NULL;
    file_bytes_t written = file_read(data_path);
    bool keep_meta = round % 4 != 0;
    uint32_t reverted = power_loss_mix(&disk, &written, keep_meta, seed);
    file_write(data_path, &written);
    if (round < 3) printf("# round %d: meta %s, %u changed pages lost\n", round,
                          keep_meta ? "kept" : "lost", reverted);

    ledger_t *reader = NULL;
    ledger_options_t read_only = {.read_only = true};
    int rc = ledger_open(f.path, &read_only, &reader);
    TEST_CHECK_EQ(rc, keep_meta ? LEDGER_ERR_NEEDS_RECOVERY : 0);
    ledger_close(reader);
    if (keep_meta && round % 8 == 1) environment_in_use_refused(f.path);

    /* Without the meta page the marker is stale: it names the id the next
     * commit takes. A plain handle clears it at open, so its synchronous
     * commit is not rolled back by the open after it. */
    f.options.commit_pipelined = keep_meta;
    fixture_reopen(&f);
    TEST_CHECK_EQ(ledger_rolled_back_txnid(f.ledger) != 0, keep_meta);
    verify_ok(&f);
    state_check(&f, &before);
    /* The pages the torn group had taken are free again and reused. */
    if (keep_meta) {
        group_durable(&f, &next_id, seed);
    } else {
        TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
        group_fill(&f, &next_id, seed);
        TEST_REQUIRE(ledger_write_commit(f.ledger) == 0);
    }
    ledger_close_without_checkpoint(f.ledger); /* nothing but the group itself */
    f.ledger = NULL;
    fixture_reopen(&f);
    TEST_CHECK_EQ(ledger_rolled_back_txnid(f.ledger), 0);
    verify_ok(&f);
    TEST_CHECK_EQ(fixture_stats(&f).journal_sequence, before.journal_sequence + GROUP_TRANSFERS);
    free(disk.bytes);
    free(written.bytes);
    fixture_close(&f);
}

static void test_torn_group(void) {
    unsigned seed = 20261127u;
    for (int round = 0; round < ROUNDS && test_failures_in_case == 0; round++) {
        torn_round(round, &seed);
    }
}

static void test_rules(void) {
    unsigned seed = 7u;
    ledger_options_t options = {.commit_pipelined = true};
    fixture_t f;
    fixture_open_with(&f, "power-loss-rules", &options);
    fixture_accounts_range(&f, 1, ACCOUNTS, FIXTURE_LEDGER, 0);

    ledger_t *second = NULL;
    TEST_CHECK_EQ(ledger_open(f.path, &options, &second), LEDGER_ERR_LOCKED);
    TEST_CHECK(strstr(ledger_last_error_message(NULL), "in use") != NULL);

    uint64_t next_id = 1;
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    group_fill(&f, &next_id, &seed);
    TEST_CHECK_EQ(ledger_write_commit_unsynced(f.ledger), 0);
    state_t committed;
    state_take(&f, &committed);
    /* A second group may be filled, not committed, before the sync. */
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    group_fill(&f, &next_id, &seed);
    TEST_CHECK_EQ(ledger_write_commit_unsynced(f.ledger), LEDGER_ERR_INVALID_ARGUMENT);
    state_check(&f, &committed);
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    TEST_CHECK_EQ(ledger_write_commit(f.ledger), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_write_sync(f.ledger), 0);
    TEST_CHECK_EQ(ledger_write_sync(f.ledger), 0); /* nothing left: a no-op */
    fixture_shut(&f);

    /* A plain handle has no marker lock and cannot commit unsynced. */
    f.options.commit_pipelined = false;
    fixture_reopen(&f);
    state_check(&f, &committed);
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    TEST_CHECK_EQ(ledger_write_commit_unsynced(f.ledger), LEDGER_ERR_INVALID_ARGUMENT);
    TEST_CHECK_EQ(ledger_rolled_back_txnid(f.ledger), 0);
    verify_ok(&f);
    fixture_close(&f);
}

typedef struct sync_later {
    ledger_t *ledger;
    int result;
} sync_later_t;

enum { SYNC_DELAY_MS = 150 };

static void *sync_later_main(void *argument) {
    sync_later_t *later = argument;
    usleep(SYNC_DELAY_MS * 1000);
    later->result = ledger_write_sync(later->ledger);
    return NULL;
}

static uint64_t monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* A read-only handle or a backup beside a live pipelined writer sees its
 * newest group before the sync: it waits for the sync, then reads it. After
 * the writer is gone with a group unsynced, both refuse. */
static void test_readers_wait(void) {
    unsigned seed = 11u;
    ledger_options_t options = {.commit_pipelined = true};
    fixture_t f;
    fixture_open_with(&f, "power-loss-readers", &options);
    fixture_accounts_range(&f, 1, ACCOUNTS, FIXTURE_LEDGER, 0);
    uint64_t next_id = 1;
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    group_fill(&f, &next_id, &seed);
    TEST_REQUIRE(ledger_write_commit_unsynced(f.ledger) == 0);
    uint64_t sequence = fixture_stats(&f).journal_sequence;

    sync_later_t later = {f.ledger, -1};
    pthread_t thread;
    TEST_REQUIRE(pthread_create(&thread, NULL, sync_later_main, &later) == 0);
    uint64_t start_ms = monotonic_ms();
    ledger_t *reader = NULL;
    ledger_options_t read_only = {.read_only = true};
    TEST_CHECK_EQ(ledger_open(f.path, &read_only, &reader), 0);
    TEST_CHECK(monotonic_ms() - start_ms >= SYNC_DELAY_MS / 2);
    ledger_stats_t stats = {0};
    if (reader != NULL) TEST_CHECK_EQ(ledger_stats(reader, &stats), 0);
    TEST_CHECK_EQ(stats.journal_sequence, sequence);
    ledger_close(reader);
    TEST_REQUIRE(pthread_join(thread, NULL) == 0);
    TEST_CHECK_EQ(later.result, 0);

    /* The same for a backup, then the writer stops before a sync. */
    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    group_fill(&f, &next_id, &seed);
    TEST_REQUIRE(ledger_write_commit_unsynced(f.ledger) == 0);
    char backup[PATH_MAX + 16];
    snprintf(backup, sizeof backup, "%s-backup", f.path);
    TEST_REQUIRE(pthread_create(&thread, NULL, sync_later_main, &later) == 0);
    uint64_t backup_sequence = 0;
    start_ms = monotonic_ms();
    TEST_CHECK_EQ(ledger_backup(f.path, backup, &backup_sequence), 0);
    TEST_CHECK(monotonic_ms() - start_ms >= SYNC_DELAY_MS / 2);
    TEST_CHECK_EQ(backup_sequence, sequence + GROUP_TRANSFERS);
    TEST_REQUIRE(pthread_join(thread, NULL) == 0);
    fixture_tmp_dir_remove(backup);

    TEST_REQUIRE(ledger_write_begin(f.ledger) == 0);
    group_fill(&f, &next_id, &seed);
    TEST_REQUIRE(ledger_write_commit_unsynced(f.ledger) == 0);
    ledger_close_without_checkpoint(f.ledger); /* the writer stops */
    f.ledger = NULL;
    TEST_CHECK_EQ(ledger_open(f.path, &read_only, &reader), LEDGER_ERR_NEEDS_RECOVERY);
    TEST_CHECK_EQ(ledger_backup(f.path, backup, &backup_sequence), LEDGER_ERR_NEEDS_RECOVERY);
    fixture_reopen(&f);
    TEST_CHECK(ledger_rolled_back_txnid(f.ledger) != 0);
    TEST_CHECK_EQ(fixture_stats(&f).journal_sequence, sequence + GROUP_TRANSFERS);
    verify_ok(&f);
    fixture_close(&f);
}

int main(int argc, char **argv) {
    static const test_case_t cases[] = {
        {"torn_group", test_torn_group},
        {"rules", test_rules},
        {"readers_wait", test_readers_wait},
    };
    return test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
