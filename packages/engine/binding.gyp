{
  "targets": [
    {
      "target_name": "tinker_fast_math",
      "type": "static_library",
      "sources": ["native/fast_math_kernels.cc"],
      "cflags_cc": ["-O3", "-march=native", "-mprefer-vector-width=512", "-std=c++17", "-ffast-math", "-fPIC"]
    },
    {
      "target_name": "tinker_engine",
      "dependencies": ["tinker_fast_math"],
      "sources": [
        "native/addon.cc",
        "native/runtime.cc",
        "native/gemm.cc",
        "native/norm.cc",
        "native/attention.cc",
        "native/elementwise.cc",
        "native/logits.cc",
        "native/sampling.cc",
        "native/task_pool_probe.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(node scripts/openblas-flags.cjs include)"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-march=native", "-mprefer-vector-width=512", "-std=c++17", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["<!@(node scripts/openblas-flags.cjs libs)", "-lm", "-lpthread"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lmvec"] }]
      ]
    }
  ]
}
