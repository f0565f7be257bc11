// DataLoader: reproducibility (seed, epoch), independence from the worker count, drop_last, error
// propagation from workers, destruction mid-epoch; the train/validation split.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "datasets/registry.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "datasets/transforms.h"
#include "engine/error.h"

using namespace dismax;

namespace {

// n random-looking 32x32 RGB images with labels i % classes.
std::shared_ptr<const Dataset> synthetic(int64_t n, int64_t classes = 10) {
  std::vector<uint8_t> pixels(static_cast<size_t>(n) * 32 * 32 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = i % classes;
  return std::make_shared<ArrayDataset>("synthetic", "memory", classes, 32, 32, 3, std::move(pixels),
                                        std::move(labels));
}

std::vector<Batch> epoch(DataLoader& loader, int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].indices != b[i].indices) return false;
    if (a[i].labels.to_vector<int64_t>() != b[i].labels.to_vector<int64_t>()) return false;
    if (a[i].images.sizes() != b[i].images.sizes()) return false;
    if (a[i].images.to_vector<float>() != b[i].images.to_vector<float>()) return false;
  }
  return true;
}

// A dataset whose example `bad` throws like a corrupt file, and that can be slow.
class Faulty : public Dataset {
 public:
  Faulty(std::shared_ptr<const Dataset> base, int64_t bad, int sleep_ms = 0)
      : base_(std::move(base)), bad_(bad), sleep_ms_(sleep_ms) {}
  int64_t size() const override { return base_->size(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  Example get(int64_t i) const override {
    ++calls;
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    DISMAX_CHECK(i != bad_, "cannot decode image /data/broken_", i, ".jpg (corrupt)");
    return base_->get(i);
  }
  std::string name() const override { return "faulty"; }
  mutable std::atomic<int64_t> calls{0};

 private:
  std::shared_ptr<const Dataset> base_;
  int64_t bad_;
  int sleep_ms_;
};

}  // namespace

TEST_CASE("datasets: loader batches are NCHW float with labels and indices; drop_last") {
  auto ds = synthetic(70);
  LoaderOptions o;
  o.batch_size = 16;
  DataLoader keep(ds, eval_transform("cifar10"), o);
  CHECK(keep.num_batches() == 5);
  auto batches = epoch(keep, 0);
  REQUIRE(batches.size() == 5);
  CHECK(batches[0].images.sizes() == Shape{16, 3, 32, 32});
  CHECK(batches[0].images.dtype() == DType::Float32);
  CHECK(batches[0].labels.dtype() == DType::Int64);
  CHECK(batches[4].size() == 6);  // 70 = 4 * 16 + 6
  CHECK(batches[4].images.sizes() == Shape{6, 3, 32, 32});
  CHECK(batches[1].indices.front() == 16);  // no shuffle: in order
  CHECK(batches[1].labels.to_vector<int64_t>()[3] == 19 % 10);
  // Pixel (c=1, y=2, x=5) of example 17, normalised.
  const Image img = ds->get(17).image;
  const float expected = (static_cast<float>(img.at(5, 2, 1)) / 255.0f - 0.482f) / 0.243f;
  CHECK(batches[1].images.data<float>()[((1 * 3 + 1) * 32 + 2) * 32 + 5] == expected);
  CHECK_FALSE(keep.next().has_value());  // stays finished

  o.drop_last = true;
  DataLoader drop(ds, eval_transform("cifar10"), o);
  CHECK(drop.num_batches() == 4);
  CHECK(epoch(drop, 0).size() == 4);
  o.batch_size = 100;
  DataLoader none(ds, eval_transform("cifar10"), o);
  CHECK(epoch(none, 0).empty());

  DataLoader unstarted(ds, Transform(), LoaderOptions{});
  CHECK_THROWS_WITH_AS(unstarted.next(), doctest::Contains("start_epoch"), Error);
}

TEST_CASE("datasets: loader is reproducible and independent of the number of workers") {
  auto ds = synthetic(150);
  LoaderOptions o;
  o.batch_size = 32;
  o.shuffle = true;
  o.seed = 1234;
  DataLoader serial(ds, train_transform("cifar10"), o);
  o.workers = 1;
  DataLoader one(ds, train_transform("cifar10"), o);
  o.workers = 3;
  o.prefetch_batches = 2;
  DataLoader three(ds, train_transform("cifar10"), o);
  const auto e0 = epoch(serial, 0);
  CHECK(same(e0, epoch(one, 0)));
  CHECK(same(e0, epoch(three, 0)));
  CHECK(same(e0, epoch(three, 0)));  // restarting the same epoch repeats it
  const auto e1 = epoch(three, 1);
  CHECK(same(e1, epoch(serial, 1)));
  CHECK(e0[0].indices != e1[0].indices);  // a new order each epoch

  // Each epoch visits every example once.
  std::vector<int64_t> all;
  for (const auto& b : e1) all.insert(all.end(), b.indices.begin(), b.indices.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 150; ++i) CHECK(all[i] == i);
  CHECK(three.epoch_order(1) == serial.epoch_order(1));

  // Augmentation depends on (seed, epoch, index): the same example differs between epochs, and another
  // seed gives other batches.
  o.seed = 99;
  DataLoader other(ds, train_transform("cifar10"), o);
  CHECK_FALSE(same(e0, epoch(other, 0)));
}

TEST_CASE("datasets: loader errors propagate from workers with the file name; mid-epoch destruction") {
  auto base = synthetic(64);
  for (int workers : {0, 1, 3}) {
    INFO("workers " << workers);
    auto ds = std::make_shared<Faulty>(base, 37);
    LoaderOptions o;
    o.batch_size = 8;
    o.workers = workers;
    DataLoader loader(ds, Transform(), o);
    loader.start_epoch(0);
    for (int b = 0; b < 4; ++b) REQUIRE(loader.next().has_value());  // batches 0-3 are fine
    CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("/data/broken_37.jpg"), Error);
    CHECK_FALSE(loader.next().has_value());  // the epoch ended
    loader.start_epoch(1);                   // and a new one can start
    CHECK(loader.next().has_value());
  }
  // Destroying a loader whose slow workers are mid-epoch joins them promptly; the queue is bounded.
  auto slow = std::make_shared<Faulty>(base, -1, 2);
  {
    LoaderOptions o;
    o.batch_size = 4;
    o.workers = 2;
    o.prefetch_batches = 2;
    DataLoader loader(slow, Transform(), o);
    loader.start_epoch(0);
    REQUIRE(loader.next().has_value());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(slow->calls.load() <= 4 * 4);  // at most the batch taken plus the prefetch window (+1 in flight)
  }
  CHECK(slow->calls.load() < 64);
}

