// SwiGLU, embedding gather/scatter, AdamW and the small vector helpers.
#include <cmath>

#include "args.h"
#include "bindings.h"
#include "fast_math_kernels.h"
#include "parallel.h"

namespace tk {

// Elements per thread worth splitting a streaming loop for.
static constexpr int64_t kElementGrain = int64_t{1} << 18;

static Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  View<float> gate = f32(info, 0, "gate"), up = f32(info, 1, "up"), out = f32(info, 2, "out");
  const int64_t n = count(info, 3, "n");
  requireLength(gate, n, "gate");
  requireLength(up, n, "up");
  requireLength(out, n, "out");
  parallelRanges(n, kElementGrain, [&](int64_t b, int64_t e) {
    fast::swigluForward(gate.data + b, up.data + b, out.data + b, e - b);
  });
  return info.Env().Undefined();
}

static Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  View<float> dout = f32(info, 0, "dout"), gate = f32(info, 1, "gate"), up = f32(info, 2, "up");
  View<float> dgate = f32(info, 3, "dgate"), dup = f32(info, 4, "dup");
  const int64_t n = count(info, 5, "n");
  requireLength(dout, n, "dout");
  requireLength(gate, n, "gate");
  requireLength(up, n, "up");
  requireLength(dgate, n, "dgate");
  requireLength(dup, n, "dup");
  parallelRanges(n, kElementGrain, [&](int64_t b, int64_t e) {
    fast::swigluBackward(dout.data + b, gate.data + b, up.data + b, dgate.data + b, dup.data + b, e - b);
  });
  return info.Env().Undefined();
}

static void requireIds(const View<int32_t>& ids, int64_t vocab) {
  for (int64_t r = 0; r < ids.length; r++) {
    if (ids.data[r] < 0 || ids.data[r] >= vocab) {
      throwRange("token id " + std::to_string(ids.data[r]) + " is outside the vocabulary of " + std::to_string(vocab));
    }
  }
}

static Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  View<float> table = f32(info, 0, "table");
  View<int32_t> ids = i32(info, 1, "ids");
  View<float> out = f32(info, 2, "out");
  const int64_t dim = count(info, 3, "dim");
  const int64_t vocab = dim == 0 ? 0 : table.length / dim;
  requireLength(out, ids.length * dim, "out");
  requireIds(ids, vocab);
  for (int64_t r = 0; r < ids.length; r++) {
    const float* src = table.data + static_cast<int64_t>(ids.data[r]) * dim;
    float* dst = out.data + r * dim;
    for (int64_t i = 0; i < dim; i++) dst[i] = src[i];
  }
  return info.Env().Undefined();
}

// torch.optim.AdamW (decoupled weight decay, bias-corrected moments), in f32 like torch.
static Napi::Value AdamW(const Napi::CallbackInfo& info) {
  View<float> p = f32(info, 0, "param"), g = f32(info, 1, "grad"), m = f32(info, 2, "m"), v = f32(info, 3, "v");
  const double lr = number(info, 4, "lr"), b1 = number(info, 5, "beta1"), b2 = number(info, 6, "beta2");
  const double eps = number(info, 7, "eps"), wd = number(info, 8, "weightDecay");
  const int64_t step = count(info, 9, "step");
  if (step < 1) throwRange("step counts from 1, got " + std::to_string(step));
  const int64_t n = p.length;
  requireLength(g, n, "grad");
  requireLength(m, n, "m");
  requireLength(v, n, "v");
  const float decay = static_cast<float>(1.0 - lr * wd);
  const float fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2);
  const float stepSize = static_cast<float>(lr / (1.0 - std::pow(b1, static_cast<double>(step))));
  const float invBc2Sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(b2, static_cast<double>(step))));
  const float feps = static_cast<float>(eps);
  float* __restrict pd = p.data;
  float* __restrict md = m.data;
  float* __restrict vd = v.data;
  const float* __restrict gd = g.data;
  parallelRanges(n, kElementGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) {
      const float gi = gd[i];
      const float mi = fb1 * md[i] + (1.f - fb1) * gi;
      const float vi = fb2 * vd[i] + (1.f - fb2) * gi * gi;
      md[i] = mi;
      vd[i] = vi;
      pd[i] = pd[i] * decay - stepSize * mi / (std::sqrt(vi) * invBc2Sqrt + feps);
    }
  });
  return info.Env().Undefined();
}

static Napi::Value SumOfSquares(const Napi::CallbackInfo& info) {
  View<float> x = f32(info, 0, "x");
  return Napi::Number::New(info.Env(), fast::sumOfSquares(x.data, x.length));
}

static Napi::Value Scale(const Napi::CallbackInfo& info) {
  View<float> x = f32(info, 0, "x");
  const float s = static_cast<float>(number(info, 1, "s"));
  for (int64_t i = 0; i < x.length; i++) x.data[i] *= s;
  return info.Env().Undefined();
}

static Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const float a = static_cast<float>(number(info, 0, "a"));
  View<float> x = f32(info, 1, "x"), y = f32(info, 2, "y");
  requireLength(y, x.length, "y");
  for (int64_t i = 0; i < x.length; i++) y.data[i] += a * x.data[i];
  return info.Env().Undefined();
}

void registerElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("swigluForward", Napi::Function::New(env, guarded<SwigluForward>, "swigluForward"));
  exports.Set("swigluBackward", Napi::Function::New(env, guarded<SwigluBackward>, "swigluBackward"));
  exports.Set("embeddingForward", Napi::Function::New(env, guarded<EmbeddingForward>, "embeddingForward"));
  exports.Set("adamw", Napi::Function::New(env, guarded<AdamW>, "adamw"));
  exports.Set("sumOfSquares", Napi::Function::New(env, guarded<SumOfSquares>, "sumOfSquares"));
  exports.Set("scale", Napi::Function::New(env, guarded<Scale>, "scale"));
  exports.Set("axpy", Napi::Function::New(env, guarded<Axpy>, "axpy"));
}

}  // namespace tk
