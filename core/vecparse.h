/* vecparse.h: reading float32 vectors from JSON text and checking float32 BLOBs. */
#ifndef SILT_VECPARSE_H
#define SILT_VECPARSE_H

#include <stddef.h>

/* Parses a JSON array of numbers, e.g. "[1, 2.5, -3e-2]", into a malloc'd float array.
 * Rejects anything else, non-numbers, values that are not finite in float32, and empty
 * arrays, with a message naming the element. */
int silt_vec_from_json(const char *text, size_t len, float **out, int *dim, char **err);

/* Checks a little-endian float32 BLOB: non-empty, length a multiple of 4, every value
 * finite. On success *dim is the element count. */
int silt_vec_check_blob(const void *blob, size_t n_bytes, int *dim, char **err);

/* Writes v as a JSON array into a malloc'd string, each value printed with the fewest
 * digits that read back to the same float32. */
char *silt_vec_to_json(const float *v, int dim);

#endif
