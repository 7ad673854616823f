/* model_files.c: listing and hashing a model's files (see model_files.h). */
#include "core/model_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/err.h"
#include "core/sha256.h"

static const char *const skipped_ext[] = {".bin", ".h5", ".msgpack", ".ot",     ".onnx", ".pt",
                                          ".pth", ".ckpt", ".pb",     ".tflite", ".md"};

static int skipped_name(const char *name) {
    if (name[0] == '.') return 1;
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof skipped_ext / sizeof skipped_ext[0]; i++)
        if (strcmp(dot, skipped_ext[i]) == 0) return 1;
    return 0;
}

void silt_model_files_free(silt_model_files *f) {
    for (size_t i = 0; i < f->n; i++) free(f->rel[i]);
    free(f->rel);
    memset(f, 0, sizeof *f);
}

static int push(silt_model_files *f, size_t *cap, const char *rel, char **err) {
    if (f->n == SILT_MODEL_FILES_MAX)
        return silt_err(err, "more than %d files", SILT_MODEL_FILES_MAX);
    if (f->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char **r = realloc(f->rel, c * sizeof *r);
        if (!r) return silt_err(err, "out of memory");
        f->rel = r, *cap = c;
    }
    if (!(f->rel[f->n] = strdup(rel))) return silt_err(err, "out of memory");
    f->n++;
    return 0;
}

/* Adds the files under root/sub (sub is "" at the top) to f, descending depth more levels. */
static int walk(const char *root, const char *sub, int depth, silt_model_files *f, size_t *cap,
                char **err) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s%s%s", root, *sub ? "/" : "", sub) >= (int)sizeof dir)
        return silt_err(err, "path too long: %s/%s", root, sub);
    DIR *d = opendir(dir);
    if (!d) return silt_err(err, "cannot read directory %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (skipped_name(e->d_name)) continue;
        char rel[4096], full[8192];
        if (snprintf(rel, sizeof rel, "%s%s%s", sub, *sub ? "/" : "", e->d_name) >=
            (int)sizeof rel) {
            rc = silt_err(err, "path too long under %s", dir);
            break;
        }
        snprintf(full, sizeof full, "%s/%s", root, rel);
        struct stat st;
        if (stat(full, &st) != 0) continue; /* dangling link: not part of the model */
        if (S_ISREG(st.st_mode)) rc = push(f, cap, rel, err);
        else if (S_ISDIR(st.st_mode) && depth > 0) rc = walk(root, rel, depth - 1, f, cap, err);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int silt_model_files_list(const char *path, silt_model_files *out, char **err) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return silt_err(err, "%s: %s", path, strerror(errno));
    size_t cap = 0;
    if (S_ISREG(st.st_mode)) {
        const char *base = strrchr(path, '/');
        if (push(out, &cap, base ? base + 1 : path, err)) goto fail;
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return silt_err(err, "%s is neither a directory nor a regular file", path);
    out->is_dir = 1;
    if (walk(path, "", SILT_MODEL_FILES_DEPTH, out, &cap, err)) {
        silt_err_prefix(err, "model directory %s", path);
        goto fail;
    }
    if (out->n == 0) {
        silt_err(err, "model directory %s holds no files", path);
        goto fail;
    }
    qsort(out->rel, out->n, sizeof *out->rel, cmp_str);
    return 0;
fail:
    silt_model_files_free(out);
    return -1;
}

char *silt_model_files_path(const char *path, const silt_model_files *f, size_t i) {
    if (!f->is_dir) return strdup(path);
    size_t n = strlen(path) + 1 + strlen(f->rel[i]) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", path, f->rel[i]);
    return p;
}

void silt_model_files_combine(const char *const *rel, const char (*file_hex)[65], size_t n,
                              char hex[65]) {
    silt_sha256 h;
    silt_sha256_init(&h);
    for (size_t i = 0; i < n; i++) {
        silt_sha256_update(&h, file_hex[i], 64);
        silt_sha256_update(&h, "  ", 2);
        silt_sha256_update(&h, rel[i], strlen(rel[i]));
        silt_sha256_update(&h, "\n", 1);
    }
    silt_sha256_hex(&h, hex);
}

int silt_model_files_sha256(const char *path, const silt_model_files *f, char hex[65],
                            char **err) {
    if (!f->is_dir) return silt_sha256_file(path, hex, err);
    char (*each)[65] = malloc(f->n * sizeof *each);
    if (!each) return silt_err(err, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < f->n && rc == 0; i++) {
        char *p = silt_model_files_path(path, f, i);
        rc = p ? silt_sha256_file(p, each[i], err) : silt_err(err, "out of memory");
        free(p);
    }
    if (rc == 0) silt_model_files_combine((const char *const *)f->rel, each, f->n, hex);
    free(each);
    return rc;
}

int silt_model_files_rel_ok(const char *rel) {
    if (!*rel || rel[0] == '/' || strchr(rel, '\\')) return 0;
    for (const char *p = rel; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n + (slash ? 1 : 0);
        if (slash && !*p) return 0;
    }
    return 1;
}
