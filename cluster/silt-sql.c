/* silt-sql: runs SQL against a silt cluster (dqlite nodes started by silt-node) through its
 * leader, and prints rows like the sqlite3 shell's list mode ('|' between columns, NULL as
 * nothing, REAL as %!.15g); BLOBs print as X'hex'.
 *
 *   silt-sql -s 127.0.0.1:9001,127.0.0.1:9002 "SELECT rowid, distance FROM v WHERE ..."
 *   silt-sql -s ... < statements.sql            # statements from standard input
 *   silt-sql -s ... --leader                    # prints "<id> <address>" of the leader
 *   silt-sql -s ... --cluster                   # prints "<id> <address> <role>" per member
 *   silt-sql -s ... --transfer 2                # hands the leadership to voter 2
 *
 * Statements that return rows (SELECT, VALUES, EXPLAIN, PRAGMA without a value, WITH ...
 * SELECT) go out as queries, all others as writes; each statement is its own transaction
 * unless the text holds BEGIN ... COMMIT. A SELECT calling silt_ingest, silt_ingest_dir,
 * silt_model_register or silt_model_import runs inside a BEGIN ... COMMIT of its own: dqlite
 * replicates only what write requests commit. RETURNING is refused (dqlite 1.11 would not
 * replicate the write).
 *
 * Statements refused by a node that just lost the leadership are resent to the new leader,
 * and so are queries cut off by a failover; a write cut off is not (see exit status 3).
 *
 * Exit status: 0 ok; 1 the cluster refused a statement (SQL error: nothing was written);
 * 2 no leader could be reached (no quorum, or no node up); 3 the connection failed while a
 * write was in flight: its outcome is UNKNOWN (it may have committed). */
#include <ctype.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cluster/dqlite_client.h"

typedef struct opts {
    const char *servers;
    const char *db_name;
    int timeout_ms;
    int header;
    int timer; /* print "Run Time: real S" after each statement, like sqlite3's .timer */
    int raw;   /* send statements as they are: no BEGIN/COMMIT around writing SELECTs, no
                  RETURNING check (to see what silt-node does with them) */
} opts;

/* Row printing state: header still to print, rows printed so far (a query is retried after
 * a failover only while nothing was printed). */
typedef struct printer {
    int header_pending;
    long n_rows;
} printer;

static int print_row(void *ctx, int n_cols, const char *const *names, const dqc_value *vals) {
    printer *pr = ctx;
    if (pr->header_pending) {
        for (int i = 0; i < n_cols; i++) printf("%s%s", i ? "|" : "", names[i]);
        printf("\n");
        pr->header_pending = 0;
    }
    pr->n_rows++;
    for (int i = 0; i < n_cols; i++) {
        if (i) putchar('|');
        const dqc_value *v = &vals[i];
        switch (v->type) {
        case 1:
            printf("%lld", (long long)v->i);
            break;
        case 2: {
            char *s = sqlite3_mprintf("%!.15g", v->f);
            if (s) fputs(s, stdout);
            sqlite3_free(s);
            break;
        }
        case 3:
            fputs(v->text, stdout);
            break;
        case 4:
            fputs("X'", stdout);
            for (size_t k = 0; k < v->blob_bytes; k++)
                printf("%02X", ((const unsigned char *)v->blob)[k]);
            putchar('\'');
            break;
        default:
            break;
        }
    }
    putchar('\n');
    return 0;
}

/* Skips whitespace and SQL comments; returns the first character of the next token. */
static const char *skip_space(const char *p) {
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (p[0] == '-' && p[1] == '-') {
            while (*p && *p != '\n') p++;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            return p;
        }
    }
}

static int starts_word(const char *p, const char *word) {
    size_t n = strlen(word);
    return strncasecmp(p, word, n) == 0 &&
           !((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || p[n] == '_' ||
             (p[n] >= '0' && p[n] <= '9'));
}

/* 1 when the statement contains one of the write keywords outside quotes (for WITH). */
static int has_write_keyword(const char *p) {
    static const char *const kw[] = {"INSERT", "UPDATE", "DELETE", "REPLACE"};
    char quote = 0;
    for (; *p; p++) {
        if (quote) {
            if (*p == quote) quote = 0;
            continue;
        }
        if (*p == '\'' || *p == '"' || *p == '`') {
            quote = *p;
            continue;
        }
        int at_word_start = !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') ||
                              p[-1] == '_');
        for (size_t k = 0; at_word_start && k < sizeof kw / sizeof kw[0]; k++)
            if (starts_word(p, kw[k])) return 1;
    }
    return 0;
}

