// DataLoader: the sampler's indices of an epoch cut into batches, built on the caller's
// thread or by workers.
//
// Workers claim batch numbers in order from a shared counter and post finished batches into
// a map keyed by batch number; the consumer takes batch k when it is there. So the batches
// come out in sampler order whatever the threads' timing, and the bound is simple: no worker
// claims batch k before the consumer has taken batch k - capacity.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/data.hpp"
#include "tensor/check.hpp"
#include "tensor/parallel.hpp"

namespace tg::data {

Sampler sequential_sampler(std::int64_t size) {
    TG_CHECK(size >= 0, "sequential_sampler", "size must be non-negative, got {}", size);
    return [size](std::int64_t) {
        std::vector<std::int64_t> order(static_cast<std::size_t>(size));
        std::iota(order.begin(), order.end(), std::int64_t{0});
        return order;
    };
}

Sampler random_sampler(std::int64_t size, std::uint64_t seed) {
    TG_CHECK(size >= 0, "random_sampler", "size must be non-negative, got {}", size);
    return [size, seed](std::int64_t epoch) {
        std::vector<std::int64_t> order(static_cast<std::size_t>(size));
        std::iota(order.begin(), order.end(), std::int64_t{0});
        // seed_seq spreads (seed, epoch) over the whole state; Fisher-Yates with our own
        // draws, because std::shuffle's algorithm differs between standard libraries.
        std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32),
                          static_cast<std::uint32_t>(epoch), static_cast<std::uint32_t>(epoch >> 32)};
        std::mt19937_64 rng(seq);
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
        return order;
    };
}

namespace {

std::int64_t batch_count(std::int64_t examples, std::int64_t batch_size, bool drop_last) {
    return drop_last ? examples / batch_size : (examples + batch_size - 1) / batch_size;
}

}  // namespace

struct DataLoader::Run {
    struct Slot {
        Batch batch;
        std::exception_ptr error;
    };

    const Dataset* dataset = nullptr;
    std::int64_t epoch = 0;
    std::vector<std::int64_t> order;
    std::int64_t batch_size = 1;
    std::int64_t batches = 0;
    std::int64_t next_take = 0;  // the batch the consumer takes next
    Batch current;

    // Worker state, guarded by mutex.
    std::mutex mutex;
    std::condition_variable work_cv;   // workers wait for room or stop
    std::condition_variable ready_cv;  // the consumer waits for its batch
    std::map<std::int64_t, Slot> ready;
    std::int64_t next_claim = 0;
    std::int64_t capacity = 0;
    bool stopping = false;
    std::vector<std::thread> threads;

    // Batch k, or a tg::Error naming the batch and carrying the cause's message.
    Batch make_batch(std::int64_t k) const {
        const auto first = order.begin() + k * batch_size;
        const auto last = first + std::min<std::int64_t>(batch_size, static_cast<std::int64_t>(order.size()) -
                                                                         k * batch_size);
        try {
            return dataset->get_batch(std::vector<std::int64_t>(first, last), epoch);
        } catch (const std::exception& e) {
            throw Error("DataLoader: batch " + std::to_string(k) + " of epoch " + std::to_string(epoch) +
                        " failed: " + e.what());
        }
    }

    void work() {
        NoGradGuard no_grad;  // grad mode is per thread
        for (;;) {
            std::int64_t k = 0;
            {
                std::unique_lock lock(mutex);
                work_cv.wait(lock, [&] { return stopping || next_claim >= batches || next_claim < next_take + capacity; });
                if (stopping || next_claim >= batches) return;
                k = next_claim++;
            }
            Slot slot;
            try {
                slot.batch = make_batch(k);
            } catch (...) {
                slot.error = std::current_exception();
            }
            std::lock_guard lock(mutex);
            ready.emplace(k, std::move(slot));
            ready_cv.notify_all();
        }
    }

    bool advance() {
        if (next_take >= batches) return false;
        const auto k = next_take;
        if (threads.empty()) {
            NoGradGuard no_grad;
            current = make_batch(k);
            ++next_take;
            return true;
        }
        Slot slot;
        {
            std::unique_lock lock(mutex);
            ready_cv.wait(lock, [&] { return ready.count(k) > 0; });
            auto node = ready.extract(k);
            slot = std::move(node.mapped());
            ++next_take;
        }
        work_cv.notify_all();
        if (slot.error) std::rethrow_exception(slot.error);
        current = std::move(slot.batch);
        return true;
    }

    void join() {
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        work_cv.notify_all();
        for (auto& t : threads) t.join();
        threads.clear();
    }

    ~Run() { join(); }
};

DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
    TG_CHECK(dataset_ != nullptr, "DataLoader", "the dataset is null");
    TG_CHECK(options_.batch_size > 0, "DataLoader", "batch_size must be positive, got {}", options_.batch_size);
    TG_CHECK(options_.num_workers >= 0, "DataLoader", "num_workers must be non-negative, got {}",
             options_.num_workers);
    TG_CHECK(options_.prefetch > 0, "DataLoader", "prefetch must be positive, got {}", options_.prefetch);
    if (!options_.sampler)
        options_.sampler = options_.shuffle ? random_sampler(dataset_->size(), options_.seed)
                                            : sequential_sampler(dataset_->size());
}

DataLoader::~DataLoader() { stop(); }

void DataLoader::stop() { run_.reset(); }

std::int64_t DataLoader::size() const {
    const auto n = static_cast<std::int64_t>(options_.sampler(next_epoch_).size());
    return batch_count(n, options_.batch_size, options_.drop_last);
}

DataLoader::Iterator DataLoader::begin() {
    stop();
    auto run = std::make_unique<Run>();
    run->dataset = dataset_.get();
    run->epoch = next_epoch_++;
    run->order = options_.sampler(run->epoch);
    for (const auto index : run->order)
        TG_CHECK(index >= 0 && index < dataset_->size(), "DataLoader",
                 "the sampler gave index {} in epoch {}, but the dataset holds {} examples", index, run->epoch,
                 dataset_->size());
    run->batch_size = options_.batch_size;
    run->batches = batch_count(static_cast<std::int64_t>(run->order.size()), options_.batch_size,
                               options_.drop_last);
    run->capacity = static_cast<std::int64_t>(options_.num_workers) * options_.prefetch;
    run_ = std::move(run);
    for (int w = 0; w < options_.num_workers; ++w) run_->threads.emplace_back([r = run_.get()] {
            tg::detail::SerialThreadScope serial;  // collation stays on this worker's thread
            r->work();
        });
    return advance() ? Iterator(this) : end();
}

bool DataLoader::advance() {
    if (run_ == nullptr) return false;
    if (run_->advance()) return true;
    stop();
    return false;
}

const Batch& DataLoader::Iterator::operator*() const {
    TG_CHECK(loader_ != nullptr && loader_->run_ != nullptr, "DataLoader", "dereferencing the end iterator");
    return loader_->run_->current;
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
    if (loader_ != nullptr && !loader_->advance()) loader_ = nullptr;
    return *this;
}

bool DataLoader::Iterator::operator==(const Iterator& other) const { return loader_ == other.loader_; }

}  // namespace tg::data
