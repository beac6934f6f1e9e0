// Bounds checks for strided row-major matrix views and thin row-major sgemm/sgemv wrappers.
#pragma once
#include <cblas.h>

#include <algorithm>

#include "args.h"

namespace tk {

/** rows×cols with row stride ld starting at element offset must lie inside the buffer. */
template <typename T>
inline void requireMatrix(const View<T>& v, int64_t rows, int64_t cols, int64_t ld, int64_t offset, const char* name) {
  if (ld < std::max<int64_t>(1, cols)) {
    throwRange(std::string(name) + " leading dimension " + std::to_string(ld) + " is smaller than its " +
               std::to_string(cols) + " columns");
  }
  if (rows > 0 && cols > 0) requireLength(v, offset + (rows - 1) * ld + cols, name);
}

/** C = alpha op(A) op(B) + beta C, row-major. */
inline void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, static_cast<int>(M),
              static_cast<int>(N), static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

/** y = alpha op(A) x + beta y with A row-major rows×cols; op(A) = Aᵀ when trans. Unit strides for x, y. */
inline void sgemv(bool trans, int64_t rows, int64_t cols, float alpha, const float* A, int64_t lda, const float* x, float beta,
                  float* y) {
  cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols), alpha, A,
              static_cast<int>(lda), x, 1, beta, y, 1);
}

}  // namespace tk
