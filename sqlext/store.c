/* store.c: snapshot + change log + transaction hooks for derived indexes (see store.h for
 * the discipline this implements). */
#include "sqlext/store.h"

#include "core/hugepages.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Snapshot rows hold this many bytes each (the last one less). */
#define CHUNK_BYTES (1 << 20)

/* Prepared statements, each prepared on first use from the format below; %1$w is the
 * schema, %2$w the table name. */
enum {
    Q_GEN,
    Q_DATA_VERSION,
    Q_INFO_GET,
    Q_INFO_SET,
    Q_LOG_AFTER,
    Q_LOG_MAX,
    Q_LOG_MIN,
    Q_LOG_INSERT,
    Q_LOG_CLEAR,
    Q_SNAP_READ,
    Q_SNAP_CLEAR,
    Q_SNAP_INSERT,
    N_QUERIES
};

static const char *const query_sql[N_QUERIES] = {
    [Q_GEN] = "SELECT value FROM \"%w\".\"%w_info\" WHERE key = 'gen'",
    [Q_DATA_VERSION] = "PRAGMA \"%w\".data_version",
    [Q_INFO_GET] = "SELECT value FROM \"%w\".\"%w_info\" WHERE key = ?1",
    [Q_INFO_SET] = "INSERT OR REPLACE INTO \"%w\".\"%w_info\"(key, value) VALUES (?1, ?2)",
    [Q_LOG_AFTER] = "SELECT seq, id FROM \"%w\".\"%w_log\" WHERE seq > ?1 ORDER BY seq",
    [Q_LOG_MAX] = "SELECT max(seq) FROM \"%w\".\"%w_log\"",
    [Q_LOG_MIN] = "SELECT min(seq) FROM \"%w\".\"%w_log\"",
    [Q_LOG_INSERT] = "INSERT INTO \"%w\".\"%w_log\"(id) VALUES (?1)",
    [Q_LOG_CLEAR] = "DELETE FROM \"%w\".\"%w_log\"",
    [Q_SNAP_READ] = "SELECT chunk_no, data FROM \"%w\".\"%w_snapshot\" ORDER BY chunk_no",
    [Q_SNAP_CLEAR] = "DELETE FROM \"%w\".\"%w_snapshot\"",
    [Q_SNAP_INSERT] = "INSERT INTO \"%w\".\"%w_snapshot\"(chunk_no, data) VALUES (?1, ?2)",
};

static const char *const roles[] = {"info", "log", "snapshot"};

/* A growable array of rowids. */
typedef struct {
    sqlite3_int64 *v;
    size_t n, cap;
} i64vec;

/* State to return to on ROLLBACK TO: where the savepoint began. */
typedef struct {
    int level;                 /* SQLite's savepoint number */
    size_t touched_n;          /* touched.n when it began */
    sqlite3_int64 gen;         /* gen then (a checkpoint inside may change it) */
    sqlite3_int64 applied_seq; /* applied_seq then */
    int snapshot_stale;        /* snapshot_stale then */
} savepoint_mark;

struct silt_store {
    sqlite3 *db;                   /* the connection the owning vtab belongs to */
    char *schema;                  /* database name ("main", "temp" or an ATTACH name) */
    char *name;                    /* table name; shadow tables are <name>_<role> */
    const silt_store_ops *ops;     /* owner callbacks */
    void *owner;                   /* passed to every callback */
    sqlite3_stmt *q[N_QUERIES];    /* prepared on first use, finalised on close/rename */
    int loaded;                    /* derived state is built (else: load at next ensure) */
    sqlite3_int64 gen;             /* snapshot generation the derived state follows */
    sqlite3_int64 applied_seq;     /* last log seq reflected in the derived state */
    sqlite3_int64 data_version;    /* PRAGMA data_version when last checked */
    int snapshot_stale;            /* stored snapshot was unusable: rewrite at next commit */
    int in_txn;                    /* between begin and commit/rollback */
    int txn_current;               /* ensure ran inside this write transaction: nobody else
                                      can commit before it ends, so no need to look again */
    sqlite3_int64 txn_gen;         /* gen, applied_seq, snapshot_stale at begin */
    sqlite3_int64 txn_applied_seq;
    int txn_snapshot_stale;
    sqlite3_int64 synced_seq;      /* applied_seq this transaction's commit will leave */
    int synced;                    /* sync ran in this transaction */
    i64vec touched;                /* rowids written in this transaction, in order */
    i64vec dirty;                  /* rowids to re-derive before the next use */
    savepoint_mark *marks;         /* open savepoints, increasing level */
    size_t n_marks, cap_marks;
    silt_store_stats stats;        /* counters for tests */
};

