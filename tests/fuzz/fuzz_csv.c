/* fuzz_csv.c: libFuzzer target for CSV (ingest/csv_reader.c with ',' and '"') and the
 * schema inference on top (ingest/infer.c); see fuzz_delimited.h.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_csv tests/fuzz/corpus/csv */
#include "tests/fuzz/fuzz_delimited.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_delimited(',', '"', data, size);
}
