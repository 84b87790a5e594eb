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
 * Locks. The open that makes pipelined commits (the server) holds an
 * exclusive flock on the marker file for as long as it is open: a shared
 * flock on it fails exactly while a server is alive. Every open checks
 * the marker under the directory's own flock (exclusive to write,
 * shared to look), taken before the marker and held until LMDB's
 * environment is open, so that a reader is either seen by a recovering
 * server (environment_in_use) or opens after the rollback:
 *   - the marker names the newest transaction and no server is alive: its
 *     writer died between commit and sync. A writable open rolls it back,
 *     unless another process has the LMDB environment open (its readers
 *     may be inside the group; LEDGER_ERR_LOCKED); a read-only open
 *     refuses (LEDGER_ERR_NEEDS_RECOVERY);
 *   - the marker names an older transaction and no server is alive: it is
 *     stale (a commit that never happened, an empty one, or a rollback
 *     cut short) and names the id the next commit will take. A writable
 *     open clears it, lest a crash after that commit roll it back.
 *   - a server is alive: the marker is its business.
 *
 * Readers in other processes (read-only handles, backups) see the newest
 * group as soon as it is committed, before its sync. Each read transaction
 * they begin waits until the marker no longer names it
 * (durability_read_gate), so nothing they read can later disappear; if the
 * server dies first, the read fails with LEDGER_ERR_NEEDS_RECOVERY.
 *
 * A failed sync is final (sync_error): Linux may report a lost write-back
 * only once, and a second fdatasync would succeed over pages that never
 * arrived. After it nothing more is committed by this handle.
 *
 * The meta page layout (lmdb's MDB_page header and MDB_meta, 64-bit) is
 * written out below. durability_check_layout compares it with what LMDB
 * itself reports at every pipelined open, before any marker of that open
 * exists, so a marker is only ever written beside a library whose layout
 * matched; the rollback also checks the magic and the two ids.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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
    LOCK_RETRY_MS = 5,
    LOCK_WAIT_MS = 2000,
    /* A reader waits at most this long for the sync of what it sees (one
     * group's fdatasync takes tens of milliseconds). */
    READ_WAIT_MS = 10000,
};

/* The offsets above are LMDB's 64-bit layout (pointers and size_t in
 * MDB_meta). */
_Static_assert(sizeof(void *) == 8 && sizeof(size_t) == 8, "LMDB meta layout of a 64-bit build");
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

/* Waits for an flock (`operation` without LOCK_NB), giving up after
 * LOCK_WAIT_MS: every holder but a running server holds it for a few
 * milliseconds at most. Returns true when taken. */
static bool lock_take(int fd, int operation) {
    for (int waited_ms = 0; ; waited_ms += LOCK_RETRY_MS) {
        if (flock(fd, operation | LOCK_NB) == 0) return true;
        if (errno != EWOULDBLOCK || waited_ms >= LOCK_WAIT_MS) return false;
        usleep(LOCK_RETRY_MS * 1000);
    }
}

/* Whether a process other than this handle has the LMDB environment open:
 * each holds a POSIX read lock on byte 0 of lock.mdb (LMDB's liveness
 * lock). An open file description lock asks without taking anything; but
 * closing our descriptor drops every POSIX lock this process holds on
 * lock.mdb, so it is only asked before this handle opens its environment
 * (LMDB forbids a second environment of one directory in a process). */
static bool environment_in_use(const char *directory, long *pid_out) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/lock.mdb", directory);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    bool in_use = fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
    *pid_out = in_use ? (long)probe.l_pid : 0;
    close(fd);
    return in_use;
}

/* The marker names `txnid`, the newest transaction, and no server is
 * alive: roll it back (writable) or refuse (read-only). */
