/* src/hash/group.h - the map's porting header: matching a group of 16
 * control bytes (abseil's and hashbrown's "group"; Go 1.24 uses 8).
 *
 * A control byte is EMPTY (0x80), DELETED (0xfe, a tombstone) or, for a
 * full slot, the low 7 bits of its key's hash (h2: 0x00..0x7f). A group is
 * 16 consecutive control bytes, 16-byte aligned. Each primitive returns a
 * 16-bit mask, bit i for byte i:
 *
 *   rt_group_match(g, h2)    bytes equal to h2 (candidates; a false match
 *                            is possible, 1 in 128 per full slot)
 *   rt_group_empty(g)        EMPTY bytes
 *   rt_group_free(g)         EMPTY or DELETED bytes (high bit set)
 *
 * x86-64: SSE2 (baseline), one compare and one movemask each. Other
 * targets: the same on two 64-bit words (SWAR: exact for empty and free;
 * match may report a false positive next to a true one, which the key
 * comparison rejects). A port adds its vector version here. */
#ifndef GORT_HASH_GROUP_H
#define GORT_HASH_GROUP_H

#include <stdint.h>
#include <string.h>

#define RT_GROUP 16
#define RT_CTRL_EMPTY 0x80
#define RT_CTRL_DELETED 0xfe

#if defined(__SSE2__) && !defined(GORT_GROUP_SWAR) /* (tests force SWAR) */
#include <emmintrin.h>

typedef __m128i rt_group;
static inline rt_group rt_group_load(const uint8_t *ctrl) { return _mm_load_si128((const __m128i *)(const void *)ctrl); }
static inline uint32_t rt_group_match(rt_group g, uint8_t h2)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_set1_epi8((char)h2)));
}
static inline uint32_t rt_group_empty(rt_group g)
{
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(g, _mm_set1_epi8((char)RT_CTRL_EMPTY)));
}
static inline uint32_t rt_group_free(rt_group g) { return (uint32_t)_mm_movemask_epi8(g); }

#else /* SWAR */

typedef struct rt_group {
    uint64_t w[2];
} rt_group;
static inline rt_group rt_group_load(const uint8_t *ctrl)
{
    rt_group g;
    memcpy(g.w, ctrl, 16);
    return g;
}
/* The high bit of each byte of a word, gathered into 8 bits. */
static inline uint32_t rt_swar_bits(uint64_t hi)
{
    return (uint32_t)(((hi >> 7) & 0x0101010101010101ull) * 0x0102040810204080ull >> 56);
}
static inline uint32_t rt_group_match(rt_group g, uint8_t h2)
{
    uint32_t m = 0;
    for (int i = 0; i < 2; i++) {
        uint64_t x = g.w[i] ^ (0x0101010101010101ull * h2);
        m |= rt_swar_bits((x - 0x0101010101010101ull) & ~x & 0x8080808080808080ull) << (8 * i);
    }
    return m;
}
static inline uint32_t rt_group_empty(rt_group g)
{
    uint32_t m = 0;
    for (int i = 0; i < 2; i++) /* EMPTY is the only control byte with bits 7 set and 1 clear */
        m |= rt_swar_bits(g.w[i] & ~(g.w[i] << 6) & 0x8080808080808080ull) << (8 * i);
    return m;
}
static inline uint32_t rt_group_free(rt_group g)
{
    return rt_swar_bits(g.w[0] & 0x8080808080808080ull) | rt_swar_bits(g.w[1] & 0x8080808080808080ull) << 8;
}
#endif

#endif /* GORT_HASH_GROUP_H */
