/* digest.c: SHA-256 through libcrypto's EVP interface (see digest.h). */
#include "ingest/digest.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct silt_digest {
    EVP_MD_CTX *ctx;
    int failed; /* an EVP call failed, or the digest was finished: no more input */
};

silt_digest *silt_digest_new(void) {
    silt_digest *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(d->ctx);
        free(d);
        return NULL;
    }
    return d;
}

void silt_digest_update(silt_digest *d, const void *p, size_t n) {
    if (!d->failed && n && EVP_DigestUpdate(d->ctx, p, n) != 1) d->failed = 1;
}

int silt_digest_hex(silt_digest *d, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    hex[0] = '\0';
    if (d->failed || EVP_DigestFinal_ex(d->ctx, md, &len) != 1 || len != 32) {
        d->failed = 1;
        return -1;
    }
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    d->failed = 1;
    return 0;
}

void silt_digest_free(silt_digest *d) {
    if (!d) return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}
