/* fuzz_ingest_opts.c: libFuzzer target for what silt_ingest parses before any I/O: the
 * options JSON (ingest/options.c) and the URL or path (ingest/fetch.c: scheme check and
 * normalisation, and the file name taken from a URL). First byte even: the rest is an
 * options object; odd: a URL. Oracle: a normalised URL is http, https or file, and
 * normalising it again gives the same URL.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_ingest_opts tests/fuzz/corpus/ingest_opts */
#include "tests/fuzz/fuzz_util.h"

#include <strings.h>

#include "ingest/fetch.h"
#include "ingest/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char *s = fuzz_cstr(data + 1, size - 1);
    char *err = NULL;
    if ((data[0] & 1) == 0) {
        silt_ingest_opts o;
        silt_ingest_opts_default(&o);
        (void)silt_ingest_opts_parse(s, &o, &err);
        silt_ingest_opts_free(&o);
    } else {
        char *url = silt_fetch_normalize_url(s, &err);
        if (url) {
            FUZZ_CHECK(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0 ||
                       strncmp(url, "file://", 7) == 0);
            char *again = silt_fetch_normalize_url(url, NULL);
            FUZZ_CHECK(again && strcmp(again, url) == 0);
            free(again);
            (void)silt_fetch_is_file(url);
            free(silt_fetch_basename(url));
            free(url);
        }
        free(silt_fetch_basename(s));
    }
    free(err);
    free(s);
    return 0;
}
