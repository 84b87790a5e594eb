/*
 * durability.c — pipelined durable commits (ledger_write_commit_unsynced,
 * ledger_write_sync) and their recovery at open.
 *
 * A plain commit returns after LMDB's fdatasync and its synchronous meta
 * page write, so the writer waits for the disk once per group. A
 * pipelined commit splits the commit in two, so that the writer builds
 * the next group while the disk works:
 *
 *   ledger_write_commit_unsynced (the writer thread)
 *     1. DIR/unsynced_txn := N, the group's LMDB transaction id, synced;
 *     2. mdb_txn_commit with MDB_NOSYNC: the pages and the meta page reach
 *        the page cache, and the group is visible to this process;
 *   ledger_write_sync (any one thread, typically a sync thread)
 *     3. fdatasync(data.mdb);
 *     4. DIR/unsynced_txn := 0, synced. Only now is N durable, and only
 *        now may anything of N be acknowledged.
 *
 * Invariant: at most one commit is unsynced (step 1 is refused while one
 * is), and it is the newest transaction, so transaction N-1 is durable
 * and whole. N writes none of N-1's pages: LMDB copies on write, and a
 * write transaction reuses only pages freed two or more transactions
 * before it (without readers, mdb_find_oldest gives N-1 and
 * mdb_page_alloc takes free lists of older transactions only).
 *
 * A power loss between steps 2 and 4 can leave any subset of N's pages on
 * disk, N's meta page among them. Recovery, before LMDB reads the file:
 * when the marker names N and N is the newest meta page, N's meta slot is
 * overwritten with N-1's meta (what MDB_PREVSNAPSHOT does in LMDB 0.9.27+;
 * Debian 12 ships 0.9.24). Nothing of N was acknowledged.
 *
 * Who may recover: the open that makes pipelined commits (the server)
 * holds an exclusive flock on the marker file while it is open. An open
 * that finds the marker naming the newest transaction while that lock is
 * held leaves it alone (a live server between steps 2 and 4). When nobody
 * holds it, the writer died mid-commit: a writable open rolls N back; a
 * read-only open refuses (LEDGER_ERR_NEEDS_RECOVERY), since it would read
 * a group that the next writable open removes.
 *
 * The meta page layout (lmdb's MDB_page header and MDB_meta, 64-bit) is
 * written out below; durability_check_layout compares it with what LMDB
 * itself reports at every pipelined open, so a library whose layout
 * differs is refused rather than "recovered" wrongly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "ledger_internal.h"

static const char MARKER_NAME[] = "unsynced_txn";
static const char MARKER_MAGIC[8] = {'b', 'o', 'r', 's', 'u', 'n', 's', 'y'};

enum {
    MARKER_SIZE = 16,           /* magic, then the transaction id (u64 BE) */
    META_PAGE_HEADER_SIZE = 16, /* MDB_page: pgno, pad, flags, lower/upper */
    META_SIZE = 136,            /* MDB_meta */
    META_MAGIC_OFFSET = 0,      /* mm_magic, u32 */
    META_PAGE_SIZE_OFFSET = 24, /* mm_dbs[FREE_DBI].md_pad: the page size */
    META_TXNID_OFFSET = 128,    /* mm_txnid, u64 */
    META_PAGE_SIZE_MIN = 512,
    META_PAGE_SIZE_MAX = 65536,
};
static const uint32_t META_MAGIC = 0xBEEFC0DE;

typedef struct meta_pair {
    uint8_t bytes[2][META_SIZE];
    uint64_t offset[2]; /* of each meta in the file */
    uint64_t txnid[2];
} meta_pair_t;

static void marker_path(const char *directory, char *out, size_t capacity) {
    snprintf(out, capacity, "%s/%s", directory, MARKER_NAME);
}

/* Writes `txnid` (0: none) into the marker and syncs it. Returns 0 or errno. */
static int marker_write(int fd, uint64_t txnid) {
    uint8_t bytes[MARKER_SIZE];
    memcpy(bytes, MARKER_MAGIC, sizeof(MARKER_MAGIC));
    put_u64(bytes + 8, txnid);
    ssize_t written = pwrite(fd, bytes, sizeof(bytes), 0);
    if (written != (ssize_t)sizeof(bytes)) return written < 0 ? errno : EIO;
    return fdatasync(fd) == 0 ? 0 : errno;
}

