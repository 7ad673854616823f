/* ingest_dir.c: the table-valued function silt_ingest_dir, which loads every matching file
 * under a directory into its own table, one savepoint per file.
 *
 *   SELECT * FROM silt_ingest_dir('/data/lake', '*.csv');          -- path, tbl, rows, status
 *   SELECT * FROM silt_ingest_dir('/data/lake', '*.jsonl.gz', '{"if_exists":"replace"}');
 *   SELECT count(*) FROM silt_ingest_dir('lake') WHERE status LIKE 'error%';
 *
 * The directory is walked recursively in name order (hidden entries and symbolic links to
 * directories skipped). A glob without '/' is matched against file names, one with '/'
 * against paths relative to the directory (fnmatch, FNM_PATHNAME); without a glob, files
 * whose names end in .csv, .tsv, .tab, .jsonl, .ndjson or .json (each optionally .gz) match.
 * Each file's table is named from its relative path (silt_ingest_table_name:
 * "pollster-ratings/2021/raw-polls.csv" -> pollster_ratings_2021_raw_polls), with "_2",
 * "_3"... when two files of one call would get the same name. A file that fails gets
 * status 'error: <why>' and rows NULL, and leaves nothing behind; the other files still
 * load. status is 'loaded' or 'unchanged' (skipped: see silt_ingest). Files are loaded one
 * per row as the rows are read, so a LIMIT stops the loading. */
#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ingest/options.h"
#include "ingest/pipeline.h"
#include "sqlext/ingest_load.h"
#include "sqlext/pathguard.h"

/* Column numbers of the declared schema below. */
enum { COL_PATH, COL_TBL, COL_ROWS, COL_STATUS, COL_DIR, COL_GLOB, COL_OPTIONS };

/* Directory recursion limit (a guard, not a feature). */
#define DIR_MAX_DEPTH 64

typedef struct dir_cursor {
    sqlite3_vtab_cursor base; /* base class */
    char *dir;                /* the directory as given (sqlite3_malloc'd) */
    char **rel;               /* matching files, relative paths (sqlite3_malloc'd) */
    int n_rel;                /* count */
    int cap_rel;              /* allocated */
    int i;                    /* current file */
    silt_ingest_opts opts;    /* options for every file */
    int have_opts;            /* opts must be freed */
    char **used;              /* table names given so far (for uniqueness) */
    char *path;               /* current row: path */
    char *tbl;                /* current row: table */
    sqlite3_int64 rows;       /* current row: rows (valid when has_rows) */
    int has_rows;
    char *status;             /* current row: status */
} dir_cursor;

/* The connection a cursor works on: SQLite gives a cursor no handle, so xConnect's is kept. */
typedef struct dir_vtab {
    sqlite3_vtab base; /* base class */
    sqlite3 *db;       /* connection the files are loaded into */
} dir_vtab;

static int dir_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out,
                       char **err) {
    (void)aux, (void)argc, (void)argv, (void)err;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(path TEXT, tbl TEXT, rows INTEGER, status TEXT, "
                                      "dir HIDDEN, glob HIDDEN, options HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
    dir_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->db = db;
    *out = &v->base;
    return SQLITE_OK;
}

static int dir_disconnect(sqlite3_vtab *v) {
    sqlite3_free(v);
    return SQLITE_OK;
}

/* The hidden columns dir, glob, options are the arguments. idxNum has bit k set when
 * argument k is given; they are passed in that order. A missing dir is reported by
 * xFilter, with a clearer message than the planner's "no query solution". */
static int dir_best_index(sqlite3_vtab *v, sqlite3_index_info *info) {
    (void)v;
    int pos[3] = {-1, -1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn < COL_DIR) continue;
        if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ) return SQLITE_CONSTRAINT;
        pos[c->iColumn - COL_DIR] = i;
    }
    int argv_i = 1, mask = 0;
    for (int k = 0; k < 3; k++)
        if (pos[k] >= 0) {
            info->aConstraintUsage[pos[k]].argvIndex = argv_i++;
            info->aConstraintUsage[pos[k]].omit = 1;
            mask |= 1 << k;
        }
    info->idxNum = mask;
    info->estimatedCost = 1e6;
    info->estimatedRows = 100;
    return SQLITE_OK;
}

