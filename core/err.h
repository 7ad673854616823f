/* err.h: error messages for core/, index/ and ingest/, which do not use SQLite's allocator.
 *
 * Functions that can fail return 0 on success and -1 on failure, and on failure set
 * *err to a malloc'd message (the caller frees it with free()). sqlext/ turns the
 * message into an SQL error. A NULL err pointer is allowed: the message is dropped. */
#ifndef SILT_ERR_H
#define SILT_ERR_H

#include <stdarg.h>

/* Sets *err (when err is not NULL) to a malloc'd printf-formatted message and returns -1,
 * so that failure paths read `return silt_err(err, "bad %s", what);`. */
int silt_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing *err with more context: "<prefix>: <old message>". Returns -1. */
int silt_err_prefix(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
