// tg::data::load_idx: IDX files written here byte by byte (plain and gzip'd), every error
// path, and the real Fashion-MNIST test set when it is installed.
#include <unistd.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crc32.hpp"
#include "test_support.hpp"

using namespace tgtest;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

void put_be(Bytes& out, std::uint64_t value, int nbytes) {
    for (int i = nbytes - 1; i >= 0; --i) out.push_back(static_cast<unsigned char>(value >> (8 * i)));
}

// The IDX header: 0x00 0x00, type, ndims, then each dim as big-endian int32.
Bytes header(unsigned char type, const std::vector<std::int32_t>& dims) {
    Bytes out{0x00, 0x00, type, static_cast<unsigned char>(dims.size())};
    for (auto d : dims) put_be(out, static_cast<std::uint32_t>(d), 4);
    return out;
}

Bytes concat(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

void write_plain(const std::string& path, const Bytes& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(f.good());
}

// A gzip file made of stored (uncompressed) deflate blocks, written here rather than with
// zlib so the reader is checked against an independent encoder (RFC 1951/1952). The real
// Fashion-MNIST files below cover compressed (Huffman-coded) streams.

void put_le(Bytes& out, std::uint32_t value, int nbytes) {
    for (int i = 0; i < nbytes; ++i) out.push_back(static_cast<unsigned char>(value >> (8 * i)));
}

void write_gzip(const std::string& path, const Bytes& bytes) {
    Bytes gz{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff};  // magic, deflate, no flags
    constexpr std::size_t kMaxBlock = 65535;
    std::size_t pos = 0;
    do {
        const std::size_t len = std::min(kMaxBlock, bytes.size() - pos);
        const bool last = pos + len == bytes.size();
        gz.push_back(last ? 0x01 : 0x00);  // BFINAL, BTYPE 00 (stored), padded to a byte
        put_le(gz, static_cast<std::uint32_t>(len), 2);
        put_le(gz, static_cast<std::uint32_t>(~len & 0xFFFF), 2);
        gz.insert(gz.end(), bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                  bytes.begin() + static_cast<std::ptrdiff_t>(pos + len));
        pos += len;
    } while (pos < bytes.size());
    put_le(gz, crc32(bytes), 4);
    put_le(gz, static_cast<std::uint32_t>(bytes.size()), 4);
    write_plain(path, gz);
}

Bytes read_plain(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::int64_t> ints(const tg::Tensor& t) { return t.to_vector<std::int64_t>(); }

}  // namespace

TEST_CASE("load_idx reads unsigned bytes as int64, or as float32 in [0, 1]") {
    TempDir dir;
    const Bytes file = concat(header(0x08, {2, 3}), Bytes{0, 1, 2, 127, 128, 255});
    for (bool gz : {false, true}) {
        INFO("gzip: " << gz);
        const std::string path = dir.file(gz ? "u8.idx.gz" : "u8.idx");
        gz ? write_gzip(path, file) : write_plain(path, file);

        auto labels = tg::data::load_idx(path);
        CHECK(labels.sizes() == tg::Shape{2, 3});
        CHECK(labels.dtype() == tg::kInt64);
        CHECK(labels.is_contiguous());
        CHECK(ints(labels) == std::vector<std::int64_t>{0, 1, 2, 127, 128, 255});
        CHECK(labels.at({1, 2}) == 255.0);

        auto pixels = tg::data::load_idx(path, /*as_float=*/true);
        CHECK(pixels.sizes() == tg::Shape{2, 3});
        CHECK(pixels.dtype() == tg::kFloat32);
        const auto v = pixels.to_vector<float>();
        const std::vector<float> expected{0.0f, 1 / 255.0f, 2 / 255.0f, 127 / 255.0f, 128 / 255.0f, 1.0f};
        REQUIRE(v.size() == expected.size());
        for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i] == Approx(expected[i]).epsilon(1e-7));
    }
}