static int recover(ledger_t *ledger, int marker_fd, int data_fd, const meta_pair_t *pair,
                   uint64_t txnid) {
    if (ledger->options.read_only) {
        ledger_set_error(ledger, "%s: its last write group (LMDB transaction %llu) was "
                         "committed but never made durable, and its writer has stopped: "
                         "open the directory for writing once (start borsellinod) to roll "
                         "it back", ledger->path, (unsigned long long)txnid);
        return LEDGER_ERR_NEEDS_RECOVERY;
    }
    long pid = 0;
    if (environment_in_use(ledger->path, &pid)) {
        /* Its readers may be inside the group, and LMDB would keep the
         * group's id in lock.mdb: stop them first. */
        ledger_set_error(ledger, "%s: its last write group (LMDB transaction %llu) must be "
                         "rolled back, but another process (pid %ld) has the directory open: "
                         "stop it and open again", ledger->path, (unsigned long long)txnid, pid);
        return LEDGER_ERR_LOCKED;
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

/* Reads the marker and the newest transaction of data.mdb (0: no file).
 * *data_fd_out is open when the file is (the caller closes it). */
static int state_read(ledger_t *ledger, int marker_fd, uint64_t *marker_out,
                      meta_pair_t *pair, int *data_fd_out) {
    *data_fd_out = -1;
    int error = marker_read(ledger, marker_fd, marker_out);
    if (error || *marker_out == 0) return error;
    char data_path[4096];
    snprintf(data_path, sizeof(data_path), "%s/data.mdb", ledger->path);
    int flags = (ledger->options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    *data_fd_out = open(data_path, flags);
    if (*data_fd_out < 0) {
        *marker_out = 0;
        return errno == ENOENT ? 0 : errno;
    }
    return meta_pair_read(ledger, *data_fd_out, pair);
}

/* With the directory's recovery lock held: the marker names the newest
 * transaction and no server holds the marker (`server_alive` false), so
 * its writer died between commit and sync; or the marker names an older
 * transaction (stale: its commit never happened, or it was rolled back
 * before the marker was cleared), which a writable open clears, lest the
 * next commit take that id. */
static int marker_settle(ledger_t *ledger, int marker_fd, bool server_alive) {
    uint64_t marker = 0;
    meta_pair_t pair;
    int data_fd = -1;
    int error = state_read(ledger, marker_fd, &marker, &pair, &data_fd);
    if (!error && marker != 0 && !server_alive) {
        if (meta_pair_last(&pair) == marker) {
            error = recover(ledger, marker_fd, data_fd, &pair, marker);
        } else if (!ledger->options.read_only) {
            error = marker_write(marker_fd, 0);
        }
    }
    if (data_fd >= 0) close(data_fd);
    return error;
}

/* A new marker file must survive a power loss like the data: its
 * directory entry is synced once. */
static int directory_sync(const char *directory) {
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int error = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return error;
}

/* Takes the directory's flock (exclusive to write, shared to look) and
 * keeps it in ledger->directory_lock_fd until durability_open_done. */
static int directory_lock(ledger_t *ledger) {
    int fd = open(ledger->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    if (!lock_take(fd, ledger->options.read_only ? LOCK_SH : LOCK_EX)) {
        close(fd);
        ledger_set_error(ledger, "%s: another process keeps it locked while it opens it",
                         ledger->path);
        return LEDGER_ERR_LOCKED;
    }
    ledger->directory_lock_fd = fd;
    return 0;
}

/* Opens the marker (creating it for a pipelined handle): -1 with *error_out
 * 0 when there is none. */
static int marker_open(ledger_t *ledger, bool pipelined, int *error_out) {
    char path[4096];
    marker_path(ledger->path, path, sizeof(path));
    int flags = (ledger->options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (pipelined) flags |= O_CREAT;
    int fd = open(path, flags, 0600);
    *error_out = 0;
    if (fd < 0 && errno != ENOENT) {
        *error_out = errno;
        ledger_set_error(ledger, "cannot open %s: %s", path, strerror(errno));
    }
    return fd;
}

/*
 * Order: the directory's lock first, held until the environment is open
 * (durability_open_done), then the marker. So a reader either opens LMDB
 * before a recovering server looks for other users of the environment
 * (and is seen: environment_in_use), or after the rollback; and no open
 * acts on a marker it read before another open finished with it.
 */
int durability_open(ledger_t *ledger, bool is_new) {
    ledger->marker_fd = ledger->marker_read_fd = ledger->data_fd = -1;
    ledger->directory_lock_fd = -1;
    int error = directory_lock(ledger);
    if (error) return error;
    bool pipelined = ledger->options.commit_pipelined && !ledger->options.read_only;
    int fd = marker_open(ledger, pipelined, &error);
    if (fd < 0) return error; /* none: never served pipelined, nothing to check */
    if (pipelined && !lock_take(fd, LOCK_EX)) {
        ledger_set_error(ledger, "%s is in use by another process that commits to it "
                         "(a running borsellinod?)", ledger->path);
        error = LEDGER_ERR_LOCKED;
    }
    if (!error && pipelined) error = directory_sync(ledger->path);
    if (!error && !is_new) {
        /* A shared lock on the marker fails only while a server holds it. */
        bool server_alive = !pipelined && flock(fd, LOCK_SH | LOCK_NB) != 0;
        if (!pipelined && !server_alive) flock(fd, LOCK_UN);
        error = marker_settle(ledger, fd, server_alive);
    }
    if (error || (!pipelined && !ledger->options.read_only)) {
        close(fd);
        return error;
    }
    if (pipelined) ledger->marker_fd = fd;
    else ledger->marker_read_fd = fd; /* for durability_read_gate */
    return 0;
}

void durability_open_done(ledger_t *ledger) {
    if (ledger->directory_lock_fd >= 0) close(ledger->directory_lock_fd);
    ledger->directory_lock_fd = -1;
}

int durability_wait_durable(ledger_t *ledger, uint64_t txnid) {
    if (ledger->marker_read_fd < 0) {
        /* A server may have started since this handle opened. */
        int error = 0;
        ledger->marker_read_fd = marker_open(ledger, false, &error);
        if (ledger->marker_read_fd < 0) return error;
    }
    int fd = ledger->marker_read_fd;
    for (int waited_ms = 0; ; waited_ms++) {
        uint64_t marker = 0;
        int error = marker_read(ledger, fd, &marker);
        if (error) return error;
        /* Unsynced is only ever the newest commit: a marker naming any
         * other id (or none) means `txnid` is on disk. */
        if (marker != txnid) return 0;
        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
            flock(fd, LOCK_UN);
            ledger_set_error(ledger, "%s: the server stopped before LMDB transaction %llu, "
                             "which this reader sees, was on disk; the next start rolls it "
                             "back: start borsellinod, then read again", ledger->path,
                             (unsigned long long)txnid);
            return LEDGER_ERR_NEEDS_RECOVERY;
        }
        if (waited_ms >= READ_WAIT_MS) {
            ledger_set_error(ledger, "%s: LMDB transaction %llu is still not on disk after "
                             "%d ms", ledger->path, (unsigned long long)txnid, READ_WAIT_MS);
            return ETIMEDOUT;
        }
        usleep(1000);
    }
}

int durability_gate_open(const char *path, ledger_t **gate_out) {
    *gate_out = NULL;
    ledger_t *gate = calloc(1, sizeof(*gate));
    size_t path_size = strlen(path) + 1;
    char *copy = malloc(path_size);
    if (gate == NULL || copy == NULL) {
        free(gate);
        free(copy);
        return LEDGER_ERR_NO_MEMORY;
    }
    memcpy(copy, path, path_size);
    gate->path = copy;
    gate->options.read_only = true;
    int error = durability_open(gate, false);
    if (error) {
        ledger_set_error(NULL, "%s", gate->error_message);
        durability_gate_close(gate);
        return error;
    }
    *gate_out = gate;
    return 0;
}

void durability_gate_close(ledger_t *gate) {
    if (gate == NULL) return;
    durability_close(gate);
    free(gate->path);
    free(gate);
}

int durability_read_gate(ledger_t *ledger, MDB_txn *txn) {
    /* A writable handle reads its own commits, which it never answers
     * before they are synced. */
    if (!ledger->options.read_only) return 0;
    return durability_wait_durable(ledger, mdb_txn_id(txn));
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
    durability_open_done(ledger);
    if (ledger->marker_fd >= 0) close(ledger->marker_fd);
    if (ledger->marker_read_fd >= 0) close(ledger->marker_read_fd);
    ledger->marker_fd = ledger->marker_read_fd = -1;
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
    /* A failed sync is final: Linux may report a lost write-back once,
     * and a second fdatasync then succeeds over pages that never arrived. */
    int error = atomic_load(&ledger->sync_error);
    if (error) return error;
    if (atomic_load(&ledger->unsynced_txnid) == 0) return 0;
    error = fdatasync(ledger->data_fd) == 0 ? 0 : errno;
    if (!error) error = marker_write(ledger->marker_fd, 0);
    if (error) {
        atomic_store(&ledger->sync_error, error);
        return error;
    }
    atomic_store(&ledger->unsynced_txnid, 0);
    return 0;
}

int durability_commit_check(ledger_t *ledger, bool unsynced) {
    int error = atomic_load(&ledger->sync_error);
    if (error) {
        ledger_set_error(ledger, "an earlier group could not be made durable (%s): nothing "
                         "more is committed", strerror(error));
        return error;
    }
    if (atomic_load(&ledger->unsynced_txnid) != 0) {
        ledger_set_error(ledger, "the previous group is not yet durable (ledger_write_sync)");
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    if (unsynced && ledger->marker_fd < 0) {
        ledger_set_error(ledger, "the ledger was not opened with commit_pipelined");
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    return 0;
}

void durability_commit_failed(ledger_t *ledger) {
    /* The marker names an id the next commit will take: clear it, or stop
     * committing, lest a crash later roll that commit back. */
    int error = marker_write(ledger->marker_fd, 0);
    if (error) atomic_store(&ledger->sync_error, error);
}

uint64_t ledger_rolled_back_txnid(const ledger_t *ledger) {
    return ledger ? ledger->rolled_back_txnid : 0;
}
