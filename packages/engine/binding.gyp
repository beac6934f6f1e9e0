{
  "targets": [
    {
      "target_name": "tinker_engine",
      "sources": ["native/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "/usr/include/x86_64-linux-gnu"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-march=native", "-std=c++17", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lopenblas", "-lpthread"]
    }
  ]
}