TEST_CASE("load_idx decodes every big-endian element type") {
    TempDir dir;
    SECTION("signed bytes") {
        const auto path = dir.file("s8.idx");
        write_plain(path, concat(header(0x09, {4}), Bytes{0x00, 0x7f, 0x80, 0xff}));
        auto t = tg::data::load_idx(path);
        CHECK(t.dtype() == tg::kInt64);
        CHECK(ints(t) == std::vector<std::int64_t>{0, 127, -128, -1});
        // as_float converts without scaling: only unsigned bytes are pixel intensities.
        auto f = tg::data::load_idx(path, true);
        CHECK(f.dtype() == tg::kFloat32);
        CHECK(values(f) == std::vector<double>{0, 127, -128, -1});
    }
    SECTION("shorts") {
        Bytes data;
        for (std::int16_t v : {std::int16_t{300}, std::int16_t{-2}, std::int16_t{-32768}})
            put_be(data, static_cast<std::uint16_t>(v), 2);
        const auto path = dir.file("i16.idx.gz");
        write_gzip(path, concat(header(0x0B, {3, 1}), data));
        auto t = tg::data::load_idx(path);
        CHECK(t.sizes() == tg::Shape{3, 1});
        CHECK(t.dtype() == tg::kInt64);
        CHECK(ints(t) == std::vector<std::int64_t>{300, -2, -32768});
    }
    SECTION("ints") {
        Bytes data;
        for (std::int32_t v : {1 << 30, -70000, 0x01020304})
            put_be(data, static_cast<std::uint32_t>(v), 4);
        const auto path = dir.file("i32.idx");
        write_plain(path, concat(header(0x0C, {3}), data));
        CHECK(ints(tg::data::load_idx(path)) == std::vector<std::int64_t>{1 << 30, -70000, 0x01020304});
        CHECK(values(tg::data::load_idx(path, true)) == std::vector<double>{1 << 30, -70000, 0x01020304});
    }
    SECTION("floats") {
        Bytes data;
        for (float v : {1.5f, -0.25f, 3.0e38f}) {
            std::uint32_t bits;
            std::memcpy(&bits, &v, 4);
            put_be(data, bits, 4);
        }
        const auto path = dir.file("f32.idx.gz");
        write_gzip(path, concat(header(0x0D, {1, 3}), data));
        auto t = tg::data::load_idx(path);
        CHECK(t.sizes() == tg::Shape{1, 3});
        CHECK(t.dtype() == tg::kFloat32);
        CHECK(t.to_vector<float>() == std::vector<float>{1.5f, -0.25f, 3.0e38f});
    }
    SECTION("doubles stay float64 unless as_float") {
        Bytes data;
        for (double v : {3.25, -1e300, 1.0 / 3.0}) {
            std::uint64_t bits;
            std::memcpy(&bits, &v, 8);
            put_be(data, bits, 8);
        }
        const auto path = dir.file("f64.idx");
        write_plain(path, concat(header(0x0E, {3}), data));
        auto t = tg::data::load_idx(path);
        CHECK(t.dtype() == tg::kFloat64);
        CHECK(values(t) == std::vector<double>{3.25, -1e300, 1.0 / 3.0});
        auto f = tg::data::load_idx(path, true);
        CHECK(f.dtype() == tg::kFloat32);
        CHECK(f.to_vector<float>()[2] == static_cast<float>(1.0 / 3.0));
    }
}

TEST_CASE("load_idx handles rank 0, empty dims and a four-dim shape") {
    TempDir dir;
    const auto scalar = dir.file("scalar.idx");
    write_plain(scalar, concat(header(0x08, {}), Bytes{42}));
    auto s = tg::data::load_idx(scalar);
    CHECK(s.dim() == 0);
    CHECK(s.item<std::int64_t>() == 42);

    const auto empty = dir.file("empty.idx.gz");
    write_gzip(empty, header(0x08, {0, 28}));
    auto e = tg::data::load_idx(empty, true);
    CHECK(e.sizes() == tg::Shape{0, 28});
    CHECK(e.numel() == 0);

    // More elements than one read chunk, so the chunked conversion is exercised too.
    const std::vector<std::int32_t> dims{3, 2, 150, 100};
    Bytes data;
    for (int i = 0; i < 3 * 2 * 150 * 100; ++i) data.push_back(static_cast<unsigned char>(i * 7 % 251));
    const auto big = dir.file("big.idx.gz");
    write_gzip(big, concat(header(0x08, dims), data));
    auto b = tg::data::load_idx(big);
    CHECK(b.sizes() == tg::Shape{3, 2, 150, 100});
    const auto v = ints(b);
    bool all_match = true;
    for (std::size_t i = 0; i < v.size(); ++i) all_match = all_match && v[i] == static_cast<std::int64_t>(i * 7 % 251);
    CHECK(all_match);
    CHECK(b.at({2, 1, 149, 99}) == static_cast<double>((data.size() - 1) * 7 % 251));
}

