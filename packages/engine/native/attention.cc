// Causal grouped-query attention as per-(sequence, head) GEMMs with the softmax fused in C++.
// Query rows are processed in blocks of kQueryBlock so that a block only scores the keys it can
// see (≈half the FLOPs of a full square) and scratch stays O(block × sequence length).
// Backward recomputes P from the saved log-sum-exp (flash-attention style) instead of storing it.
#include <algorithm>
#include <vector>

#include "args.h"
#include "bindings.h"
#include "fast_math_kernels.h"
#include "matrix_check.h"
#include "parallel.h"

namespace tk {

static constexpr int64_t kQueryBlock = 128;
/**
 * Decoding against a KV cache is bound by reading the cache, not by its FLOPs: 0.25 MFLOP
 * (e.g. 16 sequences × 16 cached rows × 256 wide) already streams 256 KB, well worth a ~7 µs
 * helper wake.
 */
static constexpr double kMinParallelDecodeFlops = 2.5e5;

struct AttentionShape {
  const int32_t* starts;
  int64_t nSeq, T, heads, kvHeads, hd, maxLen;
  double flops;  // of the causal forward, ≈ 2·L²·hd per (sequence, head)
};

static void requireHeadShape(int64_t heads, int64_t kvHeads) {
  if (kvHeads == 0 || heads % kvHeads != 0) {
    throwRange("heads (" + std::to_string(heads) + ") must be a multiple of kvHeads (" + std::to_string(kvHeads) + ")");
  }
}

static AttentionShape attentionShape(const View<int32_t>& starts, int64_t heads, int64_t kvHeads, int64_t hd) {
  requireHeadShape(heads, kvHeads);
  if (starts.length < 1 || starts.data[0] != 0) throwRange("seqStarts must start with 0");
  int64_t maxLen = 0;
  double flops = 0;
  for (int64_t s = 1; s < starts.length; s++) {
    if (starts.data[s] < starts.data[s - 1]) throwRange("seqStarts must be non-decreasing");
    const int64_t L = starts.data[s] - starts.data[s - 1];
    maxLen = std::max<int64_t>(maxLen, L);
    flops += 2.0 * static_cast<double>(L) * static_cast<double>(L) * static_cast<double>(heads * hd);
  }
  return {starts.data, starts.length - 1, starts.data[starts.length - 1], heads, kvHeads, hd, maxLen, flops};
}

static float* scratch(std::vector<float>& buf, int64_t n) {
  if (static_cast<int64_t>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

// attentionForward(q, k, v, out, lse, seqStarts, heads, kvHeads, headDim, scale)
static Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  View<float> q = f32(info, 0, "q"), k = f32(info, 1, "k"), v = f32(info, 2, "v"), out = f32(info, 3, "out");
  View<float> lse = f32(info, 4, "lse");
  View<int32_t> starts = i32(info, 5, "seqStarts");
  const int64_t heads = count(info, 6, "heads"), kvHeads = count(info, 7, "kvHeads"), hd = count(info, 8, "headDim");
  const float scale = static_cast<float>(number(info, 9, "scale"));
  const AttentionShape sh = attentionShape(starts, heads, kvHeads, hd);
  const int64_t T = sh.T;
  requireLength(q, T * heads * hd, "q");
  requireLength(k, T * kvHeads * hd, "k");
  requireLength(v, T * kvHeads * hd, "v");
  requireLength(out, T * heads * hd, "out");
  requireLength(lse, heads * T, "lse");
  if (hd == 0 || T == 0) return info.Env().Undefined();

  const int64_t group = heads / kvHeads, ldq = heads * hd, ldk = kvHeads * hd;
  std::vector<std::vector<float>> scratchPerWorker(openblas_get_num_threads());
  // One task per (sequence, head): tasks write disjoint rows/columns of out and lse.
  parallelTasks(sh.nSeq * heads, [&](int64_t task, int worker) {
    const int64_t s = task / heads, h = task % heads;
    float* S = scratch(scratchPerWorker[worker], kQueryBlock * sh.maxLen);
    const int64_t start = sh.starts[s], L = sh.starts[s + 1] - start;
    const int64_t g = h / group;
    const float* qh = q.data + start * ldq + h * hd;
    const float* kh = k.data + start * ldk + g * hd;
    const float* vh = v.data + start * ldk + g * hd;
    float* oh = out.data + start * ldq + h * hd;
    for (int64_t qb = 0; qb < L; qb += kQueryBlock) {
      const int64_t nb = std::min(kQueryBlock, L - qb), kEnd = qb + nb;
      sgemm(false, true, nb, kEnd, hd, scale, qh + qb * ldq, ldq, kh, ldk, 0.f, S, kEnd);
      for (int64_t i = 0; i < nb; i++) {
        float* row = S + i * kEnd;
        const int64_t valid = qb + i + 1;
        lse.data[h * T + start + qb + i] = fast::softmaxRow(row, valid);
        std::fill(row + valid, row + kEnd, 0.f);
      }
      sgemm(false, false, nb, hd, kEnd, 1.f, S, kEnd, vh, ldk, 0.f, oh + qb * ldq, ldq);
    }
  }, sh.flops >= kMinParallelFlops);
  return info.Env().Undefined();
}

// attentionBackward(dout, q, k, v, out, lse, dq, dk, dv, seqStarts, heads, kvHeads, headDim, scale)
static Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  View<float> dout = f32(info, 0, "dout"), q = f32(info, 1, "q"), k = f32(info, 2, "k"), v = f32(info, 3, "v");
  View<float> out = f32(info, 4, "out"), lse = f32(info, 5, "lse");
  View<float> dq = f32(info, 6, "dq"), dk = f32(info, 7, "dk"), dv = f32(info, 8, "dv");
  View<int32_t> starts = i32(info, 9, "seqStarts");
  const int64_t heads = count(info, 10, "heads"), kvHeads = count(info, 11, "kvHeads"), hd = count(info, 12, "headDim");
  const float scale = static_cast<float>(number(info, 13, "scale"));
  const AttentionShape sh = attentionShape(starts, heads, kvHeads, hd);
  const int64_t T = sh.T;
  requireLength(dout, T * heads * hd, "dout");
  requireLength(q, T * heads * hd, "q");
  requireLength(out, T * heads * hd, "out");
  requireLength(dq, T * heads * hd, "dq");
  requireLength(k, T * kvHeads * hd, "k");
  requireLength(v, T * kvHeads * hd, "v");
  requireLength(dk, T * kvHeads * hd, "dk");
  requireLength(dv, T * kvHeads * hd, "dv");
  requireLength(lse, heads * T, "lse");
  // Heads of a group accumulate into the same dk/dv rows.
  std::fill(dk.data, dk.data + T * kvHeads * hd, 0.f);
  std::fill(dv.data, dv.data + T * kvHeads * hd, 0.f);
  if (hd == 0 || T == 0) return info.Env().Undefined();

  const int64_t group = heads / kvHeads, ldq = heads * hd, ldk = kvHeads * hd;
  std::vector<std::vector<float>> pPerWorker(openblas_get_num_threads()), dpPerWorker(openblas_get_num_threads());
  // One task per (sequence, kv head): the heads of a group share dk/dv rows, so they run in
  // the same task; different tasks write disjoint parts of dq, dk and dv.
  parallelTasks(sh.nSeq * kvHeads, [&](int64_t task, int worker) {
    const int64_t s = task / kvHeads, kvh = task % kvHeads;
    float* P = scratch(pPerWorker[worker], kQueryBlock * sh.maxLen);
    float* dP = scratch(dpPerWorker[worker], kQueryBlock * sh.maxLen);
    const int64_t start = sh.starts[s], L = sh.starts[s + 1] - start;
    for (int64_t h = kvh * group; h < (kvh + 1) * group; h++) {
      const int64_t g = h / group;
      const float* qh = q.data + start * ldq + h * hd;
      const float* oh = out.data + start * ldq + h * hd;
      const float* doh = dout.data + start * ldq + h * hd;
      float* dqh = dq.data + start * ldq + h * hd;
      const float* kh = k.data + start * ldk + g * hd;
      const float* vh = v.data + start * ldk + g * hd;
      float* dkh = dk.data + start * ldk + g * hd;
      float* dvh = dv.data + start * ldk + g * hd;
      const float* lseh = lse.data + h * T + start;
      for (int64_t qb = 0; qb < L; qb += kQueryBlock) {
        const int64_t nb = std::min(kQueryBlock, L - qb), kEnd = qb + nb;
        // P = exp(scale Q Kᵀ - lse), zero above the diagonal.
        sgemm(false, true, nb, kEnd, hd, scale, qh + qb * ldq, ldq, kh, ldk, 0.f, P, kEnd);
        for (int64_t i = 0; i < nb; i++) {
          float* row = P + i * kEnd;
          const int64_t valid = qb + i + 1;
          fast::expShifted(row, valid, lseh[qb + i]);
          std::fill(row + valid, row + kEnd, 0.f);
        }
        // dV += Pᵀ dO ; dP = dO Vᵀ
        sgemm(true, false, kEnd, hd, nb, 1.f, P, kEnd, doh + qb * ldq, ldq, 1.f, dvh, ldk);
        sgemm(false, true, nb, kEnd, hd, 1.f, doh + qb * ldq, ldq, vh, ldk, 0.f, dP, kEnd);
        // dS = scale * P ∘ (dP - rowsum(dO ∘ O)), computed in place in P.
        for (int64_t i = 0; i < nb; i++) {
          const float d = fast::dot(doh + (qb + i) * ldq, oh + (qb + i) * ldq, hd);
          fast::softmaxGradRow(P + i * kEnd, dP + i * kEnd, d, scale, qb + i + 1);
        }
        // dQ = dS K ; dK += dSᵀ Q
        sgemm(false, false, nb, hd, kEnd, 1.f, P, kEnd, kh, ldk, 0.f, dqh + qb * ldq, ldq);
        sgemm(true, false, kEnd, hd, nb, 1.f, P, kEnd, qh + qb * ldq, ldq, 1.f, dkh, ldk);
      }
    }
  }, 2 * sh.flops >= kMinParallelFlops);
  return info.Env().Undefined();
}

// attentionWithCache(q, kCache, vCache, out, past, nSeq, nNew, capacity, heads, kvHeads, headDim, scale)
static Napi::Value AttentionWithCache(const Napi::CallbackInfo& info) {
  View<float> q = f32(info, 0, "q"), kc = f32(info, 1, "kCache"), vc = f32(info, 2, "vCache"), out = f32(info, 3, "out");
  View<int32_t> past = i32(info, 4, "past");
  const int64_t nSeq = count(info, 5, "nSeq"), nNew = count(info, 6, "nNew"), cap = count(info, 7, "capacity");
  const int64_t heads = count(info, 8, "heads"), kvHeads = count(info, 9, "kvHeads"), hd = count(info, 10, "headDim");
  const float scale = static_cast<float>(number(info, 11, "scale"));
  requireHeadShape(heads, kvHeads);
  requireLength(q, nSeq * nNew * heads * hd, "q");
  requireLength(out, nSeq * nNew * heads * hd, "out");
  requireLength(kc, nSeq * cap * kvHeads * hd, "kCache");
  requireLength(vc, nSeq * cap * kvHeads * hd, "vCache");
  requireLength(past, nSeq, "past");
  double flops = 0;
  for (int64_t s = 0; s < nSeq; s++) {
    flops += 4.0 * static_cast<double>(nNew * heads * hd) * static_cast<double>(past.data[s] + nNew);
    if (past.data[s] < 0 || past.data[s] + nNew > cap) {
      throwRange("sequence " + std::to_string(s) + ": past " + std::to_string(past.data[s]) + " + " + std::to_string(nNew) +
                 " new rows exceed the cache capacity " + std::to_string(cap));
    }
  }
  if (hd == 0 || nNew == 0) return info.Env().Undefined();

  const int64_t group = heads / kvHeads, ldq = heads * hd, ldk = kvHeads * hd;
  std::vector<std::vector<float>> scratchPerWorker(openblas_get_num_threads());
  if (nNew == 1) {
    // Decoding: one task per sequence reads its cache rows front to back once for all heads
    // (each row holds every kv head). With fewer sequences than cores, a sequence's kv heads are
    // split over tasks instead so that long single-sequence decodes still use every core.
    const int64_t headBlocks = nSeq >= openblas_get_num_threads() ? 1 : kvHeads;
    parallelTasks(nSeq * headBlocks, [&](int64_t task, int worker) {
      const int64_t s = task / headBlocks, block = task % headBlocks;
      const int64_t g0 = kvHeads * block / headBlocks, g1 = kvHeads * (block + 1) / headBlocks;
      const int64_t kEnd = past.data[s] + 1;
      const int64_t rows = (g1 - g0) * group;
      float* S = scratch(scratchPerWorker[worker], rows * kEnd);
      const float* qs = q.data + s * ldq + g0 * group * hd;
      float* os = out.data + s * ldq + g0 * group * hd;
      const float* ks = kc.data + s * cap * ldk + g0 * hd;
      const float* vs = vc.data + s * cap * ldk + g0 * hd;
      fast::cachedScores(qs, g1 - g0, group, ks, ldk, kEnd, hd, scale, S);
      for (int64_t r = 0; r < rows; r++) fast::softmaxRow(S + r * kEnd, kEnd);
      fast::cachedWeightedSum(S, g1 - g0, group, vs, ldk, kEnd, hd, os);
    }, flops >= kMinParallelDecodeFlops);
    return info.Env().Undefined();
  }
  parallelTasks(nSeq * heads, [&](int64_t task, int worker) {
    const int64_t s = task / heads, h = task % heads;
    float* S = scratch(scratchPerWorker[worker], nNew * cap);
    const int64_t kEnd = past.data[s] + nNew;
    const int64_t g = h / group;
    const float* qh = q.data + s * nNew * ldq + h * hd;
    float* oh = out.data + s * nNew * ldq + h * hd;
    const float* kh = kc.data + s * cap * ldk + g * hd;
    const float* vh = vc.data + s * cap * ldk + g * hd;
    sgemm(false, true, nNew, kEnd, hd, scale, qh, ldq, kh, ldk, 0.f, S, kEnd);
    for (int64_t i = 0; i < nNew; i++) {
      float* row = S + i * kEnd;
      const int64_t valid = past.data[s] + i + 1;
      fast::softmaxRow(row, valid);
      std::fill(row + valid, row + kEnd, 0.f);
    }
    sgemm(false, false, nNew, hd, kEnd, 1.f, S, kEnd, vh, ldk, 0.f, oh, ldq);
  }, flops >= kMinParallelFlops);
  return info.Env().Undefined();
}

void registerAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionForward", Napi::Function::New(env, guarded<AttentionForward>, "attentionForward"));
  exports.Set("attentionBackward", Napi::Function::New(env, guarded<AttentionBackward>, "attentionBackward"));
  exports.Set("attentionWithCache", Napi::Function::New(env, guarded<AttentionWithCache>, "attentionWithCache"));
}

}  // namespace tk
