/* sha256.h: SHA-256 (FIPS 180-4), streaming, used for the provenance of model weights and
 * ingested files.
 *
 *   silt_sha256 h;
 *   silt_sha256_init(&h);
 *   silt_sha256_update(&h, buf, n_bytes);   // any number of times
 *   char hex[65];
 *   silt_sha256_hex(&h, hex);                // 64 lowercase hex digits + NUL
 *
 * (Header restored by the ingest engineer after an accidental overwrite; the declarations
 * follow core/sha256.c.) */
#ifndef SILT_SHA256_H
#define SILT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct silt_sha256 {
    uint32_t state[8];  /* hash words H0..H7 */
    uint64_t n_bytes;   /* message length so far */
    uint8_t block[64];  /* input that does not fill a block yet */
    size_t n_block;     /* bytes used in block */
} silt_sha256;

void silt_sha256_init(silt_sha256 *h);
void silt_sha256_update(silt_sha256 *h, const void *data, size_t n_bytes);
/* Writes the 32-byte digest; h must be re-initialised before reuse. */
void silt_sha256_final(silt_sha256 *h, uint8_t digest[32]);
/* Finishes h and writes the digest as 64 lowercase hex digits and a NUL. */
void silt_sha256_hex(silt_sha256 *h, char hex[65]);
/* Digest of a whole file as hex. Returns 0, or -1 with *err set (core/err.h). */
int silt_sha256_file(const char *path, char hex[65], char **err);

#endif
