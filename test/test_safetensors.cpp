// safetensors: round trips of every dtype, the exact byte layout against a hand-built file,
// modules, load_into's all-or-nothing checks, every malformed-header error, and a fuzz
// test of mutated files (each either loads consistently or throws tg::Error).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"

using namespace tg;
using tgtest::read_bytes;
using tgtest::TempDir;
using tgtest::values;
using tgtest::write_bytes;

namespace {

// A file from a header text and raw data, with an explicit (possibly wrong) header size.
std::vector<unsigned char> raw_file(const std::string& header, const std::vector<unsigned char>& data,
                                    std::uint64_t header_size) {
    std::vector<unsigned char> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(header_size >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}
std::vector<unsigned char> raw_file(const std::string& header, const std::vector<unsigned char>& data) {
    return raw_file(header, data, header.size());
}

std::vector<unsigned char> f32_bytes(const std::vector<float>& v) {
    std::vector<unsigned char> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

}  // namespace

TEST_CASE("safetensors: every dtype round-trips bit-exactly, with metadata and in order") {
    TempDir tmp;
    const std::string path = tmp.file("all.safetensors");
    Tensor f32 = from_vector(std::vector<float>{1.5f, -2.25f, 3.0e-38f, 7.0f, 0.1f, -0.0f}, {2, 3});
    Tensor f64 = from_vector(std::vector<double>{0.1, -1e300, 4.9e-324}, {3});
    Tensor i64 = from_vector(std::vector<std::int64_t>{-9007199254740993LL, 42, INT64_MIN, INT64_MAX}, {2, 2});
    Tensor b = from_vector(std::vector<bool>{true, false, true}, {3, 1});
    Tensor scalar = full({}, 2.5, kFloat64);
    Tensor empty_t = zeros({0, 4});
    Tensor transposed = f32.t();  // non-contiguous: written in row-major order of the view
    const NamedTensors saved = {{"f32", f32}, {"f64", f64}, {"i64", i64}, {"bool", b},
                                {"scalar", scalar}, {"empty", empty_t}, {"z.transposed", transposed}};
    save_safetensors(saved, path, {{"format", "pt"}, {"note", "tapegrad test"}});

    SafetensorsMetadata metadata;
    const NamedTensors loaded = load_safetensors(path, &metadata);
    REQUIRE(loaded.size() == saved.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
        INFO(saved[i].first);
        CHECK(loaded[i].first == saved[i].first);
        CHECK(loaded[i].second.sizes() == saved[i].second.sizes());
        CHECK(loaded[i].second.dtype() == saved[i].second.dtype());
        CHECK(loaded[i].second.is_contiguous());
    }
    CHECK(loaded[0].second.to_vector<float>() == f32.to_vector<float>());
    CHECK(loaded[1].second.to_vector<double>() == f64.to_vector<double>());
    CHECK(loaded[2].second.to_vector<std::int64_t>() == i64.to_vector<std::int64_t>());
    CHECK(loaded[3].second.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1});
    CHECK(loaded[4].second.item<double>() == 2.5);
    CHECK(loaded[6].second.to_vector<float>() == std::vector<float>{1.5f, 7.0f, -2.25f, 0.1f, 3.0e-38f, -0.0f});
    CHECK(std::signbit(loaded[0].second.to_vector<float>()[5]));
    CHECK(metadata == SafetensorsMetadata{{"format", "pt"}, {"note", "tapegrad test"}});
    // No metadata given: none read.
    save_safetensors({{"x", f32}}, path);
    SafetensorsMetadata none{{"stale", "x"}};
    load_safetensors(path, &none);
    CHECK(none.size() == 1);  // untouched: the file has no __metadata__
}

TEST_CASE("safetensors: the bytes on disk follow the format exactly") {
    TempDir tmp;
    const std::string path = tmp.file("layout.safetensors");
    save_safetensors({{"w", from_vector(std::vector<float>{1.0f, -2.0f}, {1, 2})},
                      {"n", from_vector(std::vector<std::int64_t>{7}, {1})}},
                     path, {{"k", "v"}});
    const auto bytes = read_bytes(path);
    const std::string header =
        R"({"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},)"
        R"("n":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})";
    std::string padded = header;
    padded.append((8 - padded.size() % 8) % 8, ' ');
    REQUIRE(bytes.size() == 8 + padded.size() + 16);
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= std::uint64_t{bytes[i]} << (8 * i);
    CHECK(n == padded.size());
    CHECK(std::string(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n)) == padded);
    const std::vector<unsigned char> data(bytes.begin() + 8 + static_cast<long>(n), bytes.end());
    const std::vector<unsigned char> expected = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0, 0, 0, 0, 0};
    CHECK(data == expected);

    // A hand-built file in another key order, with whitespace, loads by data order.
    const std::string other = R"( {"b": {"shape": [2], "dtype": "F32", "data_offsets": [8, 16]},
                                   "a": {"dtype": "BOOL", "shape": [], "data_offsets": [16, 17]},
                                   "c": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}   )";
    auto data2 = f32_bytes({0.5f, 4.0f, -1.0f, 3.0f});
    data2.push_back(1);
    const std::string other_trimmed = other.substr(1);  // must start with '{'
    write_bytes(path, raw_file(other_trimmed, data2));
    const NamedTensors loaded = load_safetensors(path);
    REQUIRE(loaded.size() == 3);
    CHECK(loaded[0].first == "c");
    CHECK(values(loaded[0].second) == std::vector<double>{0.5, 4.0});
    CHECK(loaded[1].first == "b");
    CHECK(values(loaded[1].second) == std::vector<double>{-1.0, 3.0});
    CHECK(loaded[2].first == "a");
    CHECK(loaded[2].second.dtype() == kBool);
    CHECK(loaded[2].second.dim() == 0);
    CHECK(loaded[2].second.item<bool>());
}

