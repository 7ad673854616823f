/* pathguard.h: which local paths silt may read models and data files from.
 *
 * An application that runs SQL it does not fully trust (a multi-tenant service, SQL typed
 * by users) limits silt's file access to a few directories:
 *
 *   SILT_ALLOWED_PATHS=/data/lake:/models ./app          -- before the process starts, or
 *   SELECT silt_config('allowed_paths', '/data/lake:/models');
 *   SELECT silt_config('allowed_paths');                  -- the list in force, NULL = anywhere
 *
 * Once a list is in force, SQL can only narrow it (each new directory must lie inside one
 * already allowed), never widen it, and silt_config cannot run from triggers or views
 * (SQLITE_DIRECTONLY). The list is process-wide, like sqlite3_config. It applies to model
 * registration, loading and import (silt_model_register, silt_embed(...) of a registered
 * model, silt_model_import), to file: URLs and paths given to silt_ingest, and to
 * silt_ingest_dir. Paths are compared after resolving symbolic links (realpath), and every
 * file of a model directory is checked, so a link inside an allowed directory cannot reach
 * outside it. The built-in default model is not subject to the list: its location comes
 * from the build or $SILT_DEFAULT_MODEL, not from SQL.
 *
 * silt_config also bounds every fetch of silt_ingest / silt_ingest_dir, whatever the call's
 * own max_bytes / timeout_ms options say (again: lowered, never raised, from SQL):
 *
 *   SELECT silt_config('fetch_max_bytes', 1000000000); -- no source larger than 1 GB
 *   SELECT silt_config('fetch_timeout_ms', 60000);   -- no transfer longer than a minute */
#ifndef SILT_PATHGUARD_H
#define SILT_PATHGUARD_H

#include <stdint.h>

#include "sqlext/sqlite.h"

/* 0 when path (a file or a directory: then also every file under it) may be read; -1 with
 * *err (malloc'd, core/err.h) naming the path and the allowed list otherwise. */
int silt_pathguard_check(const char *path, char **err);

/* The same without looking under a directory (each file read later is checked itself). */
int silt_pathguard_check_shallow(const char *path, char **err);

/* The same for a URL, without looking under a directory: file: URLs are checked as their
 * local path, other schemes pass. */
int silt_pathguard_check_url(const char *url, char **err);

/* Lowers *max_bytes / *timeout_ms (0 = no limit) to the fetch limits set by silt_config. */
void silt_pathguard_fetch_limits(int64_t *max_bytes, long *timeout_ms);

/* Registers silt_config(key [, value]). */
int silt_register_pathguard(sqlite3 *db, char **err);

#endif
