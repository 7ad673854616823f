/* dqlite_client.c: the dqlite wire protocol, version 1, client side (see dqlite_client.h).
 *
 * A message is an 8-byte header (uint32 body length in 8-byte words, uint8 type, uint8
 * schema, uint16 unused) and a body of 8-byte aligned fields, all little-endian: uint64,
 * text (NUL-terminated, zero-padded to 8), blob (uint64 length, bytes, padding). Result rows
 * come in batches: column count, column names, then rows (a header of 4-bit type codes padded
 * to 8 bytes, then the values), closed by a marker saying whether another batch follows. */
#include "cluster/dqlite_client.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

#define PROTOCOL_VERSION 1

enum {
    REQ_LEADER = 0,
    REQ_OPEN = 3,
    REQ_EXEC_SQL = 8,
    REQ_QUERY_SQL = 9,
    REQ_ADD = 12,
    REQ_ASSIGN = 13,
    REQ_CLUSTER = 16,
    REQ_TRANSFER = 17,
};
enum {
    RES_FAILURE = 0,
    RES_SERVER = 1,
    RES_SERVERS = 3,
    RES_DB = 4,
    RES_RESULT = 6,
    RES_ROWS = 7,
    RES_EMPTY = 8,
};

#define ROWS_PART 0xeeeeeeeeeeeeeeeeULL /* this batch is over, another follows */
#define ROWS_DONE 0xffffffffffffffffULL /* the result set is complete */
#define MAX_BODY_BYTES ((size_t)1 << 30)

/* ---- time ------------------------------------------------------------------------------ */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request building ---------------------------------------------------------------- */

/* A growing request; oom is sticky so that callers check once at the end. */
typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static unsigned char *wbuf_grow(wbuf *w, size_t n) {
    if (w->oom) return NULL;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        while (cap < w->len + n) cap *= 2;
        unsigned char *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    unsigned char *at = w->p + w->len;
    memset(at, 0, n);
    w->len += n;
    return at;
}

static void put_u64(wbuf *w, uint64_t v) {
    unsigned char *at = wbuf_grow(w, 8);
    if (!at) return;
    uint64_t le = htole64(v);
    memcpy(at, &le, 8);
}

/* Text: bytes, NUL, zero padding to a multiple of 8. */
static void put_text(wbuf *w, const char *s) {
    size_t n = strlen(s) + 1;
    unsigned char *at = wbuf_grow(w, (n + 7) & ~(size_t)7);
    if (at) memcpy(at, s, n - 1);
}

/* Starts a request: room for the header, filled in by finish_request. */
static void start_request(wbuf *w) { wbuf_grow(w, 8); }

static void finish_request(wbuf *w, int type) {
    if (w->oom) return;
    uint32_t words = htole32((uint32_t)((w->len - 8) / 8));
    memcpy(w->p, &words, 4);
    w->p[4] = (unsigned char)type;
    w->p[5] = 0;
    w->p[6] = w->p[7] = 0;
}

/* ---- response parsing ------------------------------------------------------------------ */

typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

static int get_u64(cursor *cu, uint64_t *v) {
    if (cu->left < 8) return -1;
    uint64_t le;
    memcpy(&le, cu->p, 8);
    *v = le64toh(le);
    cu->p += 8;
    cu->left -= 8;
    return 0;
}

/* Points *s at a NUL-terminated text inside the body and skips its padding. */
static int get_text(cursor *cu, const char **s) {
    const unsigned char *nul = memchr(cu->p, 0, cu->left);
    if (!nul) return -1;
    size_t n = (size_t)(nul - cu->p) + 1;
    size_t padded = (n + 7) & ~(size_t)7;
    if (padded > cu->left) return -1;
    *s = (const char *)cu->p;
    cu->p += padded;
    cu->left -= padded;
    return 0;
}

static int get_blob(cursor *cu, const void **b, size_t *n_bytes) {
    uint64_t n;
    if (get_u64(cu, &n) != 0 || n > cu->left) return -1;
    size_t padded = ((size_t)n + 7) & ~(size_t)7;
    if (padded > cu->left) return -1;
    *b = cu->p;
    *n_bytes = (size_t)n;
    cu->p += padded;
    cu->left -= padded;
    return 0;
}

/* ---- socket I/O -------------------------------------------------------------------------- */

/* Waits until fd is ready for events or the deadline passes; 0 when ready. */
static int wait_fd(int fd, short events, int64_t deadline_ms) {
    for (;;) {
        int64_t left = deadline_ms - now_ms();
        if (left <= 0) return -1;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return -1;
    }
}

