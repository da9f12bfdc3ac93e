// safetensors reader and writer. The JSON header goes through nlohmann::json (a header-only
// Debian package, kept out of the public headers); everything it yields is validated
// before any tensor is created, so a crafted file cannot make us read out of bounds.
#include "tapegrad/safetensors.hpp"
#include "tapegrad/serialize.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "io/atomic_file.hpp"
#include "tensor/check.hpp"
#include "tensor/shape_check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = std::uint64_t{100} << 20;  // as the reference reader
constexpr std::size_t kMaxRank = 64;
constexpr const char* kMetadataKey = "__metadata__";
// The format nests three containers: the header object, a tensor's object, its shape and
// data_offsets arrays. Anything deeper is rejected while parsing, so a crafted header of
// 100,000 '[' never reaches code that recurses over the value (dump, comparison, copy).
constexpr int kMaxNesting = 3;
constexpr std::size_t kMaxQuoted = 40;  // characters of an offending value shown in a message

// What an offending header value is, for an error message: its kind, and the value itself
// only when it is a short scalar. Never json::dump() on a container: it recurses per level.
std::string describe(const nlohmann::json& v) {
    if (v.is_object()) return fmt::format("an object of {} entries", v.size());
    if (v.is_array()) return fmt::format("an array of {} values", v.size());
    std::string text = v.dump();  // a scalar: no recursion
    if (text.size() > kMaxQuoted) text = text.substr(0, kMaxQuoted) + "...";
    return text;
}

const char* dtype_tag(Dtype dtype) {
    switch (dtype) {
        case Dtype::Bool: return "BOOL";
        case Dtype::Int64: return "I64";
        case Dtype::Float32: return "F32";
        case Dtype::Float64: return "F64";
    }
    throw Error("save_safetensors: internal: unknown dtype");
}

// 1 = read, 0 = a safetensors dtype tapegrad has no equivalent for, -1 = not a dtype.
int dtype_from_tag(const std::string& tag, Dtype* dtype) {
    if (tag == "F32") { *dtype = kFloat32; return 1; }
    if (tag == "F64") { *dtype = kFloat64; return 1; }
    if (tag == "I64") { *dtype = kInt64; return 1; }
    if (tag == "BOOL") { *dtype = kBool; return 1; }
    static const char* const kOthers[] = {"F16", "BF16", "F8_E4M3", "F8_E5M2", "I8", "U8",
                                          "I16", "U16", "I32", "U32", "U64"};
    for (const char* other : kOthers)
        if (tag == other) return 0;
    return -1;
}

void check_names(const NamedTensors& tensors, const std::string& path) {
    std::unordered_set<std::string_view> names;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& [name, t] = tensors[i];
        TG_CHECK(!name.empty(), "save_safetensors", "'{}': tensor #{} has an empty name", path, i);
        TG_CHECK(name != kMetadataKey, "save_safetensors", "'{}': the name '{}' is reserved for metadata", path,
                 name);
        TG_CHECK(t.defined(), "save_safetensors", "'{}': tensor '{}' is undefined", path, name);
        TG_CHECK(names.insert(name).second, "save_safetensors", "'{}': the name '{}' appears twice", path, name);
    }
}

// One tensor's entry, validated against the data size.
struct Entry {
    std::string name;
    Dtype dtype;
    Shape sizes;
    std::uint64_t begin, end;
};

