// Dataset defaults, TensorDataset, Subset and random_split.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg::data {

Example Dataset::get_in_epoch(std::int64_t index, std::int64_t /*epoch*/) const { return get(index); }

Batch Dataset::get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const {
    TG_CHECK(!indices.empty(), "Dataset::get_batch", "expected at least one index");
    NoGradGuard no_grad;
    std::vector<Tensor> inputs, targets;
    inputs.reserve(indices.size());
    targets.reserve(indices.size());
    for (const auto index : indices) {
        auto example = get_in_epoch(index, epoch);
        inputs.push_back(std::move(example.input));
        targets.push_back(std::move(example.target));
    }
    return {stack(inputs), stack(targets)};
}

// ---- TensorDataset ----------------------------------------------------------------------------

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
    TG_CHECK(inputs_.defined() && targets_.defined(), "TensorDataset", "inputs and targets must be defined");
    TG_CHECK(inputs_.dim() >= 1 && targets_.dim() >= 1, "TensorDataset",
             "inputs {} and targets {} need a leading example dimension", inputs_.sizes(), targets_.sizes());
    TG_CHECK(inputs_.size(0) == targets_.size(0), "TensorDataset",
             "inputs {} and targets {} hold different numbers of examples", inputs_.sizes(), targets_.sizes());
    // Examples are data, never part of a tape.
    inputs_ = inputs_.detach();
    targets_ = targets_.detach();
}

std::int64_t TensorDataset::size() const { return inputs_.size(0); }

Example TensorDataset::get(std::int64_t index) const {
    TG_CHECK(index >= 0 && index < size(), "TensorDataset::get", "index {} out of range for {} examples", index,
             size());
    return {inputs_[index], targets_[index]};
}

Batch TensorDataset::get_batch(const std::vector<std::int64_t>& indices, std::int64_t /*epoch*/) const {
    for (const auto index : indices)
        TG_CHECK(index >= 0 && index < size(), "TensorDataset::get_batch", "index {} out of range for {} examples",
                 index, size());
    NoGradGuard no_grad;
    const auto rows = from_vector(indices);
    return {index_select(inputs_, 0, rows), index_select(targets_, 0, rows)};
}

// ---- Subset and random_split -------------------------------------------------------------------

Subset::Subset(DatasetPtr base, std::vector<std::int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
    TG_CHECK(base_ != nullptr, "Subset", "the base dataset is null");
    for (const auto index : indices_)
        TG_CHECK(index >= 0 && index < base_->size(), "Subset", "index {} out of range for {} examples", index,
                 base_->size());
}

std::int64_t Subset::base_index(std::int64_t index) const {
    TG_CHECK(index >= 0 && index < size(), "Subset::get", "index {} out of range for {} examples", index, size());
    return indices_[static_cast<std::size_t>(index)];
}

Example Subset::get(std::int64_t index) const { return base_->get(base_index(index)); }

Example Subset::get_in_epoch(std::int64_t index, std::int64_t epoch) const {
    return base_->get_in_epoch(base_index(index), epoch);
}

Batch Subset::get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const {
    std::vector<std::int64_t> mapped;
    mapped.reserve(indices.size());
    for (const auto index : indices) mapped.push_back(base_index(index));
    return base_->get_batch(mapped, epoch);
}

std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr dataset, const std::vector<std::int64_t>& lengths,
                                                  std::uint64_t seed) {
    TG_CHECK(dataset != nullptr, "random_split", "the dataset is null");
    std::int64_t total = 0;
    for (const auto length : lengths) {
        TG_CHECK(length >= 0, "random_split", "lengths must be non-negative, got {}", length);
        total += length;
    }
    TG_CHECK(total == dataset->size(), "random_split", "lengths add up to {} but the dataset holds {} examples",
             total, dataset->size());
    std::vector<std::int64_t> order(static_cast<std::size_t>(total));
    std::iota(order.begin(), order.end(), std::int64_t{0});
    // Fisher-Yates with our own draws: std::shuffle's algorithm differs between libraries.
    std::mt19937_64 rng(seed);
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    std::vector<std::shared_ptr<Subset>> parts;
    auto next = order.begin();
    for (const auto length : lengths) {
        parts.push_back(std::make_shared<Subset>(dataset, std::vector<std::int64_t>(next, next + length)));
        next += length;
    }
    return parts;
}

}  // namespace tg::data
