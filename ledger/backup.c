/*
 * backup.c — a hot, compacted copy of a data directory, taken while another
 * process (borsellinod) keeps writing to it.
 *
 * The source environment is opened read-only in this process, with the
 * lock file shared with the writer: the copy runs inside one LMDB read
 * transaction, registered in the reader table, so the writer cannot reuse
 * the pages of that snapshot until the copy ends. The copy is therefore a
 * committed state, never a torn one, and holds an exact prefix of the
 * journal. Nothing is replayed and no ledger_t is built: the copy is bytes.
 *
 * mdb_env_copy2() begins its own read transaction, so the journal sequence
 * reported is read afterwards from the copy itself, not from the source.
 *
 * The checkpoint signing key, when it is in its default place
 * (DIR/signing.key), is copied too, mode 0600: the copy is a directory a
 * server can start from. A key kept elsewhere stays where it is.
 *
 * Workload: an operator command, run rarely; the copy costs one pass over
 * the used pages of the map. Errors are reported through the thread-local
 * message of ledger_last_error_message(NULL), as for a failed ledger_open.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ledger_internal.h"

enum {
    /* The writer may grow the map between our open and the copy's read
     * transaction (MDB_MAP_RESIZED); each retry adopts the new size. */
    BACKUP_ATTEMPTS_MAX = 8,
    BACKUP_FILE_MODE = 0600,
    BACKUP_DIRECTORY_MODE = 0700,
};

static const char *const BACKUP_JOURNAL_TABLE = "journal";
static const char *const BACKUP_DATA_FILE = "data.mdb";
/* The default place of the checkpoint signing key (signing.c): a copy
 * without it could not be opened for writing. */
static const char *const BACKUP_KEY_FILE = "signing.key";
enum { BACKUP_KEY_SIZE_MAX = 4096 };

/* Copies DIR/signing.key, when there is one, into the copy (mode 0600,
 * created exclusively), wiping the bytes from memory afterwards. */
static int copy_signing_key(const char *data_path, const char *out_path) {
    char source[PATH_MAX];
    char target[PATH_MAX];
    snprintf(source, sizeof source, "%s/%s", data_path, BACKUP_KEY_FILE);
    snprintf(target, sizeof target, "%s/%s", out_path, BACKUP_KEY_FILE);
    int in = open(source, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno == ENOENT ? 0 : errno;
    char bytes[BACKUP_KEY_SIZE_MAX];
    ssize_t size = read(in, bytes, sizeof bytes);
    close(in);
    int error = size < 0 ? errno : 0;
    int out = error ? -1 : open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, BACKUP_FILE_MODE);
    if (!error && out < 0) error = errno;
    if (!error && write(out, bytes, (size_t)size) != size) error = errno ? errno : EIO;
    if (!error && fsync(out) != 0) error = errno;
    if (out >= 0) close(out);
    OPENSSL_cleanse(bytes, sizeof bytes);
    if (error) ledger_set_error(NULL, "cannot copy the signing key %s: %s", source, strerror(error));
    return error;
}

/* 0 when `path` is an empty directory, 1 when it does not exist, else an
 * error with its message set. */
static int out_directory_state(const char *path) {
    DIR *directory = opendir(path);
    if (directory == NULL) {
        if (errno == ENOENT) return 1;
        int error = errno;
        ledger_set_error(NULL, "cannot use %s as the backup directory: %s", path,
                         strerror(error));
        return error;
    }
    int entries = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            entries++;
        }
    }
    closedir(directory);
    if (entries == 0) return 0;
    ledger_set_error(NULL, "%s is not empty: a backup goes into a new or empty "
                           "directory, it never overwrites one", path);
    return EEXIST;
}

static int out_directory_prepare(const char *path) {
    int state = out_directory_state(path);
    if (state != 1) return state;
    if (mkdir(path, BACKUP_DIRECTORY_MODE) != 0) {
        int error = errno;
        ledger_set_error(NULL, "cannot create backup directory %s: %s", path,
                         strerror(error));
        return error;
    }
    return 0;
}

/* Opens an environment read-only with store.c's flags. `shared_lock`: use
 * the lock file (the source, written by another process); without it (the
 * fresh copy nobody else uses) no lock.mdb is created in the backup. */
static int env_open_read_only(const char *path, bool shared_lock,
                              MDB_env **env_out) {
    MDB_env *env = NULL;
    int error = mdb_env_create(&env);
    if (error) return error;
    mdb_env_set_maxdbs(env, STORE_DATABASES_MAX);
    unsigned int flags = MDB_NOTLS | MDB_RDONLY;
    if (!shared_lock) flags |= MDB_NOLOCK;
    error = mdb_env_open(env, path, flags, BACKUP_FILE_MODE);
    if (error) {
        ledger_set_error(NULL, "cannot open data directory %s: %s", path,
                         mdb_strerror(error));
        mdb_env_close(env);
        return error;
    }
    *env_out = env;
    return 0;
}

/* The last journal sequence of `env` (0 for an empty journal); also proves
 * that the environment is a ledger. */
