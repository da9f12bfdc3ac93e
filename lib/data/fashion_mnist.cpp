// Fashion-MNIST / MNIST from their IDX files (lib/data/idx.cpp reads them).
#include <filesystem>
#include <string>
#include <vector>

#include "tapegrad/data.hpp"
#include "tensor/check.hpp"

namespace tg::data::datasets {

namespace {

// `<root>/<name>.gz` or `<root>/<name>`, whichever exists.
std::string find_file(const std::string& root, const std::string& name) {
    namespace fs = std::filesystem;
    for (const auto& candidate : {fs::path(root) / (name + ".gz"), fs::path(root) / name})
        if (fs::exists(candidate)) return candidate.string();
    detail::fail("FashionMNIST", fmt::format("neither {0}.gz nor {0} in {1} (Debian: apt-get install "
                                             "dataset-fashion-mnist)", name, root));
}

}  // namespace

FashionMNIST::FashionMNIST(const std::string& root, Split split, const Shape& image_shape)
    : TensorDataset([&] {
          const std::string prefix = split == Split::Train ? "train" : "t10k";
          auto images = load_idx(find_file(root, prefix + "-images-idx3-ubyte"), true);
          auto labels = load_idx(find_file(root, prefix + "-labels-idx1-ubyte"));
          TG_CHECK(images.dim() == 3 && labels.dim() == 1 && images.size(0) == labels.size(0), "FashionMNIST",
                   "expected (N, H, W) images and (N) labels in {}, got {} and {}", root, images.sizes(),
                   labels.sizes());
          std::vector<std::int64_t> sizes{images.size(0)};
          for (const auto s : image_shape) sizes.push_back(s);
          TG_CHECK(Shape(sizes).numel() == images.numel(), "FashionMNIST",
                   "image_shape {} does not hold a {}x{} image", image_shape, images.size(1), images.size(2));
          return TensorDataset(images.reshape(Shape(sizes)), labels);
      }()) {}

const std::vector<std::string>& FashionMNIST::class_names() {
    static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return names;
}

}  // namespace tg::data::datasets
