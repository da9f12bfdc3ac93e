// Checkpoint files: named tensors, little-endian, CRC32-checked, written atomically.
// The byte layout is specified in docs/checkpoint-format.md; keep the two in step.
#include "tapegrad/serialize.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <unordered_set>

#include <zlib.h>

#include "io/atomic_file.hpp"
#include "tensor/check.hpp"
#include "tensor/shape_check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace {

constexpr char kMagic[8] = {'T', 'G', 'C', 'K', 'P', 'T', '0', '1'};
constexpr std::uint32_t kVersion = 1;
// magic, version, reserved, count, file size
constexpr std::size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8;
constexpr std::size_t kTrailerBytes = 4;  // CRC32
constexpr std::uint32_t kMaxRank = 64;

// Dtype codes are part of the file format, independent of the Dtype enum's values.
std::uint32_t dtype_code(Dtype dtype) {
    switch (dtype) {
        case Dtype::Bool: return 0;
        case Dtype::Int64: return 1;
        case Dtype::Float32: return 2;
        case Dtype::Float64: return 3;
    }
    throw Error("save: internal: unknown dtype");
}

bool dtype_from_code(std::uint32_t code, Dtype* dtype) {
    switch (code) {
        case 0: *dtype = kBool; return true;
        case 1: *dtype = kInt64; return true;
        case 2: *dtype = kFloat32; return true;
        case 3: *dtype = kFloat64; return true;
        default: return false;
    }
}

std::uint32_t crc32_update(std::uint32_t crc, const unsigned char* data, std::size_t n) {
    // zlib takes uInt lengths: feed huge buffers in pieces.
    constexpr std::size_t kPiece = std::size_t{1} << 30;
    while (n > 0) {
        const std::size_t piece = n < kPiece ? n : kPiece;
        crc = static_cast<std::uint32_t>(::crc32(crc, data, static_cast<uInt>(piece)));
        data += piece;
        n -= piece;
    }
    return crc;
}

// Writes through an AtomicFile, keeping the running CRC32 of what it wrote.
class FileWriter {
public:
    explicit FileWriter(io::AtomicFile& file) : file_(file) {}

    void bytes(const void* data, std::size_t n) {
        crc_ = crc32_update(crc_, static_cast<const unsigned char*>(data), n);
        file_.write(data, n);
    }
    template <class T> void le(T value) {  // an unsigned integer, little-endian
        unsigned char b[sizeof(T)];
        for (std::size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<unsigned char>(value >> (8 * i));
        bytes(b, sizeof(T));
    }
    // Tensor elements in little-endian order.
    void elements(const void* data, std::size_t nbytes, std::size_t width) {
        if constexpr (std::endian::native == std::endian::little) {
            bytes(data, nbytes);
        } else {
            std::vector<unsigned char> copy(static_cast<const unsigned char*>(data),
                                            static_cast<const unsigned char*>(data) + nbytes);
            io::swap_elements(copy.data(), nbytes, width);
            bytes(copy.data(), nbytes);
        }
    }
    std::uint32_t crc() const { return crc_; }

private:
    io::AtomicFile& file_;
    std::uint32_t crc_ = static_cast<std::uint32_t>(::crc32(0L, Z_NULL, 0));
};

// Reads little-endian fields from the loaded file with bounds checks.
class Reader {
public:
    Reader(const std::vector<unsigned char>& data, std::size_t end, const std::string& path)
        : data_(data), end_(end), path_(path) {}

    const unsigned char* take(std::size_t n, std::string_view what) {
        TG_CHECK(n <= end_ - pos_, "load", "'{}' is corrupted: {} runs past the end of the data (offset {})",
                 path_, what, pos_);
        const unsigned char* p = data_.data() + pos_;
        pos_ += n;
        return p;
    }
    template <class T> T le(std::string_view what) {
        const unsigned char* p = take(sizeof(T), what);
        T value = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
        return value;
    }
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return end_ - pos_; }

private:
    const std::vector<unsigned char>& data_;
    std::size_t end_;
    std::size_t pos_ = 0;
    const std::string& path_;
};