static int io_fail(dqc_conn *c, char **err, const char *what) {
    int e = errno;
    silt_err(err, "%s %s: %s", what, c->address,
             e == ETIMEDOUT || e == 0 ? "no answer within the timeout" : strerror(e));
    dqc_close(c);
    return DQC_EIO;
}

static int send_all(dqc_conn *c, const unsigned char *p, size_t n, int64_t deadline_ms,
                    char **err) {
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(c->fd, POLLOUT, deadline_ms) != 0) {
                errno = ETIMEDOUT;
                return io_fail(c, err, "sending to");
            }
            continue;
        }
        return io_fail(c, err, "sending to");
    }
    return DQC_OK;
}

static int recv_all(dqc_conn *c, unsigned char *p, size_t n, int64_t deadline_ms, char **err) {
    while (n > 0) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r > 0) {
            p += r;
            n -= (size_t)r;
            continue;
        }
        if (r == 0) {
            errno = ECONNRESET;
            return io_fail(c, err, "connection closed by");
        }
        if (errno == EAGAIN || errno == EINTR) {
            if (wait_fd(c->fd, POLLIN, deadline_ms) != 0) {
                errno = ETIMEDOUT;
                return io_fail(c, err, "reading from");
            }
            continue;
        }
        return io_fail(c, err, "reading from");
    }
    return DQC_OK;
}

/* Reads a failure's code and message. libdqlite 1.11 writes the failure of a query that
 * fails on its first step after the column count and names it had already put in the
 * buffer, so a body that does not parse as exactly (code, message) is tried as (column
 * count, names..., code, message). */
static void parse_failure(cursor cu, uint64_t *code, const char **msg) {
    cursor a = cu;
    if (get_u64(&a, code) == 0 && get_text(&a, msg) == 0 && a.left == 0) return;
    cursor b = cu;
    uint64_t n_cols;
    const char *name;
    if (get_u64(&b, &n_cols) == 0 && n_cols > 0 && n_cols < 32768) {
        uint64_t i = 0;
        while (i < n_cols && get_text(&b, &name) == 0) i++;
        if (i == n_cols && get_u64(&b, code) == 0 && get_text(&b, msg) == 0 && b.left == 0) return;
    }
    a = cu;
    *msg = NULL;
    if (get_u64(&a, code) != 0 || get_text(&a, msg) != 0) *msg = NULL;
}

/* Reads one message into c->buf; *type gets its type and cu covers its body. A FAILURE
 * message becomes DQC_EFAIL with the node's message in *err. */
static int read_response(dqc_conn *c, int *type, cursor *cu, int64_t deadline_ms, char **err) {
    unsigned char hdr[8];
    int rc = recv_all(c, hdr, 8, deadline_ms, err);
    if (rc != DQC_OK) return rc;
    uint32_t words;
    memcpy(&words, hdr, 4);
    size_t n = (size_t)le32toh(words) * 8;
    if (n > MAX_BODY_BYTES) {
        silt_err(err, "answer of %zu bytes from %s is larger than the 1 GiB limit", n, c->address);
        dqc_close(c);
        return DQC_EPROTO;
    }
    if (n > c->buf_cap_bytes) {
        unsigned char *p = realloc(c->buf, n);
        if (!p) {
            silt_err(err, "out of memory reading an answer of %zu bytes", n);
            dqc_close(c);
            return DQC_ENOMEM;
        }
        c->buf = p;
        c->buf_cap_bytes = n;
    }
    rc = recv_all(c, c->buf, n, deadline_ms, err);
    if (rc != DQC_OK) return rc;
    *type = hdr[4];
    cu->p = c->buf;
    cu->left = n;
    if (*type == RES_FAILURE) {
        uint64_t code = 0;
        const char *msg = NULL;
        parse_failure(*cu, &code, &msg);
        c->fail_code = code;
        silt_err(err, "%s", msg ? msg : "(unreadable failure message)");
        return DQC_EFAIL;
    }
    return DQC_OK;
}

static int proto_fail(dqc_conn *c, char **err, const char *what) {
    silt_err(err, "unexpected answer from %s: %s", c->address, what);
    dqc_close(c);
    return DQC_EPROTO;
}

