#include "datasets/loader.h"

#include <algorithm>
#include <cstring>
#include <iostream>

#include "engine/error.h"
#include "engine/generator.h"
#include "engine/ops.h"

namespace dismax {

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
constexpr int64_t kPermutationIndex = -1;  // sample_seed(seed, epoch, -1) seeds the epoch's permutation
}  // namespace

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^
                    static_cast<uint64_t>(index));
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, Transform transform, LoaderOptions options)
    : dataset_(std::move(dataset)), transform_(std::move(transform)), options_(options) {
  DISMAX_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  DISMAX_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", options_.batch_size);
  DISMAX_CHECK(options_.workers >= 0, "DataLoader: workers must be >= 0, got ", options_.workers);
  DISMAX_CHECK(options_.prefetch_batches >= 0, "DataLoader: prefetch_batches must be >= 0, got ",
               options_.prefetch_batches);
  window_ = options_.prefetch_batches > 0 ? options_.prefetch_batches : std::max(1, 2 * options_.workers);
}

DataLoader::~DataLoader() { stop_workers(); }

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  const int64_t n = dataset_->size();
  std::vector<int64_t> order(n);
  if (options_.shuffle) {
    Generator gen(sample_seed(options_.seed, epoch, kPermutationIndex));
    const Tensor perm = randperm(n, gen);
    std::memcpy(order.data(), perm.data<int64_t>(), sizeof(int64_t) * n);
  } else {
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  return order;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  ready_.clear();
}

void DataLoader::start_epoch(int64_t epoch) {
  stop_workers();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  batches_ = num_batches();
  next_out_ = 0;
  next_claim_ = 0;
  stop_ = false;
  skipped_ = 0;
  active_ = true;
  for (int w = 0; w < options_.workers && w < batches_; ++w) threads_.emplace_back([this] { worker_loop(); });
}

void DataLoader::worker_loop() {
  while (true) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock,
                    [this] { return stop_ || next_claim_ >= batches_ || next_claim_ < next_out_ + window_; });
      if (stop_ || next_claim_ >= batches_) return;
      b = next_claim_++;
    }
    Slot slot;
    try {
      slot.batch = make_batch(b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[b] = std::move(slot);
    }
    ready_cv_.notify_all();
  }
}

Batch DataLoader::make_batch(int64_t b) {
  const int64_t bs = options_.batch_size;
  const int64_t begin = b * bs, end = std::min<int64_t>(begin + bs, static_cast<int64_t>(order_.size()));
  const int64_t n = end - begin;
  Batch batch;
  batch.indices.reserve(n);
  std::vector<int64_t> labels;
  labels.reserve(n);
  float* out = nullptr;
  int c = 0, h = 0, w = 0;
  size_t per_sample = 0;
  for (int64_t k = begin; k < end; ++k) {
    const int64_t index = order_[k];
    Example ex = dataset_->get(index);
    if (ex.image.empty()) {  // skipped unreadable file
      ++skipped_;
      continue;
    }
    Generator gen(sample_seed(options_.seed, epoch_, index));
    Image img;
    try {
      img = transform_.augment(ex.image, gen);
    } catch (const Error& e) {
      DISMAX_FAIL(e.what(), " (sample ", index, ": ", dataset_->source(index), ")");
    }
    if (!out) {
      c = img.channels, h = img.height, w = img.width;
      per_sample = static_cast<size_t>(c) * h * w;
      batch.images = Tensor::empty({n, c, h, w}, DType::Float32);
      out = batch.images.data<float>();
    } else {
      DISMAX_CHECK(img.channels == c && img.height == h && img.width == w, "DataLoader: sample ", index, " (",
                   dataset_->source(index), ") is ", img.channels, "x", img.height, "x", img.width,
                   " after the transform, but its batch's first sample is ", c, "x", h, "x", w,
                   "; add a resize or crop to the transform");
    }
    transform_.to_chw(img, out + batch.indices.size() * per_sample, gen);
    batch.indices.push_back(index);
    labels.push_back(ex.label);
  }
  const int64_t kept = static_cast<int64_t>(batch.indices.size());
  if (!out) {
    batch.images = Tensor::empty({0, 0, 0, 0}, DType::Float32);
  } else if (kept < n) {  // some files were skipped: a smaller tensor, filled rows only
    Tensor smaller = Tensor::empty({kept, c, h, w}, DType::Float32);
    std::memcpy(smaller.data<float>(), out, sizeof(float) * per_sample * kept);
    batch.images = smaller;
  }
  batch.labels = Tensor::from_vector<int64_t>(labels, {kept});
  if (options_.pin_memory) batch.images = batch.images.pin_memory();
  return batch;
}

void DataLoader::finish_epoch() {
  stop_workers();
  active_ = false;
  if (skipped_ > 0)
    std::cerr << "dismax: warning: " << skipped_.load() << " unreadable image(s) skipped in epoch " << epoch_
              << " of " << dataset_->describe() << "\n";
}

std::optional<Batch> DataLoader::next() {
  DISMAX_CHECK(epoch_ >= 0, "DataLoader: call start_epoch(epoch) before next()");
  if (!active_) return std::nullopt;
  if (next_out_ >= batches_) {
    finish_epoch();
    return std::nullopt;
  }
  if (options_.workers == 0) {
    try {
      return make_batch(next_out_++);
    } catch (...) {
      active_ = false;
      throw;
    }
  }
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [this] { return ready_.count(next_out_) > 0; });
    auto it = ready_.find(next_out_);
    slot = std::move(it->second);
    ready_.erase(it);
    ++next_out_;
  }
  work_cv_.notify_all();
  if (slot.error) {
    stop_workers();
    active_ = false;
    std::rethrow_exception(slot.error);
  }
  return std::move(slot.batch);
}

}  // namespace dismax
