// Our models as the original PyTorch code names them, for writing a state_dict that the original's modules
// load with `model.load_state_dict(torch.load(path))` (strict): the paper's repository (ORIG) and the
// robust-deep-learning library (LIB) differ in the head's extra tensors and in WRN's head name (SPEC §1.10,
// §3.6).
#pragma once

#include <string>
#include <vector>

#include "experiment/model_with_loss.h"

namespace dismax {

enum class StateDictNames {
  Original,  // SoftMax/IsoMax/IsoMax+ heads without `temperature`; DisMax with its bool flag and thresholds
  Library,   // every head with `temperature`; DisMax without the flag and thresholds; WRN's head is `linear`
};
StateDictNames parse_state_dict_names(const std::string& text);  // "orig" | "lib"; throws naming --names

struct TorchStateDict {
  NamedTensors tensors;
  std::vector<std::string> bool_tensors;  // written as torch.bool
  std::vector<std::string> notes;         // what the names cannot carry (a calibrated temperature dropped)
};
TorchStateDict torch_state_dict(const LoadedModel& loaded, StateDictNames names);

}  // namespace dismax
