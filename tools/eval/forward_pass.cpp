#include "tools/eval/forward_pass.h"

#include <chrono>

#include "datasets/loader.h"
#include "engine/error.h"
#include "engine/grad_mode.h"
#include "engine/ops.h"
#include "posthoc/odin.h"
#include "tools/common/progress.h"

namespace dismax {

SetOutputs forward_pass(Model& model, const std::string& name, std::shared_ptr<const Dataset> data,
                        const Transform& transform, const ForwardOptions& o) {
  if (o.max_samples > 0 && o.max_samples < data->size()) {
    std::vector<int64_t> first(static_cast<size_t>(o.max_samples));
    for (int64_t i = 0; i < o.max_samples; ++i) first[i] = i;
    data = std::make_shared<SubsetDataset>(data, first, "first " + std::to_string(o.max_samples));
  }
  DataLoader loader(data, transform, {o.batch_size, false, false, 0, o.workers, 0});
  loader.start_epoch(0);
  Progress progress("eval " + name, loader.num_batches());
  std::vector<Tensor> features, logits, labels, odin;
  int64_t done = 0, rows = 0;
  double odin_seconds = 0;
  const auto start = std::chrono::steady_clock::now();
  while (auto batch = loader.next()) {
    if (batch->size() == 0) {  // every image of the batch was unreadable and skipped
      progress.update(++done, "", 0);
      continue;
    }
    const Tensor x = batch->images.to(o.device);
    {
      NoGradGuard no_grad;
      const Tensor f = model.features(x);
      logits.push_back(model.head().forward(f).to(Device::cpu()));
      features.push_back(f.to(Device::cpu()));
    }
    if (o.odin) {
      const auto t0 = std::chrono::steady_clock::now();
      odin.push_back(odin_scores(model, x, o.channel_std, o.odin_temperature, o.odin_noise));
      odin_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    labels.push_back(batch->labels);
    rows += batch->size();
    progress.update(++done, "", batch->size());
  }
  progress.finish(std::to_string(rows) + " samples");
  DISMAX_CHECK(rows > 0, name, ": no samples to evaluate in ", data->describe(),
               data->size() > 0 ? " (none of its images could be read)" : "");
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SetOutputs out{name, {cat(features, 0), cat(logits, 0), cat(labels, 0)}, Tensor(), data->size() - rows,
                 total - odin_seconds, odin_seconds};
  if (o.odin) out.odin = cat(odin, 0);
  return out;
}

}  // namespace dismax
