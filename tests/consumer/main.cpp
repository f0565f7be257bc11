#include <cstdio>

#include "engine/ops.h"

int main() {
  dismax::Tensor w = dismax::Tensor::ones({3}).set_requires_grad(true);
  dismax::sum(w * w).backward();
  const double g = dismax::sum(w.grad()).item();
  std::printf("gradient sum %.1f\n", g);
  return g == 6.0 ? 0 : 1;
}
