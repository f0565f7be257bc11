// The GEMM's general form: operands that pack themselves (PackSource, as the implicit-GEMM convolution
// uses) and an output whose columns come in groups (GroupedC, NCHW planes), on every ISA path.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/generator.h"

using namespace dismax::cpu;

namespace {
// X(i, k) = data[i * rs + k * cs], packed through the PackSource interface.
class StridedSource : public PackSource {
 public:
  StridedSource(const float* data, int64_t rs, int64_t cs) : data_(data), rs_(rs), cs_(cs) {}
  void pack(float* dst, int w, int64_t i0, int64_t rows, int64_t k0, int64_t kc) const override {
    for (int64_t k = 0; k < kc; ++k)
      for (int i = 0; i < w; ++i) dst[k * w + i] = i < rows ? data_[(i0 + i) * rs_ + (k0 + k) * cs_] : 0.0f;
  }

 private:
  const float* data_;
  int64_t rs_, cs_;
};
}  // namespace

TEST_CASE("sgemm with self-packing operands and grouped output, every ISA") {
  dismax::Generator gen(9);
  const GemmIsa original = gemm_isa();
  for (GemmIsa isa : {GemmIsa::generic, GemmIsa::avx2, GemmIsa::avx512}) {
    if (!gemm_isa_supported(isa)) continue;
    set_gemm_isa(isa);
    CAPTURE(gemm_isa_name(isa));
    struct Shape {
      int64_t M, N, K, group;
    };
    for (const Shape& s : {Shape{5, 12, 7, 4}, Shape{33, 96, 70, 16}, Shape{64, 300, 129, 100}, Shape{1, 1, 1, 1},
                           Shape{17, 64, 3, 64}}) {
      CAPTURE(s.M);
      CAPTURE(s.N);
      CAPTURE(s.K);
      std::vector<float> a(s.M * s.K), b(s.K * s.N);
      for (auto& v : a) v = static_cast<float>(gen.next_double() * 2 - 1);
      for (auto& v : b) v = static_cast<float>(gen.next_double() * 2 - 1);
      const int64_t groups = (s.N + s.group - 1) / s.group, stride = s.M * s.group + 3;  // gaps between groups
      std::vector<float> c(groups * stride, NAN);
      const StridedSource a_src(a.data(), s.K, 1);  // A as rows of K
      const StridedSource bt_src(b.data(), 1, s.N);  // B transposed: X(j, k) = B(k, j)
      for (int variant = 0; variant < 3; ++variant) {
        std::fill(c.begin(), c.end(), NAN);
        const GemmOperand A = variant == 1 ? GemmOperand(MatView{a.data(), s.K, 1}) : GemmOperand(a_src);
        const GemmOperand B = variant == 2 ? GemmOperand(MatView{b.data(), s.N, 1}) : GemmOperand(bt_src);
        sgemm(s.M, s.N, s.K, 1.5f, A, B, 0.0f, GroupedC{c.data(), s.group, s.group, stride});
        double worst = 0;
        for (int64_t i = 0; i < s.M; ++i)
          for (int64_t j = 0; j < s.N; ++j) {
            double ref = 0;
            for (int64_t k = 0; k < s.K; ++k) ref += double(a[i * s.K + k]) * b[k * s.N + j];
            const float got = c[(j / s.group) * stride + i * s.group + j % s.group];
            worst = std::max(worst, std::isnan(got) ? INFINITY : std::abs(1.5 * ref - got));
          }
        CHECK(worst < 1e-4 * s.K);
      }
    }
  }
  set_gemm_isa(original);
}
