/* fuzz_jsonl.c: libFuzzer target for JSON Lines (ingest/jsonl_reader.c) and the column
 * naming and typing the ingest does on its keys (ingest/infer.c). The input is fed in
 * chunks whose size comes from the first byte. Oracles: chunking does not change the
 * outcome, and every record has at most as many fields as there are keys.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_jsonl tests/fuzz/corpus/jsonl */
#include "tests/fuzz/fuzz_util.h"

#include "ingest/infer.h"
#include "ingest/jsonl_reader.h"

static long read_all(const uint8_t *data, size_t size, size_t chunk, int infer) {
    silt_rows rows;
    silt_rows_init(&rows);
    char *err = NULL;
    silt_reader *rd = silt_jsonl_reader_new(&rows, &err);
    FUZZ_CHECK(rd);
    int bad = 0;
    for (size_t at = 0; at < size && !bad;) {
        size_t take = size - at < chunk ? size - at : chunk;
        bad = rd->feed(rd, (const char *)data + at, take, &err) != 0;
        at += take;
    }
    if (!bad) bad = rd->finish(rd, &err) != 0;
    long n = bad ? -1 : (long)rows.n_rows;
    if (!bad) {
        for (size_t i = 0; i < rows.n_rows; i++) FUZZ_CHECK(rows.rows[i].n_fields <= rd->n_keys);
        if (infer && rd->n_keys) {
            char **names = silt_infer_names((const char *const *)rd->keys, rd->n_keys, NULL);
            FUZZ_CHECK(names);
            silt_infer_free_names(names, rd->n_keys);
            for (size_t j = 0; j < rd->n_keys; j++) {
                silt_colstats st = {0};
                for (size_t i = 0; i < rows.n_rows; i++)
                    silt_colstats_add(&st, &rows, silt_rows_field(&rows, i, j));
                (void)silt_colstats_type(&st);
            }
        }
    }
    free(err);
    silt_reader_free(rd);
    silt_rows_free(&rows);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    size_t chunk = 1 + data[0] % 23;
    long whole = read_all(data + 1, size - 1, size, 1);
    long pieces = read_all(data + 1, size - 1, chunk, 0);
    FUZZ_CHECK(whole == pieces);
    return 0;
}