/* ---- small helpers ----------------------------------------------------------------- */

static int vec_push(i64vec *a, sqlite3_int64 x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        sqlite3_int64 *v = sqlite3_realloc64(a->v, cap * sizeof *v);
        if (!v) return SQLITE_NOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return SQLITE_OK;
}

static int cmp_i64(const void *a, const void *b) {
    sqlite3_int64 x = *(const sqlite3_int64 *)a, y = *(const sqlite3_int64 *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and removes duplicates; returns the new length. */
static size_t sort_unique(sqlite3_int64 *v, size_t n) {
    if (n < 2) return n;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t j = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[j - 1]) v[j++] = v[i];
    return j;
}

/* A 64-bit checksum of a snapshot: one multiply per 8 bytes, so hashing 150 MB takes a
 * few tens of milliseconds. Detects torn or edited chunks; not cryptographic. */
static sqlite3_int64 hash_bytes(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    for (; n >= 8; n -= 8, b += 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    for (; n > 0; n--, b++) h = (h ^ *b) * 0x100000001b3ull;
    h ^= h >> 29;
    return (sqlite3_int64)h;
}

/* The prepared statement for query `which`, reset; NULL with *err on failure. */
static sqlite3_stmt *query(silt_store *st, int which, char **err) {
    if (!st->q[which]) {
        char *sql = sqlite3_mprintf(query_sql[which], st->schema, st->name);
        if (!sql) {
            *err = sqlite3_mprintf("out of memory");
            return NULL;
        }
        int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->q[which], NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("%s: storage of \"%s\" is unusable: %s", "silt", st->name,
                                   sqlite3_errmsg(st->db));
            return NULL;
        }
    }
    return st->q[which];
}

/* Steps a statement that returns no rows (or ignores them) and resets it. */
static int run(silt_store *st, sqlite3_stmt *s, char **err) {
    int rc = sqlite3_step(s);
    while (rc == SQLITE_ROW) rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(st->db));
        sqlite3_reset(s);
        return rc;
    }
    return sqlite3_reset(s);
}

/* Reads one integer from a single-row query (NULL or no row gives dflt). */
static int read_int(silt_store *st, int which, sqlite3_int64 dflt, sqlite3_int64 *out, char **err) {
    sqlite3_stmt *s = query(st, which, err);
    if (!s) return SQLITE_ERROR;
    int rc = sqlite3_step(s);
    *out = dflt;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) != SQLITE_NULL) *out = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(st->db));
        sqlite3_reset(s);
        return rc;
    }
    return sqlite3_reset(s);
}

static int info_get(silt_store *st, const char *key, sqlite3_int64 dflt, sqlite3_int64 *out,
                    char **err) {
    sqlite3_stmt *s = query(st, Q_INFO_GET, err);
    if (!s) return SQLITE_ERROR;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *out = dflt;
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    }
    if (rc != SQLITE_DONE) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(st->db));
        sqlite3_reset(s);
        return rc;
    }
    return sqlite3_reset(s);
}

static int info_set(silt_store *st, const char *key, sqlite3_int64 value, char **err) {
    sqlite3_stmt *s = query(st, Q_INFO_SET, err);
    if (!s) return SQLITE_ERROR;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, value);
    return run(st, s, err);
}

static void finalize_all(silt_store *st) {
    for (int i = 0; i < N_QUERIES; i++) {
        sqlite3_finalize(st->q[i]);
        st->q[i] = NULL;
    }
}

