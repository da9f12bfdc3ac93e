// tg::data: datasets, transforms, samplers and the DataLoader (with and without workers).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tapegrad/tapegrad.hpp"
#include "test_support.hpp"

namespace data = tg::data;
namespace T = tg::data::transforms;

namespace {

// Example i is (input [i, -i] float32, target i int64). Optionally slow, optionally
// failing at one index, and counting its get() calls (from any thread).
class IndexDataset : public data::Dataset {
public:
    explicit IndexDataset(std::int64_t n, std::int64_t fail_at = -1, int sleep_us = 0)
        : n_(n), fail_at_(fail_at), sleep_us_(sleep_us) {}
    std::int64_t size() const override { return n_; }
    data::Example get(std::int64_t index) const override {
        ++calls;
        if (sleep_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_ * (1 + index % 3)));
        if (index == fail_at_) throw std::runtime_error("bad example " + std::to_string(index));
        const double v = static_cast<double>(index);
        return {tg::tensor({v, -v}), tg::scalar_tensor(v, tg::kInt64)};
    }
    mutable std::atomic<std::int64_t> calls{0};

private:
    std::int64_t n_, fail_at_;
    int sleep_us_;
};

// The example indices of each batch of one epoch (read back from the targets).
std::vector<std::vector<std::int64_t>> epoch_indices(data::DataLoader& loader) {
    std::vector<std::vector<std::int64_t>> batches;
    for (const auto& batch : loader) {
        REQUIRE(batch.target.dtype() == tg::kInt64);
        REQUIRE(batch.input.sizes() == tg::Shape({batch.size(), 2}));
        auto indices = batch.target.to_vector<std::int64_t>();
        const auto inputs = batch.input.to_vector<float>();
        for (std::size_t i = 0; i < indices.size(); ++i) {
            CHECK(inputs[2 * i] == static_cast<float>(indices[i]));
            CHECK(inputs[2 * i + 1] == -static_cast<float>(indices[i]));
        }
        batches.push_back(indices);
    }
    return batches;
}

std::vector<std::int64_t> sizes_of(const std::vector<std::vector<std::int64_t>>& batches) {
    std::vector<std::int64_t> sizes;
    for (const auto& b : batches) sizes.push_back(static_cast<std::int64_t>(b.size()));
    return sizes;
}

std::multiset<std::int64_t> all_of(const std::vector<std::vector<std::int64_t>>& batches) {
    std::multiset<std::int64_t> all;
    for (const auto& b : batches) all.insert(b.begin(), b.end());
    return all;
}

std::multiset<std::int64_t> range_set(std::int64_t n) {
    std::multiset<std::int64_t> s;
    for (std::int64_t i = 0; i < n; ++i) s.insert(i);
    return s;
}

}  // namespace

TEST_CASE("TensorDataset: rows of in-memory tensors; batches by index_select") {
    const auto x = tg::arange(12, tg::kFloat32).reshape({6, 2});
    const auto y = tg::arange(6);
    data::TensorDataset ds(x, y);
    CHECK(ds.size() == 6);
    const auto e = ds.get(4);
    CHECK(e.input.to_vector<float>() == std::vector<float>{8, 9});
    CHECK(e.target.item<std::int64_t>() == 4);
    const auto b = ds.get_batch({5, 0, 5}, 0);
    CHECK(b.input.sizes() == tg::Shape({3, 2}));
    CHECK(b.input.to_vector<float>() == std::vector<float>{10, 11, 0, 1, 10, 11});
    CHECK(b.target.to_vector<std::int64_t>() == std::vector<std::int64_t>{5, 0, 5});
    REQUIRE_TG_ERROR(data::TensorDataset(x, tg::arange(5)), "TensorDataset", "[6, 2]", "[5]");
    REQUIRE_TG_ERROR(ds.get(6), "TensorDataset::get", "index 6", "6 examples");
    REQUIRE_TG_ERROR(ds.get_batch({0, -1}, 0), "TensorDataset::get_batch", "index -1");
}