std::uint64_t as_u64(const nlohmann::json& v, const std::string& path, const std::string& name, const char* what) {
    TG_CHECK(v.is_number_unsigned(), "load_safetensors", "'{}': tensor '{}': {} must be non-negative integers, got {}",
             path, name, what, describe(v));
    return v.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const nlohmann::json& info, std::uint64_t data_size,
                  const std::string& path) {
    constexpr const char* op = "load_safetensors";
    TG_CHECK(info.is_object(), op, "'{}': tensor '{}': expected an object with dtype, shape and data_offsets, got {}",
             path, name, describe(info));
    for (const char* field : {"dtype", "shape", "data_offsets"})
        TG_CHECK(info.contains(field), op, "'{}': tensor '{}' has no \"{}\"", path, name, field);
    Entry e{name, kFloat32, {}, 0, 0};

    const auto& dtype = info["dtype"];
    TG_CHECK(dtype.is_string(), op, "'{}': tensor '{}': dtype must be a string, got {}", path, name, describe(dtype));
    const std::string tag = dtype.get<std::string>();
    const int known = dtype_from_tag(tag, &e.dtype);
    TG_CHECK(known != -1, op, "'{}': tensor '{}' has unknown dtype '{}'", path, name, tag);
    TG_CHECK(known == 1, op, "'{}': tensor '{}' has dtype '{}', which tapegrad does not read (F32, F64, I64, BOOL)",
             path, name, tag);

    const auto& shape = info["shape"];
    TG_CHECK(shape.is_array() && shape.size() <= kMaxRank, op,
             "'{}': tensor '{}': shape must be an array of at most {} sizes, got {}", path, name, kMaxRank,
             describe(shape));
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const auto& s : shape) {
        const std::uint64_t d = as_u64(s, path, name, "shape sizes");
        TG_CHECK(d <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), op,
                 "'{}': tensor '{}' has an impossible size {}", path, name, d);
        if (d != 0 && numel > std::numeric_limits<std::uint64_t>::max() / d) overflow = true;
        numel *= d;
        e.sizes.push_back(static_cast<std::int64_t>(d));
    }
    const std::size_t width = element_size(e.dtype);
    if (numel > std::numeric_limits<std::uint64_t>::max() / width) overflow = true;
    if (!overflow) {
        const std::string shape_problem = detail::shape_problem(e.sizes, e.dtype);
        TG_CHECK(shape_problem.empty(), op, "'{}': tensor '{}': {}", path, name, shape_problem);
    }

    const auto& offsets = info["data_offsets"];
    TG_CHECK(offsets.is_array() && offsets.size() == 2, op,
             "'{}': tensor '{}': data_offsets must be [begin, end], got {}", path, name, describe(offsets));
    e.begin = as_u64(offsets[0], path, name, "data_offsets");
    e.end = as_u64(offsets[1], path, name, "data_offsets");
    TG_CHECK(e.begin <= e.end && e.end <= data_size, op,
             "'{}': tensor '{}' has data_offsets [{}, {}] out of range (the data section holds {} bytes)", path, name,
             e.begin, e.end, data_size);
    TG_CHECK(!overflow && numel * width == e.end - e.begin, op,
             "'{}': tensor '{}' of shape {} and dtype {} needs {} bytes but its data_offsets [{}, {}] span {}", path,
             name, e.sizes, tag, overflow ? std::string("too many") : std::to_string(numel * width), e.begin, e.end,
             e.end - e.begin);
    return e;
}

}  // namespace

void save_safetensors(const NamedTensors& tensors, const std::string& path, const SafetensorsMetadata& metadata) {
    check_names(tensors, path);
    // The header first (its size goes before it), then the data in the same order.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header[kMetadataKey] = metadata;
    std::vector<Tensor> contiguous;
    contiguous.reserve(tensors.size());
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        contiguous.push_back(t.contiguous());
        const std::uint64_t nbytes = static_cast<std::uint64_t>(t.numel()) * element_size(t.dtype());
        nlohmann::ordered_json info;
        info["dtype"] = dtype_tag(t.dtype());
        info["shape"] = t.sizes();
        info["data_offsets"] = {offset, offset + nbytes};
        header[name] = std::move(info);
        offset += nbytes;
    }
    std::string text = header.dump();
    // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
    text.append((8 - text.size() % 8) % 8, ' ');

    io::AtomicFile file(path, "save_safetensors");
    unsigned char size_le[8];
    for (int i = 0; i < 8; ++i) size_le[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(text.size()) >> (8 * i));
    file.write(size_le, 8);
    file.write(text.data(), text.size());
    for (const Tensor& t : contiguous) {
        const std::size_t width = element_size(t.dtype());
        const std::size_t nbytes = static_cast<std::size_t>(t.numel()) * width;
        if (nbytes == 0) continue;
        if constexpr (std::endian::native == std::endian::little) {
            file.write(impl_of(t).data(), nbytes);
        } else {
            const auto* p = static_cast<const unsigned char*>(impl_of(t).data());
            std::vector<unsigned char> copy(p, p + nbytes);
            io::swap_elements(copy.data(), nbytes, width);
            file.write(copy.data(), nbytes);
        }
    }
    file.commit();
}

void save_safetensors(const nn::Module& module, const std::string& path, const SafetensorsMetadata& metadata) {
    save_safetensors(state_dict(module), path, metadata);
}

