/* jsonl_reader.h: JSON Lines records through cJSON: one JSON object per line (LF or CRLF),
 * blank lines skipped, a UTF-8 byte-order mark at the start skipped.
 *
 * The columns are the union of the keys, in the order they are first seen (reader->keys);
 * a key absent from a line is NULL. Values keep their JSON type: numbers with an integral
 * value below 2^53 in magnitude become integers (cJSON parses numbers as doubles, so 1.0 is
 * the integer 1 and larger integers are doubles), other numbers reals, true/false 1/0,
 * strings text, objects and arrays compact JSON text. A line that is not a JSON object is
 * an error naming it: "line 3: malformed JSON at column 9: '{"a":3,}'". */
#ifndef SILT_INGEST_JSONL_READER_H
#define SILT_INGEST_JSONL_READER_H

#include "ingest/reader.h"

silt_reader *silt_jsonl_reader_new(silt_rows *rows, char **err);

#endif
