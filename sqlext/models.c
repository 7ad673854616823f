/* models.c: resolving model names to loaded encoders, and the process-wide encoder cache
 * shared by every connection (see models.h).
 *
 * Loads happen outside the cache lock: a load takes tens to hundreds of milliseconds and may
 * read the database (imported models), and holding a process-wide lock across SQLite calls
 * could wait on another connection's file lock. Two threads that miss on the same model at
 * once both load it; the second to finish frees its copy and takes the cached one. */
#include "sqlext/models.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model_files.h"
#include "sqlext/model_store.h"
#include "sqlext/pathguard.h"
#include "sqlext/register.h"

#ifndef SILT_DEFAULT_MODEL_DIR
#define SILT_DEFAULT_MODEL_DIR ""
#endif

typedef struct cache_entry {
    char *key;                /* what was loaded: "<sha256>\n<options>" or "default\n<dir>" */
    silt_encoder *enc;        /* owned */
    int refs;                 /* outstanding acquires */
    unsigned long long used;  /* cache clock at the last acquire, for LRU eviction */
    struct cache_entry *next;
} cache_entry;

static struct {
    pthread_mutex_t mu;
    cache_entry *head;
    unsigned long long clock;
    long long loads;
} cache = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

long long silt_model_cache_loads(void) {
    pthread_mutex_lock(&cache.mu);
    long long n = cache.loads;
    pthread_mutex_unlock(&cache.mu);
    return n;
}

const char *silt_model_kind_name(const silt_encoder *enc) {
    return enc->kind == SILT_KIND_SPARSE ? "sparse" : "dense";
}

/* The entry for key with one more reference, or NULL. Called with cache.mu held. */
static cache_entry *cache_take(const char *key) {
    for (cache_entry *e = cache.head; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            e->refs++;
            e->used = ++cache.clock;
            return e;
        }
    return NULL;
}

/* Frees least recently used idle entries beyond keep_idle. cache.mu held. */
static void cache_evict(int keep_idle) {
    for (;;) {
        int idle = 0;
        cache_entry **victim = NULL;
        for (cache_entry **p = &cache.head; *p; p = &(*p)->next)
            if ((*p)->refs == 0) {
                idle++;
                if (!victim || (*p)->used < (*victim)->used) victim = p;
            }
        if (idle <= keep_idle) return;
        cache_entry *e = *victim;
        *victim = e->next;
        silt_encoder_free(e->enc);
        free(e->key);
        free(e);
    }
}

void silt_model_retain(silt_encoder *enc) {
    if (!enc) return;
    pthread_mutex_lock(&cache.mu);
    for (cache_entry *e = cache.head; e; e = e->next)
        if (e->enc == enc) {
            e->refs++;
            break;
        }
    pthread_mutex_unlock(&cache.mu);
}

void silt_model_release(silt_encoder *enc) {
    if (!enc) return;
    pthread_mutex_lock(&cache.mu);
    for (cache_entry *e = cache.head; e; e = e->next)
        if (e->enc == enc) {
            if (e->refs > 0) e->refs--;
            break;
        }
    cache_evict(SILT_MODEL_CACHE_IDLE);
    pthread_mutex_unlock(&cache.mu);
}

void silt_model_cache_trim(int keep_idle) {
    pthread_mutex_lock(&cache.mu);
    cache_evict(keep_idle < 0 ? 0 : keep_idle);
    pthread_mutex_unlock(&cache.mu);
}

/* Provided models live in the cache under "provided\n<name>" with a reference that is never
 * given back, so they are never evicted. */
int silt_model_provide(const char *name, silt_encoder *enc, char **err) {
    *err = NULL;
    if (!name || !*name || strcmp(name, "default") == 0) {
        *err = sqlite3_mprintf("cannot provide a model named '%s'", name ? name : "");
        return SQLITE_ERROR;
    }
    char *key = sqlite3_mprintf("provided\n%s", name);
    cache_entry *e = calloc(1, sizeof *e);
    char *k = key ? strdup(key) : NULL;
    sqlite3_free(key);
    if (!e || !k) {
        free(e);
        free(k);
        return SQLITE_NOMEM;
    }
    pthread_mutex_lock(&cache.mu);
    for (cache_entry *p = cache.head; p; p = p->next)
        if (strcmp(p->key, k) == 0) {
            pthread_mutex_unlock(&cache.mu);
            free(e);
            free(k);
            *err = sqlite3_mprintf("a model named '%s' is already provided", name);
            return SQLITE_ERROR;
        }
    e->key = k, e->enc = enc, e->refs = 1, e->used = ++cache.clock;
    e->next = cache.head;
    cache.head = e;
    pthread_mutex_unlock(&cache.mu);
    return SQLITE_OK;
}