/* ---- lifecycle ---------------------------------------------------------------------- */

int silt_store_is_shadow_role(const char *role) {
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!sqlite3_stricmp(role, roles[i])) return 1;
    return 0;
}

int silt_store_create(sqlite3 *db, const char *schema, const char *name, char **err) {
    char *sql = sqlite3_mprintf(
        "CREATE TABLE \"%w\".\"%w_info\"(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "INSERT INTO \"%w\".\"%w_info\"(key, value) VALUES"
        " ('format', 1), ('gen', 1), ('snapshot_bytes', -1), ('snapshot_hash', 0);"
        "CREATE TABLE \"%w\".\"%w_log\"(seq INTEGER PRIMARY KEY, id INTEGER NOT NULL);"
        "CREATE TABLE \"%w\".\"%w_snapshot\"(chunk_no INTEGER PRIMARY KEY, data BLOB NOT NULL);",
        schema, name, schema, name, schema, name, schema, name);
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) *err = sqlite3_mprintf("cannot create the storage of \"%s\": %s", name,
                                                sqlite3_errmsg(db));
    return rc;
}

int silt_store_destroy(sqlite3 *db, const char *schema, const char *name, char **err) {
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\".\"%w_%s\"", schema, name, roles[i]);
        if (!sql) return SQLITE_NOMEM;
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("cannot drop the storage of \"%s\": %s", name, sqlite3_errmsg(db));
            return rc;
        }
    }
    return SQLITE_OK;
}

int silt_store_open(sqlite3 *db, const char *schema, const char *name, const silt_store_ops *ops,
                    void *owner, silt_store **out, char **err) {
    *out = NULL;
    silt_store *st = sqlite3_malloc(sizeof *st);
    if (!st) return SQLITE_NOMEM;
    memset(st, 0, sizeof *st);
    st->db = db;
    st->ops = ops;
    st->owner = owner;
    st->schema = sqlite3_mprintf("%s", schema);
    st->name = sqlite3_mprintf("%s", name);
    if (!st->schema || !st->name) {
        silt_store_close(st);
        *err = sqlite3_mprintf("out of memory");
        return SQLITE_NOMEM;
    }
    *out = st;
    return SQLITE_OK;
}

void silt_store_close(silt_store *st) {
    if (!st) return;
    finalize_all(st);
    sqlite3_free(st->schema);
    sqlite3_free(st->name);
    sqlite3_free(st->touched.v);
    sqlite3_free(st->dirty.v);
    sqlite3_free(st->marks);
    sqlite3_free(st);
}

int silt_store_rename(silt_store *st, const char *new_name, char **err) {
    char *nn = sqlite3_mprintf("%s", new_name);
    if (!nn) return SQLITE_NOMEM;
    finalize_all(st);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        char *sql = sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_%s\" RENAME TO \"%w_%s\"", st->schema,
                                    st->name, roles[i], new_name, roles[i]);
        int rc = sql ? sqlite3_exec(st->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("cannot rename the storage of \"%s\": %s", st->name,
                                   sqlite3_errmsg(st->db));
            sqlite3_free(nn);
            return rc;
        }
    }
    sqlite3_free(st->name);
    st->name = nn;
    return SQLITE_OK;
}

/* ---- loading and catching up ------------------------------------------------------- */

/* Reads the stored snapshot into a malloc'd buffer. Returns SQLITE_OK with *buf set,
 * SQLITE_CORRUPT with *why set (sqlite3_mprintf'd) when it is damaged, or another error. */
