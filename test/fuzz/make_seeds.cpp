// Writes the fuzz targets' seed corpora: files made by the library itself (tg::save,
// tg::save_safetensors; IDX files through zlib, as the datasets ship), and the inputs that
// once crashed or misbehaved (issue 17), kept as regression seeds so every fuzz run starts
// from them. Usage: make_seeds OUT_DIR  ->  OUT_DIR/<target>/<seed files>.
// A new fuzz target adds its seeds here, in one function named after it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "tapegrad/onnx.hpp"
#include "tapegrad/tapegrad.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

namespace {

void write(const fs::path& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
        std::exit(1);
    }
}

void put_le(Bytes& out, std::uint64_t value, int nbytes) {
    for (int i = 0; i < nbytes; ++i) out.push_back(static_cast<unsigned char>(value >> (8 * i)));
}
void put_be(Bytes& out, std::uint64_t value, int nbytes) {
    for (int i = nbytes - 1; i >= 0; --i) out.push_back(static_cast<unsigned char>(value >> (8 * i)));
}

// A few small tensors of every dtype and rank, including a scalar and an empty one.
tg::NamedTensors sample_tensors(std::uint64_t seed) {
    tg::manual_seed(seed);
    return {{"weight", tg::randn({3, 4})},
            {"bias", tg::randn({4}, tg::kFloat64)},
            {"steps", tg::randint(-5, 5, {2, 1, 2})},
            {"mask", tg::bernoulli({5}, 0.5).to(tg::kBool)},
            {"scale", tg::scalar_tensor(0.5)},
            {"empty", tg::zeros({0, 3})}};
}

void checkpoint_seeds(const fs::path& dir) {
    tg::save(sample_tensors(1), (dir / "sample.tgckpt").string());
    tg::save({{"only", tg::ones({1})}}, (dir / "one.tgckpt").string());
    tg::save({}, (dir / "none.tgckpt").string());
    auto model = tg::nn::Sequential(tg::nn::Linear(3, 2), tg::nn::BatchNorm1d(2));
    tg::save(model, (dir / "module.tgckpt").string());
    // Regressions: an empty file (memcmp of a null pointer), and a checksummed file holding
    // shape [0, 2^63-1, 2^63-1] (overflowed strides).
    write(dir / "regression_empty.tgckpt", {});
    Bytes huge = {'T', 'G', 'C', 'K', 'P', 'T', '0', '1'};
    put_le(huge, 1, 4);
    put_le(huge, 0, 4);
    put_le(huge, 1, 8);
    put_le(huge, 81, 8);
    put_le(huge, 1, 4);
    huge.push_back('t');
    put_le(huge, 2, 4);
    put_le(huge, 3, 4);
    for (std::uint64_t d : {std::uint64_t{0}, std::uint64_t{INT64_MAX}, std::uint64_t{INT64_MAX}}) put_le(huge, d, 8);
    put_le(huge, 0, 8);
    put_le(huge, static_cast<std::uint32_t>(::crc32(0L, huge.data(), static_cast<uInt>(huge.size()))), 4);
    write(dir / "regression_zero_size_huge_dims.tgckpt", huge);
}

Bytes safetensors_file(const std::string& header) {
    Bytes out;
    put_le(out, header.size(), 8);
    out.insert(out.end(), header.begin(), header.end());
    return out;
}

void safetensors_seeds(const fs::path& dir) {
    tg::save_safetensors(sample_tensors(2), (dir / "sample.safetensors").string(), {{"format", "pt"}});
    tg::save_safetensors({{"w", tg::ones({2, 2}, tg::kFloat64)}}, (dir / "one.safetensors").string());
    tg::save_safetensors(tg::NamedTensors{}, (dir / "none.safetensors").string());
    // Regressions: 100,000 nested arrays (the error message recursed: stack overflow), and a
    // zero-element shape whose other sizes overflow every stride.
    write(dir / "regression_deep_nesting.safetensors",
          safetensors_file(R"({"w":)" + std::string(100000, '[') + std::string(100000, ']') + "}"));
    write(dir / "regression_zero_size_huge_dims.safetensors",
          safetensors_file(R"({"t":{"dtype":"F32","shape":[0,9223372036854775807,9223372036854775807],)"
                           R"("data_offsets":[0,0]}})"));
}

Bytes idx_file(unsigned char type, const std::vector<std::uint32_t>& dims, std::size_t data_bytes) {
    Bytes out{0, 0, type, static_cast<unsigned char>(dims.size())};
    for (auto d : dims) put_be(out, d, 4);
    for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<unsigned char>(i * 37));
    return out;
}

void write_gzip(const fs::path& path, const Bytes& bytes) {
    gzFile f = gzopen(path.c_str(), "wb9");
    if (f == nullptr || gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size())) {
        std::fprintf(stderr, "make_seeds: cannot write %s\n", path.c_str());
        std::exit(1);
    }
    gzclose(f);
}

