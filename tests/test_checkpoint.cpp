#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/autograd/node.h"
#include "engine/ops.h"
#include "engine/version.h"
#include "models/checkpoint.h"
#include "models/model.h"

using namespace dismax;
namespace fs = std::filesystem;

namespace {
std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("dismax_ckpt_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

Tensor train_step(Model& model, SGD& opt, const Tensor& x, const Tensor& y) {
  opt.zero_grad();
  Tensor loss = neg(mean(sum(mul(one_hot(y, model.num_classes()), log_softmax(model.forward(x), 1)), {1})));
  loss.backward();
  opt.step();
  return loss;
}

bool same_state(const Module& a, const Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  if (sa.size() != sb.size()) return false;
  for (size_t i = 0; i < sa.size(); ++i)
    if (sa[i].first != sb[i].first || sa[i].second.to_vector<double>() != sb[i].second.to_vector<double>()) return false;
  return true;
}
}  // namespace

TEST_CASE("a checkpoint round-trips weights, buffers and metadata") {
  Generator g1(1), g2(2);
  auto a = make_model("resnet20", 10, g1, {3, 0.5});
  auto b = make_model("resnet20", 10, g2, {3, 0.5});
  CHECK(!same_state(*a, *b));
  const std::string path = temp_path("model.safetensors");
  save_checkpoint(path, *a, {{"model", "resnet20"}, {"num_classes", "10"}, {"loss", "softmax"}});
  const Metadata meta = load_checkpoint(path, *b);
  CHECK(same_state(*a, *b));
  CHECK(meta.at("model") == "resnet20");
  CHECK(meta.at("engine_version") == engine_version());
  CHECK(meta.at("git_revision") == git_revision());
  CHECK(metadata_int(meta, "num_classes", path) == 10);
  CHECK_THROWS_WITH_AS(metadata_int(meta, "loss", path), doctest::Contains("'loss' = 'softmax' is not an integer"), Error);
  a->eval();
  b->eval();
  NoGradGuard guard;
  const Tensor x = Tensor::randn({2, 3, 32, 32}, g1);
  CHECK(a->forward(x).to_vector<float>() == b->forward(x).to_vector<float>());
}

TEST_CASE("a checkpoint of another architecture or a damaged file is refused with the file and tensor named") {
  Generator gen(3);
  auto small = make_model("resnet20", 10, gen, {3, 0.5});
  auto other = make_model("resnet20", 10, gen, {3, 0.25});
  auto classes = make_model("resnet20", 7, gen, {3, 0.5});
  auto deeper = make_model("resnet18cifar", 10, gen, {3, 0.125});
  const std::string path = temp_path("small.safetensors");
  save_checkpoint(path, *small, {});
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *other), doctest::Contains("conv1.weight [8, 3, 3, 3] (model: [4, 3, 3, 3])"), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *classes), doctest::Contains("classifier.weight [10, "), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(path, *deeper), doctest::Contains("small.safetensors"), Error);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = temp_path("cut.safetensors");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CHECK_THROWS_WITH_AS(load_checkpoint(cut, *small), doctest::Contains("cut.safetensors"), Error);
  CHECK_THROWS_WITH_AS(load_checkpoint(temp_path("absent.safetensors"), *small), doctest::Contains("absent.safetensors: cannot open"), Error);
}

TEST_CASE("PyTorch state_dict names load as they are, LIB's WRN head alias included") {
  // The narrow WRN weights of the parity fixture, written by PyTorch, under a checkpoint name.
  const TensorFile torch_file = load_safetensors(std::string(DISMAX_FIXTURE_DIR) + "/models.safetensors");
  NamedTensors state;
  for (const auto& [n, t] : torch_file.tensors)
    if (n.rfind("wideresnet2810.init.", 0) == 0) {
      std::string name = n.substr(20);
      if (name.rfind("classifier.", 0) == 0) name = "linear." + name.substr(11);  // as LIB names it
      state.emplace_back(name, t);
    }
  const std::string path = temp_path("wrn_lib.safetensors");
  save_safetensors(path, state, {{"model", "wideresnet2810"}});
  Generator gen(4);
  auto wrn = make_model("wideresnet2810", 5, gen, {3, 0.05, 10});
  CHECK_THROWS_AS(load_checkpoint(path, *wrn), Error);  // without the head name, `linear.` is unexpected
  load_checkpoint(path, *wrn, wrn->head_name());
  CHECK(wrn->state_dict().back().first == "classifier.bias");
}

TEST_CASE("resuming from a training state continues exactly like an uninterrupted run") {
  Generator data_gen(5);
  const Tensor x = Tensor::randn({4, 3, 16, 16}, data_gen);
  const Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 1}, {4});
  const SgdOptions sgd{0.05, 0.9, 0.0, 1e-4, true};

  Generator init(6);
  auto straight = make_model("resnet20", 3, init, {3, 0.5});
  SGD opt_straight(straight->named_parameters(), sgd);
  for (int i = 0; i < 4; ++i) train_step(*straight, opt_straight, x, y);

  Generator init2(6), run_rng(99);
  auto first = make_model("resnet20", 3, init2, {3, 0.5});
  SGD opt_first(first->named_parameters(), sgd);
  for (int i = 0; i < 2; ++i) train_step(*first, opt_first, x, y);
  Tensor::rand({17}, run_rng);  // the run's own generator has moved on too
  const std::string model_path = temp_path("resume.safetensors"), state_path = temp_path("resume.state.safetensors");
  save_checkpoint(model_path, *first, {{"epoch", "2"}});
  save_training_state(state_path, opt_first, 2, {{"run", &run_rng}});

  Generator other(123), restored_rng(0);
  auto second = make_model("resnet20", 3, other, {3, 0.5});
  SGD opt_second(second->named_parameters(), sgd);
  load_checkpoint(model_path, *second);
  const Metadata meta = load_training_state(state_path, opt_second, {{"run", &restored_rng}});
  CHECK(metadata_int(meta, "epoch", state_path) == 2);
  CHECK(opt_second.step_count() == 2);
  CHECK(restored_rng.seed() == run_rng.seed());
  CHECK(restored_rng.offset() == run_rng.offset());
  for (int i = 0; i < 2; ++i) train_step(*second, opt_second, x, y);
  CHECK(same_state(*straight, *second));  // bitwise
}