TEST_CASE("DataLoader: every example exactly once per epoch, uneven last batch, drop_last") {
    const auto ds = std::make_shared<IndexDataset>(10);
    SECTION("sequential, keep the last batch") {
        data::DataLoader loader(ds, {.batch_size = 3});
        CHECK(loader.size() == 4);
        const auto batches = epoch_indices(loader);
        CHECK(sizes_of(batches) == std::vector<std::int64_t>{3, 3, 3, 1});
        CHECK(batches[0] == std::vector<std::int64_t>{0, 1, 2});
        CHECK(batches[3] == std::vector<std::int64_t>{9});
        CHECK(all_of(batches) == range_set(10));
    }
    SECTION("shuffled, keep the last batch, several epochs") {
        data::DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .seed = 3});
        for (int epoch = 0; epoch < 3; ++epoch) {
            const auto batches = epoch_indices(loader);
            CHECK(sizes_of(batches) == std::vector<std::int64_t>{4, 4, 2});
            CHECK(all_of(batches) == range_set(10));
        }
        CHECK(loader.epoch() == 3);
    }
    SECTION("shuffled, drop_last: 9 distinct examples in full batches") {
        data::DataLoader loader(ds, {.batch_size = 3, .shuffle = true, .drop_last = true});
        CHECK(loader.size() == 3);
        const auto batches = epoch_indices(loader);
        CHECK(sizes_of(batches) == std::vector<std::int64_t>{3, 3, 3});
        const auto all = all_of(batches);
        CHECK(std::set<std::int64_t>(all.begin(), all.end()).size() == 9);
    }
    SECTION("batch larger than the dataset") {
        data::DataLoader keep(ds, {.batch_size = 32});
        CHECK(sizes_of(epoch_indices(keep)) == std::vector<std::int64_t>{10});
        data::DataLoader drop(ds, {.batch_size = 32, .drop_last = true});
        CHECK(drop.size() == 0);
        CHECK(epoch_indices(drop).empty());
    }
}

TEST_CASE("DataLoader: shuffles differ per epoch and repeat for a seed") {
    const auto ds = std::make_shared<IndexDataset>(50);
    data::DataLoader a(ds, {.batch_size = 7, .shuffle = true, .seed = 42});
    data::DataLoader b(ds, {.batch_size = 7, .shuffle = true, .seed = 42});
    data::DataLoader c(ds, {.batch_size = 7, .shuffle = true, .seed = 43});
    const auto a0 = epoch_indices(a), a1 = epoch_indices(a);
    const auto b0 = epoch_indices(b), b1 = epoch_indices(b);
    const auto c0 = epoch_indices(c);
    CHECK(a0 == b0);
    CHECK(a1 == b1);
    CHECK(a0 != a1);
    CHECK(a0 != c0);
    // Not the identity order either.
    std::vector<std::int64_t> flat;
    for (const auto& batch : a0) flat.insert(flat.end(), batch.begin(), batch.end());
    std::vector<std::int64_t> sorted(50);
    std::iota(sorted.begin(), sorted.end(), 0);
    CHECK(flat != sorted);
    // set_epoch replays an epoch.
    a.set_epoch(1);
    CHECK(epoch_indices(a) == a1);
}

TEST_CASE("DataLoader: workers give exactly the batches of no workers") {
    const auto slow = std::make_shared<IndexDataset>(37, -1, 200);
    data::DataLoader serial(slow, {.batch_size = 5, .shuffle = true, .seed = 9});
    const auto e0 = epoch_indices(serial), e1 = epoch_indices(serial);
    for (const int workers : {1, 2, 4}) {
        for (const int prefetch : {1, 3}) {
            INFO("workers " << workers << ", prefetch " << prefetch);
            data::DataLoader parallel(slow, {.batch_size = 5, .shuffle = true, .seed = 9, .num_workers = workers,
                                             .prefetch = prefetch});
            CHECK(epoch_indices(parallel) == e0);
            CHECK(epoch_indices(parallel) == e1);
        }
    }
}

TEST_CASE("DataLoader: a worker's exception reaches the consumer with its message") {
    const auto ds = std::make_shared<IndexDataset>(20, 13);
    for (const int workers : {0, 2}) {
        INFO("workers " << workers);
        data::DataLoader loader(ds, {.batch_size = 4, .num_workers = workers});
        std::int64_t seen = 0;
        REQUIRE_TG_ERROR(
            [&] {
                for (const auto& batch : loader) seen += batch.size();
            }(),
            "DataLoader: batch 3 of epoch 0 failed", "bad example 13");
        CHECK(seen == 12);  // the three batches before the failing one arrived
        // The loader is usable again: the next epoch fails at the same place.
        REQUIRE_TG_ERROR(epoch_indices(loader), "bad example 13");
    }
}

