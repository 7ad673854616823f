/* csv_reader.h: CSV and TSV records (RFC 4180: quoted fields, doubled quotes,
 * embedded newlines, CRLF or LF line ends), a UTF-8 byte-order mark at the start skipped.
 *
 * Fields are kept byte for byte, spaces included (RFC 4180); blank lines are skipped. In
 * strict mode a stray quote or an unterminated quoted field is an error naming the line:
 * "line 7: malformed quoted field". */
#ifndef SILT_INGEST_CSV_READER_H
#define SILT_INGEST_CSV_READER_H

#include "ingest/reader.h"

/* No quoting at all: a quote character is an ordinary byte (the usual TSV). */
#define SILT_CSV_NO_QUOTE (-1)

/* A reader for fields separated by delimiter (',' or '\t' or any byte but a quote, CR or
 * LF), quoted with quote (a byte, or SILT_CSV_NO_QUOTE). Returns NULL with *err set on bad
 * arguments or out of memory. */
silt_reader *silt_csv_reader_new(char delimiter, int quote, silt_rows *rows, char **err);

#endif
