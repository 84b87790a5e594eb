/*
 * raw_lmdb.h — direct LMDB access to a closed ledger's data directory, for
 * tests that damage or inspect its tables below the engine (test_audit,
 * test_id_index). One write transaction from open to close; every step
 * is required (a failure stops the test program).
 */
#ifndef BORSELLINO_TESTS_RAW_LMDB_H
#define BORSELLINO_TESTS_RAW_LMDB_H

#include <lmdb.h>
#include <stdint.h>

#include "test.h"

typedef struct raw {
    MDB_env *env;
    MDB_txn *txn;
} raw_t;

/* Another table of the open transaction. */
static inline MDB_dbi raw_table(raw_t *raw, const char *table) {
    MDB_dbi dbi;
    TEST_REQUIRE(mdb_dbi_open(raw->txn, table, 0, &dbi) == 0);
    return dbi;
}

/* Opens the directory `path` (no ledger may have it open) and begins the
 * write transaction; returns `table`. */
static inline MDB_dbi raw_open_path(raw_t *raw, const char *path, const char *table) {
    TEST_REQUIRE(mdb_env_create(&raw->env) == 0);
    TEST_REQUIRE(mdb_env_set_maxdbs(raw->env, 16) == 0);
    TEST_REQUIRE(mdb_env_set_mapsize(raw->env, UINT64_C(1) << 30) == 0);
    TEST_REQUIRE(mdb_env_open(raw->env, path, MDB_NOTLS, 0600) == 0);
    TEST_REQUIRE(mdb_txn_begin(raw->env, NULL, 0, &raw->txn) == 0);
    return raw_table(raw, table);
}

/* Commits the changes and closes the directory. */
static inline void raw_close(raw_t *raw) {
    TEST_REQUIRE(mdb_txn_commit(raw->txn) == 0);
    mdb_env_close(raw->env);
}

#endif
