// RMSNorm forward/backward and rotary position embedding (HF rotate_half convention).
#include "args.h"
#include "bindings.h"
#include "fast_math_kernels.h"

namespace tk {

static Napi::Value RmsNormForward(const Napi::CallbackInfo& info) {
  View<float> x = f32(info, 0, "x");
  View<float> w = f32OrNull(info, 1, "weight");
  View<float> out = f32(info, 2, "out"), rstd = f32(info, 3, "rstd");
  const int64_t rows = count(info, 4, "rows"), dim = count(info, 5, "dim");
  const float eps = static_cast<float>(number(info, 6, "eps"));
  requireLength(x, rows * dim, "x");
  requireLength(out, rows * dim, "out");
  requireLength(rstd, rows, "rstd");
  if (w.data) requireLength(w, dim, "weight");
  for (int64_t r = 0; r < rows; r++) {
    rstd.data[r] = fast::rmsNormRow(x.data + r * dim, w.data, out.data + r * dim, dim, eps);
  }
  return info.Env().Undefined();
}

static Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
  View<float> dout = f32(info, 0, "dout"), x = f32(info, 1, "x");
  View<float> w = f32OrNull(info, 2, "weight");
  View<float> rstd = f32(info, 3, "rstd"), dx = f32(info, 4, "dx");
  View<float> dw = f32OrNull(info, 5, "dweight");
  const int64_t rows = count(info, 6, "rows"), dim = count(info, 7, "dim");
  requireLength(dout, rows * dim, "dout");
  requireLength(x, rows * dim, "x");
  requireLength(dx, rows * dim, "dx");
  requireLength(rstd, rows, "rstd");
  if (w.data) requireLength(w, dim, "weight");
  if (dw.data) requireLength(dw, dim, "dweight");
  for (int64_t r = 0; r < rows; r++) {
    fast::rmsNormBackwardRow(dout.data + r * dim, x.data + r * dim, w.data, rstd.data[r], dx.data + r * dim, dw.data, dim);
  }
  return info.Env().Undefined();
}

// Pairs (i, i + half) rotate by the angle of (position, i); inverse rotates back (= backward).
static Napi::Value Rope(const Napi::CallbackInfo& info) {
  View<float> x = f32(info, 0, "x");
  View<int32_t> pos = i32(info, 1, "positions");
  View<float> cosT = f32(info, 2, "cos"), sinT = f32(info, 3, "sin");
  const int64_t rows = count(info, 4, "rows"), heads = count(info, 5, "heads"), hd = count(info, 6, "headDim");
  const bool inverse = boolean(info, 7, "inverse");
  if (hd % 2 != 0) throwRange("headDim must be even, got " + std::to_string(hd));
  const int64_t half = hd / 2;
  requireLength(x, rows * heads * hd, "x");
  requireLength(pos, rows, "positions");
  if (cosT.length != sinT.length) throwRange("cos and sin tables differ in length");
  const int64_t maxPos = half == 0 ? 0 : cosT.length / half;
  const float sign = inverse ? -1.f : 1.f;
  for (int64_t r = 0; r < rows; r++) {
    const int64_t p = pos.data[r];
    if (p < 0 || p >= maxPos) {
      throwRange("position " + std::to_string(p) + " is outside the rotary table of " + std::to_string(maxPos) + " positions");
    }
  }
  for (int64_t r = 0; r < rows; r++) {
    const float* c = cosT.data + pos.data[r] * half;
    const float* s = sinT.data + pos.data[r] * half;
    for (int64_t h = 0; h < heads; h++) {
      float* x1 = x.data + (r * heads + h) * hd;
      float* x2 = x1 + half;
      for (int64_t i = 0; i < half; i++) {
        const float a = x1[i], b = x2[i], si = sign * s[i];
        x1[i] = a * c[i] - b * si;
        x2[i] = b * c[i] + a * si;
      }
    }
  }
  return info.Env().Undefined();
}

void registerNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("rmsNormForward", Napi::Function::New(env, guarded<RmsNormForward>, "rmsNormForward"));
  exports.Set("rmsNormBackward", Napi::Function::New(env, guarded<RmsNormBackward>, "rmsNormBackward"));
  exports.Set("rope", Napi::Function::New(env, guarded<Rope>, "rope"));
}

}  // namespace tk