/* Sends the request in w (freeing it) and reads the answer, which must be of type want. */
static int roundtrip(dqc_conn *c, wbuf *w, int req_type, int want, cursor *cu, char **err) {
    if (c->fd < 0) {
        free(w->p);
        return silt_err(err, "not connected"), DQC_EIO;
    }
    finish_request(w, req_type);
    if (w->oom) {
        free(w->p);
        return silt_err(err, "out of memory building a request"), DQC_ENOMEM;
    }
    int64_t deadline = now_ms() + c->timeout_ms;
    int rc = send_all(c, w->p, w->len, deadline, err);
    free(w->p);
    w->p = NULL;
    if (rc != DQC_OK) return rc;
    int type;
    rc = read_response(c, &type, cu, deadline, err);
    if (rc != DQC_OK) return rc;
    if (type != want) return proto_fail(c, err, "wrong message type");
    return DQC_OK;
}

/* ---- public API ---------------------------------------------------------------------------- */

int dqc_connect(dqc_conn *c, const char *address, int timeout_ms, char **err) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    snprintf(c->address, sizeof c->address, "%s", address);
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || colon[1] == 0)
        return silt_err(err, "bad address '%s': expected host:port", address), DQC_EIO;
    char host[256];
    size_t hn = (size_t)(colon - address);
    if (hn >= sizeof host) return silt_err(err, "host name too long in '%s'", address), DQC_EIO;
    memcpy(host, address, hn);
    host[hn] = 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &ai);
    if (g != 0) return silt_err(err, "cannot resolve '%s': %s", address, gai_strerror(g)), DQC_EIO;
    int64_t deadline = now_ms() + c->timeout_ms;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return silt_err(err, "socket: %s", strerror(errno)), DQC_EIO;
    }
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (r != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return silt_err(err, "%s: %s", address, strerror(e)), DQC_EIO;
    }
    if (r != 0) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (wait_fd(fd, POLLOUT, deadline) != 0) {
            close(fd);
            return silt_err(err, "%s: no connection within %d ms", address, c->timeout_ms),
                   DQC_EIO;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            close(fd);
            return silt_err(err, "%s: %s", address, strerror(soerr ? soerr : errno)), DQC_EIO;
        }
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    unsigned char hs[8];
    uint64_t v = htole64(PROTOCOL_VERSION);
    memcpy(hs, &v, 8);
    return send_all(c, hs, 8, deadline, err);
}

void dqc_close(dqc_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->db_open = 0;
    free(c->buf);
    c->buf = NULL;
    c->buf_cap_bytes = 0;
}

int dqc_leader(dqc_conn *c, uint64_t *id, char **address, char **err) {
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, 0);
    cursor cu;
    int rc = roundtrip(c, &w, REQ_LEADER, RES_SERVER, &cu, err);
    if (rc != DQC_OK) return rc;
    const char *a;
    if (get_u64(&cu, id) != 0 || get_text(&cu, &a) != 0)
        return proto_fail(c, err, "malformed leader answer");
    *address = strdup(a);
    if (!*address) return silt_err(err, "out of memory"), DQC_ENOMEM;
    return DQC_OK;
}

/* Appends "; what" to a malloc'd report (best effort: a failed append only shortens it). */
static void note(char **report, const char *what) {
    size_t old = *report ? strlen(*report) : 0;
    char *p = realloc(*report, old + strlen(what) + 3);
    if (!p) return;
    if (old) memcpy(p + old, "; ", 2), old += 2;
    strcpy(p + old, what);
    *report = p;
}

/* One pass over the servers; DQC_OK with c connected to the leader, else notes why not. */
static int try_servers(dqc_conn *c, const char *servers, int timeout_ms, char **report) {
    char *list = strdup(servers);
    if (!list) return DQC_ENOMEM;
    int rc = DQC_EIO;
    char *save = NULL;
    for (char *s = strtok_r(list, ",", &save); s && rc != DQC_OK; s = strtok_r(NULL, ",", &save)) {
        char *e = NULL, *addr = NULL;
        uint64_t id = 0;
        dqc_conn t;
        if (dqc_connect(&t, s, timeout_ms, &e) != DQC_OK || dqc_leader(&t, &id, &addr, &e) != DQC_OK) {
            note(report, e ? e : s);
        } else if (addr[0] == 0) {
            char m[300];
            snprintf(m, sizeof m, "%s: knows no leader", s);
            note(report, m);
        } else if (strcmp(addr, s) == 0) {
            *c = t;
            t.fd = -1;
            t.buf = NULL;
            rc = DQC_OK;
        } else {
            /* Ask the named leader itself: a deposed leader's followers may lag behind. */
            uint64_t id2 = 0;
            char *addr2 = NULL;
            dqc_conn l;
            if (dqc_connect(&l, addr, timeout_ms, &e) == DQC_OK &&
                dqc_leader(&l, &id2, &addr2, &e) == DQC_OK && id2 == id &&
                strcmp(addr2, addr) == 0) {
                *c = l;
                l.fd = -1;
                l.buf = NULL;
                rc = DQC_OK;
            } else {
                char m[600];
                snprintf(m, sizeof m, "%s: names leader %s, which %s", s, addr,
                         e ? e : "does not confirm it");
                note(report, m);
            }
            dqc_close(&l);
            free(addr2);
        }
        dqc_close(&t);
        free(addr);
        free(e);
    }
    free(list);
    return rc;
}

