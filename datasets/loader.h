// DataLoader: batches of transformed examples in NCHW float32, made ahead of the training loop by worker
// threads through a bounded queue. Reproducible: the epoch's order comes from (seed, epoch) only and each
// sample's random augmentation from (seed, epoch, dataset index), so batches do not depend on the number of
// workers or on thread timing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "datasets/dataset.h"
#include "datasets/transforms.h"
#include "engine/tensor.h"

namespace dismax {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  bool drop_last = false;  // drop the last partial batch (kept by default, as in the SPEC's loaders)
  uint64_t seed = 0;
  int workers = 0;           // 0: each batch is made inside next(), in the caller's thread
  int prefetch_batches = 0;  // batches made or waiting ahead of next(); 0: 2 per worker
  bool pin_memory = false;   // images in page-locked memory, for asynchronous copies to a GPU
};

struct Batch {
  Tensor images;                 // (N, C, H, W) float32
  Tensor labels;                 // (N) int64
  std::vector<int64_t> indices;  // (N) dataset index of each row
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
};

// The generator seed of sample `index` in `epoch`, and of the epoch's permutation.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const Dataset> dataset, Transform transform, LoaderOptions options);
  ~DataLoader();  // stops and joins the workers, also mid-epoch
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts (or restarts) an epoch: its order is a permutation from (seed, epoch) when shuffling, else 0..n-1.
  void start_epoch(int64_t epoch);
  // The next batch of the epoch, or nullopt after the last. An error while reading or transforming a sample
  // (naming its file) is rethrown here, in batch order, and ends the epoch. Unreadable images skipped by the
  // dataset (DatasetOptions::skip_unreadable) are left out of their batch and counted in a warning at the
  // end of the epoch.
  std::optional<Batch> next();

  int64_t num_batches() const;  // per epoch
  int64_t epoch() const { return epoch_; }
  // The dataset indices in the order `epoch` visits them.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  const Dataset& dataset() const { return *dataset_; }
  const Transform& transform() const { return transform_; }
  const LoaderOptions& options() const { return options_; }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  Batch make_batch(int64_t b);
  void worker_loop();
  void stop_workers();
  void finish_epoch();

  std::shared_ptr<const Dataset> dataset_;
  Transform transform_;
  LoaderOptions options_;
  int64_t window_ = 1;

  int64_t epoch_ = -1;
  bool active_ = false;
  std::vector<int64_t> order_;
  int64_t batches_ = 0;
  int64_t next_out_ = 0;  // next batch next() returns

  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t next_claim_ = 0;  // next batch a worker takes
  bool stop_ = false;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> threads_;
  std::atomic<int64_t> skipped_{0};
};

}  // namespace dismax