static int read_snapshot(silt_store *st, void **buf, size_t *n_bytes, char **why, char **err) {
    *buf = NULL;
    *n_bytes = 0;
    sqlite3_int64 want, hash;
    int rc = info_get(st, "snapshot_bytes", -1, &want, err);
    if (rc == SQLITE_OK) rc = info_get(st, "snapshot_hash", 0, &hash, err);
    if (rc != SQLITE_OK) return rc;
    if (want < 0) return SQLITE_OK; /* no snapshot by design */
    if ((uint64_t)want > SIZE_MAX / 2) {
        *why = sqlite3_mprintf("snapshot size %lld is impossible", (long long)want);
        return SQLITE_CORRUPT;
    }
    uint8_t *b = malloc((size_t)want + 1);
    if (!b) {
        *err = sqlite3_mprintf("out of memory reading a %lld-byte snapshot", (long long)want);
        return SQLITE_NOMEM;
    }
    /* Filled once, front to back: on a VM, faulting in its 4 KiB pages one by one was a
     * third of the time a 40k x 384 HNSW table took to open. */
    silt_advise_huge(b, (size_t)want);
    sqlite3_stmt *s = query(st, Q_SNAP_READ, err);
    if (!s) {
        free(b);
        return SQLITE_ERROR;
    }
    size_t got = 0;
    sqlite3_int64 expect_chunk = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_int64 no = sqlite3_column_int64(s, 0);
        const void *d = sqlite3_column_blob(s, 1);
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        if (no != expect_chunk++ || n > (size_t)want - got || (n && !d)) {
            *why = sqlite3_mprintf("snapshot chunk %lld is missing, misplaced or oversized",
                                   (long long)(expect_chunk - 1));
            rc = SQLITE_CORRUPT;
            break;
        }
        memcpy(b + got, d, n);
        got += n;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
        if (got != (size_t)want) {
            *why = sqlite3_mprintf("snapshot has %lld of %lld bytes", (long long)got, (long long)want);
            rc = SQLITE_CORRUPT;
        } else if (hash_bytes(b, got) != hash) {
            *why = sqlite3_mprintf("snapshot checksum does not match");
            rc = SQLITE_CORRUPT;
        }
    } else if (rc != SQLITE_CORRUPT) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(st->db));
    }
    if (rc != SQLITE_OK) {
        free(b);
        return rc;
    }
    *buf = b;
    *n_bytes = got;
    return SQLITE_OK;
}

/* Re-derives every rowid logged after `after`; sets *max_seq to the last seq seen. */
static int replay_log(silt_store *st, sqlite3_int64 after, sqlite3_int64 *max_seq, char **err) {
    i64vec ids = {0};
    sqlite3_stmt *s = query(st, Q_LOG_AFTER, err);
    if (!s) return SQLITE_ERROR;
    sqlite3_bind_int64(s, 1, after);
    int rc;
    *max_seq = after;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *max_seq = sqlite3_column_int64(s, 0);
        if (vec_push(&ids, sqlite3_column_int64(s, 1))) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    else if (rc != SQLITE_NOMEM) *err = sqlite3_mprintf("%s", sqlite3_errmsg(st->db));
    sqlite3_reset(s);
    if (rc == SQLITE_OK && ids.n) {
        ids.n = sort_unique(ids.v, ids.n);
        rc = st->ops->refresh(st->owner, ids.v, ids.n, err);
    }
    sqlite3_free(ids.v);
    return rc;
}

/* Builds the derived state from scratch: snapshot + log, or the truth. */
static int load(silt_store *st, sqlite3_int64 gen, char **err) {
    st->loaded = 0;
    void *buf = NULL;
    size_t n = 0;
    char *why = NULL;
    int rc = read_snapshot(st, &buf, &n, &why, err);
    if (rc != SQLITE_OK && rc != SQLITE_CORRUPT) return rc;
    int rebuild = buf == NULL;
    if (buf) {
        rc = st->ops->reset(st->owner, err);
        if (rc == SQLITE_OK) rc = st->ops->load_snapshot(st->owner, buf, n, &why);
        free(buf);
        if (rc == SQLITE_CORRUPT) rebuild = 1;
        else if (rc != SQLITE_OK) {
            *err = why;
            return rc;
        }
    }
    sqlite3_int64 max_seq = 0;
    if (rebuild) {
        st->snapshot_stale = rc == SQLITE_CORRUPT;
        if (st->snapshot_stale) st->stats.n_rebuilds++;
        sqlite3_free(why);
        rc = st->ops->reset(st->owner, err);
        if (rc == SQLITE_OK) rc = st->ops->rebuild(st->owner, err);
        if (rc == SQLITE_OK) rc = read_int(st, Q_LOG_MAX, 0, &max_seq, err);
    } else {
        rc = replay_log(st, 0, &max_seq, err);
    }
    if (rc != SQLITE_OK) return rc;
    st->gen = gen;
    st->applied_seq = max_seq;
    st->loaded = 1;
    st->dirty.n = 0; /* a full load covers every rowid */
    st->stats.n_loads++;
    return SQLITE_OK;
}