/* 1 when the statement has a RETURNING clause (outside quotes). */
static int has_returning(const char *p) {
    char quote = 0;
    for (const char *s = p; *s; s++) {
        if (quote) {
            if (*s == quote) quote = 0;
            continue;
        }
        if (*s == '\'' || *s == '"' || *s == '`') {
            quote = *s;
            continue;
        }
        if ((s == p || !(isalnum((unsigned char)s[-1]) || s[-1] == '_')) && starts_word(s, "RETURNING"))
            return 1;
    }
    return 0;
}

/* 1 when the statement calls one of silt's functions that commit on their own (outside
 * quotes). dqlite replicates only what a write request commits, so such a SELECT runs inside
 * BEGIN ... COMMIT sent as writes: the function's savepoint then only nests. */
static int calls_writing_function(const char *p) {
    static const char *const fn[] = {"silt_ingest", "silt_ingest_dir", "silt_model_register",
                                     "silt_model_import"};
    char quote = 0;
    for (const char *s = p; *s; s++) {
        if (quote) {
            if (*s == quote) quote = 0;
            continue;
        }
        if (*s == '\'' || *s == '"' || *s == '`') {
            quote = *s;
            continue;
        }
        if (s > p && (isalnum((unsigned char)s[-1]) || s[-1] == '_')) continue;
        for (size_t k = 0; k < sizeof fn / sizeof fn[0]; k++) {
            size_t n = strlen(fn[k]);
            if (strncasecmp(s, fn[k], n) != 0) continue;
            const char *t = s + n;
            while (isspace((unsigned char)*t)) t++;
            if (*t == '(') return 1;
        }
    }
    return 0;
}

/* 1 when the statement returns rows and must be sent as a query. dqlite replicates only
 * what goes through an exec request, and an exec that yields a row is an error, so the two
 * must not be confused. */