static int journal_last_sequence(MDB_env *env, const char *path,
                                 uint64_t *sequence_out) {
    MDB_txn *txn = NULL;
    int error = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (error == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(env, 0);
        error = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    }
    if (error) {
        ledger_set_error(NULL, "cannot read %s: %s", path, mdb_strerror(error));
        return error;
    }
    MDB_dbi dbi;
    MDB_cursor *cursor = NULL;
    MDB_val key = {0, NULL};
    MDB_val data = {0, NULL};
    error = mdb_dbi_open(txn, BACKUP_JOURNAL_TABLE, 0, &dbi);
    if (!error) error = mdb_cursor_open(txn, dbi, &cursor);
    if (!error) error = mdb_cursor_get(cursor, &key, &data, MDB_LAST);
    *sequence_out = 0;
    if (!error) {
        assert(key.mv_size == KEY_SEQUENCE_SIZE);
        *sequence_out = key_sequence_decode(key.mv_data);
    } else if (error == MDB_NOTFOUND && cursor != NULL) {
        error = 0; /* the table exists and is empty */
    }
    if (cursor != NULL) mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    if (error == MDB_NOTFOUND) {
        ledger_set_error(NULL, "%s holds no ledger (no journal table)", path);
        return LEDGER_ERR_NOT_A_LEDGER;
    }
    if (error) ledger_set_error(NULL, "cannot read the journal of %s: %s", path,
                                mdb_strerror(error));
    return error;
}

static int data_file_path(const char *directory, char *path, size_t capacity) {
    int length = snprintf(path, capacity, "%s/%s", directory, BACKUP_DATA_FILE);
    if (length < 0 || (size_t)length >= capacity) {
        ledger_set_error(NULL, "path too long: %s", directory);
        return ENAMETOOLONG;
    }
    return 0;
}

/* The copy; on MDB_MAP_RESIZED the half-written file is removed and the
 * copy runs again with the map size the writer has grown to. */
static int copy_compacted(MDB_env *env, const char *out_path) {
    char data_path[PATH_MAX];
    int error = data_file_path(out_path, data_path, sizeof data_path);
    if (error) return error;
    for (int attempt = 0; attempt < BACKUP_ATTEMPTS_MAX; attempt++) {
        error = mdb_env_copy2(env, out_path, MDB_CP_COMPACT);
        if (error != MDB_MAP_RESIZED) break;
        unlink(data_path);
        mdb_env_set_mapsize(env, 0);
    }
    if (error) {
        ledger_set_error(NULL, "cannot copy into %s: %s", out_path,
                         mdb_strerror(error));
        unlink(data_path);
        return store_error(error);
    }
    /* LMDB creates the copy with mode 0666 less the umask; the directory
     * (0700 when we made it) kept it private meanwhile. */
    if (chmod(data_path, BACKUP_FILE_MODE) != 0) {
        error = errno;
        ledger_set_error(NULL, "cannot chmod %s: %s", data_path, strerror(error));
        return error;
    }
    return 0;
}

/* The copy's snapshot is no newer than the environment's last transaction
 * once the copy is done: wait until that one is durable. */
static int copy_durable_wait(MDB_env *env, ledger_t *gate, const char *out_path) {
    MDB_envinfo info;
    mdb_env_info(env, &info);
    int error = durability_wait_durable(gate, info.me_last_txnid);
    if (error) {
        ledger_set_error(NULL, "%s", ledger_last_error_message(gate));
        char data_path[PATH_MAX];
        if (data_file_path(out_path, data_path, sizeof data_path) == 0) unlink(data_path);
    }
    return error;
}

static int copy_sequence(const char *out_path, uint64_t *sequence_out) {
    MDB_env *copy = NULL;
    int error = env_open_read_only(out_path, false, &copy);
    if (error) return error;
    error = journal_last_sequence(copy, out_path, sequence_out);
    mdb_env_close(copy);
    return error;
}

int ledger_backup(const char *data_path, const char *out_path,
                  uint64_t *journal_sequence_out) {
    if (data_path == NULL || out_path == NULL || journal_sequence_out == NULL) {
        ledger_set_error(NULL, "ledger_backup: a NULL argument");
        return LEDGER_ERR_INVALID_ARGUMENT;
    }
    char source_file[PATH_MAX];
    int error = data_file_path(data_path, source_file, sizeof source_file);
    if (error) return error;
    struct stat source_stat;
    if (stat(source_file, &source_stat) != 0) {
        error = errno;
        ledger_set_error(NULL, "%s is not a borsellino data directory (%s: %s)",
                         data_path, source_file, strerror(error));
        return error == ENOENT ? LEDGER_ERR_NOT_A_LEDGER : error;
    }
    /* A pipelined server's newest group is visible before it is on disk
     * (durability.c): the source is checked like a read-only open, and the
     * copy is kept only once every transaction it can hold is durable. */
    ledger_t *gate = NULL;
    error = durability_gate_open(data_path, &gate);
    if (error) return error;
    MDB_env *env = NULL;
    error = env_open_read_only(data_path, true, &env);
    durability_open_done(gate);
    if (error) {
        durability_gate_close(gate);
        return error;
    }
    uint64_t source_sequence = 0;
    error = journal_last_sequence(env, data_path, &source_sequence);
    if (!error) error = out_directory_prepare(out_path);
    if (!error) error = copy_compacted(env, out_path);
    if (!error) error = copy_durable_wait(env, gate, out_path);
    mdb_env_close(env);
    durability_gate_close(gate);
    if (!error) error = copy_signing_key(data_path, out_path);
    if (!error) error = copy_sequence(out_path, journal_sequence_out);
    /* The writer only appends, so the copy's snapshot is no older. */
    if (!error) assert(*journal_sequence_out >= source_sequence);
    return error;
}
