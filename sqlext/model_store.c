/* model_store.c: the silt_model_registry and silt_model_files tables (see model_store.h).
 *
 *   SELECT silt_model_import('minilm');   -- copies the files here in 1 MiB chunks
 *
 * Files are chunked so that no BLOB comes near SQLite's size limit and a multi-GB model never
 * has to sit in memory at once. Materialising writes a fresh mkdtemp directory and renames it
 * into place only once complete and verified, so a crash or a concurrent process never
 * leaves a half-written model where a loader would read it. */
#include "sqlext/model_store.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model_files.h"
#include "core/sha256.h"
#include "sqlext/pathguard.h"

static const char *const create_sql =
    "CREATE TABLE IF NOT EXISTS main.silt_model_registry("
    "name TEXT PRIMARY KEY, path TEXT NOT NULL, layout TEXT NOT NULL, arch TEXT, kind TEXT, "
    "dim INTEGER, max_tokens INTEGER, sha256 TEXT NOT NULL, options TEXT, "
    "imported INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS main.silt_model_files("
    "name TEXT NOT NULL, file TEXT NOT NULL, chunk_no INTEGER NOT NULL, data BLOB NOT NULL, "
    "PRIMARY KEY(name, file, chunk_no));";

void silt_model_row_free(silt_model_row *row) {
    sqlite3_free(row->path);
    sqlite3_free(row->layout);
    sqlite3_free(row->sha256);
    sqlite3_free(row->options);
    memset(row, 0, sizeof *row);
}

static char *col_dup(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? sqlite3_mprintf("%s", t) : NULL;
}

/* Sets *err to a message listing the registered names, for an unknown name. */
static int no_such_model(sqlite3 *db, const char *name, char **err) {
    sqlite3_stmt *st = NULL;
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "no such model '%s' (known: 'default'", name);
    if (sqlite3_prepare_v2(db, "SELECT name FROM main.silt_model_registry ORDER BY name", -1,
                           &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW)
            sqlite3_str_appendf(s, ", '%s'", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_str_appendall(s, "; register one with silt_model_register(name, path))");
    *err = sqlite3_str_finish(s);
    return SQLITE_ERROR;
}

static int table_exists(sqlite3 *db) {
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND "
                               "name = 'silt_model_registry'", -1, &st, NULL) == SQLITE_OK)
        found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