static int dir_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out) {
    (void)v;
    dir_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void clear_row(dir_cursor *c) {
    sqlite3_free(c->path);
    sqlite3_free(c->tbl);
    sqlite3_free(c->status);
    c->path = c->tbl = c->status = NULL;
    c->has_rows = 0;
}

static void reset_cursor(dir_cursor *c) {
    clear_row(c);
    for (int i = 0; i < c->n_rel; i++) sqlite3_free(c->rel[i]);
    sqlite3_free(c->rel);
    if (c->used)
        for (int i = 0; i < c->n_rel; i++) sqlite3_free(c->used[i]);
    sqlite3_free(c->used);
    sqlite3_free(c->dir);
    if (c->have_opts) silt_ingest_opts_free(&c->opts);
    c->rel = c->used = NULL;
    c->dir = NULL;
    c->n_rel = c->cap_rel = c->i = 0;
    c->have_opts = 0;
}

static int dir_close(sqlite3_vtab_cursor *cur) {
    dir_cursor *c = (dir_cursor *)cur;
    reset_cursor(c);
    sqlite3_free(c);
    return SQLITE_OK;
}

static int default_match(const char *name) {
    return silt_pipeline_format_from_name(name) != SILT_FMT_AUTO;
}

static int add_rel(dir_cursor *c, const char *rel) {
    if (c->n_rel == c->cap_rel) {
        int cap = c->cap_rel ? c->cap_rel * 2 : 64;
        char **r2 = sqlite3_realloc64(c->rel, (sqlite3_uint64)cap * sizeof *r2);
        if (!r2) return SQLITE_NOMEM;
        c->rel = r2;
        c->cap_rel = cap;
    }
    c->rel[c->n_rel] = sqlite3_mprintf("%s", rel);
    if (!c->rel[c->n_rel]) return SQLITE_NOMEM;
    c->n_rel++;
    return SQLITE_OK;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects matching files under dir/rel (rel "" at the top), sorted by name per directory. */
static int walk(dir_cursor *c, const char *rel, const char *glob, int depth, char **err) {
    if (depth > DIR_MAX_DEPTH) return SQLITE_OK;
    char *full = *rel ? sqlite3_mprintf("%s/%s", c->dir, rel) : sqlite3_mprintf("%s", c->dir);
    if (!full) return SQLITE_NOMEM;
    DIR *d = opendir(full);
    if (!d) {
        if (depth == 0) *err = sqlite3_mprintf("silt_ingest_dir: cannot open directory '%s'", c->dir);
        sqlite3_free(full);
        return depth == 0 ? SQLITE_ERROR : SQLITE_OK;
    }
    char **names = NULL;
    int n = 0, cap = 0, rc = SQLITE_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **n2 = sqlite3_realloc64(names, (sqlite3_uint64)cap * sizeof *n2);
            if (!n2) {
                rc = SQLITE_NOMEM;
                break;
            }
            names = n2;
        }
        names[n] = sqlite3_mprintf("%s", e->d_name);
        if (!names[n]) {
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == SQLITE_OK) qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        char *child_rel = *rel ? sqlite3_mprintf("%s/%s", rel, names[i]) : sqlite3_mprintf("%s", names[i]);
        char *child_full = child_rel ? sqlite3_mprintf("%s/%s", c->dir, child_rel) : NULL;
        struct stat st, lst;
        if (!child_rel || !child_full) {
            rc = SQLITE_NOMEM;
        } else if (lstat(child_full, &lst) == 0 && stat(child_full, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                if (!S_ISLNK(lst.st_mode)) rc = walk(c, child_rel, glob, depth + 1, err);
            } else if (S_ISREG(st.st_mode)) {
                int match = !glob                 ? default_match(names[i])
                            : strchr(glob, '/') ? fnmatch(glob, child_rel, FNM_PATHNAME) == 0
                                                : fnmatch(glob, names[i], 0) == 0;
                if (match) rc = add_rel(c, child_rel);
            }
        }
        sqlite3_free(child_rel);
        sqlite3_free(child_full);
    }
    for (int i = 0; i < n; i++) sqlite3_free(names[i]);
    sqlite3_free(names);
    sqlite3_free(full);
    return rc;
}

/* A table name for rel not yet used in this call. */
static char *unique_table(dir_cursor *c, const char *rel) {
    char *base = silt_ingest_table_name(rel);
    if (!base) return NULL;
    char *name = sqlite3_mprintf("%s", base);
    for (int k = 2; name; k++) {
        int taken = 0;
        for (int i = 0; i < c->i && !taken; i++) taken = c->used[i] && strcasecmp(c->used[i], name) == 0;
        if (!taken) break;
        sqlite3_free(name);
        name = sqlite3_mprintf("%s_%d", base, k);
    }
    sqlite3_free(base);
    return name;
}

/* Loads file c->i and fills the current row. Only an interrupt or out-of-memory stops the
 * whole call; any other failure becomes the file's status. */
static int load_current(dir_cursor *c) {
    clear_row(c);
    if (c->i >= c->n_rel) return SQLITE_OK;
    const char *rel = c->rel[c->i];
    c->path = sqlite3_mprintf("%s/%s", c->dir, rel);
    c->tbl = unique_table(c, rel);
    if (!c->path || !c->tbl) return SQLITE_NOMEM;
    c->used[c->i] = sqlite3_mprintf("%s", c->tbl);
    if (!c->used[c->i]) return SQLITE_NOMEM;
    return SQLITE_OK;
}