TEST_CASE("DataLoader: bounded prefetch; leaving or destroying mid-epoch joins the workers") {
    const auto ds = std::make_shared<IndexDataset>(400, -1, 50);
    {
        data::DataLoader loader(ds, {.batch_size = 2, .num_workers = 2, .prefetch = 2});
        auto it = loader.begin();
        CHECK(it->size() == 2);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        // One batch taken plus at most workers * prefetch prepared ahead.
        CHECK(ds->calls.load() <= (1 + 2 * 2) * 2);
        CHECK(ds->calls.load() >= 2 * 2);
        ++it;
        // A new epoch mid-epoch: the old workers stop, the new epoch starts from batch 0.
        const auto first = *loader.begin();
        CHECK(first.target.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1});
    }  // destroyed mid-epoch: joins, no hang, no crash
    const auto calls = ds->calls.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(ds->calls.load() == calls);  // no worker is still running
    {
        data::DataLoader loader(ds, {.batch_size = 8, .num_workers = 3});
        for (const auto& batch : loader) {
            CHECK(batch.size() == 8);
            break;
        }
    }
}

TEST_CASE("DataLoader: a sampler chooses each epoch's indices") {
    const auto ds = std::make_shared<IndexDataset>(10);
    // Rank 1 of 2 in a distributed run would see the odd indices; here epoch e also rotates.
    data::Sampler odd = [](std::int64_t epoch) {
        std::vector<std::int64_t> out;
        for (std::int64_t i = 1; i < 10; i += 2) out.push_back((i + 2 * epoch) % 10);
        return out;
    };
    for (const int workers : {0, 2}) {
        data::DataLoader loader(ds, {.batch_size = 2, .num_workers = workers, .sampler = odd});
        CHECK(loader.size() == 3);
        CHECK(epoch_indices(loader) == std::vector<std::vector<std::int64_t>>{{1, 3}, {5, 7}, {9}});
        CHECK(epoch_indices(loader) == std::vector<std::vector<std::int64_t>>{{3, 5}, {7, 9}, {1}});
    }
    data::DataLoader bad(ds, {.batch_size = 2, .sampler = [](std::int64_t) { return std::vector<std::int64_t>{3, 10}; }});
    REQUIRE_TG_ERROR(bad.begin(), "DataLoader", "index 10", "10 examples");
    // The stock samplers.
    CHECK(data::sequential_sampler(4)(7) == std::vector<std::int64_t>{0, 1, 2, 3});
    const auto r = data::random_sampler(20, 5);
    CHECK(r(0) == r(0));
    CHECK(r(0) != r(1));
    const auto r1 = r(1);
    CHECK(std::multiset<std::int64_t>(r1.begin(), r1.end()) == range_set(20));
}

TEST_CASE("DataLoader: option errors") {
    const auto ds = std::make_shared<IndexDataset>(10);
    REQUIRE_TG_ERROR(data::DataLoader(ds, {.batch_size = 0}), "DataLoader", "batch_size", "0");
    REQUIRE_TG_ERROR(data::DataLoader(ds, {.batch_size = 2, .num_workers = -1}), "DataLoader", "num_workers");
    REQUIRE_TG_ERROR(data::DataLoader(ds, {.batch_size = 2, .prefetch = 0}), "DataLoader", "prefetch");
    REQUIRE_TG_ERROR(data::DataLoader(data::DatasetPtr(), {}), "DataLoader", "null");
}