static int db_error(sqlite3 *db, const char *what, char **err) {
    *err = sqlite3_mprintf("%s: %s", what, sqlite3_errmsg(db));
    int rc = sqlite3_errcode(db);
    return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

int silt_model_store_get(sqlite3 *db, const char *name, silt_model_row *row, char **err) {
    memset(row, 0, sizeof *row);
    if (!table_exists(db)) return no_such_model(db, name, err);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT path, layout, sha256, options, imported FROM "
                               "main.silt_model_registry WHERE name = ?1", -1, &st, NULL))
        return db_error(db, "reading silt_model_registry", err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        row->path = col_dup(st, 0);
        row->layout = col_dup(st, 1);
        row->sha256 = col_dup(st, 2);
        row->options = col_dup(st, 3);
        row->imported = sqlite3_column_int(st, 4);
        rc = SQLITE_OK;
        if (!row->path || !row->layout || !row->sha256) {
            silt_model_row_free(row);
            *err = sqlite3_mprintf("silt_model_registry row of '%s' is damaged (NULL path, "
                                   "layout or sha256)", name);
            rc = SQLITE_ERROR;
        }
    } else if (rc == SQLITE_DONE) {
        rc = no_such_model(db, name, err);
    } else {
        rc = db_error(db, "reading silt_model_registry", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Opens a savepoint; returns 1 if one was opened. A function called from a statement that
 * itself writes cannot open one ("statements in progress"): its changes then belong to that
 * statement, which SQLite rolls back when the function reports an error. */
static int sp_begin(sqlite3 *db) {
    return sqlite3_exec(db, "SAVEPOINT silt_model_store", NULL, NULL, NULL) == SQLITE_OK;
}

/* Ends the savepoint: released when rc is SQLITE_OK, else rolled back. Returns rc, or the
 * error of a release that failed (the changes are then rolled back). */
static int sp_end(sqlite3 *db, int opened, int rc, char **err) {
    if (!opened) return rc;
    if (rc == SQLITE_OK && sqlite3_exec(db, "RELEASE silt_model_store", NULL, NULL, NULL)) {
        rc = db_error(db, "committing the model registry", err);
    }
    if (rc != SQLITE_OK) {
        sqlite3_exec(db, "ROLLBACK TO silt_model_store", NULL, NULL, NULL);
        sqlite3_exec(db, "RELEASE silt_model_store", NULL, NULL, NULL);
    }
    return rc;
}

/* Runs one statement with text parameters (NULL binds NULL). */
static int exec_bind(sqlite3 *db, const char *sql, int n, const char *const *params,
                     char **err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return db_error(db, "model registry", err);
    for (int i = 0; i < n; i++) sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return db_error(db, "model registry", err);
    return SQLITE_OK;
}

char *silt_model_store_duplicate_msg(const char *name) {
    return sqlite3_mprintf("model '%s' is already registered; pass '{\"replace\":true}' as "
                           "options to replace it, or call silt_model_unregister('%s') first",
                           name, name);
}

int silt_model_store_put(sqlite3 *db, const silt_model_desc *d, int replace, char **err) {
    int sp = sp_begin(db);
    int rc = sqlite3_exec(db, create_sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_error(db, "creating silt_model_registry", err);
        return sp_end(db, sp, rc, err);
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT path FROM main.silt_model_registry WHERE name = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return sp_end(db, sp, db_error(db, "reading silt_model_registry", err), err);
    sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && !replace) {
        *err = silt_model_store_duplicate_msg(d->name);
        sqlite3_finalize(st);
        return sp_end(db, sp, SQLITE_ERROR, err);
    }
    sqlite3_finalize(st);
    rc = exec_bind(db, "DELETE FROM main.silt_model_files WHERE name = ?1", 1, &d->name, err);
    if (rc == SQLITE_OK) {
        if (sqlite3_prepare_v2(
                db,
                "INSERT OR REPLACE INTO main.silt_model_registry(name, path, layout, arch, kind, "
                "dim, max_tokens, sha256, options, imported, created_at) VALUES (?1, ?2, ?3, "
                "?4, ?5, ?6, ?7, ?8, ?9, 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                -1, &st, NULL) != SQLITE_OK)
            return sp_end(db, sp, db_error(db, "writing silt_model_registry", err), err);
        sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, d->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d->layout, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, d->arch, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, d->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, d->dim);
        sqlite3_bind_int(st, 7, d->max_tokens);
        sqlite3_bind_text(st, 8, d->sha256, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, d->options, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_error(db, "writing silt_model_registry", err);
        sqlite3_finalize(st);
    }
    return sp_end(db, sp, rc, err);
}

static long long stored_bytes(sqlite3 *db, const char *name) {
    sqlite3_stmt *st = NULL;
    long long n = 0;
    if (sqlite3_prepare_v2(db, "SELECT total(length(data)) FROM main.silt_model_files WHERE "
                               "name = ?1", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return n;
}

/* Copies one file into silt_model_files in chunks, hashing it into hex. */
static int import_file(sqlite3 *db, sqlite3_stmt *ins, const char *name, const char *rel,
                       const char *full, unsigned char *buf, char hex[65], long long *n_bytes,
                       char **err) {
    FILE *f = fopen(full, "rb");
    if (!f) {
        *err = sqlite3_mprintf("model '%s': cannot import %s: %s", name, full, strerror(errno));
        return SQLITE_ERROR;
    }
    silt_sha256 h;
    silt_sha256_init(&h);
    int rc = SQLITE_OK;
    for (int chunk = 0;; chunk++) {
        size_t got = fread(buf, 1, SILT_MODEL_CHUNK_BYTES, f);
        if (got == 0 && ferror(f)) {
            *err = sqlite3_mprintf("model '%s': cannot read %s", name, full);
            rc = SQLITE_ERROR;
            break;
        }
        /* An empty file still gets one (empty) chunk, so that it is recreated. */
        if (got == 0 && chunk > 0) break;
        silt_sha256_update(&h, buf, got);
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, rel, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 3, chunk);
        sqlite3_bind_blob(ins, 4, buf, (int)got, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            rc = db_error(db, "writing silt_model_files", err);
            break;
        }
        *n_bytes += (long long)got;
        if (got < SILT_MODEL_CHUNK_BYTES) break;
    }
    fclose(f);
    if (rc == SQLITE_OK) silt_sha256_hex(&h, hex);
    return rc;
}

int silt_model_store_import(sqlite3 *db, const char *name, long long *n_bytes, char **err) {
    silt_model_row row;
    *n_bytes = 0;
    int rc = silt_model_store_get(db, name, &row, err);
    if (rc != SQLITE_OK) return rc;
    if (row.imported) {
        *n_bytes = stored_bytes(db, name);
        silt_model_row_free(&row);
        return SQLITE_OK;
    }
    silt_model_files files = {0};
    char *core_err = NULL;
    if (silt_pathguard_check(row.path, &core_err) ||
        silt_model_files_list(row.path, &files, &core_err)) {
        *err = sqlite3_mprintf("model '%s': cannot import: %s", name,
                               core_err ? core_err : "out of memory");
        free(core_err);
        silt_model_row_free(&row);
        return SQLITE_ERROR;
    }
    char (*hex)[65] = calloc(files.n, sizeof *hex);
    unsigned char *buf = malloc(SILT_MODEL_CHUNK_BYTES);
    sqlite3_stmt *ins = NULL;
    int sp = sp_begin(db);
    if (!hex || !buf) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = exec_bind(db, "DELETE FROM main.silt_model_files WHERE name = ?1", 1, &name, err);
    if (rc == SQLITE_OK &&
        sqlite3_prepare_v2(db, "INSERT INTO main.silt_model_files(name, file, chunk_no, data) "
                               "VALUES (?1, ?2, ?3, ?4)", -1, &ins, NULL) != SQLITE_OK)
        rc = db_error(db, "writing silt_model_files", err);
    for (size_t i = 0; i < files.n && rc == SQLITE_OK; i++) {
        char *full = silt_model_files_path(row.path, &files, i);
        rc = full ? import_file(db, ins, name, files.rel[i], full, buf, hex[i], n_bytes, err)
                  : SQLITE_NOMEM;
        free(full);
    }
    sqlite3_finalize(ins);
    if (rc == SQLITE_OK) {
        char sha[65];
        if (files.is_dir)
            silt_model_files_combine((const char *const *)files.rel, hex, files.n, sha);
        else
            memcpy(sha, hex[0], sizeof sha);
        if (strcmp(sha, row.sha256) != 0) {
            *err = sqlite3_mprintf("model '%s': the files at %s changed since registration "
                                   "(sha256 %s, registered %s); register it again with "
                                   "'{\"replace\":true}' before importing",
                                   name, row.path, sha, row.sha256);
            rc = SQLITE_ERROR;
        }
    }
    if (rc == SQLITE_OK)
        rc = exec_bind(db, "UPDATE main.silt_model_registry SET imported = 1 WHERE name = ?1", 1,
                       &name, err);
    rc = sp_end(db, sp, rc, err);
    free(hex);
    free(buf);
    silt_model_files_free(&files);
    silt_model_row_free(&row);
    return rc;
}

int silt_model_store_delete(sqlite3 *db, const char *name, char **err) {
    silt_model_row row;
    int rc = silt_model_store_get(db, name, &row, err);
    if (rc != SQLITE_OK) return rc;
    silt_model_row_free(&row);
    int sp = sp_begin(db);
    rc = exec_bind(db, "DELETE FROM main.silt_model_files WHERE name = ?1", 1, &name, err);
    if (rc == SQLITE_OK)
        rc = exec_bind(db, "DELETE FROM main.silt_model_registry WHERE name = ?1", 1, &name, err);
    return sp_end(db, sp, rc, err);
}

/* ---- materialising imported files ------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* $TMPDIR/silt-<uid>, created private (0700) and checked to be ours and not a link. */
static int private_base(char *buf, size_t n, char **err) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(buf, n, "%s/silt-%lu", tmp, (unsigned long)geteuid());
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        *err = sqlite3_mprintf("cannot create %s for imported models: %s", buf, strerror(errno));
        return SQLITE_CANTOPEN;
    }
    struct stat st;
    if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 077)) {
        *err = sqlite3_mprintf("%s is not a private directory owned by this user; remove it "
                               "or set TMPDIR elsewhere", buf);
        return SQLITE_CANTOPEN;
    }
    return SQLITE_OK;
}

/* Creates the parent directories of dir/rel. */
static int make_parents(const char *dir, const char *rel) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return 0;
}

