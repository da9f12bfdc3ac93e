// Checkpoints of tensors and modules (tg::save / tg::load / tg::load_into): bit-exact round
// trips for every dtype and shape, every error naming the file with targets left unchanged,
// and a module's parameters and buffers. Optimizer state files: test_optim.cpp.
#include "crc32.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using namespace tgtest;

TEST_CASE("checkpoint round trip is bit-exact for every dtype and shape") {
    tg::manual_seed(11);
    auto f32 = tg::randn({3, 4});
    auto f64 = tg::randn({2, 3, 2}, tg::kFloat64);
    auto i64 = tg::from_vector(std::vector<std::int64_t>{-1, 0, std::numeric_limits<std::int64_t>::max()});
    auto flags = tg::from_vector(std::vector<bool>{true, false, true, true});
    auto scalar = tg::scalar_tensor(-0.0, tg::kFloat64);
    auto empty = tg::zeros({0, 5});
    auto special = tg::tensor({std::nan(""), INFINITY, -INFINITY, 1e-45}, tg::kFloat32);
    auto transposed = f32.t();  // saved as its contiguous values
    const TempDir dir;
    const std::string path = dir.file("roundtrip.tgckpt");
    const tg::NamedTensors saved{{"f32", f32},       {"f64", f64},         {"encoder.conv1.weight", i64},
                                 {"flags", flags},   {"scalar", scalar},   {"empty", empty},
                                 {"special", special}, {"transposed", transposed}};
    tg::save(saved, path);
    const auto loaded = tg::load(path);
    REQUIRE(loaded.size() == saved.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
        INFO(saved[i].first);
        CHECK(loaded[i].first == saved[i].first);
        CHECK(loaded[i].second.is_contiguous());
        CHECK(same_bits(loaded[i].second, saved[i].second));
    }
    CHECK(loaded[4].second.dim() == 0);
    CHECK(std::signbit(loaded[4].second.item<double>()));
    // no temporary file is left next to it
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
        if (entry.path().filename().string().rfind("roundtrip.tgckpt", 0) == 0) ++files;
    CHECK(files == 1);

    // the documented layout: magic, version 1, count, file size, ..., CRC32 at the end
    const auto bytes = read_bytes(path);
    CHECK(std::string(bytes.begin(), bytes.begin() + 8) == "TGCKPT01");
    CHECK(bytes[8] == 1);
    CHECK(bytes[16] == saved.size());
    std::uint64_t declared = 0;
    for (int i = 0; i < 8; ++i) declared |= static_cast<std::uint64_t>(bytes[24 + i]) << (8 * i);
    CHECK(declared == bytes.size());
    // first entry: name length 3, "f32", dtype code 2 (float32), rank 2, sizes 3 and 4
    CHECK(bytes[32] == 3);
    CHECK(std::string(bytes.begin() + 36, bytes.begin() + 39) == "f32");
    CHECK(bytes[39] == 2);
    CHECK(bytes[43] == 2);
    CHECK(bytes[47] == 3);
    CHECK(bytes[55] == 4);
}

