// Argument unpacking for the addon's exported functions. Every kernel validates its inputs
// here before touching memory: a wrong type becomes a JS TypeError, a buffer that is too
// short (or an index out of range) a JS RangeError, never an out-of-bounds read.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace tk {

struct ArgError {
  bool isRange;  // RangeError when true, TypeError otherwise
  std::string message;
};

[[noreturn]] inline void throwType(const std::string& message) { throw ArgError{false, message}; }
[[noreturn]] inline void throwRange(const std::string& message) { throw ArgError{true, message}; }

template <typename T>
struct View {
  T* data;
  int64_t length;
};

inline View<float> f32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throwType(std::string(name) + " must be a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  // Data() already points at byteOffset inside the ArrayBuffer.
  return {a.Data(), static_cast<int64_t>(a.ElementLength())};
}

/** A Float32Array, or null/undefined (returned as {nullptr, 0}). */
inline View<float> f32OrNull(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (v.IsNull() || v.IsUndefined()) return {nullptr, 0};
  return f32(info, i, name);
}

/** A Uint16Array (bf16 weights are passed as their raw 16-bit patterns). */
inline View<uint16_t> u16(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint16_array) {
    throwType(std::string(name) + " must be a Uint16Array");
  }
  auto a = v.As<Napi::Uint16Array>();
  return {a.Data(), static_cast<int64_t>(a.ElementLength())};
}

inline View<double> f64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throwType(std::string(name) + " must be a Float64Array");
  }
  auto a = v.As<Napi::Float64Array>();
  return {a.Data(), static_cast<int64_t>(a.ElementLength())};
}

inline View<int32_t> i32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throwType(std::string(name) + " must be an Int32Array");
  }
  auto a = v.As<Napi::Int32Array>();
  return {a.Data(), static_cast<int64_t>(a.ElementLength())};
}

inline double number(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throwType(std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

/** A non-negative integer that fits comfortably in int64 index arithmetic. */
inline int64_t count(const Napi::CallbackInfo& info, size_t i, const char* name) {
  double d = number(info, i, name);
  if (!(d >= 0) || d != std::floor(d) || d > 9.0e15) {
    throwRange(std::string(name) + " must be a non-negative integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

inline bool boolean(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsBoolean()) throwType(std::string(name) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

template <typename T>
inline void requireLength(const View<T>& v, int64_t needed, const char* name) {
  if (v.length < needed) {
    throwRange(std::string(name) + " has " + std::to_string(v.length) + " elements but " + std::to_string(needed) +
               " are needed");
  }
}

/** Wraps a kernel binding so that ArgError becomes the matching JS exception. */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const ArgError& e) {
    if (e.isRange) {
      Napi::RangeError::New(info.Env(), e.message).ThrowAsJavaScriptException();
    } else {
      Napi::TypeError::New(info.Env(), e.message).ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }
}

}  // namespace tk
