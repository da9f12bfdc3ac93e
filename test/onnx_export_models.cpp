// The tapegrad half of test/scripts/onnx_export.sh: builds the four Fashion-MNIST example
// models (their architectures as in examples/, seeded random weights, batch-norm running
// statistics from a few training-mode passes), a GRU and a two-layer bidirectional LSTM
// sequence model, a TF "same"-padding CNN, a depthwise / grouped CNN with ceil_mode pooling, and two modules of the selection,
// comparison, scan, loss, padding, resizing and normalisation ops, exports
// each to ONNX and writes its input and tapegrad's output as raw little-endian float32
// files plus a manifest line: "name input_file dims... | output_file dims...".
#include <cstdio>
#include <fstream>
#include <string>

#include "onnx_models.hpp"
#include "tapegrad/onnx.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;
using namespace tgtest;

namespace {

void write_floats(const std::string& path, const Tensor& t) {
    const Tensor c = t.to(kFloat32).contiguous();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), static_cast<std::streamsize>(c.numel() * 4));
}
void write_ints(const std::string& path, const Tensor& t) {
    const Tensor c = t.contiguous();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data_ptr<std::int64_t>()), static_cast<std::streamsize>(c.numel() * 8));
}
std::string dims(const Tensor& t) {
    std::string s;
    for (auto d : t.sizes()) s += " " + std::to_string(d);
    return s;
}

void save(std::ofstream& manifest, const std::string& dir, const std::string& name, nn::Module& model,
          const Tensor& example, const Tensor& input) {
    onnx::export_model(model, example, dir + "/" + name + ".onnx");
    model.eval();
    Tensor out;
    {
        NoGradGuard no_grad;
        out = model.forward(input);
    }
    const bool ints = input.dtype() == kInt64;
    if (ints) write_ints(dir + "/" + name + ".in", input);
    else write_floats(dir + "/" + name + ".in", input);
    write_floats(dir + "/" + name + ".out", out);
    manifest << name << " " << (ints ? "int64" : "float32") << dims(input) << " |" << dims(out) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::ofstream manifest(dir + "/manifest.txt");
    try {
        manual_seed(20);
        {
            SoftmaxRegression m;
            save(manifest, dir, "logreg", m, randn({1, 784}), rand({5, 784}));
        }
        {
            auto m = nn::Sequential(nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.2), nn::Linear(256, 128), nn::ReLU(),
                                    nn::Dropout(0.2), nn::Linear(128, 10));
            save(manifest, dir, "mlp", m, randn({1, 784}), rand({7, 784}));
        }
        {
            FashionCnn m;
            for (int i = 0; i < 3; ++i) m.forward(randn({8, 1, 28, 28}) * 0.5 + 0.2);  // running statistics
            save(manifest, dir, "cnn", m, randn({1, 1, 28, 28}), rand({3, 1, 28, 28}));
        }
        {
            SameCnn m;
            save(manifest, dir, "same_cnn", m, randn({2, 1, 28, 28}), rand({4, 1, 28, 28}));
        }
        {
            GroupedCnn m;
            save(manifest, dir, "grouped_cnn", m, randn({2, 1, 28, 28}), rand({3, 1, 28, 28}));
        }
        {
            GruClassifier m;
            save(manifest, dir, "gru", m, randn({1, 784}), rand({6, 784}));
        }
        {
            SelectionOps m;
            save(manifest, dir, "selection_ops", m, randn({4, 12}), randn({6, 12}));
        }
        {
            ImageOps m;
            save(manifest, dir, "image_ops", m, randn({2, 3, 6, 5}), randn({3, 3, 6, 5}));
        }
        {
            LstmTagger m;
            save(manifest, dir, "lstm", m, randint(0, 50, {9, 4}), randint(0, 50, {9, 4}));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