TEST_CASE("checkpoint errors name the file and leave targets unchanged") {
    auto w = tg::tensor({{1.0, 2.0}, {3.0, 4.0}}).requires_grad_();
    auto b = tg::tensor({0.5});
    const TempDir dir;
    const std::string path = dir.file("errors.tgckpt");
    tg::save({{"w", w}, {"b", b}}, path);
    const auto good = read_bytes(path);

    SECTION("load_into copies into leaves that require grad") {
        auto w2 = tg::zeros({2, 2}).requires_grad_();
        auto b2 = tg::zeros({1});
        tg::load_into({{"w", w2}, {"b", b2}}, path);
        CHECK(same_bits(w2, w));
        CHECK(same_bits(b2, b));
        CHECK(w2.requires_grad());
    }
    SECTION("missing name, extra name, wrong shape, wrong dtype") {
        auto w2 = tg::zeros({2, 2});
        auto b2 = tg::zeros({1});
        auto c2 = tg::zeros({3});
        REQUIRE_TG_ERROR(tg::load_into({{"w", w2}, {"b", b2}, {"c", c2}}, path), "load_into", path,
                         "no tensor named 'c'");
        REQUIRE_TG_ERROR(tg::load_into({{"w", w2}}, path), "load_into", path, "unexpected tensor 'b'");
        auto wrong_shape = tg::zeros({4});
        REQUIRE_TG_ERROR(tg::load_into({{"b", b2}, {"w", wrong_shape}}, path), "load_into", "'w'", "[2, 2]",
                         "[4]");
        auto wrong_dtype = tg::zeros({2, 2}, tg::kFloat64);
        REQUIRE_TG_ERROR(tg::load_into({{"b", b2}, {"w", wrong_dtype}}, path), "'w'", "float32", "float64");
        CHECK(values(b2) == std::vector<double>{0.0});  // checked before any copy
        CHECK(values(w2) == std::vector<double>{0, 0, 0, 0});
    }
    SECTION("truncated file") {
        for (std::size_t keep : {std::size_t{4}, std::size_t{20}, good.size() / 2, good.size() - 1}) {
            INFO("kept " << keep << " bytes");
            write_bytes(path, std::vector<unsigned char>(good.begin(), good.begin() + static_cast<long>(keep)));
            REQUIRE_TG_ERROR(tg::load(path), "load", path);
            if (keep >= 36) REQUIRE_TG_ERROR(tg::load(path), "truncated");
        }
        auto w2 = tg::zeros({2, 2});
        REQUIRE_TG_ERROR(tg::load_into({{"w", w2}, {"b", tg::zeros({1})}}, path), "truncated");
        CHECK(values(w2) == std::vector<double>{0, 0, 0, 0});
    }
    SECTION("a flipped byte anywhere is a checksum error") {
        for (std::size_t at = 32; at < good.size(); ++at) {  // every byte after the header
            auto bad = good;
            bad[at] ^= 0x10;
            write_bytes(path, bad);
            INFO("byte " << at);
            REQUIRE_TG_ERROR(tg::load(path), "load", path, "checksum");
        }
    }
    SECTION("wrong magic, other version, trailing bytes, missing file") {
        auto bad = good;
        bad[0] = 'X';
        write_bytes(path, bad);
        REQUIRE_TG_ERROR(tg::load(path), "load", path, "not a tapegrad checkpoint");
        bad = good;
        bad[8] = 2;
        write_bytes(path, bad);
        REQUIRE_TG_ERROR(tg::load(path), path, "version 2");
        bad = good;
        bad.push_back(0);
        write_bytes(path, bad);
        REQUIRE_TG_ERROR(tg::load(path), path, "declares");
        REQUIRE_TG_ERROR(tg::load(dir.file("does_not_exist.tgckpt")), "load", "does_not_exist.tgckpt");
    }
    SECTION("save refuses duplicate, empty and undefined entries and keeps the old file") {
        REQUIRE_TG_ERROR(tg::save({{"w", w}, {"w", b}}, path), "save", "'w' appears twice");
        REQUIRE_TG_ERROR(tg::save({{"", w}}, path), "save", "empty name");
        REQUIRE_TG_ERROR(tg::save({{"x", tg::Tensor()}}, path), "save", "'x' is undefined");
        REQUIRE_TG_ERROR(tg::save({{"w", w}}, "/nonexistent_dir_tapegrad/x.tgckpt"), "save",
                         "/nonexistent_dir_tapegrad/x.tgckpt");
        CHECK(read_bytes(path) == good);
    }
    SECTION("an empty file") {
        write_bytes(path, {});  // once memcmp(nullptr, magic, 0): undefined behaviour
        REQUIRE_TG_ERROR(tg::load(path), "load", path, "is empty (0 bytes)");
    }
    SECTION("a checksummed file whose empty shape overflows every stride") {
        // 81 bytes, valid CRC: tensor "t", float32, shape [0, 2^63-1, 2^63-1], no data. Once
        // accepted with overflowed strides and element counts.
        std::vector<unsigned char> bytes = {'T', 'G', 'C', 'K', 'P', 'T', '0', '1'};
        auto put = [&](std::uint64_t v, int n) {
            for (int i = 0; i < n; ++i) bytes.push_back(static_cast<unsigned char>(v >> (8 * i)));
        };
        put(1, 4);   // version
        put(0, 4);   // reserved
        put(1, 8);   // one tensor
        put(81, 8);  // file size
        put(1, 4);
        bytes.push_back('t');
        put(2, 4);  // float32
        put(3, 4);  // rank
        for (std::uint64_t d : {std::uint64_t{0}, std::uint64_t{INT64_MAX}, std::uint64_t{INT64_MAX}}) put(d, 8);
        put(0, 8);  // data bytes
        put(crc32(bytes), 4);
        REQUIRE(bytes.size() == 81);
        write_bytes(path, bytes);
        REQUIRE_TG_ERROR(tg::load(path), "load", path, "'t'", "too large");
    }
    SECTION("mutated files never crash: every outcome is a tg::Error or a valid load") {
        std::srand(1);
        for (int trial = 0; trial < 300; ++trial) {
            auto bad = good;
            const int edits = 1 + std::rand() % 4;
            for (int e = 0; e < edits; ++e) bad[static_cast<std::size_t>(std::rand()) % bad.size()] =
                static_cast<unsigned char>(std::rand());
            if (std::rand() % 3 == 0) bad.resize(static_cast<std::size_t>(std::rand()) % bad.size());
            write_bytes(path, bad);
            try {
                const auto loaded = tg::load(path);
                CHECK(bad == good);  // only an unmutated file loads
                CHECK(loaded.size() == 2);
            } catch (const tg::Error& e) {
                CHECK(std::string(e.what()).find(path) != std::string::npos);
            }
        }
    }
}