static int is_query(const char *stmt) {
    const char *p = skip_space(stmt);
    if (starts_word(p, "SELECT") || starts_word(p, "VALUES") || starts_word(p, "EXPLAIN"))
        return 1;
    if (starts_word(p, "WITH")) return !has_write_keyword(p + 4);
    if (starts_word(p, "PRAGMA")) return strchr(p, '=') == NULL;
    return 0;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects c to the current leader and opens the database; 0 or an exit status. */
static int connect_session(dqc_conn *c, const opts *o, int timeout_ms) {
    char *err = NULL;
    if (dqc_connect_leader(c, o->servers, timeout_ms, &err) != DQC_OK) {
        fprintf(stderr, "silt-sql: %s\n", err);
        free(err);
        return 2;
    }
    c->timeout_ms = o->timeout_ms;
    if (dqc_open(c, o->db_name, &err) != DQC_OK) {
        fprintf(stderr, "silt-sql: cannot open database '%s': %s\n", o->db_name, err);
        free(err);
        dqc_close(c);
        return 2;
    }
    return 0;
}

/* A connection and what silt-sql knows of its transaction state. */
typedef struct session {
    dqc_conn *c;
    const opts *o;
    int in_txn; /* 1 between a BEGIN the user sent and its COMMIT / END / ROLLBACK */
} session;

/* Sends stmt as a query or as a write; returns the exit status it deserves (0 ok). When
 * may_retry, a statement the node refused because it is no longer the leader is sent again to
 * the new one (nothing ran), and so is a query whose connection broke before it printed a
 * row; a write whose connection broke is never resent: it may have committed. */
static int send_statement(session *ss, const char *stmt, int query, int may_retry,
                          int64_t deadline) {
    dqc_conn *c = ss->c;
    const opts *o = ss->o;
    for (;;) {
        char *err = NULL;
        printer pr = {.header_pending = o->header};
        int rc;
        if (c->fd < 0) {
            if (!may_retry) {
                fprintf(stderr, "silt-sql: connection lost inside a transaction\n");
                return 3;
            }
            rc = connect_session(c, o, (int)(deadline - now_ms() > 100 ? deadline - now_ms() : 100));
            if (rc != 0) return rc;
        }
        if (query)
            rc = dqc_query_sql(c, stmt, print_row, &pr, &err);
        else
            rc = dqc_exec_sql(c, stmt, NULL, NULL, &err);
        fflush(stdout);
        if (rc == DQC_OK) return 0;
        int not_leader = rc == DQC_EFAIL && c->fail_code == DQC_NOT_LEADER;
        int retry = may_retry && (not_leader || (query && pr.n_rows == 0 && rc == DQC_EIO));
        if (retry && now_ms() < deadline) {
            free(err);
            dqc_close(c);
            continue;
        }
        int status;
        if (rc == DQC_EFAIL && c->fail_code == DQC_LEADERSHIP_LOST) {
            fprintf(stderr,
                    "silt-sql: %s: the leader lost its leadership during the statement (no "
                    "quorum?); its outcome is UNKNOWN\n",
                    err);
            status = 3;
        } else if (rc == DQC_EFAIL && !not_leader) {
            fprintf(stderr, "silt-sql: error: %s\n", err);
            status = 1;
        } else if (query && !ss->in_txn) {
            fprintf(stderr, "silt-sql: %s (the cluster may have lost its quorum)\n", err);
            status = 2;
        } else {
            fprintf(stderr,
                    "silt-sql: %s (the cluster may have lost its quorum); the outcome of the "
                    "statement in flight is UNKNOWN\n",
                    err);
            status = 3;
        }
        free(err);
        return status;
    }
}

/* Runs one statement as its kind requires; returns its exit status (0 ok). */
static int run_statement_once(session *ss, const char *stmt) {
    int64_t deadline = now_ms() + ss->o->timeout_ms;
    int query = is_query(stmt);
    if (!query && !ss->o->raw && has_returning(stmt)) {
        fprintf(stderr,
                "silt-sql: error: RETURNING cannot run in a cluster: libdqlite 1.11 would not "
                "replicate the write (silt-node refuses it); run the statement without it\n");
        return 1;
    }
    if (query && !ss->in_txn && !ss->o->raw && calls_writing_function(stmt)) {
        int status = send_statement(ss, "BEGIN", 0, 1, deadline);
        if (status) return status;
        status = send_statement(ss, stmt, 1, 0, deadline);
        if (status == 0) return send_statement(ss, "COMMIT", 0, 0, deadline);
        if (ss->c->fd >= 0) send_statement(ss, "ROLLBACK", 0, 0, deadline);
        return status;
    }
    int status = send_statement(ss, stmt, query, !ss->in_txn, deadline);
    if (status == 0) {
        const char *p = skip_space(stmt);
        if (starts_word(p, "BEGIN"))
            ss->in_txn = 1;
        else if (starts_word(p, "COMMIT") || starts_word(p, "END") ||
                 (starts_word(p, "ROLLBACK") && !strstr(p, "TO") && !strstr(p, "to")))
            ss->in_txn = 0;
    }
    return status;
}

/* Runs one statement, timed when --timer; returns its exit status (0 ok). */
static int run_statement(session *ss, const char *stmt) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = run_statement_once(ss, stmt);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ss->o->timer)
        printf("Run Time: real %.6f\n",
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return status;
}

/* Splits text into complete statements (sqlite3_complete) and runs them in order, stopping
 * at the first failure. */
static int run_text(session *ss, const char *text) {
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    if (!buf) return fprintf(stderr, "silt-sql: out of memory\n"), 1;
    size_t start = 0;
    int status = 0;
    for (size_t i = 0; i < n && status == 0; i++) {
        if (text[i] != ';') continue;
        size_t len = i + 1 - start;
        memcpy(buf, text + start, len);
        buf[len] = 0;
        if (!sqlite3_complete(buf)) continue;
        if (*skip_space(buf) != ';') status = run_statement(ss, buf);
        start = i + 1;
    }
    if (status == 0 && start < n) {
        memcpy(buf, text + start, n - start);
        buf[n - start] = 0;
        if (*skip_space(buf)) status = run_statement(ss, buf);
    }
    free(buf);
    return status;
}

static char *read_stdin(void) {
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t r;
    while ((r = fread(s + len, 1, cap - len - 1, stdin)) > 0) {
        len += r;
        if (cap - len - 1 == 0) {
            char *p = realloc(s, cap * 2);
            if (!p) return free(s), NULL;
            s = p;
            cap *= 2;
        }
    }
    s[len] = 0;
    return s;
}