int dqc_connect_leader(dqc_conn *c, const char *servers, int timeout_ms, char **err) {
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
    char *report = NULL;
    for (;;) {
        free(report);
        report = NULL;
        int64_t left = deadline - now_ms();
        int rc = try_servers(c, servers, left < 1000 ? (left > 100 ? (int)left : 100) : 1000,
                             &report);
        if (rc == DQC_OK) {
            c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
            free(report);
            return DQC_OK;
        }
        if (rc == DQC_ENOMEM) {
            free(report);
            return silt_err(err, "out of memory"), DQC_ENOMEM;
        }
        if (now_ms() >= deadline) break;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    silt_err(err,
             "no leader found within %d ms (a cluster elects one only while a majority of its "
             "voters is up; without that quorum it cannot answer): %s",
             timeout_ms, report ? report : "no servers given");
    free(report);
    return DQC_EIO;
}

int dqc_cluster(dqc_conn *c, dqc_server **servers, size_t *n, char **err) {
    *servers = NULL;
    *n = 0;
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, 1); /* format 1: id, address and role */
    cursor cu;
    int rc = roundtrip(c, &w, REQ_CLUSTER, RES_SERVERS, &cu, err);
    if (rc != DQC_OK) return rc;
    uint64_t count;
    if (get_u64(&cu, &count) != 0 || count > cu.left / 24)
        return proto_fail(c, err, "malformed cluster answer");
    dqc_server *s = calloc(count ? count : 1, sizeof *s);
    if (!s) return silt_err(err, "out of memory"), DQC_ENOMEM;
    for (uint64_t i = 0; i < count; i++) {
        const char *a;
        uint64_t role;
        if (get_u64(&cu, &s[i].id) != 0 || get_text(&cu, &a) != 0 || get_u64(&cu, &role) != 0) {
            dqc_servers_free(s, (size_t)i);
            return proto_fail(c, err, "malformed cluster answer");
        }
        s[i].address = strdup(a);
        s[i].role = (int)role;
        if (!s[i].address) {
            dqc_servers_free(s, (size_t)i);
            return silt_err(err, "out of memory"), DQC_ENOMEM;
        }
    }
    *servers = s;
    *n = (size_t)count;
    return DQC_OK;
}

void dqc_servers_free(dqc_server *servers, size_t n) {
    for (size_t i = 0; servers && i < n; i++) free(servers[i].address);
    free(servers);
}

int dqc_add(dqc_conn *c, uint64_t id, const char *address, char **err) {
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, id);
    put_text(&w, address);
    cursor cu;
    return roundtrip(c, &w, REQ_ADD, RES_EMPTY, &cu, err);
}

int dqc_assign(dqc_conn *c, uint64_t id, int role, char **err) {
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, id);
    put_u64(&w, (uint64_t)role);
    cursor cu;
    return roundtrip(c, &w, REQ_ASSIGN, RES_EMPTY, &cu, err);
}

int dqc_transfer(dqc_conn *c, uint64_t id, char **err) {
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, id);
    cursor cu;
    return roundtrip(c, &w, REQ_TRANSFER, RES_EMPTY, &cu, err);
}

int dqc_open(dqc_conn *c, const char *name, char **err) {
    wbuf w = {0};
    start_request(&w);
    put_text(&w, name);
    put_u64(&w, 0);
    put_text(&w, "volatile");
    cursor cu;
    int rc = roundtrip(c, &w, REQ_OPEN, RES_DB, &cu, err);
    if (rc == DQC_OK) c->db_open = 1;
    return rc;
}