int silt_store_ensure(silt_store *st, char **err) {
    if (st->in_txn && st->txn_current && st->loaded && !st->dirty.n) return SQLITE_OK;
    /* Keep this statement active while reading: it holds one read transaction, so the
     * snapshot, log and truth read below belong to the same database state. */
    sqlite3_stmt *pin = query(st, Q_GEN, err);
    if (!pin) return SQLITE_ERROR;
    int rc = sqlite3_step(pin);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE) {
            *err = sqlite3_mprintf("storage of \"%s\" is corrupt: %s_info has no 'gen' row",
                                   st->name, st->name);
            rc = SQLITE_CORRUPT_VTAB;
        } else {
            *err = sqlite3_mprintf("%s", sqlite3_errmsg(st->db));
        }
        sqlite3_reset(pin);
        return rc;
    }
    sqlite3_int64 gen = sqlite3_column_int64(pin, 0), dv;
    rc = read_int(st, Q_DATA_VERSION, 0, &dv, err);
    if (rc == SQLITE_OK) {
        if (!st->loaded || (dv != st->data_version && gen != st->gen)) {
            rc = load(st, gen, err);
        } else if (dv != st->data_version) {
            sqlite3_int64 max_seq;
            rc = replay_log(st, st->applied_seq, &max_seq, err);
            if (rc == SQLITE_OK && max_seq != st->applied_seq) {
                st->applied_seq = max_seq;
                st->stats.n_catchups++;
            }
        }
    }
    if (rc == SQLITE_OK) st->data_version = dv;
    if (rc == SQLITE_OK && st->dirty.n) {
        st->dirty.n = sort_unique(st->dirty.v, st->dirty.n);
        rc = st->ops->refresh(st->owner, st->dirty.v, st->dirty.n, err);
        if (rc == SQLITE_OK) st->dirty.n = 0;
    }
    sqlite3_reset(pin);
    return rc;
}

int silt_store_touch(silt_store *st, sqlite3_int64 rowid, char **err) {
    if (vec_push(&st->touched, rowid)) {
        *err = sqlite3_mprintf("out of memory");
        return SQLITE_NOMEM;
    }
    return SQLITE_OK;
}

/* ---- snapshots ---------------------------------------------------------------------- */

/* Writes the current derived state as the snapshot, empties the log, bumps gen. */
static int write_snapshot(silt_store *st, char **err) {
    void *bytes = NULL;
    size_t n = 0;
    int rc = st->ops->save_snapshot(st->owner, &bytes, &n, err);
    if (rc != SQLITE_OK) return rc;
    sqlite3_stmt *s = query(st, Q_SNAP_CLEAR, err);
    rc = s ? run(st, s, err) : SQLITE_ERROR;
    for (size_t off = 0, no = 0; rc == SQLITE_OK && bytes && off < n; off += CHUNK_BYTES, no++) {
        size_t len = n - off < CHUNK_BYTES ? n - off : CHUNK_BYTES;
        s = query(st, Q_SNAP_INSERT, err);
        if (!s) {
            rc = SQLITE_ERROR;
            break;
        }
        sqlite3_bind_int64(s, 1, (sqlite3_int64)no);
        sqlite3_bind_blob64(s, 2, (const char *)bytes + off, len, SQLITE_STATIC);
        rc = run(st, s, err);
    }
    sqlite3_int64 gen = st->gen + 1;
    if (rc == SQLITE_OK) rc = info_set(st, "snapshot_bytes", bytes ? (sqlite3_int64)n : -1, err);
    if (rc == SQLITE_OK) rc = info_set(st, "snapshot_hash", bytes ? hash_bytes(bytes, n) : 0, err);
    if (rc == SQLITE_OK) rc = info_set(st, "gen", gen, err);
    free(bytes);
    if (rc == SQLITE_OK) {
        s = query(st, Q_LOG_CLEAR, err);
        rc = s ? run(st, s, err) : SQLITE_ERROR;
    }
    if (rc != SQLITE_OK) return rc;
    st->gen = gen;
    st->applied_seq = 0;
    st->snapshot_stale = 0;
    return SQLITE_OK;
}

