/* commit_guard.h: keeps a dqlite node alive when a statement commits in a way dqlite does
 * not replicate (see commit_guard.c). silt-node registers it on every connection with
 *
 *     silt_commit_guard_set_node_id(id);
 *     sqlite3_auto_extension((void (*)(void))silt_commit_guard_init);
 */
#ifndef SILT_COMMIT_GUARD_H
#define SILT_COMMIT_GUARD_H

#include <sqlite3.h>
#include <stdint.h>

/* The id printed in the guard's log lines; call once, before any connection opens. */
void silt_commit_guard_set_node_id(uint64_t id);

/* sqlite3_auto_extension entry point: installs the guard's hooks on db. */
int silt_commit_guard_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);

#endif