/* Writes every file of name from silt_model_files under dir; per-file hashes into the
 * arrays (rel names sqlite3_malloc'd). */
static int write_files(sqlite3 *db, const char *name, const char *dir, char ***rels,
                       char (**hexes)[65], size_t *n_files, char **err) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT file, data FROM main.silt_model_files WHERE name = ?1 "
                               "ORDER BY file, chunk_no", -1, &st, NULL))
        return db_error(db, "reading silt_model_files", err);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = SQLITE_OK, fd = -1;
    size_t cap = 0;
    silt_sha256 h;
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *file = (const char *)sqlite3_column_text(st, 0);
        if (!file) file = "";
        if (*n_files == 0 || strcmp(file, (*rels)[*n_files - 1]) != 0) {
            if (fd >= 0) {
                close(fd);
                silt_sha256_hex(&h, (*hexes)[*n_files - 1]);
            }
            fd = -1;
            if (!silt_model_files_rel_ok(file)) {
                *err = sqlite3_mprintf("imported model '%s' has a bad file name '%s'", name, file);
                rc = SQLITE_CORRUPT;
                break;
            }
            if (*n_files == cap) {
                cap = cap ? cap * 2 : 16;
                char **r = sqlite3_realloc64(*rels, cap * sizeof *r);
                if (r) *rels = r;
                char(*x)[65] = sqlite3_realloc64(*hexes, cap * sizeof *x);
                if (x) *hexes = x;
                if (!r || !x) {
                    rc = SQLITE_NOMEM;
                    break;
                }
            }
            (*rels)[*n_files] = sqlite3_mprintf("%s", file);
            if (!(*rels)[*n_files]) {
                rc = SQLITE_NOMEM;
                break;
            }
            (*n_files)++;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, file);
            if (make_parents(dir, file) != 0 ||
                (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
                *err = sqlite3_mprintf("cannot write %s: %s", path, strerror(errno));
                rc = SQLITE_CANTOPEN;
                break;
            }
            silt_sha256_init(&h);
        }
        const unsigned char *data = sqlite3_column_blob(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        silt_sha256_update(&h, data, n);
        for (size_t off = 0; off < n;) {
            ssize_t w = write(fd, data + off, n - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                *err = sqlite3_mprintf("cannot write model file %s/%s: %s", dir, file,
                                       strerror(errno));
                rc = SQLITE_IOERR;
                break;
            }
            off += (size_t)w;
        }
    }
    if (fd >= 0) {
        if (close(fd) != 0 && rc == SQLITE_OK) {
            *err = sqlite3_mprintf("cannot write model files under %s: %s", dir, strerror(errno));
            rc = SQLITE_IOERR;
        }
        if (rc == SQLITE_OK) silt_sha256_hex(&h, (*hexes)[*n_files - 1]);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && *n_files == 0) {
        *err = sqlite3_mprintf("model '%s' is marked imported but silt_model_files holds none "
                               "of its files", name);
        rc = SQLITE_CORRUPT;
    }
    return rc;
}

