// SGEMM throughput in GFLOP/s for every ISA path this CPU supports, on 1 thread and on all threads, for the
// shapes the CIFAR ResNet training step produces as im2col GEMMs (plus a square check and linear layers).
//
// Usage: bench_gemm [--isa avx512|avx2|generic] [--threads N] [--shape NAME] [--min-time SECONDS]
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/gemm.h"

namespace {

using dismax::cpu::GemmIsa;

struct Shape {
  const char* name;
  bool trans_a, trans_b;
  int64_t M, N, K;
};

const Shape kShapes[] = {
    {"square 1024", false, false, 1024, 1024, 1024},
    {"fwd M64 K576 N32768", false, false, 64, 32768, 576},
    {"fwd M128 K1152 N8192", false, false, 128, 8192, 1152},
    {"fwd M256 K2304 N2048", false, false, 256, 2048, 2304},
    {"fwd M512 K4608 N512", false, false, 512, 512, 4608},
    {"bwd-data M576 K64 N32768", true, false, 576, 32768, 64},
    {"bwd-data M4608 K512 N512", true, false, 4608, 512, 512},
    {"bwd-w M64 N576 K32768", false, true, 64, 576, 32768},
    {"bwd-w M512 N4608 K512", false, true, 512, 4608, 512},
    {"linear M10 N512 K128", false, false, 10, 512, 128},
    {"linear M128 N10 K512", false, false, 128, 10, 512},
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best-of GFLOP/s over repetitions filling at least min_time seconds.
double measure(const Shape& s, double min_time) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(size_t(s.M * s.K)), b(size_t(s.K * s.N)), c(size_t(s.M * s.N));
  for (float& x : a) x = dist(rng);
  for (float& x : b) x = dist(rng);
  const int64_t lda = s.trans_a ? s.M : s.K, ldb = s.trans_b ? s.K : s.N;
  auto run = [&] {
    dismax::cpu::sgemm(s.trans_a, s.trans_b, s.M, s.N, s.K, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                       c.data(), s.N);
  };
  run();
  double best = 1e30, total = 0;
  int reps = 0;
  while (total < min_time || reps < 3) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double t = seconds_since(t0);
    best = std::min(best, t);
    total += t;
    ++reps;
  }
  return 2.0 * double(s.M) * double(s.N) * double(s.K) / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<GemmIsa> isas;
  std::vector<int> threads;
  const char* only_shape = nullptr;
  double min_time = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--isa") == 0) {
      for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2, GemmIsa::generic})
        if (std::strcmp(argv[i + 1], dismax::cpu::gemm_isa_name(isa)) == 0) isas.push_back(isa);
    } else if (std::strcmp(argv[i], "--threads") == 0) {
      threads.push_back(std::atoi(argv[i + 1]));
    } else if (std::strcmp(argv[i], "--shape") == 0) {
      only_shape = argv[i + 1];
    } else if (std::strcmp(argv[i], "--min-time") == 0) {
      min_time = std::atof(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: %s [--isa NAME] [--threads N] [--shape NAME] [--min-time S]\n", argv[0]);
      return 2;
    }
  }
  if (isas.empty()) {
    for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2, GemmIsa::generic})
      if (dismax::cpu::gemm_isa_supported(isa)) isas.push_back(isa);
  }
  if (threads.empty()) {
    threads.push_back(1);
    if (omp_get_max_threads() > 1) threads.push_back(omp_get_max_threads());
  }

  std::printf("%-26s", "GFLOP/s");
  for (GemmIsa isa : isas)
    for (int t : threads) std::printf(" %7s/%d", dismax::cpu::gemm_isa_name(isa), t);
  std::printf("\n");
  for (const Shape& s : kShapes) {
    if (only_shape != nullptr && std::strstr(s.name, only_shape) == nullptr) continue;
    std::printf("%-26s", s.name);
    for (GemmIsa isa : isas) {
      dismax::cpu::set_gemm_isa(isa);
      for (int t : threads) {
        omp_set_num_threads(t);
        std::printf(" %9.1f", measure(s, min_time));
        std::fflush(stdout);
      }
    }
    std::printf("\n");
  }
  return 0;
}
