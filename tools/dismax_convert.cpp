// dismax-convert: between PyTorch state_dicts (.pth, as the original code saves them) and dismax checkpoints
// (.safetensors with metadata). The direction follows OUT's extension; IN's format is read from its content.
// Either way the model is rebuilt and loaded strictly first, so a file that does not fit its description is
// refused with every mismatched tensor listed, and nothing is written.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <new>

#include "engine/io/torch_file.h"
#include "experiment/model_with_loss.h"
#include "experiment/torch_interop.h"
#include "losses/heads.h"
#include "models/checkpoint.h"

using namespace dismax;

namespace {

bool has_extension(const std::string& path, std::initializer_list<const char*> extensions) {
  const std::string ext = std::filesystem::path(path).extension().string();
  for (const char* e : extensions)
    if (ext == e) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string in, out, names = "orig";
  CheckpointDescription d;
  CLI::App app{"dismax-convert: PyTorch .pth state_dicts to dismax checkpoints (.safetensors) and back"};
  app.add_option("IN", in, "A .pth state_dict (torch.save) or a dismax .safetensors checkpoint")->required();
  app.add_option("OUT", out, "Written file: .safetensors (dismax) or .pth / .pt (PyTorch state_dict)")->required();
  app.add_option("--model", d.model, "Architecture of a .pth (resnet34, densenetbc100, wideresnet2810, resnet18, ...)");
  app.add_option("--loss", d.loss, "Loss of a .pth (softmax, isomax, isomaxplus, dismax, or dismax_std_std_fpr, ...)");
  app.add_option("--dataset", d.dataset, "Dataset a .pth was trained on (gives the class count)");
  app.add_option("--config", d.config_string, "The original's config string, e.g. "
                                               "data~cifar10+model~resnet34+loss~dismax_std_std_fpr");
  app.add_option("--width", d.width, "Channel-width multiplier of a .pth's architecture (default: as published)");
  app.add_option("--names", names, "Tensor names of a written .pth: orig (the paper's repository) or lib "
                                   "(robust-deep-learning)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    const StateDictNames flavour = parse_state_dict_names(names);
    const bool to_torch = has_extension(out, {".pth", ".pt"});
    DISMAX_CHECK(to_torch || has_extension(out, {".safetensors"}), "OUT ", out,
                 ": its extension must be .safetensors (dismax) or .pth / .pt (PyTorch)");
    DISMAX_CHECK(std::filesystem::absolute(in) != std::filesystem::absolute(out), "OUT must not be IN (", in, ")");
    const LoadedModel loaded = load_model(in, d);
    if (to_torch) {
      const TorchStateDict state = torch_state_dict(loaded, flavour);
      for (const auto& note : state.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
      save_torch_file(out, state.tensors, state.bool_tensors);
      std::printf("wrote %s: %zu tensors with the %s names of %s + %s\n", out.c_str(), state.tensors.size(),
                  names == "orig" ? "original repository's" : "robust-deep-learning", loaded.model->arch().c_str(),
                  loaded.loss.str().c_str());
    } else {
      Metadata meta = loaded.metadata;
      for (const char* internal : {"stripped_prefix", "state_dict_key", "engine_version", "git_revision"})
        meta.erase(internal);
      if (auto* head = dynamic_cast<const LossHead*>(&loaded.model->head())) {
        char t[32];
        std::snprintf(t, sizeof t, "%.17g", head->temperature());
        meta["temperature"] = t;
      }
      meta["converted_from"] = std::filesystem::path(in).filename().string();
      save_checkpoint(out, *loaded.model, meta);
      std::printf("wrote %s: %s + %s, %s\n", out.c_str(), loaded.model->arch().c_str(), loaded.loss.str().c_str(),
                  meta.count("dataset") ? meta.at("dataset").c_str() : "dataset not given");
    }
    return 0;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "dismax-convert: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dismax-convert: error: %s\n", e.what());
    return 1;
  }
}