TEST_CASE("random_split: disjoint, covering, reproducible") {
    const auto ds = std::make_shared<IndexDataset>(30);
    const auto parts = data::random_split(ds, {20, 7, 3}, 11);
    REQUIRE(parts.size() == 3);
    CHECK(parts[0]->size() == 20);
    CHECK(parts[1]->size() == 7);
    CHECK(parts[2]->size() == 3);
    std::multiset<std::int64_t> all;
    for (const auto& p : parts)
        for (std::int64_t i = 0; i < p->size(); ++i) all.insert(p->get(i).target.item<std::int64_t>());
    CHECK(all == range_set(30));
    CHECK(data::random_split(ds, {20, 7, 3}, 11)[1]->indices() == parts[1]->indices());
    CHECK(data::random_split(ds, {20, 7, 3}, 12)[1]->indices() != parts[1]->indices());
    // A subset loads like any dataset.
    data::DataLoader loader(parts[1], {.batch_size = 7});
    const auto batches = epoch_indices(loader);
    REQUIRE(batches.size() == 1);
    CHECK(std::vector<std::int64_t>(batches[0].begin(), batches[0].end()) == parts[1]->indices());
    REQUIRE_TG_ERROR(data::random_split(ds, {20, 9}, 0), "random_split", "29", "30 examples");
    REQUIRE_TG_ERROR(parts[2]->get(3), "Subset::get", "index 3");
}

TEST_CASE("transforms: normalize, to_float, one_hot") {
    data::Rng rng(0);
    const auto n = T::normalize(2.0, 4.0).apply({tg::tensor({2, 6, -2}), tg::scalar_tensor(1, tg::kInt64)}, rng);
    CHECK(n.input.to_vector<float>() == std::vector<float>{0, 1, -1});
    const auto per_channel = T::normalize({1.0, 2.0}, {1.0, 0.5})
                                 .apply({tg::ones({2, 1, 2}), tg::scalar_tensor(0, tg::kInt64)}, rng);
    CHECK(per_channel.input.to_vector<float>() == std::vector<float>{0, 0, -2, -2});
    REQUIRE_TG_ERROR(T::normalize(std::vector<double>{1.0}, std::vector<double>{1.0}).apply({tg::ones({2, 1, 2}), {}}, rng), "normalize", "1 channels",
                     "[2, 1, 2]");
    REQUIRE_TG_ERROR(T::normalize(0.0, 0.0), "normalize", "stddev");
    const auto f = T::to_float(1.0 / 255).apply({tg::from_vector(std::vector<std::int64_t>{0, 51, 255}), {}}, rng);
    CHECK(f.input.dtype() == tg::kFloat32);
    const auto fv = f.input.to_vector<float>();
    REQUIRE(fv.size() == 3);
    CHECK(fv[0] == 0.0f);
    CHECK(fv[1] == Approx(0.2));
    CHECK(fv[2] == Approx(1.0));
    const auto h = T::one_hot(4).apply({tg::zeros({1}), tg::scalar_tensor(2, tg::kInt64)}, rng);
    CHECK(h.target.to_vector<float>() == std::vector<float>{0, 0, 1, 0});

    // A dataset mapped through batchable transforms gives the same batches as per example.
    data::TensorDataset ds(tg::arange(8, tg::kFloat32).reshape({4, 2}), tg::arange(4));
    const auto mapped = data::map(ds, T::normalize(1.0, 2.0), T::one_hot(4));
    const auto batch = mapped->get_batch({3, 1}, 0);
    CHECK(batch.input.to_vector<float>() == std::vector<float>{2.5f, 3.0f, 0.5f, 1.0f});
    CHECK(batch.target.sizes() == tg::Shape({2, 4}));
    CHECK(batch.target.to_vector<float>() == std::vector<float>{0, 0, 0, 1, 0, 1, 0, 0});
    CHECK(mapped->get(1).input.to_vector<float>() == std::vector<float>{0.5f, 1.0f});
}

