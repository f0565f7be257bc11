// SGEMM against a double-precision reference, on every ISA path this CPU supports: all transpose
// combinations, odd and degenerate sizes, alpha/beta variants, NaN-filled C with beta == 0, padded leading
// dimensions, general strides, threaded and in-parallel-region calls.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/cpu/gemm.h"

namespace {

using dismax::cpu::GemmIsa;
using dismax::cpu::MatView;

constexpr float kSentinel = 12345.0f;  // fills C outside the M x N region, which must stay untouched

// strided: neither stride is 1; broadcast: every row is the same (row stride 0); reversed: row-major with
// the rows in reverse order (negative row stride).
enum class Layout { row_major, transposed, strided, broadcast, reversed };

// A rows x cols operand stored in one of the layouts, with random values in [-1, 1].
struct Operand {
  std::vector<float> buf;
  MatView view{};
  int64_t ld = 0;  // leading dimension for the row-major / transposed layouts

  Operand(int64_t rows, int64_t cols, Layout layout, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    int64_t size = 0;
    switch (layout) {
      case Layout::row_major:
        ld = cols + 3;
        size = rows * ld;
        break;
      case Layout::transposed:
        ld = rows + 2;
        size = cols * ld;
        break;
      case Layout::strided:
        size = (rows - 1) * 2 + (cols - 1) * (2 * rows + 3) + 1;
        break;
      case Layout::broadcast:
        size = cols;
        break;
      case Layout::reversed:
        ld = cols + 1;
        size = rows * ld;
        break;
    }
    buf.resize(size_t(std::max<int64_t>(size, 1)));
    for (float& x : buf) x = dist(rng);
    switch (layout) {
      case Layout::row_major:
        view = {buf.data(), ld, 1};
        break;
      case Layout::transposed:
        view = {buf.data(), 1, ld};
        break;
      case Layout::strided:
        view = {buf.data(), 2, 2 * rows + 3};
        break;
      case Layout::broadcast:
        view = {buf.data(), 0, 1};
        break;
      case Layout::reversed:
        view = {buf.data() + (rows - 1) * ld, -ld, 1};
        break;
    }
  }
  double at(int64_t i, int64_t j) const { return view.data[i * view.row_stride + j * view.col_stride]; }
};

struct Case {
  int64_t M, N, K;
  Layout la, lb;
  float alpha, beta;
  int64_t ldc_pad;
};

// Runs the case on the current ISA and checks every element of C (and that padding is untouched).
void check_case(const Case& t, uint32_t seed, bool in_parallel_region = false) {
  std::mt19937 rng(seed);
  const Operand a(t.M, t.K, t.la, rng), b(t.K, t.N, t.lb, rng);
  const int64_t ldc = t.N + t.ldc_pad;
  std::vector<float> c0(size_t(std::max<int64_t>(t.M * ldc, 1)), kSentinel);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < t.M; ++i)
    for (int64_t j = 0; j < t.N; ++j)
      c0[i * ldc + j] = t.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : dist(rng);
  std::vector<float> c = c0;

  auto blas = [](Layout l) { return l == Layout::row_major || l == Layout::transposed; };
  const bool blas_form = blas(t.la) && blas(t.lb);
  auto run = [&] {
    if (blas_form) {
      dismax::cpu::sgemm(t.la == Layout::transposed, t.lb == Layout::transposed, t.M, t.N, t.K, t.alpha,
                         a.view.data, a.ld, b.view.data, b.ld, t.beta, c.data(), ldc);
    } else {
      dismax::cpu::sgemm(t.M, t.N, t.K, t.alpha, a.view, b.view, t.beta, c.data(), ldc);
    }
  };
  if (in_parallel_region) {
#pragma omp parallel num_threads(2)
    {
#pragma omp single
      run();
    }
  } else {
    run();
  }

  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < t.M; ++i) {
    for (int64_t j = 0; j < t.N; ++j) {
      double dot = 0, mag = 0;
      for (int64_t k = 0; k < t.K; ++k) {
        const double p = a.at(i, k) * b.at(k, j);
        dot += p;
        mag += std::abs(p);
      }
      double want = double(t.alpha) * dot, scale = std::abs(double(t.alpha)) * mag;
      if (t.beta != 0.0f) {
        want += double(t.beta) * c0[i * ldc + j];
        scale += std::abs(double(t.beta) * c0[i * ldc + j]);
      }
      const double got = c[i * ldc + j];
      const double tol = 1.2e-7 * double(t.K + 4) * scale + 1e-30;
      if (!(std::abs(got - want) <= tol)) {
        if (bad++ == 0)
          first = "C(" + std::to_string(i) + "," + std::to_string(j) + ") = " + std::to_string(got) +
                  ", want " + std::to_string(want);
      }
    }
    for (int64_t j = t.N; j < ldc; ++j) {
      if (c[i * ldc + j] != kSentinel && bad++ == 0)
        first = "padding of row " + std::to_string(i) + " written";
    }
  }
  INFO("isa=", std::string(dismax::cpu::gemm_isa_name(dismax::cpu::gemm_isa())), " M=", t.M, " N=", t.N,
       " K=", t.K, " layouts=", int(t.la), ",", int(t.lb), " alpha=", t.alpha, " beta=", t.beta, " ldc=", ldc,
       ": ", first);
  CHECK(bad == 0);
}

