/* fetch.c: streaming download through libcurl (see fetch.h).
 *
 * One easy handle per transfer (handles are cheap next to a file load, and a fresh one keeps
 * connections from leaking state between calls). CURLOPT_NOSIGNAL because the host may be
 * multi-threaded; curl_global_init runs once under pthread_once. */
#include "ingest/fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "ingest/digest.h"
#include "ingest/hasher.h"
#include "include/silt.h"

/* libcurl's read buffer for a transfer. Larger chunks mean fewer callbacks into the parser,
 * but the buffer is fresh memory for every transfer and the first chunk waits for all of it:
 * with 512 KiB a 3 MB file's first byte reached the parser ~2 ms later than with 64 KiB
 * (its 128 pages faulted in, then a 512 KiB read), and 64 KiB chunks cost nothing
 * measurable on a 500 MB file. */
#define FETCH_BUFFER_BYTES (64 * 1024)
/* Bytes hashed on the transfer's own thread before the rest goes to a hashing thread
 * (hasher.h): below this a thread costs more than it saves. */
#define FETCH_HASH_INLINE_BYTES ((int64_t)16 << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void *curl_init_thread(void *arg) {
    (void)arg;
    pthread_once(&curl_once, curl_init_once);
    return NULL;
}

/* The warm-up thread: 0 never started, 1 started and not yet joined, 2 joined (or it could
 * not be started: the first transfer then initialises libcurl itself). */
static pthread_mutex_t warm_mu = PTHREAD_MUTEX_INITIALIZER;
static int warm_state;
static pthread_t warm_thread;

void silt_fetch_warm_up(void) {
    pthread_mutex_lock(&warm_mu);
    if (warm_state == 0) warm_state = pthread_create(&warm_thread, NULL, curl_init_thread, NULL) == 0 ? 1 : 2;
    pthread_mutex_unlock(&warm_mu);
}

void silt_fetch_warm_up_wait(void) {
    pthread_mutex_lock(&warm_mu);
    if (warm_state == 1) {
        pthread_join(warm_thread, NULL);
        warm_state = 2;
    }
    pthread_mutex_unlock(&warm_mu);
}

/* ---- URLs and paths ---------------------------------------------------------------- */

static int is_scheme_char(char c, int first) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return !first && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.');
}

/* Length of the scheme when s starts with "<scheme>://", else 0. */
static size_t scheme_len(const char *s) {
    size_t i = 0;
    while (s[i] && is_scheme_char(s[i], i == 0)) i++;
    return i > 0 && strncmp(s + i, "://", 3) == 0 ? i : 0;
}

int silt_fetch_is_file(const char *url) { return strncasecmp(url, "file://", 7) == 0; }

static char *percent_encode_path(const char *path) {
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path);
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/-._~!$&'()*+,;=:@", c)) {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = 0;
    return out;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s into a malloc'd string (NULL when out of memory). */