static int run_load(dir_cursor *c, sqlite3 *db) {
    int rc = load_current(c);
    if (rc != SQLITE_OK || c->i >= c->n_rel) return rc;
    silt_ingest_result res;
    char *msg = NULL;
    rc = silt_ingest_load(db, c->path, c->tbl, &c->opts, &res, &msg);
    if (rc == SQLITE_OK) {
        c->rows = res.rows;
        c->has_rows = 1;
        c->status = sqlite3_mprintf("%s", res.skipped ? "unchanged" : "loaded");
        return c->status ? SQLITE_OK : SQLITE_NOMEM;
    }
    int fatal = (rc & 0xff) == SQLITE_INTERRUPT || (rc & 0xff) == SQLITE_NOMEM ||
                (rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_CORRUPT;
    if (fatal) {
        sqlite3_vtab *v = c->base.pVtab;
        sqlite3_free(v->zErrMsg);
        v->zErrMsg = sqlite3_mprintf("silt_ingest_dir: %s: %s", c->path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rc;
    }
    c->status = sqlite3_mprintf("error: %s", msg ? msg : "failed");
    sqlite3_free(msg);
    return c->status ? SQLITE_OK : SQLITE_NOMEM;
}

static int dir_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                      sqlite3_value **argv) {
    (void)idx_str;
    dir_cursor *c = (dir_cursor *)cur;
    sqlite3_vtab *v = cur->pVtab;
    reset_cursor(c);
    const char *dir = NULL, *glob = NULL, *opts = NULL;
    int a = 0;
    if ((idx_num & 1) && a < argc) dir = (const char *)sqlite3_value_text(argv[a++]);
    if ((idx_num & 2) && a < argc) glob = (const char *)sqlite3_value_text(argv[a++]);
    if ((idx_num & 4) && a < argc) opts = (const char *)sqlite3_value_text(argv[a++]);
    if (!dir || !*dir) {
        sqlite3_free(v->zErrMsg);
        v->zErrMsg = sqlite3_mprintf("silt_ingest_dir: the first argument must be a directory path");
        return SQLITE_ERROR;
    }
    char *err = NULL;
    if (silt_ingest_opts_parse(opts, &c->opts, &err)) {
        silt_ingest_opts_free(&c->opts);
        sqlite3_free(v->zErrMsg);
        v->zErrMsg = sqlite3_mprintf("silt_ingest_dir: %s", err ? err : "bad options");
        free(err);
        return SQLITE_ERROR;
    }
    c->have_opts = 1;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    c->dir = sqlite3_mprintf("%.*s", (int)dl, dir);
    if (!c->dir) return SQLITE_NOMEM;
    char *werr = NULL;
    if (silt_pathguard_check_shallow(c->dir, &err)) {
        sqlite3_free(v->zErrMsg);
        v->zErrMsg = sqlite3_mprintf("silt_ingest_dir: %s", err ? err : "out of memory");
        free(err);
        return SQLITE_ERROR;
    }
    int rc = walk(c, "", glob, 0, &werr);
    if (rc != SQLITE_OK) {
        sqlite3_free(v->zErrMsg);
        v->zErrMsg = werr;
        return rc;
    }
    c->used = sqlite3_malloc64((sqlite3_uint64)(c->n_rel ? c->n_rel : 1) * sizeof *c->used);
    if (!c->used) return SQLITE_NOMEM;
    memset(c->used, 0, (size_t)(c->n_rel ? c->n_rel : 1) * sizeof *c->used);
    c->i = 0;
    return run_load(c, ((dir_vtab *)v)->db);
}

static int dir_next(sqlite3_vtab_cursor *cur) {
    dir_cursor *c = (dir_cursor *)cur;
    c->i++;
    return run_load(c, ((dir_vtab *)cur->pVtab)->db);
}

static int dir_eof(sqlite3_vtab_cursor *cur) {
    dir_cursor *c = (dir_cursor *)cur;
    return c->i >= c->n_rel;
}

static int dir_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    dir_cursor *c = (dir_cursor *)cur;
    switch (col) {
    case COL_PATH: sqlite3_result_text(ctx, c->path, -1, SQLITE_TRANSIENT); break;
    case COL_TBL: sqlite3_result_text(ctx, c->tbl, -1, SQLITE_TRANSIENT); break;
    case COL_ROWS:
        if (c->has_rows) sqlite3_result_int64(ctx, c->rows);
        break;
    case COL_STATUS: sqlite3_result_text(ctx, c->status, -1, SQLITE_TRANSIENT); break;
    case COL_DIR: sqlite3_result_text(ctx, c->dir, -1, SQLITE_TRANSIENT); break;
    default: break;
    }
    return SQLITE_OK;
}

static int dir_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    *rowid = ((dir_cursor *)cur)->i + 1;
    return SQLITE_OK;
}

static const sqlite3_module dir_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: SELECT ... FROM silt_ingest_dir(...) */
    .xConnect = dir_connect,
    .xBestIndex = dir_best_index,
    .xDisconnect = dir_disconnect,
    .xDestroy = dir_disconnect,
    .xOpen = dir_open,
    .xClose = dir_close,
    .xFilter = dir_filter,
    .xNext = dir_next,
    .xEof = dir_eof,
    .xColumn = dir_column,
    .xRowid = dir_rowid,
};

int silt_ingest_dir_register(sqlite3 *db) {
    return sqlite3_create_module(db, "silt_ingest_dir", &dir_module, NULL);
}
