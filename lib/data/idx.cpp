// IDX reader (the MNIST file format). Layout: two zero bytes, a type byte, a dim count,
// then one big-endian int32 per dim and the elements, big-endian, row-major.
// zlib's gz* functions read gzip'd and plain files alike, so one code path serves both.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <zlib.h>

#include "tapegrad/data/idx.hpp"
#include "tensor/check.hpp"
#include "tensor/shape_check.hpp"
#include "tensor/dispatch.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::data {

namespace {

constexpr const char* kOp = "load_idx";
// Real IDX files have 1 to 4 dims; anything beyond this is a corrupt header, not data.
constexpr int kMaxDims = 8;
constexpr std::int64_t kMaxElements = std::int64_t{1} << 40;
// Deflate's largest expansion: a 258-byte match per 2 bits, about 1032 bytes per input byte.
constexpr std::uintmax_t kMaxDeflateRatio = 1032;

enum class IdxType : std::uint8_t {
    UByte = 0x08,
    SByte = 0x09,
    Short = 0x0B,
    Int = 0x0C,
    Float = 0x0D,
    Double = 0x0E,
};

std::size_t idx_element_size(IdxType type) {
    switch (type) {
        case IdxType::UByte:
        case IdxType::SByte: return 1;
        case IdxType::Short: return 2;
        case IdxType::Int:
        case IdxType::Float: return 4;
        case IdxType::Double: return 8;
    }
    return 0;
}

bool is_known_type(std::uint8_t byte) {
    switch (byte) {
        case 0x08: case 0x09: case 0x0B: case 0x0C: case 0x0D: case 0x0E: return true;
        default: return false;
    }
}

std::uint64_t read_big_endian(const unsigned char* p, std::size_t nbytes) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < nbytes; ++i) v = (v << 8) | p[i];
    return v;
}

// Big-endian element decoders: two's complement integers, IEEE floats from their bits.
struct DecodeU8 { static std::uint8_t at(const unsigned char* p) { return p[0]; } };
struct DecodeS8 { static std::int8_t at(const unsigned char* p) { return static_cast<std::int8_t>(p[0]); } };
struct DecodeI16 {
    static std::int16_t at(const unsigned char* p) {
        return static_cast<std::int16_t>(static_cast<std::uint16_t>(read_big_endian(p, 2)));
    }
};
struct DecodeI32 {
    static std::int32_t at(const unsigned char* p) {
        return static_cast<std::int32_t>(static_cast<std::uint32_t>(read_big_endian(p, 4)));
    }
};
struct DecodeF32 {
    static float at(const unsigned char* p) {
        const auto bits = static_cast<std::uint32_t>(read_big_endian(p, 4));
        float f;
        std::memcpy(&f, &bits, sizeof f);
        return f;
    }
};
struct DecodeF64 {
    static double at(const unsigned char* p) {
        const std::uint64_t bits = read_big_endian(p, 8);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
    }
};

// Converts `count` elements of IDX type `type` at src into dst, choosing the decoder once
// per chunk rather than per element. `scale` maps unsigned bytes to [0, 1].
template <class Out>
void convert(const unsigned char* src, Out* dst, std::size_t count, IdxType type, bool scale) {
    auto run = [&](auto decoder, std::size_t esize, double factor) {
        using D = decltype(decoder);
        for (std::size_t i = 0; i < count; ++i)
            dst[i] = factor == 1.0 ? static_cast<Out>(D::at(src + i * esize))
                                   : static_cast<Out>(D::at(src + i * esize) * factor);
    };
    switch (type) {
        case IdxType::UByte: run(DecodeU8{}, 1, scale ? 1.0 / 255.0 : 1.0); break;
        case IdxType::SByte: run(DecodeS8{}, 1, 1.0); break;
        case IdxType::Short: run(DecodeI16{}, 2, 1.0); break;
        case IdxType::Int: run(DecodeI32{}, 4, 1.0); break;
        case IdxType::Float: run(DecodeF32{}, 4, 1.0); break;
        case IdxType::Double: run(DecodeF64{}, 8, 1.0); break;
    }
}

// The tensor dtype an IDX type is stored as.
Dtype output_dtype(IdxType type, bool as_float) {
    if (as_float) return kFloat32;
    switch (type) {
        case IdxType::Float: return kFloat32;
        case IdxType::Double: return kFloat64;
        default: return kInt64;  // every integer type fits int64 exactly
    }
}

// Owns a gzFile and reads exact byte counts, telling apart end of file and read errors.
class GzReader {
public:
    explicit GzReader(const std::string& path) : path_(path) {
        errno = 0;
        file_ = gzopen(path.c_str(), "rb");
        TG_CHECK(file_ != nullptr, kOp, "cannot open '{}': {}", path,
                 errno != 0 ? std::strerror(errno) : "out of memory");
        gzbuffer(file_, 1 << 17);
    }
    ~GzReader() { gzclose(file_); }
    // True when the file is not gzip'd (zlib passes it through); known after the first read.
    bool plain() const { return gzdirect(file_) == 1; }
    GzReader(const GzReader&) = delete;
    GzReader& operator=(const GzReader&) = delete;

