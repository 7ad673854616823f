/* test_ingest_fetch.c: URL handling, file:// downloads with their hash and limits, gzip
 * streams, table names for silt_ingest_dir, and interrupted loads (suite ingest). */
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/err.h"
#include "core/sha256.h"
#include "ingest/fetch.h"
#include "ingest/gunzip.h"
#include "ingest/hasher.h"
#include "ingest/pipeline.h"
#include "ingest/digest.h"
#include "sqlext/ingest_load.h"
#include "testutil.h"

static char *norm_err(const char *url) {
    char *err = NULL;
    char *u = silt_fetch_normalize_url(url, &err);
    free(u);
    return err;
}

Test(ingest, urls_only_http_https_file) {
    char *err = NULL;
    char *u = silt_fetch_normalize_url("HTTPS://Example.org/a.csv", &err);
    cr_assert_str_eq(u, "https://Example.org/a.csv");
    free(u);
    const char *refused[] = {"ftp://x/y", "gopher://x", "scp://h/f", "dict://x", "ldap://x", "sftp://x/y"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char *e = norm_err(refused[i]);
        cr_assert(e && strstr(e, "is not allowed (expected http, https or file)"), "%s", refused[i]);
        free(e);
    }
    char *e = norm_err("/no/such/file.csv");
    cr_assert(e && strstr(e, "cannot open '/no/such/file.csv'"), "%s", e ? e : "");
    free(e);
    e = norm_err("");
    cr_assert(e && strstr(e, "empty URL"));
    free(e);
}

Test(ingest, local_paths_become_encoded_file_urls) {
    char dir[] = "/tmp/silt-ingest-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a b%%.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("x\n1\n", f);
    fclose(f);
    char *err = NULL;
    char *u = silt_fetch_normalize_url(path, &err);
    char want[300];
    snprintf(want, sizeof want, "file://%s/a%%20b%%25.csv", dir);
    cr_assert_str_eq(u, want);
    char *base = silt_fetch_basename(u);
    cr_assert_str_eq(base, "a b%.csv");
    free(base);
    char *etag = NULL, *lm = NULL;
    cr_assert_eq(silt_fetch_file_validators(u, &etag, &lm, &err), 0, "%s", err ? err : "");
    cr_assert(etag && strncmp(etag, "\"4-", 3) == 0, "%s", etag);
    cr_assert(lm && strstr(lm, " GMT"));
    free(etag), free(lm), free(u);
    cr_assert_eq(silt_fetch_file_validators("file:///no/such", &etag, &lm, &err), -1);
    cr_assert(strstr(err, "cannot open"));
    free(err);
    err = NULL;
    char durl[300];
    snprintf(durl, sizeof durl, "file://%s", dir);
    cr_assert_eq(silt_fetch_file_validators(durl, &etag, &lm, &err), -1);
    cr_assert(strstr(err, "is a directory"));
    free(err);
    unlink(path);
    rmdir(dir);
}

/* silt_fetch_http_date against the C library's calendar (gmtime_r, and strftime in the C
 * locale for the names) on fixed dates (RFC 9110's example, leap days, the ends of 32-bit time, times
 * before 1970) and on a sweep of a million years at uneven steps. */
static void expect_http_date(int64_t t) {
    char got[64], want[128];
    silt_fetch_http_date(t, got);
    time_t tt = (time_t)t;
    struct tm tm;
    cr_assert_not_null(gmtime_r(&tt, &tm));
    /* strftime's %Y drops the zeros of years before 1000; HTTP dates have four digits. */
    char head[32], tail[32];
    strftime(head, sizeof head, "%a, %d %b", &tm);
    strftime(tail, sizeof tail, "%H:%M:%S GMT", &tm);
    snprintf(want, sizeof want, "%s %04d %s", head, tm.tm_year + 1900, tail);
    cr_assert_str_eq(got, want, "t = %lld", (long long)t);
}

