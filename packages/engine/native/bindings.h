// Each source file registers its JS functions on the addon's exports.
#pragma once
#include <napi.h>

namespace tk {
void registerGemm(Napi::Env env, Napi::Object exports);
void registerGemmBf16(Napi::Env env, Napi::Object exports);
void registerNorm(Napi::Env env, Napi::Object exports);
void registerAttention(Napi::Env env, Napi::Object exports);
void registerElementwise(Napi::Env env, Napi::Object exports);
void registerLogits(Napi::Env env, Napi::Object exports);
void registerSampling(Napi::Env env, Napi::Object exports);
void registerRuntime(Napi::Env env, Napi::Object exports);
void registerTaskPoolProbe(Napi::Env env, Napi::Object exports);
}  // namespace tk