void idx_seeds(const fs::path& dir) {
    // One file per element type (u8, i8, i16, i32, f32, f64), plain and gzip'd as MNIST ships.
    const std::pair<unsigned char, std::size_t> types[] = {{0x08, 1}, {0x09, 1}, {0x0B, 2},
                                                           {0x0C, 4}, {0x0D, 4}, {0x0E, 8}};
    for (const auto& [type, width] : types) {
        const Bytes file = idx_file(type, {2, 3}, 6 * width);
        char name[32];
        std::snprintf(name, sizeof name, "type_%02x.idx", type);
        write(dir / name, file);
        write_gzip(dir / (std::string(name) + ".gz"), file);
    }
    write(dir / "images.idx", idx_file(0x08, {2, 4, 4}, 32));
    write(dir / "scalar.idx", idx_file(0x08, {}, 1));
    write(dir / "empty_dim.idx", idx_file(0x08, {0, 5}, 0));
    // Regression: 12 bytes claiming 2^20 x 2^20 elements (std::bad_alloc before the fix).
    write(dir / "regression_claims_a_terabyte.idx", idx_file(0x08, {1u << 20, 1u << 20}, 0));
    write_gzip(dir / "regression_claims_a_terabyte.idx.gz", idx_file(0x08, {1u << 20, 1u << 20}, 0));
}

// Small models as export_model writes them (standard ONNX ops) and as onnx::save writes
// them (tapegrad's own ops): a dense net, a CNN with batch norm and TF "same" padding, a
// softplus with beta (export's Where pattern), a bidirectional GRU, an embedding + LSTM.
void onnx_seeds(const fs::path& dir) {
    namespace F = tg::nn::functional;
    tg::manual_seed(4);
    auto save_both = [&](const std::string& name, const tg::jit::Graph& g) {
        const std::string standard = tg::onnx::to_onnx(g), saved = tg::onnx::to_saved_graph(g);
        write(dir / (name + ".onnx"), Bytes(standard.begin(), standard.end()));
        write(dir / (name + ".tg.onnx"), Bytes(saved.begin(), saved.end()));
    };
    tg::jit::TraceOptions dynamic;
    dynamic.dynamic_batch = true;
    {
        tg::nn::Sequential mlp(tg::nn::Linear(4, 3), tg::nn::ReLU(), tg::nn::Linear(3, 2));
        mlp.eval();
        save_both("mlp", tg::jit::trace(mlp, tg::randn({1, 4}), dynamic));
    }
    {
        const tg::Tensor w = tg::randn({2, 1, 3, 3}), gamma = tg::rand({2}), beta = tg::randn({2});
        const tg::Tensor mean = tg::randn({2}), var = tg::rand({2}) + 0.5, fc = tg::randn({3, 8});
        auto cnn = [&](const std::vector<tg::Tensor>& in) -> std::vector<tg::Tensor> {
            auto h = F::conv2d(in[0], w, {}, {2, 2}, F::Padding::Same);
            h = F::batch_norm(h, mean, var, gamma, beta, false, 0.1, 1e-5);
            h = F::max_pool2d(tg::relu(h), {2}, {1}, {0});
            h = tg::softplus(h, 2.0, 1.5);
            return {F::linear(h.flatten(1), fc)};
        };
        save_both("cnn", tg::jit::trace(cnn, {tg::randn({1, 1, 6, 6})}, dynamic));
    }
    {
        tg::nn::GRU gru(tg::nn::GRUOptions(3, 2).bidirectional(true).batch_first(true));
        gru.eval();
        auto fn = [&](const std::vector<tg::Tensor>& in) -> std::vector<tg::Tensor> {
            auto [out, h] = gru.forward(in[0], tg::Tensor());
            return {out, h};
        };
        save_both("gru", tg::jit::trace(fn, {tg::randn({1, 4, 3})}, dynamic));
    }
    {
        tg::nn::Embedding embed(7, 3);
        tg::nn::LSTM lstm(tg::nn::LSTMOptions(3, 2));
        auto fn = [&](const std::vector<tg::Tensor>& in) -> std::vector<tg::Tensor> {
            auto [out, state] = lstm.forward(embed.forward(in[0]), {});
            return {out.sum({0})};
        };
        save_both("lstm", tg::jit::trace(fn, {tg::randint(0, 7, {5, 2})}));
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
        return 2;
    }
    const fs::path out = argv[1];
    const std::pair<const char*, void (*)(const fs::path&)> targets[] = {
        {"checkpoint", checkpoint_seeds}, {"safetensors", safetensors_seeds}, {"idx", idx_seeds}, {"onnx", onnx_seeds}};
    for (const auto& [name, make] : targets) {
        fs::create_directories(out / name);
        make(out / name);
    }
    return 0;
}