Test(ingest, http_dates_match_the_c_library) {
    char d[64];
    silt_fetch_http_date(784111777, d);
    cr_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    const int64_t fixed[] = {0, -1, 1, 86399, 86400, -86400, -86401, 951782400 /* 2000-02-29 */,
                             4107542400 /* 2100-03-01 */, 2147483647, -2147483648LL,
                             -62135596800LL /* 0001-01-01 */, 253402300799LL /* 9999-12-31 */};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) expect_http_date(fixed[i]);
    for (int64_t t = -62135596800LL; t < 253402300799LL; t += 86400LL * 365 + 12345 * 7 + 1)
        expect_http_date(t);
    for (int64_t t = 946684800 - 86400 * 400LL; t < 946684800 + 86400 * 400LL; t += 3600 * 7 + 13)
        expect_http_date(t);
}

Test(ingest, basenames_and_formats) {
    char *b = silt_fetch_basename("https://h/x/y.csv.gz?token=1#f");
    cr_assert_str_eq(b, "y.csv.gz");
    free(b);
    b = silt_fetch_basename("https://host");
    cr_assert_str_eq(b, "");
    free(b);
    cr_assert_eq(silt_pipeline_format_from_name("a.CSV"), SILT_FMT_CSV);
    cr_assert_eq(silt_pipeline_format_from_name("a.tsv.gz"), SILT_FMT_TSV);
    cr_assert_eq(silt_pipeline_format_from_name("a.ndjson"), SILT_FMT_JSONL);
    cr_assert_eq(silt_pipeline_format_from_name("a.gz"), SILT_FMT_AUTO);
    cr_assert_eq(silt_pipeline_format_from_name("data"), SILT_FMT_AUTO);
}