std::uint64_t read_u64_at(const std::vector<unsigned char>& d, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(d[at + i]) << (8 * i);
    return v;
}
std::uint32_t read_u32_at(const std::vector<unsigned char>& d, std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(d[at + i]) << (8 * i);
    return v;
}

}  // namespace

void save(const NamedTensors& tensors, const std::string& path) {
    // Validate everything and size the file before creating anything on disk.
    std::unordered_set<std::string_view> names;
    std::vector<Tensor> contiguous;
    contiguous.reserve(tensors.size());
    std::uint64_t file_size = kHeaderBytes + kTrailerBytes;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& [name, t] = tensors[i];
        TG_CHECK(!name.empty(), "save", "'{}': tensor #{} has an empty name", path, i);
        TG_CHECK(t.defined(), "save", "'{}': tensor '{}' is undefined", path, name);
        TG_CHECK(names.insert(name).second, "save", "'{}': the name '{}' appears twice", path, name);
        TG_CHECK(static_cast<std::uint32_t>(t.dim()) <= kMaxRank, "save", "'{}': tensor '{}' has rank {} (max {})",
                 path, name, t.dim(), kMaxRank);
        contiguous.push_back(t.contiguous());
        file_size += 4 + name.size() + 4 + 4 + 8 * static_cast<std::uint64_t>(t.dim()) + 8 +
                     static_cast<std::uint64_t>(t.numel()) * element_size(t.dtype());
    }

    io::AtomicFile file(path, "save");
    FileWriter w(file);
    w.bytes(kMagic, sizeof kMagic);
    w.le<std::uint32_t>(kVersion);
    w.le<std::uint32_t>(0);  // reserved
    w.le<std::uint64_t>(tensors.size());
    w.le<std::uint64_t>(file_size);
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const std::string& name = tensors[i].first;
        const Tensor& t = contiguous[i];
        w.le<std::uint32_t>(static_cast<std::uint32_t>(name.size()));
        w.bytes(name.data(), name.size());
        w.le<std::uint32_t>(dtype_code(t.dtype()));
        w.le<std::uint32_t>(static_cast<std::uint32_t>(t.dim()));
        for (std::int64_t d : t.sizes()) w.le<std::uint64_t>(static_cast<std::uint64_t>(d));
        const std::size_t width = element_size(t.dtype());
        const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * width;
        w.le<std::uint64_t>(nbytes);
        if (nbytes > 0) w.elements(impl_of(t).data(), nbytes, width);
    }
    const std::uint32_t crc = w.crc();
    w.le<std::uint32_t>(crc);
    file.commit();
}

