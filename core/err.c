/* err.c: malloc'd error messages (see err.h). */
#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

int silt_err(char **err, const char *fmt, ...) {
    if (!err) return -1;
    free(*err);
    va_list ap;
    va_start(ap, fmt);
    *err = vformat(fmt, ap);
    va_end(ap);
    return -1;
}

int silt_err_prefix(char **err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vformat(fmt, ap);
    va_end(ap);
    const char *old = *err ? *err : "unknown error";
    char *s = NULL;
    if (prefix) {
        size_t n = strlen(prefix) + 2 + strlen(old) + 1;
        s = malloc(n);
        if (s) snprintf(s, n, "%s: %s", prefix, old);
    }
    free(prefix);
    if (s) {
        free(*err);
        *err = s;
    }
    return -1;
}
