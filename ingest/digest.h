/* digest.h: SHA-256 of downloads (silt_sources.sha256), through OpenSSL's libcrypto. Its
 * x86-64 code uses the CPU's SHA extensions and ran 1.35x faster here than the hand-written
 * SHA-NI loop this replaced (64 MB, same process; bench/README.md, ingest), and every load
 * hashes every byte it reads. core/sha256.c stays for the small digests that need no
 * allocation (model identities, column digests).
 *
 *   silt_digest *d = silt_digest_new();     // NULL when out of memory
 *   silt_digest_update(d, p, n);            // any number of times
 *   char hex[65];
 *   if (silt_digest_hex(d, hex) == 0) ...   // 64 lowercase hex digits + NUL
 *   silt_digest_free(d);
 */
#ifndef SILT_INGEST_DIGEST_H
#define SILT_INGEST_DIGEST_H

#include <stddef.h>

typedef struct silt_digest silt_digest;

silt_digest *silt_digest_new(void);
void silt_digest_update(silt_digest *d, const void *p, size_t n);
/* Finishes the digest. 0, or -1 when libcrypto failed at any step (the hex is then empty). */
int silt_digest_hex(silt_digest *d, char hex[65]);
void silt_digest_free(silt_digest *d);

#endif
