// bench-conv: one convolution's forward, input-gradient and weight-gradient times, each on its own, with
// the GFLOP/s each reaches (2*K*C*R*S*N*P*Q flops per pass), to see which pass of which layer is slow.
//   bench-conv N C K HW [kernel 3] [stride 1] [pad 1] [--threads T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/grad_mode.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/parallel.h"

using namespace dismax;

namespace {

template <class F>
double median_ms(F&& f) {
  for (int i = 0; i < 3; ++i) f();
  double best[9];
  for (double& t : best) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  std::sort(best, best + 9);
  return best[4];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> v;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      set_num_threads(std::atoi(argv[++i]));
    } else {
      v.push_back(std::atoll(argv[i]));
    }
  }
  if (v.size() < 4) {
    std::fprintf(stderr, "usage: bench-conv N C K HW [kernel 3] [stride 1] [pad 1] [--threads T]\n");
    return 2;
  }
  const int64_t N = v[0], C = v[1], K = v[2], HW = v[3];
  const int64_t R = v.size() > 4 ? v[4] : 3, stride = v.size() > 5 ? v[5] : 1, pad = v.size() > 6 ? v[6] : R / 2;
  const int64_t P = (HW + 2 * pad - R) / stride + 1;
  Generator gen(1);
  const Tensor x = Tensor::randn({N, C, HW, HW}, gen), w = Tensor::randn({K, C, R, R}, gen);
  const Tensor gy = Tensor::randn({N, K, P, P}, gen);
  const Conv2dArgs args{stride, stride, pad, pad};
  const double gflop = 2.0 * K * C * R * R * N * P * P / 1e9;
  NoGradGuard no_grad;
  Tensor y = Tensor::empty({N, K, P, P}, DType::Float32), gx = Tensor::empty_like(x), gw = Tensor::empty_like(w);
  const double fwd = median_ms([&] { DISMAX_KERNEL(x.device(), conv2d_forward)(x, w, Tensor(), args, y); });
  Tensor none;
  const double bwd_x = median_ms([&] { DISMAX_KERNEL(x.device(), conv2d_backward)(gy, x, w, args, gx, none, none); });
  const double bwd_w = median_ms([&] { DISMAX_KERNEL(x.device(), conv2d_backward)(gy, x, w, args, none, gw, none); });
  std::printf("conv %ldx%ld %ld->%ld %ldx%ld s%ld b%ld, %d threads: fwd %.2f ms (%.0f GFLOP/s), grad input %.2f ms "
              "(%.0f), grad weight %.2f ms (%.0f)\n",
              long(R), long(R), long(C), long(K), long(HW), long(HW), long(stride), long(N), num_threads(), fwd,
              gflop / fwd * 1e3, bwd_x, gflop / bwd_x * 1e3, bwd_w, gflop / bwd_w * 1e3);
}