    // Reads up to n bytes into dst; returns how many arrived (fewer only at end of file).
    // A corrupt or truncated gzip stream, or an I/O error, throws.
    std::size_t read(unsigned char* dst, std::size_t n) {
        std::size_t got = 0;
        while (got < n) {
            // gzread takes an unsigned count: read in pieces well below its limit.
            const auto want = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
            const int r = gzread(file_, dst + got, want);
            if (r < 0) fail_stream();
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        // A gzip stream cut short reads as a short count plus a pending Z_BUF_ERROR.
        if (got < n) check_stream();
        return got;
    }

private:
    void check_stream() {
        int code = Z_OK;
        gzerror(file_, &code);
        if (code != Z_OK && code != Z_STREAM_END) fail_stream();
    }
    [[noreturn]] void fail_stream() {
        int code = Z_OK;
        const char* message = gzerror(file_, &code);
        const std::string why = code == Z_ERRNO ? std::strerror(errno) : message;
        detail::fail(kOp, fmt::format("'{}': read failed: {}", path_, why));
    }

    std::string path_;
    gzFile file_ = nullptr;
};

}  // namespace

Tensor load_idx(const std::string& path, bool as_float) {
    GzReader in(path);

    unsigned char header[4];
    const std::size_t got_header = in.read(header, 4);
    TG_CHECK(got_header == 4, kOp, "'{}' is truncated: {} bytes, shorter than the 4-byte IDX header",
             path, got_header);
    TG_CHECK(header[0] == 0 && header[1] == 0, kOp,
             "'{}' is not an IDX file: wrong magic {:#04x} {:#04x} (expected 0x00 0x00)", path,
             header[0], header[1]);
    TG_CHECK(is_known_type(header[2]), kOp,
             "'{}': unknown IDX element type {:#04x} (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)",
             path, header[2]);
    const auto type = static_cast<IdxType>(header[2]);
    const int ndims = header[3];
    TG_CHECK(ndims <= kMaxDims, kOp, "'{}': too many dims in the header: {} (at most {})", path,
             ndims, kMaxDims);

    std::vector<unsigned char> dim_bytes(4 * static_cast<std::size_t>(ndims));
    const std::size_t got_dims = in.read(dim_bytes.data(), dim_bytes.size());
    TG_CHECK(got_dims == dim_bytes.size(), kOp,
             "'{}' is truncated in its header: {} of the {} bytes of dims", path, got_dims,
             dim_bytes.size());
    Shape sizes;
    std::int64_t numel = 1;
    for (int d = 0; d < ndims; ++d) {
        const auto dim = static_cast<std::int32_t>(
            static_cast<std::uint32_t>(read_big_endian(&dim_bytes[4 * static_cast<std::size_t>(d)], 4)));
        TG_CHECK(dim >= 0, kOp, "'{}': dim {} has negative size {}", path, d, dim);
        sizes.push_back(dim);
        // Checked before multiplying, so a corrupt header cannot overflow the count.
        TG_CHECK(dim == 0 || numel <= kMaxElements / dim, kOp,
                 "'{}': header shape {} is implausibly large (over {} elements)", path, sizes,
                 kMaxElements);
        numel *= dim;
    }

    const Dtype dtype = output_dtype(type, as_float);
    const std::string shape_problem = detail::shape_problem(sizes, dtype);
    TG_CHECK(shape_problem.empty(), kOp, "'{}': {}", path, shape_problem);

    // The header's claim is checked against the file before anything that large is
    // allocated: a 12-byte file may not claim a terabyte. A plain file must hold the data
    // after its header; a gzip'd one cannot inflate past deflate's ratio limit.
    const std::size_t esize = idx_element_size(type);
    const std::size_t total = static_cast<std::size_t>(numel) * esize;
    std::error_code size_error;
    const std::uintmax_t file_size = std::filesystem::file_size(path, size_error);
    if (!size_error) {
        const std::size_t header_bytes = 4 + dim_bytes.size();
        if (in.plain()) {
            const std::uintmax_t follow = file_size - std::min<std::uintmax_t>(file_size, header_bytes);
            TG_CHECK(total <= follow, kOp,
                     "'{}' is truncated: header shape {} needs {} bytes of data, only {} follow the header", path,
                     sizes, total, follow);
        } else {
            TG_CHECK(total / kMaxDeflateRatio <= file_size, kOp,
                     "'{}' is truncated: header shape {} needs {} bytes of data, more than a gzip file of {} bytes "
                     "can hold (deflate expands at most {}:1)",
                     path, sizes, total, file_size, kMaxDeflateRatio);
        }
    }
    Tensor out = make_tensor(sizes, dtype);

    // Read in chunks and convert as we go, so a large file never sits in memory twice.
    constexpr std::size_t kChunkElements = 1 << 16;
    std::vector<unsigned char> chunk(kChunkElements * esize);
    std::size_t done = 0;  // elements converted so far
    const auto n = static_cast<std::size_t>(numel);
    detail::visit_dtype(out.dtype(), [&](auto zero) {
        using Out = decltype(zero);
        Out* dst = impl_of(out).data_as<Out>();
        // Unsigned bytes become pixel intensities in [0, 1] when floats are asked for.
        const bool scale = as_float && type == IdxType::UByte;
        while (done < n) {
            const std::size_t count = std::min(kChunkElements, n - done);
            const std::size_t got = in.read(chunk.data(), count * esize);
            TG_CHECK(got == count * esize, kOp,
                     "'{}' is truncated: header shape {} needs {} bytes of data, only {} follow the header",
                     path, sizes, total, done * esize + got);
            convert(chunk.data(), dst + done, count, type, scale);
            done += count;
        }
    });

    // Trailing bytes mean the header's shape does not describe this file.
    unsigned char extra[256];
    const std::size_t trailing = in.read(extra, sizeof extra);
    TG_CHECK(trailing == 0, kOp,
             "'{}': size mismatch: header shape {} needs {} bytes of data but the file has {}{} more",
             path, sizes, total, trailing == sizeof extra ? "at least " : "", trailing);
    return out;
}

}  // namespace tg::data