static char *percent_decode(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            out[k++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = 0;
    return out;
}

/* The local path of a file: URL (malloc'd), or NULL with *err set. */
static char *file_url_path(const char *url, char **err) {
    const char *p = url + 7;
    if (strncasecmp(p, "localhost/", 10) == 0) p += 9;
    if (*p != '/') {
        silt_err(err, "file URL '%s' must name an absolute path on this host (file:///path)", url);
        return NULL;
    }
    size_t n = strcspn(p, "?#");
    char *path = percent_decode(p, n);
    if (!path) silt_err(err, "out of memory");
    return path;
}

char *silt_fetch_file_path(const char *url, char **err) { return file_url_path(url, err); }

char *silt_fetch_normalize_url(const char *in, char **err) {
    if (!in || !*in) {
        silt_err(err, "empty URL");
        return NULL;
    }
    size_t sl = scheme_len(in);
    if (sl) {
        char scheme[16] = "";
        if (sl < sizeof scheme)
            for (size_t i = 0; i < sl; i++) scheme[i] = (char)(in[i] | 0x20);
        if (strcmp(scheme, "http") && strcmp(scheme, "https") && strcmp(scheme, "file")) {
            silt_err(err, "URL scheme '%.*s' is not allowed (expected http, https or file)",
                     (int)sl, in);
            return NULL;
        }
        char *out = strdup(in);
        if (!out) {
            silt_err(err, "out of memory");
            return NULL;
        }
        memcpy(out, scheme, sl);
        return out;
    }
    /* A local path: absolute and canonical, so that the same file is the same source in
     * silt_sources whatever the working directory. */
    char *abs = realpath(in, NULL);
    if (!abs) {
        silt_err(err, "cannot open '%s': %s", in, strerror(errno));
        return NULL;
    }
    char *enc = percent_encode_path(abs);
    free(abs);
    char *out = enc ? malloc(strlen(enc) + 8) : NULL;
    if (!out) {
        free(enc);
        silt_err(err, "out of memory");
        return NULL;
    }
    sprintf(out, "file://%s", enc);
    free(enc);
    return out;
}

char *silt_fetch_basename(const char *url) {
    size_t sl = scheme_len(url);
    const char *p = sl ? url + sl + 3 : url;
    if (sl) {
        const char *slash = strchr(p, '/');
        p = slash ? slash : p + strlen(p); /* skip the host */
    }
    size_t n = strcspn(p, "?#");
    const char *last = p;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '/') last = p + i + 1;
    return percent_decode(last, (size_t)(p + n - last));
}

/* The calendar is computed here rather than with gmtime_r: glibc's first gmtime_r reads
 * the time zone (/etc/localtime), which put ~0.3 ms on the path to a local file's first
 * byte for a date that is UTC by definition. Days since 1970-01-01 to a proleptic
 * Gregorian date, counting in 400-year eras of 146,097 days that start on 1 March (so that
 * the leap day ends a year); valid for every time_t a file can carry. */
void silt_fetch_http_date(int64_t t, char out[64]) {
    static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400); /* floor */
    int64_t sec = t - day * 86400;
    int64_t z = day + 719468; /* days since 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                  /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);            /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                 /* March = 0 */
    int64_t mday = doy - (153 * mp + 2) / 5 + 1;
    int64_t mon = mp < 10 ? mp + 2 : mp - 10; /* January = 0 */
    int64_t year = yoe + era * 400 + (mon <= 1);
    int64_t wday = ((day % 7) + 7) % 7; /* 1970-01-01 was a Thursday */
    snprintf(out, 64, "%s, %02d %s %04lld %02d:%02d:%02d GMT", days[wday], (int)mday, months[mon],
             (long long)year, (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
}

int silt_fetch_file_validators(const char *url, char **etag, char **last_modified, char **err) {
    *etag = *last_modified = NULL;
    char *path = file_url_path(url, err);
    if (!path) return -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        silt_err(err, "cannot open '%s': %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        silt_err(err, "'%s' is a directory (silt_ingest_dir loads a directory)", path);
        free(path);
        return -1;
    }
    free(path);
    char e[96], lm[64];
    snprintf(e, sizeof e, "\"%lld-%lld.%09ld\"", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    silt_fetch_http_date((int64_t)st.st_mtim.tv_sec, lm);
    *etag = strdup(e);
    *last_modified = strdup(lm);
    if (!*etag || !*last_modified) {
        free(*etag), free(*last_modified);
        *etag = *last_modified = NULL;
        return silt_err(err, "out of memory");
    }
    return 0;
}

/* ---- the transfer ------------------------------------------------------------------ */

typedef struct fetch_ctx {
    CURL *curl;
    const silt_fetch_opts *opts;
    const silt_fetch_sink *sink;
    silt_fetch_info *info;
    silt_digest *digest; /* SHA-256 of the body */
    silt_hasher *hasher; /* hashes what follows the first FETCH_HASH_INLINE_BYTES */
    int began;      /* begin was called */
    int failed;     /* a callback failed; err holds why */
    char *err;      /* callback error message */
    int is_file;    /* file: URL (validators come from stat, not headers) */
} fetch_ctx;

static void set_str(char **dst, const char *s, size_t n) {
    free(*dst);
    *dst = NULL;
    while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' ')) n--;
    while (n && *s == ' ') s++, n--;
    *dst = strndup(s, n); /* NULL when out of memory: the validator is then just unknown */
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
    fetch_ctx *fc = ud;
    size_t n = size * nmemb;
    if (fc->is_file) return n;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (redirect chain) */
        free(fc->info->etag), free(fc->info->last_modified);
        fc->info->etag = fc->info->last_modified = NULL;
    } else if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        set_str(&fc->info->etag, p + 5, n - 5);
    } else if (n > 14 && strncasecmp(p, "Last-Modified:", 14) == 0) {
        set_str(&fc->info->last_modified, p + 14, n - 14);
    }
    return n;
}