int silt_store_checkpoint(silt_store *st, char **err) {
    int rc = silt_store_ensure(st, err);
    return rc == SQLITE_OK ? write_snapshot(st, err) : rc;
}

int silt_store_check(silt_store *st, char **err) {
    void *buf = NULL;
    size_t n = 0;
    char *why = NULL;
    int rc = read_snapshot(st, &buf, &n, &why, err);
    free(buf);
    if (rc == SQLITE_CORRUPT) {
        *err = sqlite3_mprintf("%s (run 'rebuild')", why ? why : "snapshot is corrupt");
        sqlite3_free(why);
        return SQLITE_CORRUPT_VTAB;
    }
    if (rc == SQLITE_OK && st->snapshot_stale) {
        *err = sqlite3_mprintf("the stored snapshot was unusable and the index was rebuilt "
                               "from the stored rows; it is rewritten at the next commit "
                               "(or run 'rebuild')");
        return SQLITE_CORRUPT_VTAB;
    }
    return rc;
}

/* ---- transactions -------------------------------------------------------------------- */

int silt_store_begin(silt_store *st, char **err) {
    st->in_txn = 0;
    int rc = silt_store_ensure(st, err);
    if (rc != SQLITE_OK) return rc;
    /* xBegin runs after SQLite took the write lock (OP_Transaction precedes OP_VBegin), so
     * what ensure just read stays current until the transaction ends. */
    st->in_txn = 1;
    st->txn_current = 1;
    st->synced = 0;
    st->touched.n = 0;
    st->n_marks = 0;
    st->txn_gen = st->gen;
    st->txn_applied_seq = st->applied_seq;
    st->txn_snapshot_stale = st->snapshot_stale;
    return SQLITE_OK;
}

/* The body of silt_store_sync (which keeps last_insert_rowid() as the user left it). */
static int sync_log(silt_store *st, char **err) {
    int rc = silt_store_ensure(st, err);
    if (rc == SQLITE_OK && st->ops->before_commit) rc = st->ops->before_commit(st->owner, err);
    if (rc != SQLITE_OK) return rc;
    /* Log each rowid once. Sort a copy: the savepoint marks index the original order, and
     * a COMMIT that fails (SQLITE_BUSY) leaves the transaction open. */
    size_t n = st->touched.n;
    sqlite3_int64 *ids = NULL;
    if (n) {
        ids = sqlite3_malloc64(n * sizeof *ids);
        if (!ids) return SQLITE_NOMEM;
        memcpy(ids, st->touched.v, n * sizeof *ids);
        n = sort_unique(ids, n);
    }
    sqlite3_int64 lo = 0, hi = 0;
    rc = read_int(st, Q_LOG_MIN, 0, &lo, err);
    if (rc == SQLITE_OK) rc = read_int(st, Q_LOG_MAX, 0, &hi, err);
    sqlite3_int64 n_log = (hi > 0 ? hi - lo + 1 : 0) + (sqlite3_int64)n;
    if (rc == SQLITE_OK && (n || st->snapshot_stale) &&
        (st->snapshot_stale || st->ops->snapshot_due(st->owner, n_log))) {
        rc = write_snapshot(st, err);
    } else if (rc == SQLITE_OK) {
        sqlite3_stmt *s = query(st, Q_LOG_INSERT, err);
        if (!s) rc = SQLITE_ERROR;
        for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
            sqlite3_bind_int64(s, 1, ids[i]);
            rc = run(st, s, err);
        }
    }
    sqlite3_free(ids);
    if (rc == SQLITE_OK) rc = read_int(st, Q_LOG_MAX, 0, &st->synced_seq, err);
    if (rc == SQLITE_OK) st->synced = 1;
    return rc;
}

