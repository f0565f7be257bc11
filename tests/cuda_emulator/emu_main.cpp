// The emulator's test runner: doctest's main, then the fakes are told that the process is tearing down,
// so that a cuDNN or cuBLAS object destroyed by a static destructor is reported (real cuDNN may already be
// unloaded then, and destroying an execution plan crashes the process after a green run).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "fake_device.h"

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  fake::set_exiting();
  return result;
}
