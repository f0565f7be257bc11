// Shapes and strides: plain vectors of int64, with helpers for printing and broadcasting.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dismax {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
// Broadcast two shapes NumPy-style; throws naming `op` and both shapes if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Normalises a possibly negative dim for a tensor of rank `rank`; throws naming `op` if out of range.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);

}  // namespace dismax
