/* pathguard.c: the allowed-paths list and silt_config (see pathguard.h).
 *
 *   SELECT silt_config('allowed_paths', '/data/lake:/models');
 *   SELECT silt_model_register('m', '/etc');   -- error: outside the allowed paths */
#include "sqlext/pathguard.h"

#include <dirent.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "ingest/fetch.h"
#include "sqlext/register.h"

/* Directory levels and files looked at under a directory (model directories are shallow). */
#define GUARD_MAX_DEPTH 4
#define GUARD_MAX_FILES 4096
#define GUARD_MAX_ROOTS 64

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *roots[GUARD_MAX_ROOTS]; /* canonical absolute directories (malloc'd), under mu */
static int n_roots = -1;             /* -1: no restriction */
static char *env_error;              /* why $SILT_ALLOWED_PATHS was refused (everything is then) */
static int64_t cap_fetch_bytes;      /* fetch_max_bytes: bound on every fetch, 0 = none; under mu */
static int64_t cap_fetch_ms;         /* fetch_timeout_ms: likewise */

/* path made absolute (against the working directory) with "." and ".." components and
 * repeated slashes removed, without touching the file system. malloc'd or NULL. */
static char *lexical_abs(const char *path) {
    char cwd[PATH_MAX] = "";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) return NULL;
    size_t n = strlen(cwd) + strlen(path) + 3;
    char *in = malloc(n), *out = malloc(n);
    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, n, "%s/%s", cwd, path);
    size_t k = 0;
    for (char *save = NULL, *c = strtok_r(in, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            while (k > 0 && out[k - 1] != '/') k--;
            if (k > 0) k--;
            continue;
        }
        out[k++] = '/';
        size_t l = strlen(c);
        memcpy(out + k, c, l);
        k += l;
    }
    if (k == 0) out[k++] = '/';
    out[k] = 0;
    free(in);
    return out;
}

/* The canonical form of path: realpath when it exists, else its lexical absolute form. */
static char *canonical(const char *path) {
    char *r = realpath(path, NULL);
    return r ? r : lexical_abs(path);
}

