// bf16 (bfloat16): the top 16 bits of an IEEE f32. Widening is exact; narrowing rounds to the
// nearest even, as torch does. Frozen base weights are stored this way (halving their memory);
// the GEMMs over them round the f32 operand the same way, so every kernel computes the same
// exact products and only the order of the f32 sums differs. The helpers are static, so each
// kernel level's build keeps its own copy (no build's instructions stand in for another's).
#pragma once
#include <cstdint>
#include <cstring>

namespace tk {

static inline float bf16ToFloat(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

static inline uint16_t floatToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu) != 0) return 0x7fc0;  // a quiet NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/** f rounded to the nearest bf16, as an f32. */
static inline float roundToBf16(float f) { return bf16ToFloat(floatToBf16(f)); }

}  // namespace tk
