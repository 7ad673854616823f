/* silt-node: one member of a replicated silt cluster. It runs a dqlite node (Raft-replicated
 * SQLite, libdqlite 1.11) in which every connection has silt registered, so SQL sent by
 * clients (silt-sql, or go-dqlite's `dqlite` shell) can use silt's functions and virtual
 * tables, and their shadow tables replicate like any other table.
 *
 *   silt-node --id 1 --address 127.0.0.1:9001 --dir /var/lib/silt/1 --bootstrap
 *   silt-node --id 2 --address 127.0.0.1:9002 --dir /var/lib/silt/2 --join 127.0.0.1:9001
 *   silt-node --id 3 --address 127.0.0.1:9003 --dir /var/lib/silt/3 --join 127.0.0.1:9001
 *
 * libdqlite's C API has no join call: the node whose id is 1 bootstraps a one-member cluster
 * when its directory is empty, and any other node waits until a client asks the leader to
 * ADD it and then ASSIGN it the voter role. --join makes this node that client of itself
 * (cluster/dqlite_client.c). Restarting a member needs neither option: its state is in --dir.
 *
 * A commit guard on every connection (cluster/commit_guard.c) refuses the commits dqlite
 * would not replicate, which would otherwise abort the node at its next write.
 *
 * The node logs its role changes to stderr ("role leader", "role follower, leader 1 at ..."),
 * ignores SIGPIPE (a peer that dies mid-write must not kill the node, and with it the
 * cluster's quorum), and stops cleanly on SIGTERM or SIGINT. */
#include <dqlite.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster/commit_guard.h"
#include "cluster/dqlite_client.h"
#include "include/silt.h"

typedef struct node_opts {
    uint64_t id;            /* this node's Raft id, 1 for the bootstrap node */
    const char *address;    /* host:port, both where it listens and how peers reach it */
    const char *dir;        /* Raft log and snapshots */
    int bootstrap;          /* --bootstrap given */
    const char *join;       /* comma-separated addresses of current members, or NULL */
    unsigned latency_ms;    /* 0 = libdqlite's default; election timeout is 15x this */
    int join_timeout_ms;    /* give up joining after this long */
} node_opts;

static void logf_(const node_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Timestamped line on stderr, so that the logs of a test's nodes can be read side by side. */
static void logf_(const node_opts *o, const char *fmt, ...) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%02d:%02d:%02d.%03ld silt-node %llu: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, (unsigned long long)o->id, line);
    fflush(stderr);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p; 0 on success. */
static int make_dirs(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Checks that silt registers on a plain connection of this process (the same auto-extension
 * the dqlite connections get) and returns its version text in out. */
static int check_silt(char *out, size_t out_bytes) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_open(":memory:", &db) == SQLITE_OK &&
             sqlite3_prepare_v2(db, "SELECT silt_version()", -1, &st, NULL) == SQLITE_OK &&
             sqlite3_step(st) == SQLITE_ROW;
    snprintf(out, out_bytes, "%s",
             ok ? (const char *)sqlite3_column_text(st, 0) : (db ? sqlite3_errmsg(db) : "no memory"));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok ? 0 : -1;
}

/* Loads the default embedding model now, on a plain connection: weights are shared by all
 * connections of the process, and loading them on first use would stall the dqlite thread
 * (and its heartbeats) for longer than an election timeout. Writes what happened into out. */