TEST_CASE("safetensors: modules save parameters and buffers and load them back") {
    TempDir tmp;
    const std::string path = tmp.file("net.safetensors");
    manual_seed(3);
    nn::Sequential a(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)), nn::BatchNorm2d(2), nn::ReLU(), nn::Flatten(),
                     nn::Linear(16, 3));
    {
        NoGradGuard no_grad;
        for (auto& [name, t] : a.named_buffers())
            if (t.is_floating_point()) t.copy_(uniform(t.sizes(), 0.5, 1.5));
    }
    save_safetensors(a, path);
    std::vector<std::string> names;
    for (const auto& [name, t] : load_safetensors(path)) names.push_back(name);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias",
                                            "1.running_mean", "1.running_var", "1.num_batches_tracked"});
    manual_seed(4);
    nn::Sequential b(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)), nn::BatchNorm2d(2), nn::ReLU(), nn::Flatten(),
                     nn::Linear(16, 3));
    load_safetensors_into(b, path);
    const auto sa = a.named_parameters(), sb = b.named_parameters();
    for (std::size_t i = 0; i < sa.size(); ++i) CHECK(values(sa[i].second) == values(sb[i].second));
    const auto ba = a.named_buffers(), bb = b.named_buffers();
    for (std::size_t i = 0; i < ba.size(); ++i) CHECK(values(ba[i].second) == values(bb[i].second));
    CHECK(b.parameters()[0].requires_grad());
    a.eval();
    b.eval();
    Tensor x = uniform({2, 1, 4, 6}, -1, 1);
    CHECK(values(a.forward(x)) == values(b.forward(x)));
}

TEST_CASE("safetensors: load_into checks everything before copying") {
    TempDir tmp;
    const std::string path = tmp.file("w.safetensors");
    save_safetensors({{"w", from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2})},
                      {"b", from_vector(std::vector<double>{5, 6}, {2})}},
                     path);
    Tensor w = zeros({2, 2}, kFloat64).requires_grad_();
    Tensor b = zeros({2}, kFloat64);
    load_safetensors_into({{"w", w}, {"b", b}}, path);
    CHECK(values(w) == std::vector<double>{1, 2, 3, 4});
    CHECK(values(b) == std::vector<double>{5, 6});
    CHECK(w.requires_grad());
    CHECK(!w.grad_fn());

    Tensor w2 = zeros({2, 2}, kFloat64), b2 = zeros({2}, kFloat64);
    Tensor b3 = zeros({3}, kFloat64), bf = zeros({2}, kFloat32), extra = zeros({1}, kFloat64);
    // `w2` comes first and is fine: it must stay untouched when a later target fails.
    REQUIRE_TG_ERROR(load_safetensors_into({{"w", w2}, {"b", b3}}, path), "load_safetensors_into", path, "'b'",
                     "[2]", "[3]");
    REQUIRE_TG_ERROR(load_safetensors_into({{"w", w2}, {"b", bf}}, path), "load_safetensors_into", "'b'",
                     "float64", "float32");
    REQUIRE_TG_ERROR(load_safetensors_into({{"w", w2}}, path), "load_safetensors_into", "unexpected tensor 'b'");
    REQUIRE_TG_ERROR(load_safetensors_into({{"w", w2}, {"b", b2}, {"x", extra}}, path), "load_safetensors_into",
                     "no tensor named 'x'");
    REQUIRE_TG_ERROR(load_safetensors_into({{"w", w2}, {"w", b2}}, path), "given twice");
    CHECK(values(w2) == std::vector<double>{0, 0, 0, 0});

    nn::Linear wrong(3, 2);
    REQUIRE_TG_ERROR(load_safetensors_into(wrong, path), "load_safetensors_into", "no tensor named 'weight'");
}

