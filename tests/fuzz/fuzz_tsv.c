/* fuzz_tsv.c: libFuzzer target for TSV (ingest/csv_reader.c with '\t' and no quoting, the
 * ingest default for .tsv) and the schema inference on top; see fuzz_delimited.h.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_tsv tests/fuzz/corpus/tsv */
#include "tests/fuzz/fuzz_delimited.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_delimited('\t', SILT_CSV_NO_QUOTE, data, size);
}