Test(ingest, table_names_from_paths) {
    const char *cases[][2] = {
        {"pollster-ratings/2021/raw-polls.csv", "pollster_ratings_2021_raw_polls"},
        {"a.csv.gz", "a"},
        {"x.json.csv", "x_json"},
        {"2020.csv", "t_2020"},
        {"sqlite_stat.csv", "t_sqlite_stat"},
        {"---.csv", "t_"},
        {"Caf\xc3\xa9 Menu.tsv", "Caf_Menu"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *n = silt_ingest_table_name(cases[i][0]);
        cr_assert_str_eq(n, cases[i][1], "%s", cases[i][0]);
        sqlite3_free(n);
    }
}

/* ---- file:// downloads ---- */

typedef struct sink_buf {
    char data[4096];
    size_t n;
} sink_buf;

static int sink_data(void *ctx, const char *p, size_t n, char **err) {
    sink_buf *b = ctx;
    if (b->n + n > sizeof b->data) return silt_err(err, "test buffer full");
    memcpy(b->data + b->n, p, n);
    b->n += n;
    return 0;
}

/* Counts the bytes only (for downloads larger than sink_buf). */
static int sink_count(void *ctx, const char *p, size_t n, char **err) {
    (void)p, (void)err;
    ((sink_buf *)ctx)->n += n;
    return 0;
}

static void write_file(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fwrite(data, 1, n, f);
    fclose(f);
}

Test(ingest, fetch_file_streams_hashes_and_limits) {
    char path[] = "/tmp/silt-fetch-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    write_file(path, "abc", 3);
    char url[128];
    snprintf(url, sizeof url, "file://%s", path);
    sink_buf b = {0};
    silt_fetch_sink sink = {.data = sink_data, .ctx = &b};
    silt_fetch_opts o = {.max_redirects = 3};
    silt_fetch_info info;
    char *err = NULL;
    cr_assert_eq(silt_fetch(url, &o, &sink, &info, &err), 0, "%s", err ? err : "");
    cr_assert_eq(b.n, 3);
    cr_assert_eq(info.n_bytes, 3);
    cr_assert_eq(info.expect_bytes, 3, "a file announces its size");
    cr_assert_str_eq(info.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert(info.etag && info.last_modified);
    silt_fetch_info_free(&info);
    o.max_bytes = 2;
    b.n = 0;
    cr_assert_eq(silt_fetch(url, &o, &sink, &info, &err), -1);
    cr_assert(err && strstr(err, "larger than max_bytes (2 bytes)"), "%s", err ? err : "");
    silt_fetch_info_free(&info);
    free(err);
    err = NULL;
    cr_assert_eq(silt_fetch("ftp://example.org/x", &o, &sink, &info, &err), -1);
    silt_fetch_info_free(&info);
    free(err);
    unlink(path);
}

/* ---- gzip ---- */

/* Gzip-compresses src into a malloc'd buffer. */
static unsigned char *gz(const char *src, size_t n, size_t *out_n) {
    z_stream z = {0};
    cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)src;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_n = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static int collect(void *ctx, const char *p, size_t n, char **err) {
    (void)err;
    sink_buf *b = ctx;
    cr_assert(b->n + n <= sizeof b->data);
    memcpy(b->data + b->n, p, n);
    b->n += n;
    return 0;
}

/* Decodes in chunks of `chunk` bytes; returns 0 or -1 (message in *err). */
static int gunzip_all(const unsigned char *in, size_t n, size_t chunk, int64_t max_out, sink_buf *out, char **err) {
    out->n = 0;
    silt_gunzip *g = silt_gunzip_new(collect, out, max_out, err);
    cr_assert(g);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < n; off += chunk)
        rc = silt_gunzip_feed(g, (const char *)in + off, n - off < chunk ? n - off : chunk, err);
    if (rc == 0) rc = silt_gunzip_finish(g, err);
    silt_gunzip_free(g);
    return rc;
}

Test(ingest, gunzip_members_padding_truncation_and_limits) {
    const char *a = "id,amount\n1,10\n", *b = "2,20\n";
    size_t na, nb;
    unsigned char *ga = gz(a, strlen(a), &na), *gb = gz(b, strlen(b), &nb);
    unsigned char both[512];
    memcpy(both, ga, na);
    memcpy(both + na, gb, nb);
    memset(both + na + nb, 0, 8); /* zero padding after the last member */
    cr_assert(silt_gunzip_magic(both, 2));
    cr_assert(!silt_gunzip_magic("id", 2));
    sink_buf out;
    char *err = NULL;
    for (size_t chunk = 1; chunk <= na + nb + 8; chunk++) {
        cr_assert_eq(gunzip_all(both, na + nb + 8, chunk, 0, &out, &err), 0, "chunk %zu: %s", chunk, err ? err : "");
        cr_assert_eq(out.n, strlen(a) + strlen(b));
        cr_assert_eq(memcmp(out.data, "id,amount\n1,10\n2,20\n", out.n), 0);
    }
    cr_assert_eq(gunzip_all(both, na - 3, 7, 0, &out, &err), -1);
    cr_assert(strstr(err, "truncated"), "%s", err);
    free(err);
    err = NULL;
    both[na] = 'x'; /* garbage after the first member */
    cr_assert_eq(gunzip_all(both, na + nb, 64, 0, &out, &err), -1);
    cr_assert(strstr(err, "after the end of the gzip stream"), "%s", err);
    free(err);
    err = NULL;
    cr_assert_eq(gunzip_all(ga, na, 64, 5, &out, &err), -1);
    cr_assert(strstr(err, "larger than max_bytes"), "%s", err);
    free(err);
    err = NULL;
    unsigned char bad[64];
    memcpy(bad, ga, na);
    bad[12] ^= 0xff; /* corrupt deflate data */
    int rc = gunzip_all(bad, na, 64, 0, &out, &err);
    if (rc == 0) cr_assert_neq(memcmp(out.data, a, strlen(a)), 0);
    else cr_assert(strstr(err, "gzip"), "%s", err);
    free(err);
    free(ga);
    free(gb);
}

/* ---- interrupted loads ---- */

static int stop_after(void *ctx) {
    int *calls = ctx;
    return ++*calls > 2000;
}

Test(ingest, interrupted_load_leaves_nothing) {
    char path[] = "/tmp/silt-big-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("id,name,value\n", f);
    for (int i = 0; i < 200000; i++) fprintf(f, "%d,name %d,%d.5\n", i, i, i);
    fclose(f);
    sqlite3 *db = test_open(NULL);
    int calls = 0;
    sqlite3_progress_handler(db, 100, stop_after, &calls);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 'big')", path);
    assert_error(db, sql, "interrupted");
    sqlite3_progress_handler(db, 0, NULL, NULL);
    assert_query(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('big', 'silt_sources')", "0");
    assert_query(db, "SELECT sqlite_version() IS NOT NULL", "1"); /* the connection still works */
    /* and the same load runs to completion without the handler */
    assert_query(db, sql, "200000");
    assert_query(db, "SELECT sum(id) || '|' || typeof(value) FROM big", "19999900000|real");
    sqlite3_close(db);
    unlink(path);
}

/* The same inside a user's transaction: an interrupt rolls the transaction back, as SQLite
 * does for any interrupted write. */
Test(ingest, interrupted_load_inside_transaction) {
    char path[] = "/tmp/silt-big2-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    FILE *f = fdopen(fd, "w");
    fputs("id\n", f);
    for (int i = 0; i < 100000; i++) fprintf(f, "%d\n", i);
    fclose(f);
    sqlite3 *db = test_open(NULL);
    cr_assert_eq(sqlite3_exec(db, "BEGIN; CREATE TABLE mine(x);", NULL, NULL, NULL), SQLITE_OK);
    int calls = 0;
    sqlite3_progress_handler(db, 100, stop_after, &calls);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 'big')", path);
    assert_error(db, sql, "interrupted");
    sqlite3_progress_handler(db, 0, NULL, NULL);
    assert_query(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'big'", "0");
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    unlink(path);
}

/* libcrypto's digest equals core/sha256.c's (a FIPS 180-4 implementation checked against
 * the standard's vectors in test_models.c) for every length and split, and a finished digest
 * takes no more input. */
Test(ingest, digest_matches_portable) {
    static unsigned char b[3000];
    for (int i = 0; i < 3000; i++) b[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 0; n < 3000; n += 37)
        for (size_t split = 0; split <= n && split < 300; split += 29) {
            silt_sha256 a;
            silt_sha256_init(&a);
            silt_sha256_update(&a, b, n);
            silt_digest *d = silt_digest_new();
            cr_assert_not_null(d);
            silt_digest_update(d, b, split);
            silt_digest_update(d, b + split, n - split);
            char ha[65], hd[65];
            silt_sha256_hex(&a, ha);
            cr_assert_eq(silt_digest_hex(d, hd), 0);
            cr_assert_str_eq(hd, ha, "n=%zu split=%zu", n, split);
            silt_digest_free(d);
        }
    silt_digest *d = silt_digest_new();
    cr_assert_not_null(d);
    silt_digest_update(d, "abc", 3);
    char hex[65];
    cr_assert_eq(silt_digest_hex(d, hex), 0);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    silt_digest_update(d, "more", 4);
    cr_assert_eq(silt_digest_hex(d, hex), -1);
    cr_assert_str_eq(hex, "");
    silt_digest_free(d);
    silt_digest_free(NULL);
}

/* The hashing thread continues a running hash: any split of a stream between the caller
 * and the thread, fed in chunks of any size, gives the hash of the whole stream. */
Test(ingest, hasher_thread_continues_the_hash) {
    size_t n = ((size_t)9 << 20) + 12345;
    unsigned char *data = malloc(n);
    cr_assert_not_null(data);
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++) s = s * 1664525u + 1013904223u, data[i] = (unsigned char)(s >> 24);
    char want[65], got[65];
    silt_sha256 whole;
    silt_sha256_init(&whole);
    silt_sha256_update(&whole, data, n);
    silt_sha256_hex(&whole, want);
    const size_t splits[] = {0, 1, 63, 65536, (size_t)3 << 20};
    const size_t chunks[] = {1 << 16, 1000003, 7};
    for (size_t a = 0; a < sizeof splits / sizeof *splits; a++)
        for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
            if (chunks[c] == 7 && splits[a] != 0) continue; /* tiny chunks: once is enough */
            silt_digest *d = silt_digest_new();
            cr_assert_not_null(d);
            silt_digest_update(d, data, splits[a]);
            silt_hasher *h = silt_hasher_start(d);
            cr_assert_not_null(h);
            for (size_t at = splits[a]; at < n; at += chunks[c])
                silt_hasher_feed(h, data + at, n - at < chunks[c] ? n - at : chunks[c]);
            silt_hasher_finish(h);
            cr_assert_eq(silt_digest_hex(d, got), 0);
            silt_digest_free(d);
            cr_assert_str_eq(got, want, "split %zu, chunks of %zu", splits[a], chunks[c]);
        }
    free(data);
}

