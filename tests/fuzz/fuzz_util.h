/* fuzz_util.h: helpers shared by the libFuzzer targets in tests/fuzz/ (built by `make fuzz`).
 *
 * Several silt parsers take paths (GGUF, safetensors, tfjs and Hugging Face directories), so
 * a target writes its input into a private scratch directory created once per process
 * (under $TMPDIR or /dev/shm) and overwrites the files on every run. Inputs that carry more
 * than one file are split with fuzz_split: the first byte of the input often selects a mode,
 * and the rest is cut at a separator byte sequence.
 *
 * SILT_FUZZ_REPO is the absolute path of the repository (set by the Makefile), used to read
 * fixed vocabularies and models that a target combines with the fuzzed bytes. */
#ifndef SILT_FUZZ_UTIL_H
#define SILT_FUZZ_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SILT_FUZZ_REPO
#define SILT_FUZZ_REPO "."
#endif

/* A fuzz harness may abort on an impossible state (that is a finding, not a user error). */
#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "fuzz oracle failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* The process's scratch directory (created on first use; never freed). */
static inline const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        struct stat st;
        if (!base || !*base) base = stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/silt-fuzz-XXXXXX", base);
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

/* Full path of name inside the scratch directory, in a static buffer per slot (0..7). */
static inline const char *fuzz_path(int slot, const char *name) {
    static char buf[8][512];
    snprintf(buf[slot & 7], sizeof buf[0], "%s/%s", fuzz_dir(), name);
    return buf[slot & 7];
}

/* Writes n bytes to the scratch file name (replacing it); returns its path. */
static inline const char *fuzz_write(int slot, const char *name, const void *p, size_t n) {
    const char *path = fuzz_path(slot, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            perror("write");
            abort();
        }
        c += w;
        n -= (size_t)w;
    }
    close(fd);
    return path;
}

static inline void fuzz_unlink(const char *name) { unlink(fuzz_path(7, name)); }

/* Reads a whole file into a malloc'd NUL-terminated buffer; aborts when it is missing (the
 * harness needs it: that is a setup error, reported loudly). */
static inline char *fuzz_slurp(const char *path, size_t *n_bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz setup: cannot open %s\n", path);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) abort();
    b[n] = 0;
    fclose(f);
    if (n_bytes) *n_bytes = (size_t)n;
    return b;
}

/* Splits p[0..n) at the first occurrence of sep: the head is p[0..*head_n), the tail starts
 * at the returned pointer (NULL and *head_n = n when sep does not occur). */
static inline const uint8_t *fuzz_split(const uint8_t *p, size_t n, const char *sep,
                                        size_t *head_n) {
    size_t k = strlen(sep);
    const uint8_t *hit = k && n >= k ? memmem(p, n, sep, k) : NULL;
    if (!hit) {
        *head_n = n;
        return NULL;
    }
    *head_n = (size_t)(hit - p);
    return hit + k;
}

/* A malloc'd NUL-terminated copy of p[0..n) (the parsers taking C strings get one). */
static inline char *fuzz_cstr(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Unpacks a little archive into the scratch subdirectory sub (created on first use), after
 * deleting every file of names[]: records of [1 byte: index into names (mod n_names)]
 * [4 bytes little-endian: length][bytes], a length past the end meaning "the rest". Names
 * may hold one '/' level (created as needed). Lets one input carry a whole model directory
 * (tests/fuzz/make_seeds.py writes the seeds in this format). Returns the directory path. */
static inline const char *fuzz_unpack(const uint8_t *p, size_t n, const char *sub,
                                      const char *const *names, int n_names) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", fuzz_dir(), sub);
    mkdir(dir, 0700);
    char path[1024];
    for (int i = 0; i < n_names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
        char *slash = strchr(names[i], '/');
        if (slash) {
            snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - names[i]), names[i]);
            mkdir(path, 0700);
        }
    }
    size_t at = 0;
    while (at + 5 <= n) {
        int idx = p[at] % n_names;
        uint32_t len = (uint32_t)p[at + 1] | (uint32_t)p[at + 2] << 8 |
                       (uint32_t)p[at + 3] << 16 | (uint32_t)p[at + 4] << 24;
        at += 5;
        size_t take = len <= n - at ? len : n - at;
        snprintf(path, sizeof path, "%s/%s", sub, names[idx]);
        fuzz_write(6, path, p + at, take);
        at += take;
    }
    return dir;
}

#endif
