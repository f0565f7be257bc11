#include "experiment/torch_interop.h"

#include <sstream>

#include "engine/error.h"
#include "losses/heads.h"

namespace dismax {

StateDictNames parse_state_dict_names(const std::string& text) {
  if (text == "orig") return StateDictNames::Original;
  if (text == "lib") return StateDictNames::Library;
  DISMAX_FAIL("--names must be orig (the paper's repository) or lib (robust-deep-learning), got '", text, "'");
}

TorchStateDict torch_state_dict(const LoadedModel& loaded, StateDictNames names) {
  const Model& model = *loaded.model;
  const std::string head = model.head_name() + ".";
  const bool dismax = dynamic_cast<const DisMaxHead*>(&model.head()) != nullptr;
  const std::string lib_head = model.arch() == "wideresnet2810" ? "linear." : head;
  TorchStateDict out;
  for (auto [name, tensor] : model.state_dict()) {
    const bool in_head = name.rfind(head, 0) == 0;
    const std::string local = in_head ? name.substr(head.size()) : "";
    if (names == StateDictNames::Original) {
      if (in_head && local == "temperature" && !dismax) {
        const double t = tensor.item();
        if (t != 1.0) {
          std::ostringstream os;
          os << "the original's " << model.head().type_name() << " has no temperature: the calibrated " << t
             << " is left out (--names lib keeps it)";
          out.notes.push_back(os.str());
        }
        continue;
      }
      if (in_head && local == "validationset_available") out.bool_tensors.push_back(name);
    } else {
      if (in_head && (local == "validationset_available" || local == "precomputed_thresholds")) continue;
      if (in_head) name = lib_head + local;
    }
    out.tensors.emplace_back(name, tensor);
  }
  return out;
}

}  // namespace dismax
