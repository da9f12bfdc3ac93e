// DistributedSampler: a rank's shard of a dataset's indices; needs no MPI.
#include <random>

#include "tapegrad/distributed.hpp"
#include "tensor/check.hpp"

namespace tg::distributed {

DistributedSampler::DistributedSampler(std::int64_t size, bool shuffle, std::uint64_t seed, bool drop_last)
    : DistributedSampler(size, distributed::world_size(), distributed::rank(), shuffle, seed, drop_last, 0) {}

DistributedSampler DistributedSampler::for_rank(std::int64_t size, int world_size, int rank, bool shuffle,
                                                std::uint64_t seed, bool drop_last) {
    return DistributedSampler(size, world_size, rank, shuffle, seed, drop_last, 0);
}

DistributedSampler::DistributedSampler(std::int64_t size, int world, int rank, bool shuffle, std::uint64_t seed,
                                       bool drop_last, int)
    : size_(size), world_(world), rank_(rank), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
    TG_CHECK(size >= 0, "DistributedSampler", "the dataset size must be non-negative, got {}", size);
    TG_CHECK(world >= 1, "DistributedSampler", "the world size must be at least 1, got {}", world);
    TG_CHECK(rank >= 0 && rank < world, "DistributedSampler", "rank {} is not in [0, {})", rank, world);
}

std::int64_t DistributedSampler::per_rank() const {
    return drop_last_ ? size_ / world_ : (size_ + world_ - 1) / world_;
}

std::vector<std::int64_t> DistributedSampler::indices() const {
    std::vector<std::int64_t> all(static_cast<std::size_t>(size_));
    for (std::int64_t i = 0; i < size_; ++i) all[static_cast<std::size_t>(i)] = i;
    if (shuffle_) {
        // Fisher-Yates with a fixed generator, so every rank (and every standard library)
        // computes the same permutation for (seed, epoch).
        std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ULL + epoch_);
        for (std::int64_t i = size_ - 1; i > 0; --i) {
            const auto j = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(i + 1));
            std::swap(all[static_cast<std::size_t>(i)], all[static_cast<std::size_t>(j)]);
        }
    }
    const std::int64_t total = per_rank() * world_;
    if (total > size_ && size_ > 0)  // pad by repeating from the start
        for (std::int64_t i = size_; i < total; ++i) all.push_back(all[static_cast<std::size_t>((i - size_) % size_)]);
    all.resize(static_cast<std::size_t>(total));
    std::vector<std::int64_t> mine;
    mine.reserve(static_cast<std::size_t>(per_rank()));
    for (std::int64_t i = rank_; i < total; i += world_) mine.push_back(all[static_cast<std::size_t>(i)]);
    return mine;
}

std::function<std::vector<std::int64_t>(std::int64_t)> DistributedSampler::sampler() const {
    return [copy = *this](std::int64_t epoch) mutable {
        copy.set_epoch(static_cast<std::uint64_t>(epoch));
        return copy.indices();
    };
}

}  // namespace tg::distributed
