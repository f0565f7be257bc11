// libFuzzer target: image decoding (JPEG through libjpeg-turbo, PNG and the rest through OpenCV) and the
// declared-size guard in front of both. The pixel limit is lowered so that a valid but huge image is a
// refusal, not an out-of-memory report.
#include "datasets/image.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool limited = [] {
    dismax::set_max_image_pixels(int64_t{1} << 22);
    return true;
  }();
  (void)limited;
  return fuzz::expect_clean([&] { (void)dismax::decode_image(data, size, "fuzz-image"); });
}
