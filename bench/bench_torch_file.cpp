// Times reading a torch.save checkpoint into tensors (file read, zip, restricted unpickling, storage copies)
// against bench/bench_torch_file.py's torch.load of the same file; writes the file first with PyTorch's
// tensor names when given none.
//   dismax-bench-torch-file FILE.pth [repeats]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/io/torch_file.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE.pth [repeats]\n", argv[0]);
    return 2;
  }
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  double best = 1e30;
  size_t tensors = 0;
  int64_t numbers = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const dismax::TensorFile f = dismax::load_torch_file(argv[1]);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    tensors = f.tensors.size();
    numbers = 0;
    for (const auto& [n, t] : f.tensors) numbers += t.numel();
  }
  std::printf("dismax load_torch_file: %zu tensors, %lld numbers, best of %d: %.4f s\n", tensors,
              static_cast<long long>(numbers), repeats, best);
  return 0;
}
