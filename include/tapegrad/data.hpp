// Input pipelines (libtorch's torch::data shape; TF-1's mnist.train.next_batch and tf.data):
// a Dataset gives examples by index, transforms map them, and a DataLoader turns a dataset
// into shuffled, stacked batches, optionally prepared on background threads.
//
//   auto train = tg::data::datasets::FashionMNIST("/usr/share/datasets/fashion-mnist");
//   auto data = tg::data::map(train, tg::data::transforms::normalize(0.2860, 0.3530));
//   tg::data::DataLoader loader(data, {.batch_size = 128, .shuffle = true, .seed = 1,
//                                      .num_workers = 2});
//   for (const tg::data::Batch& batch : loader) { ... batch.input, batch.target ... }
//
// Datasets are shared, immutable objects: everything that takes a dataset takes a
// DatasetPtr (std::shared_ptr<const Dataset>) or a dataset value (moved into one), so a
// dataset can be wrapped (map, random_split) and loaded from several loaders at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/data/idx.hpp"
#include "tapegrad/shape.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::data {

// One example: the model's input and what it should predict (a class index as an int64
// 0-dim tensor, a one-hot vector, a regression target, ...).
struct Example {
    Tensor input;
    Tensor target;
};

// Examples stacked along a new leading dimension: input (B, ...), target (B, ...).
struct Batch {
    Tensor input;
    Tensor target;
    std::int64_t size() const { return input.defined() ? input.size(0) : 0; }
};

// ---- datasets ---------------------------------------------------------------------------------

// size() examples, numbered 0..size()-1. get() must be safe to call from several threads at
// once (the DataLoader's workers do): datasets are immutable after construction.
class Dataset {
public:
    virtual ~Dataset() = default;
    virtual std::int64_t size() const = 0;
    virtual Example get(std::int64_t index) const = 0;

    // What the DataLoader calls. `epoch` reaches random transforms, which draw from a
    // generator seeded by (their seed, epoch, index): the same augmentation with or without
    // workers, a different one every epoch. Plain datasets ignore it.
    virtual Example get_in_epoch(std::int64_t index, std::int64_t epoch) const;
    // The examples at `indices`, stacked. The default stacks get_in_epoch() of each;
    // in-memory datasets override it with one index_select per tensor.
    virtual Batch get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// A dataset value moved into a DatasetPtr (what the constructors taking datasets do).
template <class D, class = std::enable_if_t<std::is_base_of_v<Dataset, std::decay_t<D>>>>
DatasetPtr share(D&& dataset) {
    return std::make_shared<const std::decay_t<D>>(std::forward<D>(dataset));
}
inline DatasetPtr share(DatasetPtr dataset) { return dataset; }
template <class D>
DatasetPtr share(std::shared_ptr<D> dataset) { return dataset; }

// Examples are the rows of in-memory tensors: example i is (inputs[i], targets[i]).
// Throws when the leading sizes differ.
class TensorDataset : public Dataset {
public:
    TensorDataset(Tensor inputs, Tensor targets);
    std::int64_t size() const override;
    Example get(std::int64_t index) const override;
    Batch get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const override;
    const Tensor& inputs() const { return inputs_; }
    const Tensor& targets() const { return targets_; }

private:
    Tensor inputs_;
    Tensor targets_;
};

// The examples of `base` at `indices` (what random_split returns).
class Subset : public Dataset {
public:
    Subset(DatasetPtr base, std::vector<std::int64_t> indices);
    std::int64_t size() const override { return static_cast<std::int64_t>(indices_.size()); }
    Example get(std::int64_t index) const override;
    Example get_in_epoch(std::int64_t index, std::int64_t epoch) const override;
    Batch get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const override;
    const std::vector<std::int64_t>& indices() const { return indices_; }

private:
    std::int64_t base_index(std::int64_t index) const;
    DatasetPtr base_;
    std::vector<std::int64_t> indices_;
};

// Splits a dataset into disjoint random subsets of the given sizes (which must add up to
// its size), the same split for the same seed (torch.utils.data.random_split).
std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr dataset, const std::vector<std::int64_t>& lengths,
                                                  std::uint64_t seed = 0);
