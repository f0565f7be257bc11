// Element types. Float32 is the working type; Float64 serves gradient checks; Int64 holds labels and
// indices; UInt8 holds raw images; Float16/BFloat16 are reserved (no kernels yet).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dismax {

enum class DType : uint8_t { Float32, Float64, Float16, BFloat16, Int64, UInt8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

template <class T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::Float32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::Float64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::UInt8; };
template <class T> constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace dismax