TEST_CASE("a module's checkpoint: parameters and BatchNorm buffers round-trip, evaluation is identical") {
    namespace nn = tg::nn;
    auto make = [] {
        return nn::Sequential(nn::Linear(4, 6), nn::BatchNorm1d(6), nn::ReLU(), nn::Linear(6, 3));
    };
    tg::manual_seed(3);
    auto trained = make();
    auto x = tg::randn({8, 4});
    trained.forward(x).sum().backward();  // train mode: moves the running statistics
    const auto names = tg::state_dict(trained);
    // Parameters of the two Linears and BatchNorm's affine pair, then its running statistics.
    REQUIRE(names.size() == 9);
    CHECK(names[8].first == "1.num_batches_tracked");
    CHECK(names[4].first == "3.weight");
    CHECK(names[6].first == "1.running_mean");
    CHECK(names[7].first == "1.running_var");
    const TempDir dir;
    const std::string path = dir.file("module.tgckpt");
    tg::save(trained, path);

    tg::manual_seed(99);
    auto restored = make();
    trained.eval();
    restored.eval();
    CHECK_FALSE(same_bits(restored.forward(x), trained.forward(x)));
    tg::load_into(restored, path);
    CHECK(same_bits(restored.forward(x), trained.forward(x)));
    for (const auto& [name, tensor] : tg::state_dict(restored)) {
        INFO(name);
        const auto original = std::find_if(names.begin(), names.end(), [&](const auto& p) { return p.first == name; });
        REQUIRE(original != names.end());
        CHECK(same_bits(tensor, original->second));
    }
    // Another architecture: a clear error naming the mismatch, nothing changed.
    tg::manual_seed(5);
    auto other = nn::Sequential(nn::Linear(4, 6), nn::BatchNorm1d(6), nn::ReLU(), nn::Linear(6, 2));
    const auto before = tg::state_dict(other);
    REQUIRE_TG_ERROR(tg::load_into(other, path), "3.weight", "[2, 6]", "[3, 6]");
    const auto after = tg::state_dict(other);
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(same_bits(before[i].second, after[i].second));
}