TEST_CASE("load_idx errors name the file and what is wrong") {
    TempDir dir;
    const Bytes good = concat(header(0x08, {2, 3}), Bytes{1, 2, 3, 4, 5, 6});

    SECTION("missing file") {
        const auto path = dir.file("does-not-exist.idx.gz");
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "cannot open", "No such file");
    }
    SECTION("empty file and a header cut short") {
        const auto path = dir.file("empty.idx");
        write_plain(path, {});
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "truncated", "header");
        write_plain(path, Bytes{0x00, 0x00});
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "truncated", "header");
        // The dims are cut: 2 dims announced, 6 of their 8 bytes present.
        write_plain(path, Bytes(good.begin(), good.begin() + 10));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "truncated", "6 of the 8 bytes");
    }
    SECTION("wrong magic") {
        Bytes bad = good;
        bad[0] = 0x1A;
        const auto path = dir.file("magic.idx");
        write_plain(path, bad);
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "wrong magic", "0x1a");
        const auto gz = dir.file("magic.idx.gz");
        bad[0] = 0x00;
        bad[1] = 0x08;
        write_gzip(gz, bad);
        REQUIRE_TG_ERROR(tg::data::load_idx(gz), "load_idx", gz, "wrong magic");
    }
    SECTION("unknown element type") {
        Bytes bad = good;
        bad[2] = 0x0A;
        const auto path = dir.file("type.idx");
        write_plain(path, bad);
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "element type 0x0a");
    }
    SECTION("too many dims") {
        const auto path = dir.file("dims.idx");
        write_plain(path, header(0x08, std::vector<std::int32_t>(9, 1)));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "too many dims", "9");
        Bytes wild = good;
        wild[3] = 200;
        write_plain(path, wild);
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "too many dims", "200");
    }
    SECTION("negative dim") {
        const auto path = dir.file("neg.idx");
        write_plain(path, concat(header(0x08, {2, -3}), Bytes{1, 2}));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "negative size -3");
        // Four dims of 2^30 would overflow an int64 element count.
        write_plain(path, header(0x08, std::vector<std::int32_t>(4, 1 << 30)));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "implausibly large");
    }
    SECTION("a header claiming more than the file holds fails before allocating") {
        // 12 bytes claiming 2^20 x 2^20 bytes: once std::bad_alloc (a terabyte asked for).
        const Bytes tiny{0x00, 0x00, 0x08, 0x02, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00};
        const auto plain = dir.file("claims_a_terabyte.idx");
        write_plain(plain, tiny);
        REQUIRE_TG_ERROR(tg::data::load_idx(plain), "load_idx", plain, "truncated", "[1048576, 1048576]",
                         "1099511627776 bytes", "only 0");
        const auto gz = dir.file("claims_a_terabyte.idx.gz");
        write_gzip(gz, concat(tiny, Bytes(100, 7)));
        REQUIRE_TG_ERROR(tg::data::load_idx(gz), "load_idx", gz, "truncated", "1099511627776 bytes", "gzip",
                         "1032:1");
    }
    SECTION("an empty shape whose other dims overflow int64 strides") {
        // [0, 2^31-1, 2^31-1, 2^31-1] holds no element, but its strides would overflow.
        const auto path = dir.file("zero_but_huge.idx");
        write_plain(path, header(0x08, {0, 0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF}));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "too large");
        // The same without the overflow loads as an empty tensor.
        write_plain(path, header(0x08, {0, 0x7FFFFFFF, 1 << 20}));
        const tg::Tensor empty = tg::data::load_idx(path);
        CHECK(empty.sizes() == tg::Shape{0, 0x7FFFFFFF, 1 << 20});
        CHECK(empty.numel() == 0);
    }
    SECTION("truncated data, plain and gzip'd") {
        const Bytes cut(good.begin(), good.end() - 2);
        const auto plain = dir.file("cut.idx");
        const auto gz = dir.file("cut.idx.gz");
        write_plain(plain, cut);
        write_gzip(gz, cut);
        for (const auto& path : {plain, gz})
            REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "truncated", "[2, 3]", "6 bytes",
                             "only 4");
        // Multi-byte elements: 3 ints announced, 10 bytes present.
        const auto ints_path = dir.file("cut_int.idx");
        write_plain(ints_path, concat(header(0x0C, {3}), Bytes(10, 0)));
        REQUIRE_TG_ERROR(tg::data::load_idx(ints_path), "load_idx", ints_path, "truncated", "12 bytes",
                         "only 10");
    }
    SECTION("data longer than the header's shape") {
        const auto path = dir.file("long.idx.gz");
        write_gzip(path, concat(good, Bytes{7, 8}));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "size mismatch", "[2, 3]", "2 more");
    }
    SECTION("a gzip stream cut short") {
        const Bytes data(4000, 9);
        const auto path = dir.file("cutstream.idx.gz");
        write_gzip(path, concat(header(0x08, {4000}), data));
        const Bytes whole = read_plain(path);
        REQUIRE(whole.size() > 1000);
        write_plain(path, Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2)));
        REQUIRE_TG_ERROR(tg::data::load_idx(path), "load_idx", path, "read failed");
    }
}

TEST_CASE("load_idx reads the real Fashion-MNIST test set") {
    const fs::path root = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(root / "t10k-images-idx3-ubyte.gz")) {
        WARN("Fashion-MNIST not installed at " << root << ": real-data check skipped");
        return;
    }
    auto images = tg::data::load_idx((root / "t10k-images-idx3-ubyte.gz").string(), true);
    CHECK(images.sizes() == tg::Shape{10000, 28, 28});
    CHECK(images.dtype() == tg::kFloat32);
    const auto px = images.to_vector<float>();
    float lo = 1, hi = 0;
    for (float p : px) {
        lo = std::min(lo, p);
        hi = std::max(hi, p);
    }
    CHECK(lo == 0.0f);
    CHECK(hi == 1.0f);

    auto labels = tg::data::load_idx((root / "t10k-labels-idx1-ubyte.gz").string());
    CHECK(labels.sizes() == tg::Shape{10000});
    CHECK(labels.dtype() == tg::kInt64);
    std::vector<int> counts(10, 0);
    bool in_range = true;
    for (auto l : ints(labels)) {
        in_range = in_range && l >= 0 && l <= 9;
        if (l >= 0 && l <= 9) ++counts[static_cast<std::size_t>(l)];
    }
    CHECK(in_range);
    CHECK(counts == std::vector<int>(10, 1000));
}