TEST_CASE("safetensors: save errors leave the previous file in place") {
    TempDir tmp;
    const std::string path = tmp.file("keep.safetensors");
    save_safetensors({{"x", ones({2})}}, path);
    const auto before = read_bytes(path);
    REQUIRE_TG_ERROR(save_safetensors({{"", ones({1})}}, path), "save_safetensors", path, "empty name");
    REQUIRE_TG_ERROR(save_safetensors({{"a", ones({1})}, {"a", ones({1})}}, path), "'a' appears twice");
    REQUIRE_TG_ERROR(save_safetensors({{"__metadata__", ones({1})}}, path), "reserved");
    REQUIRE_TG_ERROR(save_safetensors({{"u", Tensor()}}, path), "'u' is undefined");
    REQUIRE_TG_ERROR(save_safetensors({{"x", ones({1})}}, tmp.file("no/such/dir/f.safetensors")), "save_safetensors",
                     "cannot create a temporary file");
    CHECK(read_bytes(path) == before);
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(tmp.path)) {
        (void)entry;
        ++files;
    }
    CHECK(files == 1);  // no temp file left behind
    REQUIRE_TG_ERROR(load_safetensors(tmp.file("missing.safetensors")), "load_safetensors", "cannot open",
                     "missing.safetensors");
}

TEST_CASE("safetensors: malformed headers are rejected with the file, tensor and problem") {
    TempDir tmp;
    const std::string path = tmp.file("bad.safetensors");
    const auto data8 = f32_bytes({1.0f, 2.0f});
    auto expect = [&](const std::vector<unsigned char>& file, std::vector<std::string> fragments) {
        write_bytes(path, file);
        bool threw = false;
        try {
            load_safetensors(path);
        } catch (const Error& e) {
            threw = true;
            const std::string what = e.what();
            INFO("message: " << what);
            CHECK(what.find("load_safetensors") != std::string::npos);
            CHECK(what.find(path) != std::string::npos);
            for (const auto& f : fragments) CHECK(what.find(f) != std::string::npos);
        }
        CHECK(threw);
    };
    const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    write_bytes(path, raw_file(ok, data8));
    REQUIRE(values(load_safetensors(path)[0].second) == std::vector<double>{1, 2});

    expect({1, 2, 3}, {"truncated", "3 bytes"});
    expect(raw_file(ok, data8, ok.size() + 100), {"header size", "runs past the end of the file"});
    expect(raw_file(ok, data8, ~std::uint64_t{0}), {"runs past the end"});
    expect(raw_file("[1,2]", {}), {"not a JSON object"});
    expect(raw_file(R"({"t": )", {}), {"not valid JSON"});
    expect(raw_file(R"({"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", data8), {"'t'", "unknown dtype 'Q7'"});
    expect(raw_file(R"({"t":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", data8), {"'t'", "'F16'", "does not read"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8),
           {"'t'", "[3]", "F32", "needs 12 bytes", "span 8"});
    expect(raw_file(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", data8), {"'t'", "needs 16 bytes"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", data8),
           {"'t'", "[0, 16]", "out of range", "8 bytes"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data8), {"'t'", "out of range"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    data8),
           {"overlaps", "'t'", "'u'"});
    expect(raw_file(R"({"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8),
           {"bytes [0, 4)", "belong to no tensor", "'u'"});
    expect(raw_file(R"({"u":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data8),
           {"bytes [4, 8)", "after the last"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                    data8),
           {"names 't' twice"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2]}})", data8), {"'t'", "no \"data_offsets\""});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), {"'t'", "non-negative"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}})", data8), {"'t'", "non-negative"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", data8), {"'t'", "shape must be"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8), {"'t'", "[begin, end]"});
    expect(raw_file(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
                    data8),
           {"'t'", "too many"});
    expect(raw_file(R"({"t":[1]})", data8), {"'t'", "expected an object"});
    expect(raw_file(R"({"__metadata__":{"k":1},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8),
           {"__metadata__", "'k'", "must be a string"});
    expect(raw_file(R"({"b":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", {2}), {"'b'", "byte 2"});
}

