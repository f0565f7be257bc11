#include "layers/module.h"

#include <set>
#include <sstream>

#include "engine/grad_mode.h"
#include "engine/ops.h"

namespace dismax {

void Module::check_name(const std::string& name) const {
  DISMAX_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid member name '", name,
               "' (non-empty, no dots)");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list)
      if (n == name) return true;
    return false;
  };
  DISMAX_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), type_name(), ": name '", name,
               "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_name(name);
  DISMAX_CHECK(value.defined(), type_name(), ": parameter '", name, "' is undefined");
  Tensor p = value.is_leaf() ? value : value.detach();
  if (requires_grad) p.set_requires_grad(true);
  parameters_.emplace_back(name, p);
  return p;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name);
  DISMAX_CHECK(value.defined(), type_name(), ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name);
  DISMAX_CHECK(module != nullptr, type_name(), ": child '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

void Module::set_child(const std::string& name, std::shared_ptr<Module> module) {
  DISMAX_CHECK(module != nullptr, type_name(), ": replacement for child '", name, "' is null");
  for (auto& [n, m] : children_)
    if (n == name) {
      m = std::move(module);
      m->train(training_);
      return;
    }
  DISMAX_FAIL(type_name(), ": no child named '", name, "' to replace");
}

Module* Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m.get();
  return nullptr;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool params, bool buffers) const {
  if (params)
    for (const auto& [n, t] : parameters_) out.emplace_back(prefix + n, t);
  if (buffers) {
    sync_buffers();
    for (const auto& [n, t] : buffers_) out.emplace_back(prefix + n, t);
  }
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", out, params, buffers);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, true, false);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, false, true);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", out, true, true);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [n, m] : children_) out.emplace_back(n, m.get());
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (const auto& [n, m] : children_)
    for (auto& [sub, ptr] : m->named_modules()) out.emplace_back(sub.empty() ? n : n + "." + sub, ptr);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, bool strict, const std::string& source) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [n, t] : state) given[n] = &t;
  // Every problem is found before anything is copied, so that a refused file leaves the module as it was
  // and its error lists all of them (name and shape), not the first.
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  NamedTensors targets = state_dict();
  for (const auto& [name, target] : targets) {
    known.insert(name);
    auto it = given.find(name);
    if (it == given.end())
      missing.push_back(name + " " + shape_str(target.sizes()));
    else if (it->second->sizes() != target.sizes())
      mismatched.push_back(name + " " + shape_str(it->second->sizes()) + " (model: " + shape_str(target.sizes()) + ")");
  }
  for (const auto& [n, t] : state)
    if (!known.count(n)) unexpected.push_back(n + " " + shape_str(t.sizes()));
  auto list = [](const char* what, const std::vector<std::string>& items) {
    if (items.empty()) return std::string();
    std::string out = std::string("; ") + what + " (" + std::to_string(items.size()) + "): ";
    for (size_t i = 0; i < items.size() && i < 12; ++i) out += (i ? ", " : "") + items[i];
    return out + (items.size() > 12 ? ", ..." : "");
  };
  const bool refused = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (refused) {
    std::string why = list("wrong shape", mismatched);
    if (strict) why += list("missing", missing) + list("unexpected", unexpected);
    DISMAX_FAIL(source, ": does not fit the model (a different architecture or class count?)", why);
  }
  NoGradGuard guard;
  for (auto& [name, target] : targets) {
    auto it = given.find(name);
    if (it != given.end()) target.copy_(*it->second);
  }
}

int64_t Module::parameter_count(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

void Module::summary_lines(const std::string& name, int depth, std::string& out) const {
  std::ostringstream line;
  line << std::string(2 * depth, ' ') << (name.empty() ? "" : "(" + name + "): ") << type_name() << "("
       << extra_repr() << ")";
  int64_t own = 0;
  for (const auto& [n, t] : parameters_) own += t.numel();
  if (own > 0) line << "  [" << own << " params]";
  out += line.str() + "\n";
  for (const auto& [n, m] : children_) m->summary_lines(n, depth + 1, out);
}

std::string Module::summary() const {
  std::string out;
  summary_lines("", 0, out);
  out += "total parameters: " + std::to_string(parameter_count()) + " (trainable " +
         std::to_string(parameter_count(true)) + ")\n";
  return out;
}

void Module::to(Device device) {
  NoGradGuard guard;
  for (auto& [n, t] : state_dict()) {
    if (t.device() == device) continue;
    Tensor moved = t.detach().to(device);
    t.set_data(moved);
    if (t.grad().defined()) t.set_grad(t.grad().to(device));
  }
}

void Module::to(DType dtype) {
  DISMAX_CHECK(is_floating(dtype), type_name(), ": to(", dtype_name(dtype), ") needs a floating dtype");
  NoGradGuard guard;
  for (auto& [n, t] : state_dict()) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype) continue;
    t.set_data(t.detach().to(dtype));
    t.zero_grad();
  }
}

void Module::zero_grad() {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

}  // namespace dismax