NamedTensors load_safetensors(const std::string& path, SafetensorsMetadata* metadata) {
    constexpr const char* op = "load_safetensors";
    const std::vector<unsigned char> data = io::read_file(path, op);
    const std::uint64_t size = data.size();
    TG_CHECK(size >= 8, op, "'{}' is truncated: {} bytes, less than the 8-byte header size", path, size);
    std::uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= static_cast<std::uint64_t>(data[i]) << (8 * i);
    TG_CHECK(header_size <= size - 8, op, "'{}': the header size {} runs past the end of the file ({} bytes)", path,
             header_size, size);
    TG_CHECK(header_size <= kMaxHeaderBytes, op, "'{}': the header size {} exceeds the limit of {} bytes", path,
             header_size, kMaxHeaderBytes);
    const auto* text = reinterpret_cast<const char*>(data.data() + 8);
    TG_CHECK(header_size >= 2 && text[0] == '{', op, "'{}': the header is not a JSON object (it must start with '{{')",
             path);

    // Parse, noting top-level keys given twice (nlohmann would silently keep the last) and
    // stopping at the first container nested deeper than the format allows.
    std::string duplicate;
    std::unordered_set<std::string> keys;
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(
            text, text + header_size,
            [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
                using Event = nlohmann::json::parse_event_t;
                if ((event == Event::object_start || event == Event::array_start) && depth >= kMaxNesting)
                    detail::fail(op, fmt::format("'{}': the header nests deeper than {} levels (an object of "
                                                 "tensors, each an object holding arrays of integers)",
                                                 path, kMaxNesting));
                if (event == Event::key && depth == 1 && parsed.is_string() &&
                    !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
                    duplicate = parsed.get<std::string>();
                return true;
            });
    } catch (const nlohmann::json::exception& e) {
        TG_CHECK(false, op, "'{}': the header is not valid JSON: {}", path, e.what());
    }
    TG_CHECK(header.is_object(), op, "'{}': the header is not a JSON object", path);
    TG_CHECK(duplicate.empty(), op, "'{}': the header names '{}' twice", path, duplicate);

    const std::uint64_t data_begin = 8 + header_size;
    const std::uint64_t data_size = size - data_begin;
    std::vector<Entry> entries;
    entries.reserve(header.size());
    for (const auto& [name, info] : header.items()) {
        if (name == kMetadataKey) {
            TG_CHECK(info.is_object(), op, "'{}': __metadata__ must be an object of strings, got {}", path,
                     describe(info));
            SafetensorsMetadata pairs;
            for (const auto& [key, value] : info.items()) {
                TG_CHECK(value.is_string(), op, "'{}': __metadata__ value of '{}' must be a string, got {}", path, key,
                         describe(value));
                pairs.emplace(key, value.get<std::string>());
            }
            if (metadata) *metadata = std::move(pairs);
            continue;
        }
        TG_CHECK(!name.empty(), op, "'{}': a tensor has an empty name", path);
        entries.push_back(parse_entry(name, info, data_size, path));
    }

    // The tensors must tile the data section exactly: sorted by offset, each starts where
    // the previous ended, and the last ends at the end of the file.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::uint64_t covered = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : entries) {
        TG_CHECK(e.begin >= covered, op, "'{}': tensor '{}' (data_offsets [{}, {}]) overlaps tensor '{}' ([{}, {}])",
                 path, e.name, e.begin, e.end, previous ? previous->name : "", previous ? previous->begin : 0,
                 previous ? previous->end : 0);
        TG_CHECK(e.begin == covered, op, "'{}': bytes [{}, {}) of the data belong to no tensor (gap before '{}')",
                 path, covered, e.begin, e.name);
        covered = e.end;
        previous = &e;
    }
    TG_CHECK(covered == data_size, op, "'{}': bytes [{}, {}) of the data belong to no tensor (after the last one)",
             path, covered, data_size);

    NamedTensors out;
    out.reserve(entries.size());
    for (const Entry& e : entries) {
        Tensor t = make_tensor(e.sizes, e.dtype);
        const std::size_t nbytes = static_cast<std::size_t>(e.end - e.begin);
        if (nbytes > 0) {
            auto* dst = static_cast<unsigned char*>(impl_of(t).data());
            std::memcpy(dst, data.data() + data_begin + e.begin, nbytes);
            if constexpr (std::endian::native != std::endian::little)
                io::swap_elements(dst, nbytes, element_size(e.dtype));
            if (e.dtype == kBool)
                for (std::size_t k = 0; k < nbytes; ++k)
                    TG_CHECK(dst[k] <= 1, op, "'{}': BOOL tensor '{}' holds the byte {} (expected 0 or 1)", path,
                             e.name, static_cast<int>(dst[k]));
        }
        out.emplace_back(e.name, std::move(t));
    }
    return out;
}

void load_safetensors_into(const NamedTensors& targets, const std::string& path) {
    io::copy_checked(targets, load_safetensors(path), path, "load_safetensors_into");
}

void load_safetensors_into(nn::Module& module, const std::string& path) {
    load_safetensors_into(state_dict(module), path);
}

}  // namespace tg
