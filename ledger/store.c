/*
 * store.c — the LMDB environment of a data directory: creation, format
 * check, sub-databases, meta values and map growth.
 *
 * Sub-databases: journal (u64 BE sequence -> journal record, MDB_APPEND
 * only), transfer_ids (u128 BE id -> u64 sequence), accounts (u128 BE id ->
 * checkpoint record), pending (u128 BE id -> pending entry), expiry
 * (u64 BE expires_at ‖ u128 BE id -> empty), meta (string -> value).
 * Format version 2 (record.h STORE_FORMAT_VERSION) added the meta value
 * transfer_ids_watermark (transfer_index.c).
 * Durability: default LMDB flags (no NOSYNC, no NOMETASYNC), so a commit
 * returns only after fdatasync of the data and of the meta page; a
 * pipelined commit (durability.c) turns MDB_NOSYNC on for itself alone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>

#include "ledger_internal.h"


static const char *const META_FORMAT_VERSION = "format_version";

int store_error(int error) {
    /* MDB_MAP_FULL stays itself: the map may still grow (see
     * ledger_write_settle). */
    if (error == ENOSPC || error == EDQUOT) {
        return LEDGER_ERR_STORAGE_FULL;
    }
    return error;
}

/* Below this much free space, an EIO from a commit is taken for a full
 * filesystem (a short write) rather than a failing disk. */
static const uint64_t STORE_FULL_FREE_BYTES_MAX = 64ull << 20;

int store_commit_error(ledger_t *ledger, int error) {
    if (error != EIO) return store_error(error);
    struct statvfs status;
    if (statvfs(ledger->path, &status) != 0) return error;
    uint64_t free_bytes = (uint64_t)status.f_bavail * status.f_frsize;
    if (free_bytes >= STORE_FULL_FREE_BYTES_MAX) return error;
    ledger_set_error(ledger, "commit failed: the filesystem of %s is full (%llu bytes free)",
                     ledger->path, (unsigned long long)free_bytes);
    return LEDGER_ERR_STORAGE_FULL;
}

/* 1: an empty directory, 0: it holds data.mdb, <0: something else. */
static int directory_state(ledger_t *ledger, const char *path) {
    DIR *directory = opendir(path);
    if (directory == NULL) {
        ledger_set_error(ledger, "cannot open data directory %s: %s", path,
                         strerror(errno));
        return errno;
    }
    int entries = 0;
    int has_data = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
            continue;
        }
        entries++;
        if (strcmp(entry->d_name, "data.mdb") == 0) has_data = 1;
    }
    closedir(directory);
    if (has_data) return 0;
    if (entries == 0) return 1;
    ledger_set_error(ledger,
                     "%s is not a borsellino data directory (no data.mdb, "
                     "but other files): choose an empty or new directory",
                     path);
    return LEDGER_ERR_NOT_A_LEDGER;
}

static int store_prepare_directory(ledger_t *ledger, const char *path,
                                   bool *new_out) {
    struct stat status;
    if (stat(path, &status) != 0) {
        if (errno != ENOENT || ledger->options.read_only) {
            ledger_set_error(ledger, "cannot open data directory %s: %s", path,
                             strerror(errno));
            return errno;
        }
        if (mkdir(path, 0700) != 0) {
            ledger_set_error(ledger, "cannot create data directory %s: %s",
                             path, strerror(errno));
            return errno;
        }
        *new_out = true;
        return 0;
    }
    if (!S_ISDIR(status.st_mode)) {
        ledger_set_error(ledger, "%s is not a directory", path);
        return LEDGER_ERR_NOT_A_LEDGER;
    }
    int state = directory_state(ledger, path);
    if (state < 0 || state > 1) return state;
    *new_out = state == 1;
    if (*new_out && ledger->options.read_only) {
        ledger_set_error(ledger, "%s holds no ledger (read-only open)", path);
        return LEDGER_ERR_NOT_A_LEDGER;
    }
    return 0;
}

static int store_open_databases(ledger_t *ledger, MDB_txn *txn, bool create) {
    struct {
        const char *name;
        MDB_dbi *dbi;
    } databases[] = {
        {"journal", &ledger->dbi_journal},
        {"transfer_ids", &ledger->dbi_transfer_ids},
        {"accounts", &ledger->dbi_accounts},
        {"pending", &ledger->dbi_pending},
        {"expiry", &ledger->dbi_expiry},
        {"meta", &ledger->dbi_meta},
        {"welfare", &ledger->dbi_welfare},
    };
    for (size_t i = 0; i < sizeof(databases) / sizeof(databases[0]); i++) {
        int error = mdb_dbi_open(txn, databases[i].name, create ? MDB_CREATE : 0,
                                 databases[i].dbi);
        if (error) {
            ledger_set_error(ledger, "cannot open table %s: %s",
                             databases[i].name, mdb_strerror(error));
            return error == MDB_NOTFOUND ? LEDGER_ERR_NOT_A_LEDGER : error;
        }
    }
    /* Signed checkpoints came later: a read-only open of an older
     * directory simply has none. */
    int error = mdb_dbi_open(txn, "signatures", create ? MDB_CREATE : 0,
                             &ledger->dbi_signatures);
    if (error && !(error == MDB_NOTFOUND && !create)) {
        ledger_set_error(ledger, "cannot open table signatures: %s", mdb_strerror(error));
        return error;
    }
    ledger->signatures_table = error == 0;
    return 0;
}