int silt_model_store_materialize(sqlite3 *db, const char *name, const char *sha256,
                                 char **dir_out, char **err) {
    char base[4096], final[4200], tmp[4200], mark[4300];
    *dir_out = NULL;
    int rc = private_base(base, sizeof base, err);
    if (rc != SQLITE_OK) return rc;
    snprintf(final, sizeof final, "%s/%s", base, sha256);
    snprintf(mark, sizeof mark, "%s/.complete", final);
    if (access(mark, F_OK) == 0) {
        *dir_out = strdup(final);
        return *dir_out ? SQLITE_OK : SQLITE_NOMEM;
    }
    snprintf(tmp, sizeof tmp, "%s/%.16s.XXXXXX", base, sha256);
    if (!mkdtemp(tmp)) {
        *err = sqlite3_mprintf("cannot create a directory under %s: %s", base, strerror(errno));
        return SQLITE_CANTOPEN;
    }
    char **rels = NULL;
    char(*hexes)[65] = NULL;
    size_t n = 0;
    rc = write_files(db, name, tmp, &rels, &hexes, &n, err);
    if (rc == SQLITE_OK) {
        /* One file stored as a single-file model hashes as itself; a directory combines. */
        char sha[65];
        int single = n == 1 && strcmp(hexes[0], sha256) == 0;
        if (single) memcpy(sha, hexes[0], sizeof sha);
        else silt_model_files_combine((const char *const *)rels, hexes, n, sha);
        if (strcmp(sha, sha256) != 0) {
            *err = sqlite3_mprintf("the imported copy of model '%s' is damaged (sha256 %s, "
                                   "registered %s); import it again from its files",
                                   name, sha, sha256);
            rc = SQLITE_CORRUPT;
        }
    }
    if (rc == SQLITE_OK) {
        char m[4300];
        snprintf(m, sizeof m, "%s/.complete", tmp);
        int fd = open(m, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            *err = sqlite3_mprintf("cannot write %s: %s", m, strerror(errno));
            rc = SQLITE_IOERR;
        } else {
            close(fd);
        }
    }
    if (rc == SQLITE_OK && rename(tmp, final) != 0) {
        /* Another process (or thread) finished the same model first: use its copy. */
        if (access(mark, F_OK) != 0) {
            *err = sqlite3_mprintf("cannot move %s to %s: %s", tmp, final, strerror(errno));
            rc = SQLITE_IOERR;
        }
        rm_tree(tmp);
    } else if (rc != SQLITE_OK) {
        rm_tree(tmp);
    }
    for (size_t i = 0; i < n; i++) sqlite3_free(rels[i]);
    sqlite3_free(rels);
    sqlite3_free(hexes);
    if (rc == SQLITE_OK && !(*dir_out = strdup(final))) rc = SQLITE_NOMEM;
    return rc;
}