TEST_CASE("datasets: train/validation split") {
  auto ds = synthetic(200, 4);
  auto [train, valid] = split_train_validation(ds, 0.1, 7);
  CHECK(train->size() == 180);
  CHECK(valid->size() == 20);
  auto [train2, valid2] = split_train_validation(ds, 20, 7);
  const auto& v1 = dynamic_cast<const SubsetDataset&>(*valid).indices();
  const auto& v2 = dynamic_cast<const SubsetDataset&>(*valid2).indices();
  CHECK(v1 == v2);  // same seed, same split; a count or a fraction alike
  CHECK(std::is_sorted(v1.begin(), v1.end()));
  const auto& t1 = dynamic_cast<const SubsetDataset&>(*train).indices();
  std::set<int64_t> all(v1.begin(), v1.end());
  for (int64_t i : t1) CHECK(all.insert(i).second);  // disjoint
  CHECK(all.size() == 200);
  auto [train3, valid3] = split_train_validation(ds, 20, 8);
  CHECK(dynamic_cast<const SubsetDataset&>(*valid3).indices() != v1);
  CHECK(valid->get(3).label == ds->get(v1[3]).label);
  CHECK(valid->num_classes() == 4);

  auto [st, sv] = split_train_validation(ds, 0.25, 1, true);
  std::vector<int> per_class(4, 0);
  for (int64_t i = 0; i < sv->size(); ++i) ++per_class[sv->label(i)];
  for (int c : per_class) CHECK((c == 12 || c == 13));  // 50 of 200: 12.5 per class
  CHECK(sv->size() == 50);
  CHECK_THROWS_AS(split_train_validation(ds, 0, 1), Error);
  CHECK_THROWS_AS(split_train_validation(ds, 200, 1), Error);

  // A loader over a split part works like any dataset.
  LoaderOptions o;
  o.batch_size = 7;
  DataLoader loader(sv, Transform(), o);
  loader.start_epoch(0);
  auto b = loader.next();
  REQUIRE(b.has_value());
  CHECK(b->indices[0] == 0);  // indices are the subset's
}

TEST_CASE("datasets: a class subset keeps those classes, relabelled by rank (the open-set split)") {
  auto ds = synthetic(200, 4);
  const ClassSubsetDataset sub(ds, {3, 1});
  CHECK(sub.num_classes() == 2);
  int64_t expected = 0;
  for (int64_t i = 0; i < ds->size(); ++i) expected += ds->label(i) == 1 || ds->label(i) == 3;
  REQUIRE(sub.size() == expected);
  for (int64_t i = 0; i < sub.size(); ++i) {
    CHECK((sub.label(i) == 0 || sub.label(i) == 1));
    CHECK(sub.get(i).label == sub.label(i));
  }
  // Class 1 becomes 0 and class 3 becomes 1, in the base order.
  int64_t first = 0;
  while (ds->label(first) != 1 && ds->label(first) != 3) ++first;
  CHECK(sub.label(0) == (ds->label(first) == 1 ? 0 : 1));
  CHECK_THROWS_WITH_AS(ClassSubsetDataset(ds, {0, 4}), doctest::Contains("class 4 is not in [0, 4)"), Error);
  CHECK_THROWS_WITH_AS(ClassSubsetDataset(ds, {2, 2}), doctest::Contains("given twice"), Error);
}
