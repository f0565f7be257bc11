// The dispatch seam: which kernels each backend provides. The CPU-vs-CUDA parity suite runs here when a
// GPU is present; without one it is skipped with the reason printed.
#include <doctest/doctest.h>

#include <iostream>

#include "engine/kernels.h"
#include "engine/ops.h"

using namespace dismax;

TEST_CASE("the CPU backend implements every kernel but the device copy") {
  const auto names = kernel_names();
  CHECK(names.size() >= 25);
  for (const auto& n : names) {
    CAPTURE(n);
    CHECK(kernel_supported(DeviceType::CPU, n) == (n != "copy_between_devices"));
  }
  CHECK_THROWS_WITH_AS(kernel_supported(DeviceType::CPU, "nonsense"), doctest::Contains("no kernel named"), Error);
}

TEST_CASE("CUDA backend availability") {
  if (!backend_available(DeviceType::CUDA)) {
    try {
      backend_for(Device::cuda(0));
    } catch (const Error& e) {
      std::cout << "[skip] CUDA tests: " << e.what() << "\n";
    }
    return;
  }
  // With a GPU: a host -> device -> host round trip must be exact.
  Tensor h = Tensor::from_vector<float>({1, 2, 3}, {3});
  CHECK(h.to(Device::cuda(0)).to(Device::cpu()).to_vector<float>() == std::vector<float>{1, 2, 3});
}