/* The provided model called name with one more reference, or NULL. */
static silt_encoder *take_provided(const char *name) {
    char key[256];
    if (snprintf(key, sizeof key, "provided\n%s", name) >= (int)sizeof key) return NULL;
    pthread_mutex_lock(&cache.mu);
    cache_entry *e = cache_take(key);
    pthread_mutex_unlock(&cache.mu);
    return e ? e->enc : NULL;
}

/* Where to find a model's files when the cache misses. */
typedef struct {
    sqlite3 *db;
    const char *name;      /* registry name, or NULL for the default model */
    const char *path;      /* registered or default path */
    const char *layout;    /* "dir" or "file" */
    const char *sha256;
    const char *options;   /* JSON object or NULL */
    int imported;
} model_source;

/* Loads src (materialising imported files first) into a new encoder. SQLITE_OK or an error
 * with *err (sqlite3_mprintf'd). */
static int load_source(const model_source *src, silt_encoder **out, char **err) {
    char *core_err = NULL;
    char *dir = NULL;
    const char *path = src->path;
    if (src->imported) {
        int rc = silt_model_store_materialize(src->db, src->name, src->sha256, &dir, err);
        if (rc != SQLITE_OK) return rc;
        path = dir;
    }
    char *file_path = NULL;
    if (src->imported && strcmp(src->layout, "file") == 0) {
        /* An imported single-file model is materialised as <dir>/<its file name>. */
        const char *base = strrchr(src->path, '/');
        file_path = sqlite3_mprintf("%s/%s", dir, base ? base + 1 : src->path);
        if (!file_path) {
            free(dir);
            return SQLITE_NOMEM;
        }
        path = file_path;
    }
    /* A registered path comes from the database, which may not be trusted either. */
    if (src->name && !src->imported && silt_pathguard_check(path, &core_err)) *out = NULL;
    else *out = silt_encoder_load(path, src->options, &core_err);
    int rc = SQLITE_OK;
    if (!*out) {
        if (src->name)
            *err = sqlite3_mprintf("model '%s'%s: %s", src->name,
                                   src->imported ? " (imported copy)" : "",
                                   core_err ? core_err : "out of memory");
        else
            *err = sqlite3_mprintf("default model: %s", core_err ? core_err : "out of memory");
        rc = SQLITE_ERROR;
    }
    free(core_err);
    free(dir);
    sqlite3_free(file_path);
    return rc;
}

/* Returns the cached encoder for key, loading it from src on a miss. */
static int cache_acquire(const char *key, const model_source *src, silt_encoder **out,
                         char **err) {
    pthread_mutex_lock(&cache.mu);
    cache_entry *e = cache_take(key);
    pthread_mutex_unlock(&cache.mu);
    if (e) {
        *out = e->enc;
        return SQLITE_OK;
    }
    silt_encoder *enc = NULL;
    int rc = load_source(src, &enc, err);
    if (rc != SQLITE_OK) return rc;
    cache_entry *fresh = calloc(1, sizeof *fresh);
    char *k = strdup(key);
    if (!fresh || !k) {
        free(fresh);
        free(k);
        silt_encoder_free(enc);
        return SQLITE_NOMEM;
    }
    pthread_mutex_lock(&cache.mu);
    cache.loads++;
    e = cache_take(key);
    if (!e) {
        fresh->key = k, fresh->enc = enc, fresh->refs = 1, fresh->used = ++cache.clock;
        fresh->next = cache.head;
        cache.head = fresh;
        e = fresh;
        fresh = NULL, k = NULL, enc = NULL;
    }
    pthread_mutex_unlock(&cache.mu);
    free(fresh);
    free(k);
    silt_encoder_free(enc); /* lost the race: another thread's copy is cached */
    *out = e->enc;
    return SQLITE_OK;
}