int dqc_exec_sql(dqc_conn *c, const char *sql, uint64_t *last_insert_id, uint64_t *changes,
                 char **err) {
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, 0); /* the one database of this connection */
    put_text(&w, sql);
    cursor cu;
    int rc = roundtrip(c, &w, REQ_EXEC_SQL, RES_RESULT, &cu, err);
    if (rc != DQC_OK) return rc;
    uint64_t id, n;
    if (get_u64(&cu, &id) != 0 || get_u64(&cu, &n) != 0)
        return proto_fail(c, err, "malformed result");
    if (last_insert_id) *last_insert_id = id;
    if (changes) *changes = n;
    return DQC_OK;
}

/* Decodes one batch of rows from cu, calling fn per row while *stop is 0; *more is set when
 * the node announced another batch. */
static int decode_rows(dqc_conn *c, cursor *cu, dqc_row_fn fn, void *ctx, int *stop, int *more,
                       char **err) {
    uint64_t n_cols;
    if (get_u64(cu, &n_cols) != 0 || n_cols == 0 || n_cols > 32767)
        return proto_fail(c, err, "malformed row batch");
    const char **names = calloc((size_t)n_cols, sizeof *names);
    dqc_value *vals = calloc((size_t)n_cols, sizeof *vals);
    if (!names || !vals) {
        free(names);
        free(vals);
        return silt_err(err, "out of memory"), DQC_ENOMEM;
    }
    int rc = DQC_OK;
    for (uint64_t i = 0; i < n_cols && rc == DQC_OK; i++)
        if (get_text(cu, &names[i]) != 0) rc = proto_fail(c, err, "malformed column name");
    size_t hdr_bytes = (((size_t)n_cols + 1) / 2 + 7) & ~(size_t)7;
    while (rc == DQC_OK) {
        uint64_t marker;
        cursor peek = *cu;
        if (get_u64(&peek, &marker) != 0) {
            rc = proto_fail(c, err, "row batch without end marker");
            break;
        }
        if (marker == ROWS_DONE || marker == ROWS_PART) {
            *more = marker == ROWS_PART;
            break;
        }
        if (cu->left < hdr_bytes) {
            rc = proto_fail(c, err, "truncated row");
            break;
        }
        const unsigned char *types = cu->p;
        cu->p += hdr_bytes;
        cu->left -= hdr_bytes;
        for (uint64_t i = 0; i < n_cols && rc == DQC_OK; i++) {
            dqc_value *v = &vals[i];
            memset(v, 0, sizeof *v);
            int t = (i % 2 == 0) ? (types[i / 2] & 0x0f) : (types[i / 2] >> 4);
            uint64_t u = 0;
            int bad = 0;
            switch (t) {
            case 1: /* integer */
            case 9: /* unix time */
            case 11: /* boolean */
                bad = get_u64(cu, &u);
                v->type = 1;
                v->i = (int64_t)u;
                break;
            case 2:
                bad = get_u64(cu, &u);
                v->type = 2;
                memcpy(&v->f, &u, 8);
                break;
            case 3:
            case 10: /* ISO-8601 text */
                bad = get_text(cu, &v->text);
                v->type = 3;
                break;
            case 4:
                bad = get_blob(cu, &v->blob, &v->blob_bytes);
                v->type = 4;
                break;
            case 5:
                bad = get_u64(cu, &u);
                v->type = 5;
                break;
            default:
                bad = 1;
            }
            if (bad) rc = proto_fail(c, err, "malformed row value");
        }
        if (rc == DQC_OK && fn && !*stop && fn(ctx, (int)n_cols, names, vals) != 0) *stop = 1;
    }
    free(names);
    free(vals);
    return rc;
}

int dqc_query_sql(dqc_conn *c, const char *sql, dqc_row_fn fn, void *ctx, char **err) {
    wbuf w = {0};
    start_request(&w);
    put_u64(&w, 0);
    put_text(&w, sql);
    cursor cu;
    int rc = roundtrip(c, &w, REQ_QUERY_SQL, RES_ROWS, &cu, err);
    int stop = 0;
    while (rc == DQC_OK) {
        int more = 0;
        rc = decode_rows(c, &cu, fn, ctx, &stop, &more, err);
        if (rc != DQC_OK || !more) break;
        int type;
        rc = read_response(c, &type, &cu, now_ms() + c->timeout_ms, err);
        if (rc == DQC_OK && type != RES_ROWS) rc = proto_fail(c, err, "wrong message type");
    }
    return rc;
}