std::vector<GemmIsa> supported_isas() {
  std::vector<GemmIsa> out;
  for (GemmIsa isa : {GemmIsa::generic, GemmIsa::avx2, GemmIsa::avx512})
    if (dismax::cpu::gemm_isa_supported(isa)) out.push_back(isa);
  return out;
}

// Runs body once per supported ISA, restoring the ISA in use afterwards.
template <class F>
void for_each_isa(const F& body) {
  const GemmIsa saved = dismax::cpu::gemm_isa();
  for (GemmIsa isa : supported_isas()) {
    dismax::cpu::set_gemm_isa(isa);
    body();
  }
  dismax::cpu::set_gemm_isa(saved);
}

const float kAlphas[] = {1.0f, -0.75f, 2.5f};
const float kBetas[] = {0.0f, 1.0f, 0.5f};

}  // namespace

TEST_CASE("sgemm: ISA queries") {
  CHECK(dismax::cpu::gemm_isa_supported(GemmIsa::generic));
  CHECK(std::string(dismax::cpu::gemm_isa_name(GemmIsa::avx512)) == "avx512");
  CHECK(std::string(dismax::cpu::gemm_isa_name(GemmIsa::avx2)) == "avx2");
  CHECK(std::string(dismax::cpu::gemm_isa_name(GemmIsa::generic)) == "generic");
  const GemmIsa saved = dismax::cpu::gemm_isa();
  CHECK(dismax::cpu::gemm_isa_supported(saved));
  for (GemmIsa isa : {GemmIsa::generic, GemmIsa::avx2, GemmIsa::avx512}) {
    if (dismax::cpu::gemm_isa_supported(isa)) {
      dismax::cpu::set_gemm_isa(isa);
      CHECK(dismax::cpu::gemm_isa() == isa);
    } else {
      CHECK_THROWS_AS(dismax::cpu::set_gemm_isa(isa), std::runtime_error);
    }
  }
  dismax::cpu::set_gemm_isa(saved);
  MESSAGE("default sgemm path: ", std::string(dismax::cpu::gemm_isa_name(saved)));
}

TEST_CASE("sgemm: odd sizes, all transpose combinations") {
  const int64_t sizes[] = {1, 3, 17, 31, 33, 65, 129, 257};
  const int64_t depths[] = {1, 3, 17, 65, 257};
  const Layout layouts[] = {Layout::row_major, Layout::transposed};
  for_each_isa([&] {
    uint32_t n_case = 0;
    for (Layout la : layouts)
      for (Layout lb : layouts)
        for (int64_t M : sizes)
          for (int64_t N : sizes)
            for (int64_t K : depths) {
              ++n_case;
              check_case(
                  {M, N, K, la, lb, kAlphas[n_case % 3], kBetas[(n_case / 3) % 3], int64_t(n_case % 2) * 7},
                  n_case);
            }
  });
}

TEST_CASE("sgemm: alpha and beta variants") {
  for_each_isa([] {
    uint32_t seed = 0;
    for (float alpha : {1.0f, -1.0f, 0.3f})
      for (float beta : {0.0f, 1.0f, 0.5f, -2.0f}) {
        check_case({37, 45, 29, Layout::row_major, Layout::row_major, alpha, beta, 0}, ++seed);
        check_case({70, 100, 300, Layout::transposed, Layout::row_major, alpha, beta, 5}, ++seed);
      }
  });
}