static int is_model_dir(const char *dir) {
    char p[PATH_MAX + 16];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/model.json", dir) >= (int)sizeof p) return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int silt_model_default_dir(char *buf, size_t buf_bytes) {
    const char *env = getenv("SILT_DEFAULT_MODEL");
    if (env && *env) {
        if (is_model_dir(env)) {
            snprintf(buf, buf_bytes, "%s", env);
            return 0;
        }
        snprintf(buf, buf_bytes, "default model not found at %s (from $SILT_DEFAULT_MODEL; "
                                 "expected a USE-Lite directory holding model.json)", env);
        return -1;
    }
    char near_so[PATH_MAX + 32] = "";
    Dl_info info;
    if (dladdr((void *)silt_model_default_dir, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        if (slash)
            snprintf(near_so, sizeof near_so, "%.*s/models/use-lite",
                     (int)(slash - info.dli_fname), info.dli_fname);
        else
            snprintf(near_so, sizeof near_so, "models/use-lite");
        if (is_model_dir(near_so)) {
            snprintf(buf, buf_bytes, "%s", near_so);
            return 0;
        }
    }
    if (*SILT_DEFAULT_MODEL_DIR && is_model_dir(SILT_DEFAULT_MODEL_DIR)) {
        snprintf(buf, buf_bytes, "%s", SILT_DEFAULT_MODEL_DIR);
        return 0;
    }
    snprintf(buf, buf_bytes, "default model not found at %s%s%s; run make setup (or set "
                             "SILT_DEFAULT_MODEL to a USE-Lite model directory)",
             *near_so ? near_so : "", *near_so && *SILT_DEFAULT_MODEL_DIR ? " or " : "",
             SILT_DEFAULT_MODEL_DIR);
    return -1;
}

/* The default model's resolved directory, remembered per value of $SILT_DEFAULT_MODEL so
 * that per-row calls skip the stat() and realpath() calls; only successes are remembered,
 * so running make setup after a failure needs no restart. */
static struct {
    pthread_mutex_t mu;
    int valid;
    char env[PATH_MAX];  /* $SILT_DEFAULT_MODEL when resolved ("" when unset) */
    char key[PATH_MAX + 300];
} default_res = {PTHREAD_MUTEX_INITIALIZER, 0, "", ""};

static int acquire_default(silt_encoder **out, char **err) {
    const char *env = getenv("SILT_DEFAULT_MODEL");
    if (!env) env = "";
    char key[PATH_MAX + 300];
    key[0] = 0;
    pthread_mutex_lock(&default_res.mu);
    if (default_res.valid && strcmp(default_res.env, env) == 0)
        memcpy(key, default_res.key, sizeof key);
    pthread_mutex_unlock(&default_res.mu);
    if (!key[0]) {
        char dir[PATH_MAX + 256];
        if (silt_model_default_dir(dir, sizeof dir) != 0) {
            *err = sqlite3_mprintf("%s", dir);
            return SQLITE_ERROR;
        }
        char real[PATH_MAX];
        snprintf(key, sizeof key, "default\n%s", realpath(dir, real) ? real : dir);
        if (strlen(env) < sizeof default_res.env) {
            pthread_mutex_lock(&default_res.mu);
            snprintf(default_res.env, sizeof default_res.env, "%s", env);
            memcpy(default_res.key, key, sizeof key);
            default_res.valid = 1;
            pthread_mutex_unlock(&default_res.mu);
        }
    }
    model_source src = {.path = key + 8, .layout = "dir"};
    return cache_acquire(key, &src, out, err);
}

int silt_model_acquire(sqlite3 *db, const char *name, silt_encoder **out, char **err) {
    *out = NULL;
    *err = NULL;
    if (!name || strcmp(name, "default") == 0) return acquire_default(out, err);
    if ((*out = take_provided(name))) return SQLITE_OK;
    silt_model_row row;
    int rc = silt_model_store_get(db, name, &row, err);
    if (rc != SQLITE_OK) return rc;
    /* Same files and options means the same model, wherever it was loaded from. */
    char *key = sqlite3_mprintf("%s\n%s", row.sha256, row.options ? row.options : "");
    if (!key) {
        silt_model_row_free(&row);
        return SQLITE_NOMEM;
    }
    model_source src = {.db = db, .name = name, .path = row.path, .layout = row.layout,
                        .sha256 = row.sha256, .options = row.options, .imported = row.imported};
    rc = cache_acquire(key, &src, out, err);
    sqlite3_free(key);
    silt_model_row_free(&row);
    return rc;
}

/* Loads an encoder for registration through the cache, keyed like silt_model_acquire will
 * key it, so the model registered is the one later statements use without a reload. */
int silt_model_acquire_path(const char *path, const char *sha256, const char *options,
                            silt_encoder **out, char **err) {
    *out = NULL;
    *err = NULL;
    char *key = sqlite3_mprintf("%s\n%s", sha256, options ? options : "");
    if (!key) return SQLITE_NOMEM;
    model_source src = {.path = path, .layout = "dir", .options = options};
    int rc = cache_acquire(key, &src, out, err);
    if (rc != SQLITE_OK && *err) {
        /* load_source says "default model:" for unnamed sources; say what it was instead. */
        char *m = *err;
        const char *p = strncmp(m, "default model: ", 15) == 0 ? m + 15 : m;
        *err = sqlite3_mprintf("%s", p);
        sqlite3_free(m);
    }
    sqlite3_free(key);
    return rc;
}

int silt_register_models(sqlite3 *db, char **err) {
    int (*const fns[])(sqlite3 *, char **) = {silt_register_model_registry,
                                              silt_register_models_vtab,
                                              silt_register_embed_funcs, silt_register_chunks};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        int rc = fns[i](db, err);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}