/* Fills the header-derived fields of info and calls the sink's begin. 0, 1 (stop), -1. */
static int do_begin(fetch_ctx *fc) {
    fc->began = 1;
    long status = 0;
    if (!fc->is_file) curl_easy_getinfo(fc->curl, CURLINFO_RESPONSE_CODE, &status);
    fc->info->http_status = status;
    char *ct = NULL;
    if (curl_easy_getinfo(fc->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
        fc->info->content_type = strdup(ct);
    }
    curl_off_t len = -1;
    if (curl_easy_getinfo(fc->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len > 0)
        fc->info->expect_bytes = (int64_t)len;
    if (!fc->sink->begin) return 0;
    int rc = fc->sink->begin(fc->sink->ctx, fc->info, &fc->err);
    if (rc < 0) fc->failed = 1;
    if (rc > 0) fc->info->stopped = 1;
    return rc;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud) {
    fetch_ctx *fc = ud;
    size_t n = size * nmemb;
    if (!fc->began && do_begin(fc) != 0) return 0;
    int64_t max = fc->opts->max_bytes;
    if (max > 0 && fc->info->n_bytes + (int64_t)n > max) {
        silt_err(&fc->err, "larger than max_bytes (%lld bytes)", (long long)max);
        fc->failed = 1;
        return 0;
    }
    if (fc->hasher) {
        silt_hasher_feed(fc->hasher, p, n);
    } else {
        silt_digest_update(fc->digest, p, n);
        if (fc->info->n_bytes + (int64_t)n >= FETCH_HASH_INLINE_BYTES) fc->hasher = silt_hasher_start(fc->digest);
    }
    fc->info->n_bytes += (int64_t)n;
    if (fc->sink->data(fc->sink->ctx, p, n, &fc->err)) {
        fc->failed = 1;
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    fetch_ctx *fc = ud;
    if (!fc->sink->tick) return 0;
    if (fc->sink->tick(fc->sink->ctx, &fc->err)) {
        fc->failed = 1;
        return 1;
    }
    return 0;
}

/* Turns a libcurl failure into a message naming the limit or status involved. */
static int curl_failure(fetch_ctx *fc, CURLcode rc, const char *errbuf, char **err) {
    const silt_fetch_opts *o = fc->opts;
    long status = 0;
    curl_easy_getinfo(fc->curl, CURLINFO_RESPONSE_CODE, &status);
    switch (rc) {
    case CURLE_HTTP_RETURNED_ERROR:
        return silt_err(err, "HTTP status %ld", status);
    case CURLE_OPERATION_TIMEDOUT:
        if (o->timeout_ms > 0 && strstr(errbuf, "onnect") == NULL)
            return silt_err(err, "timed out after %ld ms (timeout_ms) with %lld bytes received",
                            o->timeout_ms, (long long)fc->info->n_bytes);
        return silt_err(err, "timed out (%s)", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    case CURLE_TOO_MANY_REDIRECTS:
        return silt_err(err, "more than %ld redirects (max_redirects)", o->max_redirects);
    case CURLE_PARTIAL_FILE:
        return silt_err(err, "transfer ended early after %lld bytes (connection dropped?): %s",
                        (long long)fc->info->n_bytes, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    case CURLE_UNSUPPORTED_PROTOCOL:
        return silt_err(err, "redirected to a scheme that is not allowed (only http and https): %s",
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
    case CURLE_FILESIZE_EXCEEDED:
        return silt_err(err, "larger than max_bytes (%lld bytes)", (long long)o->max_bytes);
    case CURLE_FILE_COULDNT_READ_FILE:
        return silt_err(err, "cannot read the file: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    default:
        return silt_err(err, "transfer failed (curl error %d): %s", (int)rc,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
}

void silt_fetch_info_free(silt_fetch_info *info) {
    free(info->etag);
    free(info->last_modified);
    free(info->content_type);
    memset(info, 0, sizeof *info);
}

int silt_fetch(const char *url, const silt_fetch_opts *opts, const silt_fetch_sink *sink,
               silt_fetch_info *info, char **err) {
    memset(info, 0, sizeof *info);
    size_t sl = scheme_len(url);
    if (!sl) return silt_err(err, "'%s' is not a URL", url);
    fetch_ctx fc = {.opts = opts, .sink = sink, .info = info, .is_file = silt_fetch_is_file(url)};
    if (fc.is_file &&
        silt_fetch_file_validators(url, &info->etag, &info->last_modified, err))
        return -1;
    /* Before waiting for libcurl's initialisation, which the warm-up thread is usually
     * still running (2-3 ms, OpenSSL's setup mostly): the digest's first use costs ~1 ms
     * too (libcrypto looks up SHA-256 in its provider), and the two overlap this way.
     * libcrypto initialises itself safely from any thread. */
    fc.digest = silt_digest_new();
    if (!fc.digest) return silt_err(err, "out of memory (SHA-256 context)");
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        silt_digest_free(fc.digest);
        return silt_err(err, "libcurl initialisation failed: %s", curl_easy_strerror(curl_init_rc));
    }
    CURL *c = curl_easy_init();
    if (!c) {
        silt_digest_free(fc.digest);
        return silt_err(err, "libcurl: cannot create a transfer handle");
    }
    fc.curl = c;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    char line[1024];
    int bad = 0;
    if (opts->if_none_match) {
        snprintf(line, sizeof line, "If-None-Match: %s", opts->if_none_match);
        struct curl_slist *h2 = curl_slist_append(hdrs, line);
        bad |= !h2;
        if (h2) hdrs = h2;
    }
    if (opts->if_modified_since) {
        snprintf(line, sizeof line, "If-Modified-Since: %s", opts->if_modified_since);
        struct curl_slist *h2 = curl_slist_append(hdrs, line);
        bad |= !h2;
        if (h2) hdrs = h2;
    }
    bad |= curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_MAXREDIRS, opts->max_redirects) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)FETCH_BUFFER_BYTES) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "silt/" SILT_VERSION) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &fc) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &fc) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, &fc) != CURLE_OK;
    bad |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
    if (opts->timeout_ms > 0) bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opts->timeout_ms) != CURLE_OK;
    if (opts->connect_timeout_ms > 0)
        bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms) != CURLE_OK;
    if (opts->max_bytes > 0)
        bad |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_bytes) != CURLE_OK;
    if (hdrs) bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK;
    if (bad) {
        silt_digest_free(fc.digest);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        return silt_err(err, "libcurl does not accept the transfer options (libcurl too old?)");
    }

    CURLcode rc = curl_easy_perform(c);
    int result = 0;
    if (fc.failed) {
        result = -1;
        if (err) {
            free(*err);
            *err = fc.err;
            fc.err = NULL;
        }
    } else if (rc == CURLE_WRITE_ERROR && info->stopped) {
        result = 0;
    } else if (rc != CURLE_OK) {
        result = curl_failure(&fc, rc, errbuf, err);
    } else {
        long status = 0;
        if (!fc.is_file) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 304) {
            info->http_status = 304;
            info->not_modified = 1;
        } else if (!fc.began && do_begin(&fc) < 0) {
            result = -1;
            if (err) {
                free(*err);
                *err = fc.err;
                fc.err = NULL;
            }
        }
    }
    free(fc.err);
    if (fc.hasher) silt_hasher_finish(fc.hasher);
    if (result == 0 && !info->stopped && !info->not_modified && silt_digest_hex(fc.digest, info->sha256))
        result = silt_err(err, "libcrypto could not compute the SHA-256 of the download");
    silt_digest_free(fc.digest);
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return result;
}
