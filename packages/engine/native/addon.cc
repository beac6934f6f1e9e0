// Entry point of the tinker_engine addon: CPU kernels over JS-owned Float32Array/Int32Array
// buffers (zero-copy). GEMMs go to OpenBLAS; everything else is fused C++ in this folder, the
// hot kernels at the instruction-set level picked at load (kernel_level.h).
#include <napi.h>

#include "bindings.h"
#include "kernel_level.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // A TINKER_ENGINE_ISA this CPU cannot honour fails the require() instead of crashing later.
  if (!tk::kernelLevelError().empty()) {
    Napi::Error::New(env, tk::kernelLevelError()).ThrowAsJavaScriptException();
    return exports;
  }
  tk::registerRuntime(env, exports);
  tk::registerGemm(env, exports);
  tk::registerGemmBf16(env, exports);
  tk::registerNorm(env, exports);
  tk::registerAttention(env, exports);
  tk::registerElementwise(env, exports);
  tk::registerLogits(env, exports);
  tk::registerSampling(env, exports);
  tk::registerTaskPoolProbe(env, exports);
  return exports;
}

NODE_API_MODULE(tinker_engine, Init)
