# The addon is built for its architecture's baseline (x86-64 without extensions on x86), so a
# build runs on any CPU of that architecture. The hot kernels are compiled once more per kernel
# level, each into its own static library and namespace (TK_KERNEL_LEVEL), and the addon calls
# the level the CPU supports, picked when it loads (native/kernel_level.h). Never -march=native.
{
  "variables": {
    # Shared by every build of the per-level kernels; each level adds its -march.
    "kernel_cflags": ["-O3", "-std=c++17", "-fPIC", "-fno-math-errno"],
    # The per-level sources without -ffast-math.
    "simd_sources": ["native/few_rows_gemm.cc", "native/fma_peak.cc"],
    "baseline_march%": "",
    "conditions": [
      ["target_arch=='x64'", { "baseline_march%": "-march=x86-64" }]
    ]
  },
  "targets": [
    {
      "target_name": "tinker_fast_math_baseline",
      "type": "static_library",
      "sources": ["native/fast_math_kernels.cc"],
      "defines": ["TK_KERNEL_LEVEL=baseline"],
      "cflags_cc": ["<@(kernel_cflags)", "<@(baseline_march)", "-ffast-math"]
    },
    {
      "target_name": "tinker_simd_baseline",
      "type": "static_library",
      "sources": ["<@(simd_sources)"],
      "defines": ["TK_KERNEL_LEVEL=baseline"],
      "cflags_cc": ["<@(kernel_cflags)", "<@(baseline_march)"]
    },
    {
      "target_name": "tinker_engine",
      "dependencies": ["tinker_fast_math_baseline", "tinker_simd_baseline"],
      "sources": [
        "native/addon.cc",
        "native/kernel_level.cc",
        "native/runtime.cc",
        "native/gemm.cc",
        "native/gemm_bf16.cc",
        "native/norm.cc",
        "native/attention.cc",
        "native/elementwise.cc",
        "native/logits.cc",
        "native/sampling.cc",
        "native/task_pool_probe.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "<!@(node scripts/openblas-flags.cjs include)"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "<@(baseline_march)", "-std=c++17", "-fno-math-errno"],
      "cflags_cc!": ["-fno-exceptions"],
      # libmvec (glibc's vector math: the vectorised expf of fast_math_kernels.cc) where the C library has it.
      "libraries": ["<!@(node scripts/openblas-flags.cjs libs)", "<!@(node scripts/libmvec-flags.cjs)", "-lm", "-lpthread"],
      "conditions": [
        ["target_arch=='x64'", {
          "dependencies": ["tinker_fast_math_avx2", "tinker_simd_avx2", "tinker_fast_math_avx512", "tinker_simd_avx512", "tinker_bf16_dot_avx512"]
        }]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "tinker_fast_math_avx2",
          "type": "static_library",
          "sources": ["native/fast_math_kernels.cc"],
          "defines": ["TK_KERNEL_LEVEL=avx2"],
          "cflags_cc": ["<@(kernel_cflags)", "-march=x86-64-v3", "-ffast-math"]
        },
        {
          "target_name": "tinker_simd_avx2",
          "type": "static_library",
          "sources": ["<@(simd_sources)"],
          "defines": ["TK_KERNEL_LEVEL=avx2"],
          "cflags_cc": ["<@(kernel_cflags)", "-march=x86-64-v3"]
        },
        {
          "target_name": "tinker_fast_math_avx512",
          "type": "static_library",
          "sources": ["native/fast_math_kernels.cc"],
          "defines": ["TK_KERNEL_LEVEL=avx512"],
          "cflags_cc": ["<@(kernel_cflags)", "-march=x86-64-v4", "-mprefer-vector-width=512", "-ffast-math"]
        },
        {
          "target_name": "tinker_simd_avx512",
          "type": "static_library",
          "sources": ["<@(simd_sources)"],
          "defines": ["TK_KERNEL_LEVEL=avx512"],
          "cflags_cc": ["<@(kernel_cflags)", "-march=x86-64-v4", "-mprefer-vector-width=512"]
        },
        {
          # The AVX512-BF16 dot-product GEMM over bf16 weights (bf16_gemm.h), called only on CPUs with avx512_bf16.
          "target_name": "tinker_bf16_dot_avx512",
          "type": "static_library",
          "sources": ["native/bf16_dot_gemm.cc"],
          "cflags_cc": ["<@(kernel_cflags)", "-march=x86-64-v4", "-mavx512bf16", "-mprefer-vector-width=512"]
        }
      ]
    }]
  ]
}
