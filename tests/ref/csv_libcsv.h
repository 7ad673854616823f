/* csv_libcsv.h: the libcsv-based reference CSV reader (see csv_libcsv.c). */
#ifndef SILT_TESTS_REF_CSV_LIBCSV_H
#define SILT_TESTS_REF_CSV_LIBCSV_H

#include "ingest/csv_reader.h"

/* As silt_csv_reader_new. */
silt_reader *silt_ref_csv_reader_new(char delimiter, int quote, silt_rows *rows, char **err);

#endif