/* Reads the marker: 0 when empty or never written. */
static int marker_read(ledger_t *ledger, int fd, uint64_t *txnid_out) {
    uint8_t bytes[MARKER_SIZE];
    ssize_t got = pread(fd, bytes, sizeof(bytes), 0);
    *txnid_out = 0;
    if (got == 0) return 0;
    if (got < 0) return errno;
    if (got != (ssize_t)sizeof(bytes) || memcmp(bytes, MARKER_MAGIC, sizeof(MARKER_MAGIC))) {
        ledger_set_error(ledger, "%s/%s is damaged (%zd bytes, bad magic)", ledger->path,
                         MARKER_NAME, got);
        return LEDGER_ERR_CORRUPT;
    }
    *txnid_out = get_u64(bytes + 8);
    return 0;
}

static uint32_t load_u32(const uint8_t *bytes) {
    uint32_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

static uint64_t load_u64(const uint8_t *bytes) {
    uint64_t value;
    memcpy(&value, bytes, sizeof(value));
    return value;
}

/* Reads both meta pages of data.mdb (native byte order, as LMDB writes). */
static int meta_pair_read(ledger_t *ledger, int fd, meta_pair_t *pair) {
    uint64_t page_size = 0;
    for (int slot = 0; slot < 2; slot++) {
        pair->offset[slot] = slot * page_size + META_PAGE_HEADER_SIZE;
        ssize_t got = pread(fd, pair->bytes[slot], META_SIZE, (off_t)pair->offset[slot]);
        if (got != META_SIZE) {
            ledger_set_error(ledger, "%s/data.mdb: cannot read meta page %d", ledger->path, slot);
            return got < 0 ? errno : LEDGER_ERR_CORRUPT;
        }
        if (load_u32(pair->bytes[slot] + META_MAGIC_OFFSET) != META_MAGIC) {
            ledger_set_error(ledger, "%s/data.mdb: meta page %d is not LMDB's", ledger->path,
                             slot);
            return LEDGER_ERR_CORRUPT;
        }
        if (slot == 0) {
            page_size = load_u32(pair->bytes[0] + META_PAGE_SIZE_OFFSET);
            if (page_size < META_PAGE_SIZE_MIN || page_size > META_PAGE_SIZE_MAX) {
                ledger_set_error(ledger, "%s/data.mdb: page size %llu in meta page 0",
                                 ledger->path, (unsigned long long)page_size);
                return LEDGER_ERR_CORRUPT;
            }
        }
        pair->txnid[slot] = load_u64(pair->bytes[slot] + META_TXNID_OFFSET);
    }
    return 0;
}

static uint64_t meta_pair_last(const meta_pair_t *pair) {
    return pair->txnid[0] > pair->txnid[1] ? pair->txnid[0] : pair->txnid[1];
}

/* Makes transaction `txnid`, the newest, vanish: its meta slot gets a copy
 * of the other slot, which must hold txnid - 1. */
static int meta_roll_back(ledger_t *ledger, int data_fd, const meta_pair_t *pair,
                          uint64_t txnid) {
    int torn = pair->txnid[0] == txnid ? 0 : 1;
    int whole = 1 - torn;
    if (pair->txnid[torn] != txnid || pair->txnid[whole] + 1 != txnid) {
        ledger_set_error(ledger, "%s: cannot roll back unsynced transaction %llu: the meta "
                         "pages hold %llu and %llu", ledger->path,
                         (unsigned long long)txnid, (unsigned long long)pair->txnid[0],
                         (unsigned long long)pair->txnid[1]);
        return LEDGER_ERR_CORRUPT;
    }
    ssize_t written = pwrite(data_fd, pair->bytes[whole], META_SIZE, (off_t)pair->offset[torn]);
    if (written != META_SIZE) return written < 0 ? errno : EIO;
    return fdatasync(data_fd) == 0 ? 0 : errno;
}

/* The marker names `txnid`, the newest transaction, and its writer is gone
 * (we hold the lock): roll it back (writable) or refuse (read-only). */
static int recover(ledger_t *ledger, int marker_fd, int data_fd, const meta_pair_t *pair,
                   uint64_t txnid) {
    if (ledger->options.read_only) {
        ledger_set_error(ledger, "%s: its last write group (LMDB transaction %llu) was "
                         "committed but never made durable, and its writer has stopped: "
                         "open the directory for writing once (start borsellinod) to roll "
                         "it back", ledger->path, (unsigned long long)txnid);
        return LEDGER_ERR_NEEDS_RECOVERY;
    }
    int error = meta_roll_back(ledger, data_fd, pair, txnid);
    if (!error) error = marker_write(marker_fd, 0);
    if (error && ledger->error_message[0] == '\0') {
        ledger_set_error(ledger, "%s: rolling back unsynced transaction %llu: %s", ledger->path,
                         (unsigned long long)txnid, ledger_strerror(error));
    }
    if (!error) ledger->rolled_back_txnid = txnid;
    return error;
}

/* Checks the marker against data.mdb and recovers if it must. `locked`:
 * this open holds the marker's lock for its lifetime (pipelined). */
static int marker_check(ledger_t *ledger, int marker_fd, bool locked) {
    uint64_t txnid = 0;
    int error = marker_read(ledger, marker_fd, &txnid);
    if (error || txnid == 0) return error;
    char data_path[4096];
    snprintf(data_path, sizeof(data_path), "%s/data.mdb", ledger->path);
    int data_fd = open(data_path, (ledger->options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (data_fd < 0) return errno == ENOENT ? 0 : errno;
    meta_pair_t pair;
    error = meta_pair_read(ledger, data_fd, &pair);
    if (!error && meta_pair_last(&pair) == txnid) {
        bool writer_alive = !locked && flock(marker_fd, LOCK_EX | LOCK_NB) != 0;
        if (!writer_alive) error = recover(ledger, marker_fd, data_fd, &pair, txnid);
    }
    close(data_fd);
    return error;
}

int durability_open(ledger_t *ledger, bool is_new) {
    ledger->marker_fd = -1;
    ledger->data_fd = -1;
    char path[4096];
    marker_path(ledger->path, path, sizeof(path));
    bool pipelined = ledger->options.commit_pipelined && !ledger->options.read_only;
    int flags = (ledger->options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (pipelined) flags |= O_CREAT;
    int fd = open(path, flags, 0600);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        ledger_set_error(ledger, "cannot open %s: %s", path, strerror(errno));
        return errno;
    }
    if (pipelined && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ledger_set_error(ledger, "%s is in use by another process that commits to it "
                         "(a running borsellinod?)", ledger->path);
        close(fd);
        return LEDGER_ERR_LOCKED;
    }
    int error = is_new ? 0 : marker_check(ledger, fd, pipelined);
    if (error || !pipelined) {
        close(fd); /* also releases a lock taken by marker_check */
        return error;
    }
    ledger->marker_fd = fd;
    return 0;
}

int durability_check_layout(ledger_t *ledger) {
    if (ledger->marker_fd < 0) return 0;
    int error = mdb_env_get_fd(ledger->env, &ledger->data_fd);
    if (error) return error;
    meta_pair_t pair;
    error = meta_pair_read(ledger, ledger->data_fd, &pair);
    if (error) return error;
    MDB_envinfo info;
    mdb_env_info(ledger->env, &info);
    if (meta_pair_last(&pair) != info.me_last_txnid) {
        ledger_set_error(ledger, "LMDB's meta pages are not laid out as this build expects "
                         "(read transaction %llu, LMDB says %llu): pipelined commits refused",
                         (unsigned long long)meta_pair_last(&pair),
                         (unsigned long long)info.me_last_txnid);
        return LEDGER_ERR_CORRUPT;
    }
    return 0;
}

void durability_close(ledger_t *ledger) {
    if (ledger->marker_fd >= 0) close(ledger->marker_fd);
    ledger->marker_fd = -1;
}

int durability_mark(ledger_t *ledger, uint64_t txnid) {
    int error = marker_write(ledger->marker_fd, txnid);
    if (error) {
        ledger_set_error(ledger, "cannot write %s/%s: %s", ledger->path, MARKER_NAME,
                         strerror(error));
    }
    return error;
}

int ledger_write_sync(ledger_t *ledger) {
    if (ledger == NULL) return LEDGER_ERR_INVALID_ARGUMENT;
    uint64_t txnid = atomic_load(&ledger->unsynced_txnid);
    if (txnid == 0) return 0;
    if (fdatasync(ledger->data_fd) != 0) return errno;
    int error = marker_write(ledger->marker_fd, 0);
    if (error) return error;
    atomic_store(&ledger->unsynced_txnid, 0);
    return 0;
}

uint64_t ledger_rolled_back_txnid(const ledger_t *ledger) {
    return ledger ? ledger->rolled_back_txnid : 0;
}