NamedTensors load(const std::string& path) {
    const std::vector<unsigned char> data = io::read_file(path, "load");
    const std::size_t size = data.size();
    // An empty file has no data() to compare (memcmp of a null pointer is undefined).
    TG_CHECK(size > 0, "load", "'{}' is empty (0 bytes), not a tapegrad checkpoint", path);
    const std::size_t prefix = size < sizeof kMagic ? size : sizeof kMagic;
    TG_CHECK(std::memcmp(data.data(), kMagic, prefix) == 0, "load",
             "'{}' is not a tapegrad checkpoint (its first bytes are not the magic \"TGCKPT01\")", path);
    TG_CHECK(size >= kHeaderBytes + kTrailerBytes, "load", "'{}' is truncated: {} bytes, less than a header",
             path, size);
    const std::uint32_t version = read_u32_at(data, 8);
    TG_CHECK(version == kVersion, "load", "'{}' has format version {}; this build reads version {}", path,
             version, kVersion);
    const std::uint64_t declared = read_u64_at(data, 24);
    TG_CHECK(declared <= size, "load", "'{}' is truncated: the header declares {} bytes, the file has {}", path,
             declared, size);
    TG_CHECK(declared == size, "load", "'{}' is corrupted: the header declares {} bytes, the file has {}", path,
             declared, size);
    const std::size_t body = size - kTrailerBytes;
    const std::uint32_t stored = read_u32_at(data, body);
    const std::uint32_t computed =
        crc32_update(static_cast<std::uint32_t>(::crc32(0L, Z_NULL, 0)), data.data(), body);
    TG_CHECK(stored == computed, "load", "'{}' is corrupted: checksum mismatch (stored CRC32 {:08x}, computed {:08x})",
             path, stored, computed);

    // The checksum matched; the structure is still checked so a crafted file cannot
    // make us read out of bounds.
    Reader r(data, body, path);
    r.take(kHeaderBytes, "the header");
    const std::uint64_t count = read_u64_at(data, 16);
    TG_CHECK(count <= body, "load", "'{}' is corrupted: it claims {} tensors", path, count);
    NamedTensors out;
    out.reserve(static_cast<std::size_t>(count));
    std::unordered_set<std::string> names;
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto name_len = r.le<std::uint32_t>("a tensor name length");
        const unsigned char* name_bytes = r.take(name_len, "a tensor name");
        std::string name(reinterpret_cast<const char*>(name_bytes), name_len);
        TG_CHECK(!name.empty() && names.insert(name).second, "load",
                 "'{}' is corrupted: tensor #{} has an empty or repeated name '{}'", path, i, name);
        Dtype dtype{};
        const auto code = r.le<std::uint32_t>("a dtype");
        TG_CHECK(dtype_from_code(code, &dtype), "load", "'{}': tensor '{}' has unknown dtype code {}", path, name,
                 code);
        const auto rank = r.le<std::uint32_t>("a rank");
        TG_CHECK(rank <= kMaxRank, "load", "'{}': tensor '{}' has rank {} (max {})", path, name, rank, kMaxRank);
        Shape sizes;
        std::uint64_t numel = 1;
        for (std::uint32_t d = 0; d < rank; ++d) {
            const auto s = r.le<std::uint64_t>("a size");
            TG_CHECK(s <= static_cast<std::uint64_t>(INT64_MAX) && (s == 0 || numel <= UINT64_MAX / s), "load",
                     "'{}': tensor '{}' has an impossible size {} in dim {}", path, name, s, d);
            numel *= s;
            sizes.push_back(static_cast<std::int64_t>(s));
        }
        const std::string shape_problem = detail::shape_problem(sizes, dtype);
        TG_CHECK(shape_problem.empty(), "load", "'{}': tensor '{}': {}", path, name, shape_problem);
        const std::size_t width = element_size(dtype);
        const auto nbytes = r.le<std::uint64_t>("a data length");
        TG_CHECK(numel <= r.remaining() && nbytes == numel * width, "load",
                 "'{}': tensor '{}' of shape {} and dtype {} declares {} data bytes (expected {})", path, name,
                 sizes, dtype_name(dtype), nbytes, numel * width);
        const unsigned char* src = r.take(static_cast<std::size_t>(nbytes), "tensor data");
        Tensor t = make_tensor(sizes, dtype);
        if (nbytes > 0) {
            auto* dst = static_cast<unsigned char*>(impl_of(t).data());
            std::memcpy(dst, src, static_cast<std::size_t>(nbytes));
            if constexpr (std::endian::native != std::endian::little)
                io::swap_elements(dst, static_cast<std::size_t>(nbytes), width);
            if (dtype == kBool)
                for (std::size_t k = 0; k < nbytes; ++k)
                    TG_CHECK(dst[k] <= 1, "load", "'{}': bool tensor '{}' holds the byte {} (expected 0 or 1)",
                             path, name, static_cast<int>(dst[k]));
        }
        out.emplace_back(std::move(name), std::move(t));
    }
    TG_CHECK(r.remaining() == 0, "load", "'{}' is corrupted: {} unexplained bytes after the last tensor", path,
             r.remaining());
    return out;
}

void load_into(const NamedTensors& targets, const std::string& path) {
    io::copy_checked(targets, load(path), path, "load_into");
}

}  // namespace tg