static void warm_default_model(char *out, size_t out_bytes) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t t0 = now_ms();
    if (sqlite3_open(":memory:", &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT silt_vec_dim(silt_embed('warm-up'))", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, out_bytes, "default model loaded (%d-d) in %lld ms", sqlite3_column_int(st, 0),
                 (long long)(now_ms() - t0));
    else
        snprintf(out, out_bytes, "default model not loaded: %s", db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* One attempt to become a voter through the current leader; 0 when this node is one. */
static int try_join(const node_opts *o, char **err) {
    dqc_conn c;
    if (dqc_connect_leader(&c, o->join, 2000, err) != DQC_OK) return -1;
    /* Promotion waits for this node to catch up with the log, which takes a while when the
     * database is large. */
    c.timeout_ms = 60000;
    dqc_server *s = NULL;
    size_t n = 0;
    int rc = dqc_cluster(&c, &s, &n, err);
    int role = -1;
    for (size_t i = 0; rc == DQC_OK && i < n; i++)
        if (s[i].id == o->id) role = s[i].role;
    dqc_servers_free(s, n);
    if (rc == DQC_OK && role < 0) rc = dqc_add(&c, o->id, o->address, err);
    if (rc == DQC_OK && role != DQC_VOTER) rc = dqc_assign(&c, o->id, DQC_VOTER, err);
    dqc_close(&c);
    return rc == DQC_OK ? 0 : -1;
}

/* Asks this node who leads; writes a one-line description of its role into out. */
static void describe_role(const node_opts *o, dqc_conn *self, char *out, size_t out_bytes) {
    char *err = NULL, *addr = NULL;
    uint64_t leader = 0;
    if (self->fd < 0 && dqc_connect(self, o->address, 1000, &err) != DQC_OK) {
        snprintf(out, out_bytes, "unknown (%s)", err);
    } else if (dqc_leader(self, &leader, &addr, &err) != DQC_OK) {
        if (err && strstr(err, "no answer within"))
            snprintf(out, out_bytes,
                     "unknown: busy, no answer to its own role query within 1 s (a long "
                     "statement delays the heartbeats too)");
        else
            snprintf(out, out_bytes, "unknown (%s)", err);
        dqc_close(self);
    } else if (leader == o->id) {
        snprintf(out, out_bytes, "leader");
    } else if (leader != 0) {
        snprintf(out, out_bytes, "follower, leader %llu at %s", (unsigned long long)leader, addr);
    } else {
        snprintf(out, out_bytes, "no leader known (election running, not yet a voter, or no quorum)");
    }
    free(err);
    free(addr);
}

/* The stop signal received (SIGTERM, SIGINT, SIGHUP), 0 until then: the one piece of state
 * a signal handler may write. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: silt-node --id N --address HOST:PORT --dir DIR\n"
            "                 [--bootstrap | --join HOST:PORT[,...]] [--latency-ms MS]\n"
            "  --bootstrap       start a new cluster (only the node with --id 1 can)\n"
            "  --join ADDRS      become a voter through the leader found among ADDRS\n"
            "  --latency-ms MS   one-way network latency; heartbeats and the election timeout\n"
            "                    (15 x MS) follow it. Every statement must finish well within\n"
            "                    the election timeout, or the leader loses its leadership.\n"
            "  --join-timeout-ms MS  give up joining after MS (default 60000)\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-' || v == 0 || v > max) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    /* OpenMP threads that spin while waiting for work (libgomp's default) take the CPU from
     * the threads that do work once the node has more than one team (the model's, FAISS's on
     * dqlite's thread): a 20k-vector KNN query took 25 ms instead of 1.4 ms on 2 cores.
     * libgomp reads the policy when it loads, before main, so set it and start again. */
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0)
        execv("/proc/self/exe", argv); /* on failure, run on with the default policy */
    node_opts o = {.join_timeout_ms = 60000};
    static const struct option longopts[] = {
        {"id", required_argument, 0, 'i'},         {"address", required_argument, 0, 'a'},
        {"dir", required_argument, 0, 'd'},        {"bootstrap", no_argument, 0, 'b'},
        {"join", required_argument, 0, 'j'},       {"latency-ms", required_argument, 0, 'l'},
        {"join-timeout-ms", required_argument, 0, 'J'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    uint64_t v;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'i':
            if (parse_u64(optarg, UINT64_MAX, &o.id) != 0) {
                fprintf(stderr, "silt-node: --id '%s': expected a positive integer\n", optarg);
                return 64;
            }
            break;
        case 'a':
            o.address = optarg;
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'b':
            o.bootstrap = 1;
            break;
        case 'j':
            o.join = optarg;
            break;
        case 'l':
            if (parse_u64(optarg, 3600000, &v) != 0) {
                fprintf(stderr, "silt-node: --latency-ms '%s': expected 1..3600000\n", optarg);
                return 64;
            }
            o.latency_ms = (unsigned)v;
            break;
        case 'J':
            if (parse_u64(optarg, 3600000, &v) != 0) {
                fprintf(stderr, "silt-node: --join-timeout-ms '%s': expected 1..3600000\n", optarg);
                return 64;
            }
            o.join_timeout_ms = (int)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (!o.id || !o.address || !o.dir || optind < argc) {
        fprintf(stderr, "silt-node: --id, --address and --dir are required\n");
        usage(stderr);
        return 64;
    }
    if (o.bootstrap && o.join) {
        fprintf(stderr, "silt-node: --bootstrap and --join exclude each other\n");
        return 64;
    }
    if (o.bootstrap && o.id != 1) {
        fprintf(stderr,
                "silt-node: --bootstrap needs --id 1: libdqlite 1.11 bootstraps only the node "
                "whose id is 1\n");
        return 64;
    }
    if (o.join && o.id == 1) {
        fprintf(stderr,
                "silt-node: --id 1 cannot --join: libdqlite bootstraps node 1 into a cluster of "
                "its own; give joining nodes ids from 2 up\n");
        return 64;
    }

    /* A handler rather than a blocked mask: libraries start threads before main (OpenBLAS
     * does), and a SIGTERM routed to one of those would kill the node without a clean stop. */
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    silt_commit_guard_set_node_id(o.id);
    if (sqlite3_auto_extension((void (*)(void))sqlite3_silt_init) != SQLITE_OK ||
        sqlite3_auto_extension((void (*)(void))silt_commit_guard_init) != SQLITE_OK) {
        fprintf(stderr, "silt-node: cannot register silt as an auto-extension\n");
        return 1;
    }
    char version[256];
    if (check_silt(version, sizeof version) != 0) {
        fprintf(stderr, "silt-node: silt does not load: %s\n", version);
        return 1;
    }
    char warm[512];
    warm_default_model(warm, sizeof warm);
    if (make_dirs(o.dir) != 0) {
        fprintf(stderr, "silt-node: cannot create --dir '%s': %s\n", o.dir, strerror(errno));
        return 1;
    }

    dqlite_node *node = NULL;
    int rv = dqlite_node_create(o.id, o.address, o.dir, &node);
    if (rv != 0) {
        fprintf(stderr, "silt-node: cannot create the dqlite node: %s\n",
                node ? dqlite_node_errmsg(node) : "out of memory");
        dqlite_node_destroy(node);
        return 1;
    }
    if ((rv = dqlite_node_set_bind_address(node, o.address)) != 0 ||
        (o.latency_ms && (rv = dqlite_node_set_network_latency_ms(node, o.latency_ms)) != 0) ||
        (rv = dqlite_node_start(node)) != 0) {
        fprintf(stderr, "silt-node: cannot start the dqlite node on %s: %s\n", o.address,
                dqlite_node_errmsg(node));
        dqlite_node_destroy(node);
        return 1;
    }
    logf_(&o, "%s", warm);
    logf_(&o, "listening on %s, data in %s, silt %s, %s", o.address, o.dir, version,
          o.bootstrap ? "bootstrapping"
          : o.join    ? "joining"
                      : "restarting as an existing member");

    int status = 0;
    int joined = o.join == NULL;
    int64_t join_deadline = now_ms() + o.join_timeout_ms, last_join_log = 0;
    char role[512] = "", last_role[512] = "";
    dqc_conn self = {.fd = -1};
    for (;;) {
        struct timespec wait = {0, 250 * 1000000L};
        nanosleep(&wait, NULL);
        if (stop_signal) {
            logf_(&o, "signal %d: stopping", (int)stop_signal);
            break;
        }
        if (!joined) {
            char *err = NULL;
            if (try_join(&o, &err) == 0) {
                joined = 1;
                logf_(&o, "joined the cluster as a voter");
            } else if (now_ms() > join_deadline) {
                logf_(&o, "could not join through %s: %s", o.join, err ? err : "?");
                free(err);
                status = 1;
                break;
            } else if (now_ms() - last_join_log > 5000) {
                logf_(&o, "still joining: %s", err ? err : "?");
                last_join_log = now_ms();
            }
            free(err);
        }
        describe_role(&o, &self, role, sizeof role);
        if (strcmp(role, last_role) != 0) {
            logf_(&o, "role %s", role);
            memcpy(last_role, role, sizeof role);
        }
    }
    dqc_close(&self);
    dqlite_node_stop(node);
    dqlite_node_destroy(node);
    logf_(&o, "stopped");
    return status;
}
