/* dqlite_client.h: a minimal client of the dqlite wire protocol (version 1, as spoken by
 * libdqlite 1.11), enough for silt-node to join a cluster and for silt-sql to run SQL.
 *
 * Why our own: libdqlite's C API has no client and no join call (a new node waits until a
 * client asks the leader to ADD and then ASSIGN it), and go-dqlite's `dqlite` shell can
 * neither add a node nor run PRAGMA/WITH/VALUES statements (it sends every line that does
 * not start with SELECT as a write).
 *
 *     dqc_conn c;
 *     char *err = NULL;
 *     if (dqc_connect_leader(&c, "127.0.0.1:9001,127.0.0.1:9002", 5000, &err) == DQC_OK &&
 *         dqc_open(&c, "silt", &err) == DQC_OK)
 *         dqc_query_sql(&c, "SELECT silt_version()", print_row, NULL, &err);
 *     dqc_close(&c);
 *
 * Every function returns DQC_OK or a negative DQC_E* code with *err set to a malloc'd
 * message (core/err.h convention; free() it). One request is in flight per connection. */
#ifndef SILT_DQLITE_CLIENT_H
#define SILT_DQLITE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

enum {
    DQC_OK = 0,
    DQC_EIO = -1,    /* network error or timeout: a write's outcome is UNKNOWN */
    DQC_EFAIL = -2,  /* the node answered with a failure (see dqc_conn.fail_code) */
    DQC_EPROTO = -3, /* the node's answer did not parse */
    DQC_ENOMEM = -4,
};

/* Roles of a cluster member, as the protocol numbers them. */
enum { DQC_VOTER = 0, DQC_STANDBY = 1, DQC_SPARE = 2 };

/* Failure codes a node sends that a client can act on (SQLite extended codes dqlite adds). */
#define DQC_NOT_LEADER (10 | (40 << 8))       /* request refused, nothing executed */
#define DQC_LEADERSHIP_LOST (10 | (41 << 8))  /* lost leadership mid-statement: outcome unknown */

typedef struct dqc_conn {
    int fd;                /* connected socket, -1 when closed */
    int timeout_ms;        /* limit for one request's round trip */
    int db_open;           /* 1 after dqc_open */
    uint64_t fail_code;    /* code of the last DQC_EFAIL answer */
    unsigned char *buf;    /* request / response body, grown as needed */
    size_t buf_cap_bytes;  /* allocated size of buf */
    char address[256];     /* "host:port" this connection talks to */
} dqc_conn;

typedef struct dqc_server {
    uint64_t id;
    char *address; /* malloc'd */
    int role;      /* DQC_VOTER, DQC_STANDBY or DQC_SPARE */
} dqc_server;

/* One column value of a result row. Pointers stay valid only during the row callback. */
typedef struct dqc_value {
    int type; /* SQLite type code: 1 integer, 2 float, 3 text, 4 blob, 5 null */
    int64_t i;
    double f;
    const char *text;     /* NUL-terminated, for type 3 */
    const void *blob;     /* for type 4 */
    size_t blob_bytes;
} dqc_value;

/* Called once per row; a non-zero return stops reading rows (the query is then drained). */
typedef int (*dqc_row_fn)(void *ctx, int n_cols, const char *const *names,
                          const dqc_value *vals);

/* Connects to "host:port" and sends the protocol handshake. */
int dqc_connect(dqc_conn *c, const char *address, int timeout_ms, char **err);
void dqc_close(dqc_conn *c);

/* Asks the connected node who the leader is: *id 0 and an empty address when it knows none
 * (an election is running, or the cluster has no quorum). *address is malloc'd. */
int dqc_leader(dqc_conn *c, uint64_t *id, char **address, char **err);

/* Finds the leader through any of the comma-separated servers and connects to it, retrying
 * until timeout_ms has passed; the error then says what each server answered. */
int dqc_connect_leader(dqc_conn *c, const char *servers, int timeout_ms, char **err);

/* The cluster's members as the connected node sees them; free with dqc_servers_free. */
int dqc_cluster(dqc_conn *c, dqc_server **servers, size_t *n, char **err);
void dqc_servers_free(dqc_server *servers, size_t n);

/* Membership changes; the connection must be to the leader. */
int dqc_add(dqc_conn *c, uint64_t id, const char *address, char **err);
int dqc_assign(dqc_conn *c, uint64_t id, int role, char **err);
/* Hands the leadership to the voter id (used to move it deliberately, e.g. in tests). */
int dqc_transfer(dqc_conn *c, uint64_t id, char **err);

/* Opens the named database of the cluster (created on first use) for this connection. */
int dqc_open(dqc_conn *c, const char *name, char **err);

/* Runs statements that return no rows (all of them, in order: dqlite executes the whole
 * text). changes may be NULL. */
int dqc_exec_sql(dqc_conn *c, const char *sql, uint64_t *last_insert_id, uint64_t *changes,
                 char **err);

/* Runs one statement that returns rows, calling fn for each row (fn may be NULL). */
int dqc_query_sql(dqc_conn *c, const char *sql, dqc_row_fn fn, void *ctx, char **err);

#endif