TEST_CASE("safetensors: crafted headers from the fuzzer give tg::Error, not a crash") {
    TempDir tmp;
    const std::string path = tmp.file("crafted.safetensors");
    auto message_of = [&](const std::vector<unsigned char>& file) {
        write_bytes(path, file);
        try {
            load_safetensors(path);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("loaded");
    };
    // 100,000 nested arrays: building the error message with json::dump() recursed once per
    // level and overflowed the stack (SIGSEGV).
    std::string deep = R"({"w":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
    std::string what = message_of(raw_file(deep, {}));
    INFO(what);
    CHECK(what.find("load_safetensors") != std::string::npos);
    CHECK(what.find("nests deeper than 3 levels") != std::string::npos);
    // One level too deep is refused too; the deepest the format uses still loads.
    what = message_of(raw_file(R"({"t":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", f32_bytes({1, 2})));
    CHECK(what.find("nests deeper") != std::string::npos);
    CHECK(message_of(raw_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", f32_bytes({1, 2}))) ==
          "loaded");
    // A wrong value is described, not dumped: its kind and size, never its (long) text.
    std::string long_array = "1";
    for (int i = 0; i < 1000; ++i) long_array += ",7";
    what = message_of(raw_file(R"({"t":[)" + long_array + "]}", {}));
    CHECK(what.find("expected an object") != std::string::npos);
    CHECK(what.find("an array of 1001 values") != std::string::npos);
    CHECK(what.size() < 300);
    // Zero elements, but the other sizes overflow every stride: refused, not accepted with
    // overflowed strides.
    what = message_of(raw_file(
        R"({"t":{"dtype":"F32","shape":[0,9223372036854775807,9223372036854775807],"data_offsets":[0,0]}})", {}));
    CHECK(what.find("'t'") != std::string::npos);
    CHECK(what.find("too large") != std::string::npos);
}

TEST_CASE("safetensors: fuzzed files either load consistently or throw tg::Error") {
    TempDir tmp;
    const std::string good = tmp.file("good.safetensors");
    const std::string bad = tmp.file("fuzz.safetensors");
    manual_seed(11);
    save_safetensors({{"a.weight", uniform({3, 4}, -1, 1)},
                      {"a.bias", uniform({4}, -1, 1, kFloat64)},
                      {"steps", from_vector(std::vector<std::int64_t>{3, 1}, {2})},
                      {"mask", from_vector(std::vector<bool>{true, false, true}, {3})}},
                     good, {{"who", "fuzz"}});
    const auto original = read_bytes(good);
    std::uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= std::uint64_t{original[i]} << (8 * i);

    Tensor w = zeros({3, 4}), bias = zeros({4}, kFloat64), steps = zeros({2}, kInt64), mask = zeros({3}, kBool);
    const NamedTensors targets = {{"a.weight", w}, {"a.bias", bias}, {"steps", steps}, {"mask", mask}};
    std::mt19937_64 rng(12345);
    const std::string json_chars = "{}[]\":,0123456789-. eE\"FIBL";
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        auto bytes = original;
        const int kind = static_cast<int>(rng() % 5);
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits && !bytes.empty(); ++e) {
            if (kind == 0) {  // flip a bit anywhere
                bytes[rng() % bytes.size()] ^= static_cast<unsigned char>(1u << (rng() % 8));
            } else if (kind == 1) {  // a JSON-ish character inside the header
                bytes[8 + rng() % header_size] = static_cast<unsigned char>(json_chars[rng() % json_chars.size()]);
            } else if (kind == 2) {  // truncate or extend
                if (rng() % 2)
                    bytes.resize(rng() % bytes.size());
                else
                    bytes.insert(bytes.end(), 1 + rng() % 16, static_cast<unsigned char>(rng()));
            } else if (kind == 3) {  // a digit of a number in the header (offsets, shapes)
                std::vector<std::size_t> digits;
                for (std::size_t i = 8; i < 8 + header_size && i < bytes.size(); ++i)
                    if (bytes[i] >= '0' && bytes[i] <= '9') digits.push_back(i);
                if (!digits.empty()) bytes[digits[rng() % digits.size()]] = static_cast<unsigned char>('0' + rng() % 10);
            } else {  // the header size itself
                bytes[rng() % 8] = static_cast<unsigned char>(rng());
            }
        }
        write_bytes(bad, bytes);
        try {
            const NamedTensors loaded = load_safetensors(bad);
            ++accepted;
            for (const auto& [name, t] : loaded) REQUIRE(t.defined());
        } catch (const Error& e) {
            ++rejected;
            REQUIRE(std::string(e.what()).find(bad) != std::string::npos);
        }
        // load_into: all or nothing.
        NoGradGuard no_grad;
        w.fill_(-7.0);
        try {
            load_safetensors_into(targets, bad);
        } catch (const Error&) {
            REQUIRE(values(w) == std::vector<double>(12, -7.0));
        }
    }
    INFO("accepted " << accepted << ", rejected " << rejected);
    CHECK(rejected > 1000);
    CHECK(accepted > 10);  // bit flips in the data are valid files
}