int store_journal_last(ledger_t *ledger, MDB_txn *txn, uint64_t *sequence_out) {
    MDB_cursor *cursor = NULL;
    int error = mdb_cursor_open(txn, ledger->dbi_journal, &cursor);
    if (error) return error;
    MDB_val key;
    MDB_val data;
    *sequence_out = 0;
    error = mdb_cursor_get(cursor, &key, &data, MDB_LAST);
    mdb_cursor_close(cursor);
    if (error == MDB_NOTFOUND) return 0;
    if (error) return error;
    if (key.mv_size != KEY_SEQUENCE_SIZE) return LEDGER_ERR_CORRUPT;
    *sequence_out = key_sequence_decode(key.mv_data);
    return 0;
}

static int store_format_write(ledger_t *ledger, MDB_txn *txn) {
    uint8_t bytes[4];
    put_u32(bytes, STORE_FORMAT_VERSION);
    return store_meta_put_bytes(ledger, txn, META_FORMAT_VERSION, bytes, sizeof(bytes));
}

/* Format 1 had every transfer id in the B-tree: its watermark is the last
 * sequence. A writable open upgrades it to format 2 in the open's
 * transaction; a read-only one serves it as it is. */
static int store_format_upgrade_1(ledger_t *ledger, MDB_txn *txn) {
    int error = store_journal_last(ledger, txn, &ledger->transfer_ids_watermark);
    if (error || ledger->options.read_only) return error;
    error = transfer_index_watermark_write(ledger, txn, ledger->transfer_ids_watermark);
    if (!error) error = store_format_write(ledger, txn);
    return error;
}

/* Checks (or, on a new directory, writes) the format version, and reads
 * the transfer id watermark. */
static int store_check_format(ledger_t *ledger, MDB_txn *txn, bool is_new) {
    uint8_t bytes[4];
    bool found = false;
    int error = store_meta_get_bytes(ledger, txn, META_FORMAT_VERSION, bytes,
                                     sizeof(bytes), &found);
    if (error) return error;
    if (!found) {
        if (!is_new) {
            ledger_set_error(ledger, "data directory has no format version: "
                                     "not a borsellino ledger, or damaged");
            return LEDGER_ERR_NOT_A_LEDGER;
        }
        ledger->transfer_ids_watermark = 0;
        error = transfer_index_watermark_write(ledger, txn, 0);
        return error ? error : store_format_write(ledger, txn);
    }
    uint32_t version = get_u32(bytes);
    if (version > STORE_FORMAT_VERSION) {
        ledger_set_error(ledger,
                         "data directory has format version %u, newer than the "
                         "%u this borsellino understands: upgrade borsellino",
                         version, STORE_FORMAT_VERSION);
        return LEDGER_ERR_FORMAT_NEWER;
    }
    if (version == 1) return store_format_upgrade_1(ledger, txn);
    if (version != STORE_FORMAT_VERSION) {
        ledger_set_error(ledger, "data directory has unknown format version %u",
                         version);
        return LEDGER_ERR_CORRUPT;
    }
    return transfer_index_watermark_read(ledger, txn, &ledger->transfer_ids_watermark);
}

/* A data.mdb shorter than the pages its meta page claims would make LMDB
 * touch memory past the end of the file (SIGBUS): refuse it instead. */
static int store_check_file_size(ledger_t *ledger, const char *path,
                                 const MDB_envinfo *info) {
    char file[4096];
    struct stat status;
    MDB_stat stat_info;
    snprintf(file, sizeof(file), "%s/data.mdb", path);
    if (stat(file, &status) != 0) return 0; /* a new directory */
    mdb_env_stat(ledger->env, &stat_info);
    uint64_t needed = ((uint64_t)info->me_last_pgno + 1) * stat_info.ms_psize;
    if ((uint64_t)status.st_size >= needed) return 0;
    ledger_set_error(ledger, "%s is truncated: %lld bytes, but its last commit uses %llu",
                     file, (long long)status.st_size, (unsigned long long)needed);
    return LEDGER_ERR_CORRUPT;
}