static const char *role_name(int role) {
    return role == DQC_VOTER ? "voter" : role == DQC_STANDBY ? "standby" : "spare";
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: silt-sql -s HOST:PORT[,HOST:PORT...] [-d DB] [--timeout-ms N] [--header] [--timer]\n"
            "                [--leader | --cluster | --transfer ID | SQL...]\n"
            "Runs SQL (arguments, else standard input) through the cluster's leader.\n"
            "  -d DB            database name in the cluster (default: silt)\n"
            "  --timeout-ms N   give up after N ms without a leader or an answer (default 10000)\n"
            "  --header         print column names first\n"
            "  --timer          print \"Run Time: real SECONDS\" after each statement\n"
            "  --raw            send statements as they are (no BEGIN/COMMIT around SELECTs\n"
            "                   that call silt_ingest or silt_model_*, no RETURNING check)\n"
            "  --leader         print the leader's id and address\n"
            "  --cluster        print every member: id, address, role\n"
            "  --transfer ID    hand the leadership to voter ID\n"
            "Exit: 0 ok, 1 SQL error, 2 no leader (no quorum?), 3 outcome unknown.\n");
}

int main(int argc, char **argv) {
    opts o = {.db_name = "silt", .timeout_ms = 10000};
    int want_leader = 0, want_cluster = 0;
    uint64_t transfer_to = 0;
    static const struct option longopts[] = {
        {"servers", required_argument, 0, 's'}, {"db", required_argument, 0, 'd'},
        {"timeout-ms", required_argument, 0, 't'}, {"header", no_argument, 0, 'H'},
        {"leader", no_argument, 0, 'L'},        {"cluster", no_argument, 0, 'C'},
        {"transfer", required_argument, 0, 'T'},   {"timer", no_argument, 0, 'R'},
        {"raw", no_argument, 0, 'W'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "s:d:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            o.servers = optarg;
            break;
        case 'd':
            o.db_name = optarg;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v <= 0 || v > 3600000) {
                fprintf(stderr, "silt-sql: --timeout-ms '%s': expected 1..3600000\n", optarg);
                return 64;
            }
            o.timeout_ms = (int)v;
            break;
        }
        case 'H':
            o.header = 1;
            break;
        case 'R':
            o.timer = 1;
            break;
        case 'W':
            o.raw = 1;
            break;
        case 'L':
            want_leader = 1;
            break;
        case 'C':
            want_cluster = 1;
            break;
        case 'T': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || end == optarg || optarg[0] == '-' || v == 0) {
                fprintf(stderr, "silt-sql: --transfer '%s': expected a node id (1, 2, ...)\n", optarg);
                return 64;
            }
            transfer_to = v;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (!o.servers) {
        fprintf(stderr, "silt-sql: -s HOST:PORT[,...] is required\n");
        usage(stderr);
        return 64;
    }
    dqc_conn c;
    char *err = NULL;
    if (dqc_connect_leader(&c, o.servers, o.timeout_ms, &err) != DQC_OK) {
        fprintf(stderr, "silt-sql: %s\n", err);
        free(err);
        return 2;
    }
    int status = 0;
    if (transfer_to) {
        int rc = dqc_transfer(&c, transfer_to, &err);
        if (rc != DQC_OK) {
            fprintf(stderr, "silt-sql: cannot transfer the leadership to %llu: %s\n",
                    (unsigned long long)transfer_to, err);
            status = rc == DQC_EFAIL ? 1 : 2;
        }
        free(err);
        dqc_close(&c);
        return status;
    }
    if (want_leader || want_cluster) {
        uint64_t id = 0;
        char *addr = NULL;
        dqc_server *s = NULL;
        size_t n = 0;
        if (want_leader && dqc_leader(&c, &id, &addr, &err) == DQC_OK)
            printf("%llu %s\n", (unsigned long long)id, addr);
        else if (want_cluster && dqc_cluster(&c, &s, &n, &err) == DQC_OK)
            for (size_t i = 0; i < n; i++)
                printf("%llu %s %s\n", (unsigned long long)s[i].id, s[i].address,
                       role_name(s[i].role));
        if (err) {
            fprintf(stderr, "silt-sql: %s\n", err);
            status = 2;
        }
        free(addr);
        dqc_servers_free(s, n);
        free(err);
        dqc_close(&c);
        return status;
    }
    c.timeout_ms = o.timeout_ms;
    if (dqc_open(&c, o.db_name, &err) != DQC_OK) {
        fprintf(stderr, "silt-sql: cannot open database '%s': %s\n", o.db_name, err);
        free(err);
        dqc_close(&c);
        return 2;
    }
    session ss = {.c = &c, .o = &o};
    if (optind < argc) {
        for (int i = optind; i < argc && status == 0; i++) status = run_text(&ss, argv[i]);
    } else {
        char *text = read_stdin();
        if (!text) {
            fprintf(stderr, "silt-sql: out of memory reading standard input\n");
            status = 1;
        } else {
            status = run_text(&ss, text);
            free(text);
        }
    }
    dqc_close(&c);
    return status;
}