int silt_store_sync(silt_store *st, char **err) {
    /* The log and snapshot inserts must not show through sqlite3_last_insert_rowid(). */
    sqlite3_int64 last = sqlite3_last_insert_rowid(st->db);
    int rc = sync_log(st, err);
    sqlite3_set_last_insert_rowid(st->db, last);
    return rc;
}

void silt_store_commit(silt_store *st) {
    if (st->synced) st->applied_seq = st->synced_seq;
    st->in_txn = 0;
    st->txn_current = 0;
    st->synced = 0;
    st->touched.n = 0;
    st->n_marks = 0;
}

/* Moves touched[from..] to the dirty set. If memory runs out the derived state can no
 * longer be trusted: drop it, so the next use reloads everything. */
static void undo_from(silt_store *st, size_t from) {
    for (size_t i = from; i < st->touched.n; i++) {
        if (vec_push(&st->dirty, st->touched.v[i])) {
            st->loaded = 0;
            break;
        }
    }
    st->touched.n = from;
}

void silt_store_rollback(silt_store *st) {
    undo_from(st, 0);
    st->gen = st->txn_gen;
    st->applied_seq = st->txn_applied_seq;
    st->snapshot_stale = st->txn_snapshot_stale;
    st->in_txn = 0;
    st->txn_current = 0;
    st->synced = 0;
    st->n_marks = 0;
}

void silt_store_savepoint(silt_store *st, int level) {
    while (st->n_marks && st->marks[st->n_marks - 1].level >= level) st->n_marks--;
    if (st->n_marks == st->cap_marks) {
        size_t cap = st->cap_marks ? st->cap_marks * 2 : 8;
        savepoint_mark *m = sqlite3_realloc64(st->marks, cap * sizeof *m);
        if (!m) {
            /* Without a mark a later ROLLBACK TO could not be undone precisely: fall back
             * to re-deriving everything this transaction touched at that point. */
            st->loaded = st->loaded && st->n_marks > 0;
            return;
        }
        st->marks = m;
        st->cap_marks = cap;
    }
    st->marks[st->n_marks++] = (savepoint_mark){level, st->touched.n, st->gen, st->applied_seq,
                                                st->snapshot_stale};
}

void silt_store_release(silt_store *st, int level) {
    while (st->n_marks && st->marks[st->n_marks - 1].level >= level) st->n_marks--;
}

void silt_store_rollback_to(silt_store *st, int level) {
    /* No mark at or above `level`: that savepoint began before this table joined the
     * transaction (level -1 is the transaction itself), so everything since xBegin goes.
     * Re-deriving too much is harmless, so this is also the fallback. */
    size_t i = 0;
    while (i < st->n_marks && st->marks[i].level < level) i++;
    savepoint_mark m = i < st->n_marks ? st->marks[i]
                                       : (savepoint_mark){level, 0, st->txn_gen,
                                                          st->txn_applied_seq,
                                                          st->txn_snapshot_stale};
    if (i == st->n_marks) i = 0;
    undo_from(st, m.touched_n);
    st->gen = m.gen;
    st->applied_seq = m.applied_seq;
    st->snapshot_stale = m.snapshot_stale;
    st->synced = 0;
    /* Savepoint `level` stays open: keep (or re-create) its mark at the restored point. */
    st->n_marks = i;
    silt_store_savepoint(st, level);
}

void silt_store_get_stats(const silt_store *st, silt_store_stats *out) {
    *out = st->stats;
    out->gen = st->gen;
    out->applied_seq = st->applied_seq;
}