static int store_open_env(ledger_t *ledger, const char *path) {
    int error = mdb_env_create(&ledger->env);
    if (error) return error;
    mdb_env_set_maxdbs(ledger->env, STORE_DATABASES_MAX);
    error = mdb_env_set_mapsize(ledger->env, ledger->options.map_size_initial);
    if (error) return error;
    unsigned int flags = MDB_NOTLS;
    if (ledger->options.read_only) flags |= MDB_RDONLY;
    error = mdb_env_open(ledger->env, path, flags, 0600);
    if (error) {
        ledger_set_error(ledger, "cannot open LMDB environment in %s: %s", path,
                         mdb_strerror(error));
        return error;
    }
    MDB_envinfo info;
    mdb_env_info(ledger->env, &info);
    ledger->map_size = info.me_mapsize;
    return store_check_file_size(ledger, path, &info);
}

int store_open(ledger_t *ledger, const char *path) {
    bool is_new = false;
    int error = store_prepare_directory(ledger, path, &is_new);
    if (!error) error = durability_open(ledger, is_new);
    if (!error) error = store_open_env(ledger, path);
    if (!error) error = durability_check_layout(ledger);
    durability_open_done(ledger);
    if (error) return error;
    MDB_txn *txn = NULL;
    error = mdb_txn_begin(ledger->env, NULL,
                          ledger->options.read_only ? MDB_RDONLY : 0, &txn);
    if (error) return error;
    error = store_open_databases(ledger, txn, !ledger->options.read_only);
    if (!error) error = store_check_format(ledger, txn, is_new);
    if (!error && !ledger->options.read_only) error = signing_open(ledger, txn);
    bool found = false;
    if (!error) {
        error = store_meta_get_u64(ledger, txn, "checkpoint_sequence",
                                   &ledger->checkpoint_sequence, &found);
    }
    if (error) {
        mdb_txn_abort(txn);
        return error;
    }
    error = mdb_txn_commit(txn);
    if (error) ledger_set_error(ledger, "cannot format %s: %s", path,
                                mdb_strerror(error));
    return store_error(error);
}

void store_close(ledger_t *ledger) {
    if (ledger->env != NULL) mdb_env_close(ledger->env);
    ledger->env = NULL;
}

int store_grow_if_needed(ledger_t *ledger, bool force) {
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info(ledger->env, &info);
    mdb_env_stat(ledger->env, &stat);
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * stat.ms_psize;
    uint64_t size = info.me_mapsize;
    if (!force && size - used >= size / 4) return 0;
    uint64_t grown = size * 2;
    if (grown > ledger->options.map_size_max) grown = ledger->options.map_size_max;
    if (grown <= size) return force ? LEDGER_ERR_STORAGE_FULL : 0;
    if (ledger->read_txn != NULL) {
        /* No transaction may exist while the map is resized. */
        mdb_txn_abort(ledger->read_txn);
        ledger->read_txn = NULL;
    }
    int error = mdb_env_set_mapsize(ledger->env, grown);
    if (error) return error;
    ledger->map_size = grown;
    return 0;
}

int store_meta_get_bytes(ledger_t *ledger, MDB_txn *txn, const char *key,
                         void *bytes, size_t size, bool *found_out) {
    MDB_val key_value = {strlen(key), (void *)key};
    MDB_val data;
    int error = mdb_get(txn, ledger->dbi_meta, &key_value, &data);
    if (error == MDB_NOTFOUND) {
        *found_out = false;
        return 0;
    }
    if (error) return error;
    if (data.mv_size != size) {
        ledger_set_error(ledger, "meta value %s has size %zu, expected %zu", key,
                         data.mv_size, size);
        return LEDGER_ERR_CORRUPT;
    }
    memcpy(bytes, data.mv_data, size);
    *found_out = true;
    return 0;
}

int store_meta_put_bytes(ledger_t *ledger, MDB_txn *txn, const char *key,
                         const void *bytes, size_t size) {
    MDB_val key_value = {strlen(key), (void *)key};
    MDB_val data = {size, (void *)bytes};
    return store_error(mdb_put(txn, ledger->dbi_meta, &key_value, &data, 0));
}

int store_meta_get_u64(ledger_t *ledger, MDB_txn *txn, const char *key,
                       uint64_t *value_out, bool *found_out) {
    uint8_t bytes[8];
    int error = store_meta_get_bytes(ledger, txn, key, bytes, sizeof(bytes),
                                     found_out);
    if (error) return error;
    *value_out = *found_out ? get_u64(bytes) : 0;
    return 0;
}

int store_meta_put_u64(ledger_t *ledger, MDB_txn *txn, const char *key,
                       uint64_t value) {
    uint8_t bytes[8];
    put_u64(bytes, value);
    return store_meta_put_bytes(ledger, txn, key, bytes, sizeof(bytes));
}
