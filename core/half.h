/* half.h: IEEE binary16 (F16) and bfloat16 (BF16) to float32 conversion, for the weight
 * loaders (safetensors, GGUF). Exact: every half and bfloat16 value is a float32 value. */
#ifndef SILT_HALF_H
#define SILT_HALF_H

#include <stdint.h>
#include <string.h>

static inline float silt_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* binary16 bits -> float: subnormals are renormalised, Inf/NaN keep their payload. */
static inline float silt_half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return silt_f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return silt_f32_from_bits(sign);
        /* Subnormal: value = man * 2^-24, exact in float. */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return silt_f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

/* bfloat16 is the top half of a float32. */
static inline float silt_bf16_to_f32(uint16_t b) {
    return silt_f32_from_bits((uint32_t)b << 16);
}

/* Little-endian loads from possibly unaligned bytes (the formats are little-endian and this
 * project only builds on little-endian x86-64 / arm64, so memcpy is the whole story). */
static inline uint16_t silt_le16(const void *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint32_t silt_le32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline uint64_t silt_le64(const void *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif
