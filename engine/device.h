// Where a tensor's memory lives: the host (CPU) or a CUDA device with an index.
#pragma once

#include <string>

namespace dismax {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu", "cuda:0"
  bool operator==(const Device& o) const { return type == o.type && (type == DeviceType::CPU || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// Parses "cpu", "cuda", "cuda:1"; throws dismax::Error naming the string otherwise.
Device parse_device(const std::string& text);

}  // namespace dismax
