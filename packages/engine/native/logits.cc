// Log-softmax over the vocabulary: target log-probabilities, their gradient, and plain
// row-wise log-softmax for the sampler. One pass for the max/sum, no [rows, vocab] temporaries.
#include <algorithm>

#include "args.h"
#include "bindings.h"
#include "fast_math_kernels.h"
#include "parallel.h"

namespace tk {

// Rows per thread worth splitting for: about 64k exponentials (~40 µs), far above a pool
// helper's wake-up (~7 µs); 16 sampled rows of an 8k vocabulary split in two.
static int64_t rowGrain(int64_t cols) { return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, cols)); }

struct TargetArgs {
  View<float> logits;
  int64_t rows, vocab;
  View<int32_t> targets;
  int64_t K;
};

static TargetArgs targetArgs(const Napi::CallbackInfo& info) {
  TargetArgs a{f32(info, 0, "logits"), count(info, 1, "rows"), count(info, 2, "vocab"), i32(info, 3, "targets"),
               count(info, 4, "K")};
  requireLength(a.logits, a.rows * a.vocab, "logits");
  requireLength(a.targets, a.rows * a.K, "targets");
  for (int64_t i = 0; i < a.rows * a.K; i++) {
    if (a.targets.data[i] >= a.vocab) {
      throwRange("target id " + std::to_string(a.targets.data[i]) + " is outside the vocabulary of " + std::to_string(a.vocab));
    }
  }
  return a;
}

// targetLogprobs(logits, rows, vocab, targets, K, logprobs, lse)
static Napi::Value TargetLogprobs(const Napi::CallbackInfo& info) {
  TargetArgs a = targetArgs(info);
  View<float> logprobs = f32(info, 5, "logprobs"), lse = f32(info, 6, "lse");
  requireLength(logprobs, a.rows * a.K, "logprobs");
  requireLength(lse, a.rows, "lse");
  parallelRanges(a.rows, rowGrain(a.vocab), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      const float* row = a.logits.data + r * a.vocab;
      const float l = fast::logSumExp(row, a.vocab);
      lse.data[r] = l;
      for (int64_t j = 0; j < a.K; j++) {
        const int32_t t = a.targets.data[r * a.K + j];
        logprobs.data[r * a.K + j] = t < 0 ? 0.f : row[t] - l;
      }
    }
  });
  return info.Env().Undefined();
}

// targetLogprobsBackward(logits, rows, vocab, targets, K, grad, lse): logits <- dL/dlogits.
static Napi::Value TargetLogprobsBackward(const Napi::CallbackInfo& info) {
  TargetArgs a = targetArgs(info);
  View<float> grad = f32(info, 5, "grad"), lse = f32(info, 6, "lse");
  requireLength(grad, a.rows * a.K, "grad");
  requireLength(lse, a.rows, "lse");
  parallelRanges(a.rows, rowGrain(a.vocab), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) {
      float* row = a.logits.data + r * a.vocab;
      float gsum = 0.f;
      for (int64_t j = 0; j < a.K; j++) {
        if (a.targets.data[r * a.K + j] >= 0) gsum += grad.data[r * a.K + j];
      }
      fast::scaledExpShifted(row, a.vocab, lse.data[r], -gsum);
      for (int64_t j = 0; j < a.K; j++) {
        const int32_t t = a.targets.data[r * a.K + j];
        if (t >= 0) row[t] += grad.data[r * a.K + j];
      }
    }
  });
  return info.Env().Undefined();
}

static Napi::Value LogSoftmaxRows(const Napi::CallbackInfo& info) {
  View<float> x = f32(info, 0, "x");
  const int64_t rows = count(info, 1, "rows"), cols = count(info, 2, "cols");
  requireLength(x, rows * cols, "x");
  parallelRanges(rows, rowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) fast::logSoftmaxRow(x.data + r * cols, cols);
  });
  return info.Env().Undefined();
}

void registerLogits(Napi::Env env, Napi::Object exports) {
  exports.Set("targetLogprobs", Napi::Function::New(env, guarded<TargetLogprobs>, "targetLogprobs"));
  exports.Set("targetLogprobsBackward", Napi::Function::New(env, guarded<TargetLogprobsBackward>, "targetLogprobsBackward"));
  exports.Set("logSoftmaxRows", Napi::Function::New(env, guarded<LogSoftmaxRows>, "logSoftmaxRows"));
}

}  // namespace tk
