/* varint.h: LEB128 unsigned 32-bit varints (7 bits per byte, high bit = more follows), the
 * integer compression of the sparse index's streams. */
#ifndef SILT_VARINT_H
#define SILT_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes x takes. */
static inline size_t silt_vlen(uint32_t x) {
    size_t n = 1;
    while (x >= 0x80) x >>= 7, n++;
    return n;
}

/* Writes x at p (room for 5 bytes); returns the bytes written. */
static inline size_t silt_vput(uint8_t *p, uint32_t x) {
    size_t n = 0;
    while (x >= 0x80) p[n++] = (uint8_t)(x | 0x80), x >>= 7;
    p[n++] = (uint8_t)x;
    return n;
}

/* Reads a varint at *pp and advances it. Unchecked: for streams validated beforehand. */
static inline uint32_t silt_vget(const uint8_t **pp) {
    const uint8_t *p = *pp;
    uint32_t x = p[0] & 0x7f;
    if (p[0] < 0x80) {
        *pp = p + 1;
        return x;
    }
    int sh = 7;
    size_t i = 1;
    for (;;) {
        x |= (uint32_t)(p[i] & 0x7f) << sh;
        if (p[i++] < 0x80) break;
        sh += 7;
    }
    *pp = p + i;
    return x;
}

/* Checked read for validation: 0 and *out, or -1 when the varint runs past end or over 32
 * bits. */
static inline int silt_vget_checked(const uint8_t **pp, const uint8_t *end, uint32_t *out) {
    const uint8_t *p = *pp;
    uint64_t x = 0;
    for (int i = 0; i < 5; i++) {
        if (p >= end) return -1;
        x |= (uint64_t)(*p & 0x7f) << (7 * i);
        if (*p++ < 0x80) {
            if (x > UINT32_MAX) return -1;
            *out = (uint32_t)x;
            *pp = p;
            return 0;
        }
    }
    return -1;
}

#endif
