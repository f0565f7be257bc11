// Reader for MATLAB level-5 MAT-files (v5/v6/v7: what scipy.io.loadmat reads and what SVHN's
// train_32x32.mat / test_32x32.mat are), including zlib-compressed variables. Only real numeric arrays are
// returned; other variables (cells, structs, strings, sparse) are skipped. v7.3 files (HDF5) are refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dismax {

struct MatArray {
  std::string name;
  int mx_class = 0;      // MATLAB class: 6 double, 7 single, 8 int8, 9 uint8, ..., 15 uint64
  int storage_type = 0;  // MAT data type of `data` (1 int8, 2 uint8, 3 int16, ..., 9 double, 12 int64, 13
                         // uint64); MATLAB may store a double array as uint8 when its values allow
  std::vector<int64_t> dims;  // column-major: the first dimension varies fastest
  std::vector<uint8_t> data;  // the real part, host byte order

  int64_t numel() const;
  std::vector<double> to_double() const;  // every element converted
};

// All numeric variables of `path`, in file order. Throws dismax::Error naming the file when it is missing,
// not a level-5 MAT-file, truncated or corrupt.
std::vector<MatArray> read_mat_file(const std::string& path);
// The variable called `name` of `arrays`; throws naming `path` and the variables present if absent.
MatArray& find_mat_array(std::vector<MatArray>& arrays, const std::string& name, const std::string& path);

}  // namespace dismax