TEST_CASE("transforms: random flip and crop, seeded per (seed, epoch, index)") {
    // 1x3x3 image 1..9
    const auto image = tg::arange(1, 10, 1, tg::kFloat32).reshape({1, 3, 3});
    data::Rng rng(0);
    CHECK(T::random_horizontal_flip(1.0).apply({image, {}}, rng).input.to_vector<float>() ==
          std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7});
    CHECK(T::random_horizontal_flip(0.0).apply({image, {}}, rng).input.to_vector<float>() == image.to_vector<float>());
    CHECK(T::random_crop(3, 0).apply({image, {}}, rng).input.to_vector<float>() == image.to_vector<float>());
    REQUIRE_TG_ERROR(T::random_crop(4, 0).apply({image, {}}, rng), "random_crop", "[1, 3, 3]");
    REQUIRE_TG_ERROR(T::random_horizontal_flip(1.0).apply({tg::ones({4}), {}}, rng), "random_horizontal_flip",
                     "[4]");

    // Padding 1, crop 3: the crop is the image shifted by (dy, dx) in [-1, 1]^2 with zeros
    // where it leaves the image. Check every crop against that closed form.
    std::set<std::pair<int, int>> shifts;
    for (int trial = 0; trial < 200; ++trial) {
        data::Rng r(static_cast<std::uint64_t>(trial));
        const auto crop = T::random_crop(3, 1).apply({image, {}}, r).input;
        REQUIRE(crop.sizes() == tg::Shape({1, 3, 3}));
        const auto v = crop.to_vector<float>();
        bool matched = false;
        for (int dy = -1; dy <= 1 && !matched; ++dy)
            for (int dx = -1; dx <= 1 && !matched; ++dx) {
                bool ok = true;
                for (int y = 0; y < 3; ++y)
                    for (int x = 0; x < 3; ++x) {
                        const int sy = y + dy, sx = x + dx;
                        const float expected = (sy >= 0 && sy < 3 && sx >= 0 && sx < 3) ? float(sy * 3 + sx + 1) : 0.f;
                        ok = ok && v[static_cast<std::size_t>(y * 3 + x)] == expected;
                    }
                if (ok) {
                    matched = true;
                    shifts.insert({dy, dx});
                }
            }
        CHECK(matched);
    }
    CHECK(shifts.size() == 9);  // every shift occurs

    // In a dataset: the same (seed, epoch, index) gives the same augmentation, with and
    // without workers; other epochs give others.
    const auto images = tg::arange(0, 16 * 9, 1, tg::kFloat32).reshape({16, 1, 3, 3});
    const auto aug = data::map_seeded(data::TensorDataset(images, tg::arange(16)),
                                      {T::random_horizontal_flip(0.5), T::random_crop(3, 1)}, 7);
    CHECK(aug->get_in_epoch(5, 2).input.to_vector<float>() == aug->get_in_epoch(5, 2).input.to_vector<float>());
    auto all_epoch = [&](int workers, std::int64_t epoch) {
        data::DataLoader loader(aug, {.batch_size = 5, .num_workers = workers});
        loader.set_epoch(epoch);
        std::vector<float> values;
        for (const auto& b : loader) {
            const auto v = b.input.to_vector<float>();
            values.insert(values.end(), v.begin(), v.end());
        }
        return values;
    };
    CHECK(all_epoch(0, 0) == all_epoch(2, 0));
    CHECK(all_epoch(0, 0) != all_epoch(0, 1));
}

TEST_CASE("FashionMNIST: the test split from the IDX files") {
    const std::string root = data::datasets::FashionMNIST::kDefaultRoot;
    INFO("needs Debian's dataset-fashion-mnist in " << root);
    REQUIRE(std::filesystem::exists(root + "/t10k-images-idx3-ubyte.gz"));
    data::datasets::FashionMNIST test(root, data::datasets::Split::Test);
    CHECK(test.size() == 10000);
    CHECK(test.images().sizes() == tg::Shape({10000, 1, 28, 28}));
    CHECK(test.images().dtype() == tg::kFloat32);
    CHECK(test.labels().dtype() == tg::kInt64);
    CHECK(test.images().min().item<double>() == 0.0);
    CHECK(test.images().max().item<double>() == 1.0);
    CHECK(test.labels().min().item<std::int64_t>() == 0);
    CHECK(test.labels().max().item<std::int64_t>() == 9);
    // Fashion-MNIST's test set is balanced: 1000 per class.
    CHECK((test.labels() == tg::scalar_tensor(3, tg::kInt64)).to(tg::kInt64).sum().item<std::int64_t>() == 1000);
    CHECK(data::datasets::FashionMNIST::class_names().at(9) == "Ankle boot");
    data::datasets::FashionMNIST flat(root, data::datasets::Split::Test, {784});
    CHECK(flat.get(0).input.sizes() == tg::Shape({784}));
    CHECK(flat.get(0).input.to_vector<float>() == test.get(0).input.to_vector<float>());
    REQUIRE_TG_ERROR(data::datasets::FashionMNIST("/nonexistent"), "FashionMNIST",
                     "train-images-idx3-ubyte", "/nonexistent");
    REQUIRE_TG_ERROR(data::datasets::FashionMNIST(root, data::datasets::Split::Test, {10, 10}), "FashionMNIST",
                     "[10, 10]");
}
