/* fetch.h: streaming download of one URL through libcurl, for silt_ingest.
 *
 * The body is handed to a callback chunk by chunk as it arrives (never held whole in
 * memory). Schemes: http, https (certificates verified) and file; redirects only to http and
 * https, at most max_redirects of them; every other scheme is refused before any I/O. Proxies
 * come from the environment (http_proxy, https_proxy, no_proxy: libcurl's defaults).
 * Content-Encoding (gzip, deflate, br, zstd) is removed by libcurl; a gzip *file* is the
 * caller's business (ingest/gunzip.h). A transfer that ends early (connection dropped before
 * Content-Length bytes or before the last chunk) is an error, as are HTTP statuses >= 400,
 * timeouts, and more than max_bytes bytes.
 *
 *   silt_fetch_info info;
 *   silt_fetch_sink sink = {.data = my_data, .ctx = me};
 *   if (silt_fetch(url, &opts, &sink, &info, &err)) ...;
 *   ... info.sha256, info.etag ...
 *   silt_fetch_info_free(&info); */
#ifndef SILT_INGEST_FETCH_H
#define SILT_INGEST_FETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct silt_fetch_opts {
    long timeout_ms;               /* whole transfer, 0 = no limit */
    long connect_timeout_ms;       /* 0 = libcurl's default (300 s) */
    long max_redirects;            /* 0 = a redirect is an error */
    int64_t max_bytes;             /* body size limit, 0 = no limit */
    const char *if_none_match;     /* http: send If-None-Match (an ETag), or NULL */
    const char *if_modified_since; /* http: send If-Modified-Since (an HTTP date), or NULL */
} silt_fetch_opts;

typedef struct silt_fetch_info {
    long http_status;    /* final HTTP status; 0 for file: */
    int not_modified;    /* the server answered 304 to a conditional request: no body */
    int stopped;         /* the begin callback asked to stop; no error */
    char *etag;          /* ETag of the response (for file: a validator made from the
                            file's size and modification time), malloc'd or NULL */
    char *last_modified; /* Last-Modified (for file: the file's mtime), malloc'd or NULL */
    char *content_type;  /* Content-Type, malloc'd or NULL */
    int64_t n_bytes;     /* body bytes received (after Content-Encoding is removed) */
    int64_t expect_bytes; /* the body's announced size (Content-Length, a file's size),
                            known before the first byte; <= 0 when unknown. A hint only:
                            a compressed body decodes to more */
    char sha256[65];     /* sha256 of those bytes, lowercase hex ("" until the end) */
} silt_fetch_info;

typedef struct silt_fetch_sink {
    /* Called once the response headers are known, before the first body byte (also for an
     * empty body). Returns 0 to go on, 1 to stop the transfer quietly (info->stopped), -1
     * with *err set to fail. May be NULL. */
    int (*begin)(void *ctx, const silt_fetch_info *info, char **err);
    /* Called with each chunk of the body. 0, or -1 with *err set to fail. */
    int (*data)(void *ctx, const char *p, size_t n_bytes, char **err);
    /* Called a few times a second while the transfer runs (also when no data arrives).
     * 0, or -1 with *err set to abort (e.g. the statement was interrupted). May be NULL. */
    int (*tick)(void *ctx, char **err);
    void *ctx;
} silt_fetch_sink;

/* Normalises a URL or a local path into the URL that is fetched and recorded: "http://",
 * "https://" and "file://" URLs are kept (scheme lowercased), any other scheme is refused,
 * and a path without a scheme becomes a file:// URL of its absolute path. Returns a malloc'd
 * string, or NULL with *err set. */
char *silt_fetch_normalize_url(const char *url_or_path, char **err);

/* Starts libcurl's one-time global initialisation (~2 ms: OpenSSL's) on a thread of its
 * own, once per process, so that it overlaps the caller's own setup instead of delaying the
 * first transfer, which waits for it if it is still running. The caller must call
 * silt_fetch_warm_up_wait before it returns to code that may end the process: a process
 * that exits while OpenSSL initialises crashes in its exit handlers. */
void silt_fetch_warm_up(void);
/* Waits until the warm-up thread (if any) has finished. */
void silt_fetch_warm_up_wait(void);

/* 1 when url (normalised) is a file: URL. */
int silt_fetch_is_file(const char *url);

/* The local path a file: URL names, percent-decoded (malloc'd), or NULL with *err set. */
char *silt_fetch_file_path(const char *url, char **err);

/* For a file: URL, the validators silt_fetch would report (etag from size and mtime,
 * last_modified), without reading the file. 0, or -1 with *err set (no such file...). */
int silt_fetch_file_validators(const char *url, char **etag, char **last_modified, char **err);

/* t (seconds since 1970-01-01 UTC, negative before) as an HTTP date (RFC 9110 IMF-fixdate,
 * "Sun, 06 Nov 1994 08:49:37 GMT"), the form last_modified takes for a file. */
void silt_fetch_http_date(int64_t t, char out[64]);

/* Runs the transfer. Returns 0 (info filled; free it with silt_fetch_info_free) or -1 with
 * *err set (info still needs freeing). */
int silt_fetch(const char *url, const silt_fetch_opts *opts, const silt_fetch_sink *sink,
               silt_fetch_info *info, char **err);
void silt_fetch_info_free(silt_fetch_info *info);

/* The last path segment of url without query or fragment, percent-decoded (malloc'd; NULL
 * when out of memory). "https://x/a/b.csv.gz?y=1" gives "b.csv.gz". */
char *silt_fetch_basename(const char *url);

#endif