/* 1 when path equals root or lies under it (on a component boundary). */
static int under(const char *path, const char *root) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return 1;
    return strncmp(path, root, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static int allowed_locked(const char *canon) {
    for (int i = 0; i < n_roots; i++)
        if (under(canon, roots[i])) return 1;
    return 0;
}

/* The list in force as text "a:b" (malloc'd), NULL when unrestricted. */
static char *list_locked(void) {
    if (n_roots < 0) return NULL;
    size_t n = 1;
    for (int i = 0; i < n_roots; i++) n += strlen(roots[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    s[0] = 0;
    for (int i = 0; i < n_roots; i++) {
        if (i) strcat(s, ":");
        strcat(s, roots[i]);
    }
    return s;
}

/* Parses "a:b:c" into canonical roots; with narrow, each must lie under the current list.
 * Installs them (caller holds mu). 0, or -1 with *err. */
static int set_locked(const char *spec, int narrow, char **err) {
    char *parsed[GUARD_MAX_ROOTS];
    int n = 0;
    char *copy = strdup(spec ? spec : "");
    if (!copy) return silt_err(err, "out of memory");
    int rc = 0;
    for (char *save = NULL, *p = strtok_r(copy, ":", &save); p && !rc; p = strtok_r(NULL, ":", &save)) {
        if (p[0] != '/') {
            rc = silt_err(err, "allowed_paths: '%s' is not an absolute path (expected "
                               "'/dir1:/dir2')", p);
        } else if (n == GUARD_MAX_ROOTS) {
            rc = silt_err(err, "allowed_paths: more than %d directories", GUARD_MAX_ROOTS);
        } else if (!(parsed[n] = canonical(p))) {
            rc = silt_err(err, "out of memory");
        } else if (narrow && !allowed_locked(parsed[n])) {
            char *cur = list_locked();
            rc = silt_err(err, "allowed_paths can only be narrowed: '%s' is outside the allowed "
                               "paths '%s'", p, cur ? cur : "");
            free(cur);
            free(parsed[n]);
        } else {
            n++;
        }
    }
    free(copy);
    if (!rc && n == 0)
        rc = silt_err(err, "allowed_paths: expected a ':'-separated list of absolute "
                           "directories such as '/data/lake:/models', got '%s'", spec ? spec : "");
    if (rc) {
        for (int i = 0; i < n; i++) free(parsed[i]);
        return -1;
    }
    for (int i = 0; i < n_roots; i++) free(roots[i]);
    for (int i = 0; i < n; i++) roots[i] = parsed[i];
    n_roots = n;
    return 0;
}

static void read_env(void) {
    const char *e = getenv("SILT_ALLOWED_PATHS");
    if (!e || !*e) return;
    pthread_mutex_lock(&mu);
    if (set_locked(e, 0, &env_error)) {
        /* A malformed list must not silently mean "anywhere": allow nothing. */
        n_roots = 0;
    }
    pthread_mutex_unlock(&mu);
}

/* Checks one canonical path; builds the message with the original spelling. */
static int check_canon_locked(const char *shown, const char *canon, char **err) {
    if (allowed_locked(canon)) return 0;
    if (env_error)
        return silt_err(err, "reading '%s' is not allowed: $SILT_ALLOWED_PATHS is invalid (%s)",
                        shown, env_error);
    char *cur = list_locked();
    int rc = silt_err(err, "reading '%s' is not allowed: it is outside the allowed paths '%s' "
                           "(silt_config('allowed_paths'))", shown, cur ? cur : "");
    free(cur);
    return rc;
}

/* Every file under dir (canonical), down to GUARD_MAX_DEPTH levels. */
static int check_tree_locked(const char *dir, int depth, int *n_files, char **err) {
    if (depth > GUARD_MAX_DEPTH) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0; /* unreadable: the loader reports it */
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (++*n_files > GUARD_MAX_FILES) break;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            rc = silt_err(err, "out of memory");
            break;
        }
        snprintf(p, n, "%s/%s", dir, e->d_name);
        char *canon = realpath(p, NULL);
        struct stat st;
        if (canon) {
            if (!allowed_locked(canon)) {
                rc = check_canon_locked(p, canon, err);
            } else if (stat(canon, &st) == 0 && S_ISDIR(st.st_mode)) {
                rc = check_tree_locked(canon, depth + 1, n_files, err);
            }
            free(canon);
        }
        free(p);
    }
    closedir(d);
    return rc;
}

static int check(const char *path, int tree, char **err) {
    pthread_once(&env_once, read_env);
    if (!path) return silt_err(err, "no path given");
    pthread_mutex_lock(&mu);
    int rc = 0;
    if (n_roots >= 0) {
        char *canon = canonical(path);
        struct stat st;
        if (!canon) rc = silt_err(err, "out of memory");
        else rc = check_canon_locked(path, canon, err);
        int n_files = 0;
        if (!rc && tree && stat(canon, &st) == 0 && S_ISDIR(st.st_mode))
            rc = check_tree_locked(canon, 0, &n_files, err);
        free(canon);
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

int silt_pathguard_check(const char *path, char **err) { return check(path, 1, err); }

int silt_pathguard_check_shallow(const char *path, char **err) { return check(path, 0, err); }

int silt_pathguard_check_url(const char *url, char **err) {
    if (!url || !silt_fetch_is_file(url)) return 0;
    char *path = silt_fetch_file_path(url, err);
    if (!path) return -1;
    int rc = check(path, 0, err);
    free(path);
    return rc;
}

void silt_pathguard_fetch_limits(int64_t *max_bytes, long *timeout_ms) {
    pthread_mutex_lock(&mu);
    if (cap_fetch_bytes && (*max_bytes <= 0 || *max_bytes > cap_fetch_bytes)) *max_bytes = cap_fetch_bytes;
    if (cap_fetch_ms && (*timeout_ms <= 0 || *timeout_ms > cap_fetch_ms)) *timeout_ms = (long)cap_fetch_ms;
    pthread_mutex_unlock(&mu);
}

/* silt_config(key, value) for the fetch limits: a positive integer, never raised once set. */
static void config_limit(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *key,
                         int64_t *cap, int64_t max) {
    if (argc == 2) {
        sqlite3_int64 v = sqlite3_value_int64(argv[1]);
        char *m = NULL;
        if (sqlite3_value_type(argv[1]) != SQLITE_INTEGER || v <= 0 || v > max)
            m = sqlite3_mprintf("silt_config: %s must be a positive integer up to %lld, got '%s'",
                                key, (long long)max, sqlite3_value_text(argv[1]) ? (const char *)sqlite3_value_text(argv[1]) : "NULL");
        pthread_mutex_lock(&mu);
        if (!m && *cap && v > *cap)
            m = sqlite3_mprintf("silt_config: %s can only be lowered (it is %lld)", key,
                                (long long)*cap);
        if (!m) *cap = v;
        pthread_mutex_unlock(&mu);
        if (m) {
            sqlite3_result_error(ctx, m, -1);
            sqlite3_free(m);
            return;
        }
    }
    pthread_mutex_lock(&mu);
    int64_t v = *cap;
    pthread_mutex_unlock(&mu);
    if (v) sqlite3_result_int64(ctx, v);
    else sqlite3_result_null(ctx);
}

/* silt_config(key) reads a setting, silt_config(key, value) changes it. */
static void fn_config(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    pthread_once(&env_once, read_env);
    const char *key = (const char *)sqlite3_value_text(argv[0]);
    if (key && (!strcmp(key, "fetch_max_bytes") || !strcmp(key, "fetch_timeout_ms"))) {
        int bytes = !strcmp(key, "fetch_max_bytes");
        config_limit(ctx, argc, argv, key, bytes ? &cap_fetch_bytes : &cap_fetch_ms,
                     bytes ? INT64_MAX : 2147483647);
        return;
    }
    if (!key || strcmp(key, "allowed_paths") != 0) {
        char *m = sqlite3_mprintf("silt_config: unknown setting '%s' (expected 'allowed_paths', "
                                  "'fetch_max_bytes' or 'fetch_timeout_ms')", key ? key : "NULL");
        sqlite3_result_error(ctx, m ? m : "silt_config: unknown setting", -1);
        sqlite3_free(m);
        return;
    }
    char *err = NULL;
    pthread_mutex_lock(&mu);
    if (argc == 2) {
        const char *v = (const char *)sqlite3_value_text(argv[1]);
        if (env_error) silt_err(&err, "$SILT_ALLOWED_PATHS is invalid (%s)", env_error);
        else set_locked(v, n_roots >= 0, &err);
    }
    char *cur = err ? NULL : list_locked();
    int restricted = n_roots >= 0;
    pthread_mutex_unlock(&mu);
    if (err) {
        char *m = sqlite3_mprintf("silt_config: %s", err);
        sqlite3_result_error(ctx, m ? m : err, -1);
        sqlite3_free(m);
        free(err);
    } else if (restricted && !cur) {
        sqlite3_result_error_nomem(ctx);
    } else if (cur) {
        sqlite3_result_text(ctx, cur, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_result_null(ctx);
    }
    free(cur);
}

int silt_register_pathguard(sqlite3 *db, char **err) {
    int rc = SQLITE_OK;
    for (int n_arg = 1; n_arg <= 2 && rc == SQLITE_OK; n_arg++)
        rc = sqlite3_create_function(db, "silt_config", n_arg, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                     NULL, fn_config, NULL, NULL);
    if (rc != SQLITE_OK) *err = sqlite3_mprintf("silt_config: %s", sqlite3_errmsg(db));
    return rc;
}