/* A download long enough to be hashed on the hashing thread has the file's hash. */
Test(ingest, fetch_long_file_hash) {
    char path[] = "/tmp/silt-fetch-long-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = ((size_t)20 << 20) + 777;
    char *buf = malloc(n);
    cr_assert_not_null(buf);
    for (size_t i = 0; i < n; i++) buf[i] = (char)('a' + (i * 31 + i / 4099) % 26);
    cr_assert_eq(write(fd, buf, n), (ssize_t)n);
    close(fd);
    free(buf);
    char want[65];
    char *err = NULL;
    cr_assert_eq(silt_sha256_file(path, want, &err), 0);
    char url[128];
    snprintf(url, sizeof url, "file://%s", path);
    sink_buf b = {0};
    silt_fetch_sink sink = {.data = sink_count, .ctx = &b};
    silt_fetch_opts o = {.max_redirects = 3};
    silt_fetch_info info;
    cr_assert_eq(silt_fetch(url, &o, &sink, &info, &err), 0, "%s", err ? err : "");
    cr_assert_eq(info.n_bytes, (int64_t)n);
    cr_assert_eq(b.n, n);
    cr_assert_str_eq(info.sha256, want);
    silt_fetch_info_free(&info);
    unlink(path);
}

/* Pages the connection's cache holds now (SQLITE_DBSTATUS_CACHE_USED, bytes). */
static int cache_used(sqlite3 *db) {
    int cur = 0, hi = 0;
    cr_assert_eq(sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0), SQLITE_OK);
    return cur;
}