TEST_CASE("sgemm: several cache blocks in every dimension") {
  for_each_isa([] {
    check_case({350, 1100, 530, Layout::row_major, Layout::row_major, 1.0f, 0.0f, 0}, 1);
    check_case({700, 300, 520, Layout::transposed, Layout::row_major, 0.5f, 1.0f, 3}, 2);
    check_case({96, 1030, 600, Layout::row_major, Layout::transposed, 1.0f, 0.5f, 0}, 3);
    check_case({130, 2100, 40, Layout::transposed, Layout::transposed, -1.0f, 0.0f, 1}, 4);
  });
}

TEST_CASE("sgemm: general strides") {
  const Layout layouts[] = {Layout::row_major, Layout::transposed, Layout::strided};
  for_each_isa([&] {
    uint32_t seed = 100;
    for (Layout la : layouts)
      for (Layout lb : layouts) {
        check_case({33, 47, 19, la, lb, 1.0f, 0.0f, 2}, ++seed);
        check_case({65, 129, 300, la, lb, -0.5f, 0.5f, 0}, ++seed);
      }
  });
}

TEST_CASE("sgemm: zero and negative strides") {
  const Layout layouts[] = {Layout::row_major, Layout::broadcast, Layout::reversed};
  for_each_isa([&] {
    uint32_t seed = 200;
    for (Layout la : layouts)
      for (Layout lb : layouts) {
        check_case({29, 70, 40, la, lb, 1.0f, 0.0f, 0}, ++seed);
        check_case({64, 300, 270, la, lb, 0.5f, 1.0f, 1}, ++seed);
      }
  });
}

TEST_CASE("sgemm: K == 0 and alpha == 0 only scale C") {
  for_each_isa([] {
    for (float beta : {0.0f, 1.0f, 0.5f}) {
      check_case({5, 7, 0, Layout::row_major, Layout::row_major, 1.0f, beta, 2}, 1);
      check_case({33, 65, 17, Layout::row_major, Layout::transposed, 0.0f, beta, 0}, 2);
    }
  });
  // alpha == 0 never reads A or B.
  std::vector<float> c(6, 2.0f);
  dismax::cpu::sgemm(2, 3, 4, 0.0f, MatView{nullptr, 4, 1}, MatView{nullptr, 3, 1}, 0.5f, c.data(), 3);
  for (float x : c) CHECK(x == 1.0f);
}

TEST_CASE("sgemm: vectors and the linear-layer shapes") {
  for_each_isa([] {
    uint32_t seed = 7;
    check_case({1, 1, 1, Layout::row_major, Layout::row_major, 1.0f, 0.0f, 0}, ++seed);
    check_case({1, 300, 70, Layout::row_major, Layout::row_major, 1.0f, 1.0f, 0}, ++seed);
    check_case({300, 1, 70, Layout::row_major, Layout::transposed, 1.0f, 0.0f, 0}, ++seed);
    check_case({40, 50, 1, Layout::transposed, Layout::row_major, 2.0f, 0.5f, 0}, ++seed);
    check_case({10, 512, 128, Layout::row_major, Layout::transposed, 1.0f, 0.0f, 0}, ++seed);
    check_case({128, 10, 512, Layout::transposed, Layout::row_major, 1.0f, 1.0f, 0}, ++seed);
  });
}

TEST_CASE("sgemm: called from a parallel region and concurrently") {
  for_each_isa([] {
    check_case({200, 300, 150, Layout::row_major, Layout::transposed, 1.0f, 0.0f, 0}, 5, true);
    // Two threads, each running its own GEMM with its own packing buffers.
    bool ok[2] = {true, true};
#pragma omp parallel num_threads(2)
    {
      const int t = omp_get_thread_num();
      if (t < 2) {
        const int64_t M = 90 + t, N = 130, K = 70;
        std::vector<float> a(size_t(M * K), 0.5f), b(size_t(K * N), 0.25f), c(size_t(M * N), -1.0f);
        dismax::cpu::sgemm(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);
        bool good = true;
        for (float x : c) good = good && std::abs(x - 0.125f * K) < 1e-4f;
        ok[t] = good;
      }
    }
    CHECK(ok[0]);
    CHECK(ok[1]);
  });
}
