// A research program linking the installed dismax library: build a CIFAR-style ResNet, train it for a
// few SGD steps on a synthetic batch, save a checkpoint, reload it into a fresh model and check that both
// give the same predictions.
//   cmake -S examples -B build-example -DCMAKE_PREFIX_PATH=<dismax install prefix> && cmake --build build-example
#include <cstdio>
#include <exception>

#include "engine/grad_mode.h"
#include "engine/ops.h"
#include "layers/lr_schedule.h"
#include "layers/sgd.h"
#include "models/checkpoint.h"
#include "models/model.h"

using namespace dismax;

int main(int argc, char** argv) {
  try {
    const std::string path = argc > 1 ? argv[1] : "example_checkpoint.safetensors";
    Generator gen(42);
    auto model = make_model("resnet20", 10, gen, {3, 0.5});  // half-width ResNet-20, 10 classes
    std::printf("%s", model->summary().c_str());

    // A fixed synthetic batch: the loss must go down when the model fits it.
    const Tensor images = Tensor::randn({16, 3, 32, 32}, gen);
    std::vector<int64_t> label_values(16);
    for (int i = 0; i < 16; ++i) label_values[i] = i % 10;
    const Tensor labels = Tensor::from_vector(label_values, {16});

    SGD optimizer(model->named_parameters(), {0.05, 0.9, 0.0, 1e-4, true});
    MultiStepLR schedule(0.05, {3}, 0.1);
    double first = 0, last = 0;
    for (int step = 0; step < 6; ++step) {
      optimizer.set_lr(schedule.lr_at(step));
      optimizer.zero_grad();
      Tensor logits = model->forward(images);
      Tensor loss = neg(mean(sum(mul(one_hot(labels, 10), log_softmax(logits, 1)), {1})));
      loss.backward();
      optimizer.step();
      last = loss.item();
      if (step == 0) first = last;
      std::printf("step %d  lr %.4f  loss %.4f\n", step, optimizer.lr(), last);
    }

    save_checkpoint(path, *model, {{"model", model->arch()}, {"num_classes", "10"}, {"loss", "softmax"}});
    Generator other(7);
    auto reloaded = make_model("resnet20", 10, other, {3, 0.5});
    load_checkpoint(path, *reloaded);
    model->eval();
    reloaded->eval();
    NoGradGuard no_grad;
    const bool same = model->forward(images).to_vector<float>() == reloaded->forward(images).to_vector<float>();
    std::printf("checkpoint %s reloaded: predictions %s\n", path.c_str(), same ? "identical" : "DIFFER");
    std::printf("loss %.4f -> %.4f\n", first, last);
    return same && last < first ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example: %s\n", e.what());
    return 1;
  }
}
