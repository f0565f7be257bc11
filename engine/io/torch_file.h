// PyTorch's torch.save format (since PyTorch 1.6): a zip archive holding `<prefix>/data.pkl`, a pickle of the
// saved object whose tensors point at storages stored as `<prefix>/data/<key>` records. Read through a
// restricted unpickler: the file may name only the globals a state_dict needs (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 and _rebuild_parameter, the typed storages below) and only data opcodes;
// anything else is refused with an error naming it, and nothing in the file is ever run. The zip archive is
// read and written by libzip (Debian's libzip-dev); a build without it reports so when one is opened.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/tensor.h"

namespace dismax {

// Whether `bytes` start like a zip archive (every torch.save file since PyTorch 1.6 does).
bool looks_like_zip(const std::string& bytes);
// Whether this build can read and write torch.save files (it was built with libzip).
bool torch_files_supported();

// The state_dict of a torch.save file: the tensors by name, in the pickle's order, as contiguous host
// tensors. The file's object is a dict of tensors, or a dict holding one under "state_dict",
// "model_state_dict", "model", "net" or "state" (then metadata "state_dict_key" names it). Storages may be
// FloatStorage, DoubleStorage, HalfStorage and BFloat16Storage (both read as float32, exactly), LongStorage,
// BoolStorage and ByteStorage (both read as uint8); tensors may be views (storage offset, strides) of a
// storage that several of them share. Every inconsistency (not a zip, no data.pkl, a missing or short storage
// record, a view outside its storage, a refused global or opcode) throws dismax::Error naming the file.
TensorFile load_torch_file(const std::string& path);
// The same on bytes already in memory; `source` names them in errors.
TensorFile parse_torch_file(const std::string& bytes, const std::string& source);

// The state_dict of a torch.save file's data.pkl whose storages are given by key (what parse_torch_file does
// once the archive is open; also the fuzzing entry point). Needs no libzip.
TensorFile parse_state_dict_pickle(const std::string& data_pkl, const std::map<std::string, std::string>& storages,
                                   const std::string& source);

// Writes `tensors` (any device, copied to the host) as a torch.save file of an OrderedDict that
// `torch.load(path)` returns as a state_dict: float32, float64, int64 and uint8 tensors keep their dtype, and
// those named in `bool_tensors` are written as torch.bool. Atomic, as every write of the project.
void save_torch_file(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                     const std::vector<std::string>& bool_tensors = {});

}  // namespace dismax