template <class D>
std::vector<std::shared_ptr<Subset>> random_split(D&& dataset, const std::vector<std::int64_t>& lengths,
                                                  std::uint64_t seed = 0) {
    return random_split(share(std::forward<D>(dataset)), lengths, seed);
}

namespace datasets {

enum class Split { Train, Test };

// Fashion-MNIST (or MNIST: the same IDX files) from `root`, which holds
// {train,t10k}-{images-idx3,labels-idx1}-ubyte, gzip'd (.gz) or not. Images are float32
// in [0, 1] of `image_shape` each (default (1, 28, 28), as libtorch's MNIST; {784} gives
// flat vectors), targets int64 class indices. Missing files throw tg::Error naming them.
class FashionMNIST : public TensorDataset {
public:
    static constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";
    explicit FashionMNIST(const std::string& root = kDefaultRoot, Split split = Split::Train,
                          const Shape& image_shape = {1, 28, 28});
    // All images (N, image_shape...) and labels (N).
    const Tensor& images() const { return inputs(); }
    const Tensor& labels() const { return targets(); }
    static constexpr std::int64_t kClasses = 10;
    // "T-shirt/top", "Trouser", ... (index = label).
    static const std::vector<std::string>& class_names();
};
using MNIST = FashionMNIST;  // same format, same class

}  // namespace datasets

// ---- transforms -------------------------------------------------------------------------------

using Rng = std::mt19937_64;

// A function of one example. `rng` is seeded per (transform seed, epoch, index); transforms
// that are not random ignore it. `batchable` transforms give the same result applied to a
// stacked batch as to each example (elementwise ones: normalize, to_float, one_hot), so a
// dataset mapped only through those transforms whole batches at once.
struct Transform {
    std::string name;
    std::function<Example(Example, Rng&)> apply;
    bool batchable = false;
};

namespace transforms {

// input = (input - mean) / stddev.
Transform normalize(double mean, double stddev);
// Per channel of a (C, H, W) input (broadcast as (C, 1, 1)).
Transform normalize(const std::vector<double>& mean, const std::vector<double>& stddev);
// input converted to `dtype` and multiplied by `scale` (e.g. 1/255 for byte pixels).
Transform to_float(double scale = 1.0, Dtype dtype = kFloat32);
// Class-index target -> one-hot float32 vector of num_classes.
Transform one_hot(std::int64_t num_classes);
// Mirrors the input along its last dimension with probability p ((C, H, W) or (H, W)).
Transform random_horizontal_flip(double p = 0.5);
// Pads the last two dimensions with `padding` zeros on every side, then cuts a random
// size x size window ((C, H, W) or (H, W) inputs).
Transform random_crop(std::int64_t size, std::int64_t padding = 0);
// Any function of the input tensor (not random, not batchable).
Transform lambda(std::string name, std::function<Tensor(const Tensor&)> fn);

}  // namespace transforms

// `base` with transforms applied to every example, in order.
class TransformDataset : public Dataset {
public:
    TransformDataset(DatasetPtr base, std::vector<Transform> transforms, std::uint64_t seed = 0);
    std::int64_t size() const override { return base_->size(); }
    Example get(std::int64_t index) const override { return get_in_epoch(index, 0); }
    Example get_in_epoch(std::int64_t index, std::int64_t epoch) const override;
    Batch get_batch(const std::vector<std::int64_t>& indices, std::int64_t epoch) const override;

private:
    DatasetPtr base_;
    std::vector<Transform> transforms_;
    std::uint64_t seed_;
    bool batchable_;
};

