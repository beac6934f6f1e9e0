#include <napi.h>
#include <cblas.h>
extern "C" char* openblas_get_corename(void);
static Napi::Value CoreName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), openblas_get_corename());
}
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("coreName", Napi::Function::New(env, CoreName));
  return exports;
}
NODE_API_MODULE(tinker_engine, Init)
