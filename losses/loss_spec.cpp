#include "losses/loss_spec.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace dismax {

namespace {
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep)) parts.push_back(item);
  return parts;
}
}  // namespace

std::string LossSpec::str() const {
  if (family == "logitnorm" && logitnorm_t != 0.04) {
    char text[32];
    for (int digits = 6; digits <= 17; ++digits) {  // the shortest form that reads back as the same number
      std::snprintf(text, sizeof text, "%.*g", digits, logitnorm_t);
      if (std::strtod(text, nullptr) == logitnorm_t) break;
    }
    return std::string("logitnorm_") + text;
  }
  if (family != "dismax" || !fpr) return family;
  if (alpha == 1.0) return "dismax_fpr";
  std::ostringstream os;
  os << "dismax_fpr_" << alpha;
  return os.str();
}

// The accepted forms: canonical "<family>", "dismax_fpr", "dismax_fpr_<alpha>"; LIB "<family>_<addon>"
// (addon none or std; dismax also fpr); ORIG "<family>_std_std_<reg>" (reg std; dismax also noreg, fpr, 0.5,
// 0.25). Anything else is refused, so that a typo never trains plain DisMax by accident.
LossSpec parse_loss(const std::string& text) {
  const auto parts = split(text, '_');
  DISMAX_CHECK(text.empty() || (text.back() != '_' && text.find("__") == std::string::npos), "invalid loss '", text,
               "': empty part");
  const char* forms = " (accepted: softmax, isomax, isomaxplus, dismax, dismax_fpr, dismax_fpr_<alpha>, logitnorm, "
                      "logitnorm_<t>, "
                      "<family>_none, <family>_std_std_std, dismax_std_std_{fpr,noreg,0.5,0.25})";
  DISMAX_CHECK(!parts.empty(), "invalid loss '", text, "'", forms);
  LossSpec spec;
  spec.family = parts[0];
  DISMAX_CHECK(spec.family == "softmax" || spec.family == "isomax" || spec.family == "isomaxplus" ||
                   spec.family == "dismax" || spec.family == "logitnorm",
               "invalid loss '", text, "': the family must be softmax, isomax, isomaxplus, dismax or logitnorm");
  const bool dismax = spec.family == "dismax";
  auto bad = [&](const std::string& why) { DISMAX_FAIL("invalid loss '", text, "': ", why, forms); };
  if (parts.size() == 1) return spec;
  if (spec.family == "logitnorm") {
    char* end = nullptr;
    const double t = std::strtod(parts[1].c_str(), &end);
    if (parts.size() != 2 || *end != '\0' || !std::isfinite(t) || t <= 0) bad("logitnorm takes one part, t > 0");
    spec.logitnorm_t = t;
    return spec;
  }
  if (parts.size() == 2) {
    if (parts[1] == "none" || parts[1] == "std") return spec;
    if (dismax && parts[1] == "fpr") {
      spec.fpr = true;
      return spec;
    }
    bad("unknown part '" + parts[1] + "'");
  }
  if (parts.size() == 3) {
    if (!dismax || parts[1] != "fpr") bad("three parts are only dismax_fpr_<alpha>");
    char* end = nullptr;
    const double alpha = std::strtod(parts[2].c_str(), &end);
    if (parts[2].empty() || *end != '\0' || !std::isfinite(alpha) || alpha <= 0) bad("alpha '" + parts[2] + "' is not a positive number");
    spec.fpr = true;
    spec.alpha = alpha;
    return spec;
  }
  if (parts.size() == 4 && parts[1] == "std" && parts[2] == "std") {
    const std::string& reg = parts[3];
    if (reg == "std" || (dismax && reg == "noreg")) return spec;
    if (dismax && (reg == "fpr" || reg == "0.5" || reg == "0.25")) {
      spec.fpr = true;
      spec.alpha = reg == "fpr" ? 1.0 : std::strtod(reg.c_str(), nullptr);
      return spec;
    }
    bad("unknown regularisation '" + reg + "'");
  }
  bad("not a known loss string");
  return spec;  // not reached: bad() throws
}

std::shared_ptr<LossHead> make_head(const std::string& family, int64_t f, int64_t c, Generator& gen) {
  if (family == "softmax" || family == "logitnorm") return std::make_shared<SoftMaxHead>(f, c, gen);
  if (family == "isomax") return std::make_shared<IsoMaxHead>(f, c);
  if (family == "isomaxplus") return std::make_shared<IsoMaxPlusHead>(f, c, gen);
  if (family == "dismax") return std::make_shared<DisMaxHead>(f, c, gen);
  DISMAX_FAIL("unknown loss family '", family, "'");
}

std::shared_ptr<Criterion> make_criterion(const LossSpec& spec, std::shared_ptr<LossHead> head) {
  DISMAX_CHECK(head != nullptr && head->loss_name() == spec.head_family(), "make_criterion: a ", spec.family,
               " loss needs a ", spec.head_family(), " head");
  DISMAX_CHECK(spec.label_smoothing == 0.0 || spec.family == "softmax", "label smoothing is for the softmax loss, "
               "not ", spec.family);
  if (spec.family == "softmax") return std::make_shared<SoftMaxLoss>(head, spec.label_smoothing);
  if (spec.family == "logitnorm") return std::make_shared<LogitNormLoss>(head, spec.logitnorm_t);
  if (spec.family == "isomax" || spec.family == "isomaxplus") return std::make_shared<IsoMaxLoss>(head, spec.numerics);
  return std::make_shared<DisMaxLoss>(head, DisMaxOptions{spec.fpr, spec.alpha, spec.numerics});
}

}  // namespace dismax