// dataset.map(...) spelled as a function: map(dataset, normalize(...), random_crop(28, 2)).
template <class D, class... Ts>
std::shared_ptr<TransformDataset> map(D&& dataset, Ts&&... transforms) {
    return std::make_shared<TransformDataset>(share(std::forward<D>(dataset)),
                                              std::vector<Transform>{std::forward<Ts>(transforms)...});
}
// With an explicit seed for the random transforms.
template <class D>
std::shared_ptr<TransformDataset> map_seeded(D&& dataset, std::vector<Transform> transforms,
                                             std::uint64_t seed) {
    return std::make_shared<TransformDataset>(share(std::forward<D>(dataset)), std::move(transforms), seed);
}

// ---- sampling and loading ---------------------------------------------------------------------

// The dataset indices an epoch visits, in order. The DataLoader calls it once per epoch.
// A distributed sampler returns each rank's shard here.
using Sampler = std::function<std::vector<std::int64_t>(std::int64_t epoch)>;

// 0, 1, ..., size-1 every epoch.
Sampler sequential_sampler(std::int64_t size);
// A permutation of 0..size-1 drawn from std::mt19937_64 seeded by (seed, epoch): different
// every epoch, the same for the same (seed, epoch) on every machine.
Sampler random_sampler(std::int64_t size, std::uint64_t seed);

struct DataLoaderOptions {
    std::int64_t batch_size = 1;
    bool shuffle = false;     // random_sampler(seed) instead of sequential_sampler
    std::uint64_t seed = 0;   // shuffling; epoch e draws from (seed, e)
    bool drop_last = false;   // drop a last batch smaller than batch_size
    int num_workers = 0;      // background threads preparing batches; 0: on the caller's thread
    int prefetch = 2;         // batches prepared ahead per worker (the queue bound)
    Sampler sampler = {};     // when set, replaces shuffle/seed: the indices of each epoch
};

// Batches of a dataset, iterated with range-for. Each begin() starts the next epoch
// (epoch() counts them from 0; set_epoch() picks one, e.g. to resume). With num_workers > 0,
// workers build the batches of the epoch ahead of the consumer, at most
// num_workers * prefetch of them, and the consumer receives them in sampler order: exactly
// the batches num_workers = 0 gives. An exception thrown while preparing a batch is
// rethrown on the consumer's thread when it reaches that batch, as a tg::Error carrying the
// original message. Starting another epoch, or destroying the loader, mid-epoch stops and
// joins the workers.
class DataLoader {
public:
    DataLoader(DatasetPtr dataset, DataLoaderOptions options);
    template <class D, class = std::enable_if_t<!std::is_convertible_v<D, DatasetPtr>>>
    DataLoader(D&& dataset, DataLoaderOptions options)
        : DataLoader(share(std::forward<D>(dataset)), std::move(options)) {}
    ~DataLoader();
    DataLoader(const DataLoader&) = delete;
    DataLoader& operator=(const DataLoader&) = delete;

    class Iterator {
    public:
        using value_type = Batch;
        using difference_type = std::ptrdiff_t;
        const Batch& operator*() const;
        const Batch* operator->() const { return &**this; }
        Iterator& operator++();
        bool operator==(const Iterator& other) const;

    private:
        friend class DataLoader;
        explicit Iterator(DataLoader* loader) : loader_(loader) {}
        DataLoader* loader_ = nullptr;  // null: end
    };

    Iterator begin();
    Iterator end() { return Iterator(nullptr); }

    // Batches per epoch (the sampler's length over batch_size, rounded per drop_last).
    std::int64_t size() const;
    // The epoch the next begin() starts.
    std::int64_t epoch() const { return next_epoch_; }
    void set_epoch(std::int64_t epoch) { next_epoch_ = epoch; }
    const DataLoaderOptions& options() const { return options_; }
    const DatasetPtr& dataset() const { return dataset_; }

private:
    struct Run;
    bool advance();  // loads the next batch into current_; false at the end of the epoch
    void stop();

    DatasetPtr dataset_;
    DataLoaderOptions options_;
    std::int64_t next_epoch_ = 0;
    std::unique_ptr<Run> run_;
};

}  // namespace tg::data

TG_PUBLIC_END