/* A load into a table it creates runs with a small page cache (its pages are written once,
 * in order: a large cache only takes fresh memory) and puts the connection's setting back,
 * whether it succeeds or fails. The cache is not emptied when its size is put back, so what
 * it holds after the load shows the size during it: ~100 pages, not the 3 MB a 3,000 KiB
 * cache would have kept of this 4 MB table. An append keeps the connection's cache (the
 * table may have indexes to read). */
Test(ingest, a_new_table_loads_through_a_small_cache_then_the_setting_is_restored) {
    char csv[] = "/tmp/silt-cache-XXXXXX.csv", dbp[] = "/tmp/silt-cache-XXXXXX.db";
    int fd = mkstemps(csv, 4);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    fputs("id,name,note\n", f);
    for (int i = 0; i < 40000; i++) fprintf(f, "%d,name %d,a note of some length for row %d\n", i, i, i);
    cr_assert_eq(fclose(f), 0);
    int dfd = mkstemps(dbp, 3);
    cr_assert(dfd >= 0);
    close(dfd);
    sqlite3 *db = test_open(dbp);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA cache_size = -3000", NULL, NULL, NULL), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 'big')", csv);
    assert_query(db, sql, "40000");
    assert_query(db, "PRAGMA cache_size", "-3000");
    cr_assert_lt(cache_used(db), 1 << 20, "%d bytes cached after the load", cache_used(db));
    assert_query(db, "SELECT count(*) || '|' || sum(id) FROM big", "40000|799980000");
    /* a load that fails half-way puts it back too */
    char bad[] = "/tmp/silt-cache-bad-XXXXXX.csv";
    fd = mkstemps(bad, 4);
    cr_assert(fd >= 0);
    f = fdopen(fd, "w");
    cr_assert(f);
    fputs("id,name\n", f);
    for (int i = 0; i < 30000; i++) fprintf(f, "%d,name %d\n", i, i);
    fputs("1,2,3\n", f);
    cr_assert_eq(fclose(f), 0);
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 'bad')", bad);
    assert_error(db, sql, "line 30002: 3 fields, expected 2");
    assert_query(db, "PRAGMA cache_size", "-3000");
    unlink(bad);
    /* appending (forced: the same source) keeps the connection's cache */
    cr_assert_eq(sqlite3_exec(db, "PRAGMA cache_size = -8000", NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 'big', '{\"if_exists\":\"append\",\"force\":true}')", csv);
    assert_query(db, sql, "40000");
    assert_query(db, "PRAGMA cache_size", "-8000");
    cr_assert_gt(cache_used(db), 2 << 20, "%d bytes cached after the append", cache_used(db));
    sqlite3_close(db);
    unlink(csv);
    unlink(dbp);
}
