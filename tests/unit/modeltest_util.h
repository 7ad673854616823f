/* modeltest_util.h: file helpers for the model-format tests (test_safetensors.c,
 * test_gguf.c, test_wordpiece.c, test_bert.c): temporary directories, whole-file reads and
 * writes, and a small writer for hand-made GGUF files. Paths are relative to the repository
 * root, where the test binary runs. */
#ifndef SILT_MODELTEST_UTIL_H
#define SILT_MODELTEST_UTIL_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a whole file (NUL-terminated); NULL when it cannot be read. */
static inline char *mt_read(const char *path, size_t *n_bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (n_bytes) *n_bytes = (size_t)n;
    return buf;
}

static inline void mt_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static inline void mt_write_str(const char *path, const char *s) { mt_write(path, s, strlen(s)); }

/* A fresh directory under /tmp (caller frees the string, mt_rmrf removes the tree). */
static inline char *mt_tmpdir(void) {
    char *d = strdup("/tmp/silt-test-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static int mt_rm_cb(const char *p, const struct stat *s, int flag, struct FTW *ftw) {
    (void)s, (void)flag, (void)ftw;
    return remove(p);
}

static inline void mt_rmrf(char *dir) {
    if (!dir) return;
    nftw(dir, mt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* dst/name as a malloc'd path. */
static inline char *mt_path(const char *dir, const char *name) {
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/%s", dir, name) > 0);
    return p;
}

/* Fills dst with symbolic links to every entry of src except those named in skip
 * (NULL-terminated list), so a test can replace one file of a model directory. */
static inline void mt_link_dir(const char *src, const char *dst, const char *const *skip) {
    char abs_src[PATH_MAX];
    cr_assert_not_null(realpath(src, abs_src), "%s missing", src);
    DIR *d = opendir(abs_src);
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int skipped = 0;
        for (int i = 0; skip && skip[i]; i++) skipped |= strcmp(skip[i], e->d_name) == 0;
        if (skipped) continue;
        char *from = mt_path(abs_src, e->d_name), *to = mt_path(dst, e->d_name);
        cr_assert_eq(symlink(from, to), 0);
        free(from);
        free(to);
    }
    closedir(d);
}

/* ---- hand-made GGUF files ---------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} mt_buf;

static inline void mt_put(mt_buf *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static inline void mt_u32(mt_buf *b, uint32_t v) { mt_put(b, &v, 4); }
static inline void mt_u64(mt_buf *b, uint64_t v) { mt_put(b, &v, 8); }
static inline void mt_str(mt_buf *b, const char *s) {
    mt_u64(b, strlen(s));
    mt_put(b, s, strlen(s));
}
static inline void mt_pad(mt_buf *b, size_t align) {
    static const uint8_t zero[64];
    while (b->n % align) mt_put(b, zero, 1);
}

#endif
