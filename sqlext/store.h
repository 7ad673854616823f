/* store.h: the storage discipline shared by silt's index virtual tables (silt_dense,
 * silt_sparse, silt_join): how a derived in-memory index stays transactional, incremental
 * and coherent across connections and processes.
 *
 * THE DISCIPLINE
 *
 * 1. Truth. The owner (a virtual table) keeps its rows in its own shadow tables, keyed by
 *    rowid ("<table>_data" for silt_dense). Those rows are the truth; every in-memory
 *    structure is derived from them and can be rebuilt from them at any time.
 *
 * 2. Snapshot + log. The store owns three more shadow tables:
 *      <table>_info      key/value: 'gen' (bumped at every snapshot), 'snapshot_bytes'
 *                        (-1: no snapshot, rebuild from the truth), 'snapshot_hash'
 *      <table>_snapshot  the serialised derived index, split over 1 MiB rows (chunk_no
 *                        0, 1, ...): no single huge BLOB, no size ceiling
 *      <table>_log       (seq, id): one row per rowid changed since the snapshot
 *    A commit writes only the changed truth rows and one log row per changed rowid, never
 *    the whole index. When the log grows long relative to the index (the owner decides,
 *    snapshot_due), the commit writes a new snapshot, empties the log and bumps 'gen'.
 *    Owners whose index is as cheap to rebuild as to read (a flat vector array) store no
 *    snapshot bytes: loading rebuilds from the truth.
 *
 * 3. Loading is lazy (first use, not xConnect): snapshot (checked against its size and
 *    hash), then every rowid of the log is re-derived from the truth. A missing, truncated
 *    or corrupt snapshot is not an error: the store rebuilds from the truth and writes a
 *    fresh snapshot at the next commit.
 *
 * 4. Re-deriving is the one primitive. The owner's refresh(rowids) makes the in-memory
 *    state of those rowids equal to the truth as the connection currently sees it (remove,
 *    then re-add when the row exists). It is idempotent, so every recovery path uses it:
 *    - read-your-writes: the owner applies its writes to memory at once (xUpdate) and
 *      calls silt_store_touch(rowid);
 *    - ROLLBACK and ROLLBACK TO: SQLite restores the shadow tables; the store turns the
 *      rowids touched since the transaction or savepoint into a dirty set, re-derived
 *      before the next use (not inside xRollback, where no SQL may run). The in-memory
 *      contents then equal exactly those of the restored truth;
 *    - other connections and processes: PRAGMA data_version tells that someone else
 *      committed; 'gen' tells whether they wrote a snapshot (then reload) or only log rows
 *      (then re-derive the rowids logged after the last seq this connection applied).
 *
 * 5. Transactions. xBegin/xSync/xCommit/xRollback/xSavepoint/xRelease/xRollbackTo map to
 *    the silt_store_* calls of the same name. The log rows are written at xSync, from the
 *    de-duplicated touched set, so a rolled-back transaction leaves no trace in the log.
 *    Nothing of an uncommitted transaction reaches another connection: it lives in this
 *    connection's memory and in SQLite's uncommitted pages.
 *
 * 6. Consistent reads. silt_store_ensure keeps one statement on <table>_info active while
 *    it reads, which holds a read transaction even in autocommit mode, so the snapshot,
 *    the log and the truth it reads all belong to one database state.
 *
 * Calls: silt_store_ensure at the start of every xFilter, xUpdate and command, before
 * using the in-memory index. All messages (*err) are sqlite3_mprintf'd. */
#ifndef SILT_STORE_H
#define SILT_STORE_H

#include <stddef.h>

#include "sqlext/sqlite.h"

typedef struct silt_store silt_store;

/* What the owner of the derived state provides. Every callback returns an SQLite result
 * code and, on failure, sets *err (sqlite3_mprintf'd). */
typedef struct {
    /* Drops all derived state, leaving it empty. */
    int (*reset)(void *owner, char **err);
    /* Replaces the derived state with a snapshot's. SQLITE_CORRUPT means "unusable bytes":
     * the store then rebuilds from the truth. */
    int (*load_snapshot)(void *owner, const void *bytes, size_t n_bytes, char **err);
    /* Serialises the derived state into *bytes (malloc'd, freed by the store with free()),
     * or sets *bytes = NULL when the owner prefers rebuilding from the truth on load. */
    int (*save_snapshot)(void *owner, void **bytes, size_t *n_bytes, char **err);
    /* Re-derives rowids[0..n) from the truth. */
    int (*refresh)(void *owner, const sqlite3_int64 *rowids, size_t n, char **err);
    /* Rebuilds the whole derived state from the truth. */
    int (*rebuild)(void *owner, char **err);
    /* Optional: work that must be part of the commit (e.g. embedding queued texts); runs
     * first in xSync and may call silt_store_touch. */
    int (*before_commit)(void *owner, char **err);
    /* Whether the next commit should write a snapshot, given the rows the log would hold. */
    int (*snapshot_due)(void *owner, sqlite3_int64 n_log_rows);
} silt_store_ops;

/* Roles of the store's shadow tables, for xShadowName: 1 for "info", "log", "snapshot". */
int silt_store_is_shadow_role(const char *role);

/* xCreate: creates the store's shadow tables for table `name` in schema `schema`. */
int silt_store_create(sqlite3 *db, const char *schema, const char *name, char **err);
/* xDestroy: drops them. */
int silt_store_destroy(sqlite3 *db, const char *schema, const char *name, char **err);

/* xCreate/xConnect: a handle (no SQL runs until silt_store_ensure). */
int silt_store_open(sqlite3 *db, const char *schema, const char *name, const silt_store_ops *ops,
                    void *owner, silt_store **out, char **err);
/* xDisconnect/xDestroy: frees the handle (statements finalised). */
void silt_store_close(silt_store *st);
/* xRename: renames the store's shadow tables and remembers the new name. */
int silt_store_rename(silt_store *st, const char *new_name, char **err);

/* Brings the derived state up to date (see 6. above). */
int silt_store_ensure(silt_store *st, char **err);
/* Records that rowid's truth changed in the current transaction. */
int silt_store_touch(silt_store *st, sqlite3_int64 rowid, char **err);

int silt_store_begin(silt_store *st, char **err);
int silt_store_sync(silt_store *st, char **err);
void silt_store_commit(silt_store *st);
void silt_store_rollback(silt_store *st);
void silt_store_savepoint(silt_store *st, int level);
void silt_store_release(silt_store *st, int level);
void silt_store_rollback_to(silt_store *st, int level);

/* Commands: writes a snapshot of the current derived state and empties the log, now
 * (inside the current transaction). */
int silt_store_checkpoint(silt_store *st, char **err);
/* Checks that the stored snapshot, if any, is intact (size, chunk numbering, hash) and
 * that the derived state was not rebuilt from a corrupt one. SQLITE_OK or SQLITE_CORRUPT
 * with *err saying what. */
int silt_store_check(silt_store *st, char **err);

/* Counters for tests and reports. */
typedef struct {
    sqlite3_int64 gen;          /* snapshot generation this connection holds */
    sqlite3_int64 applied_seq;  /* last log seq applied */
    int n_loads;                /* full loads (snapshot or rebuild) so far */
    int n_rebuilds;             /* loads that had to rebuild from the truth */
    int n_catchups;             /* catch-ups from other connections' log rows */
} silt_store_stats;
void silt_store_get_stats(const silt_store *st, silt_store_stats *out);

#endif
