// The protobuf wire format (protobuf.dev "Encoding"), both directions; why it is written
// by hand rather than with libprotobuf is in protobuf.hpp.
#include "io/protobuf.hpp"

#include <bit>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "tapegrad/error.hpp"

namespace tg::summary::detail {

void ProtoWriter::varint(std::uint64_t value) {
    // Seven bits per byte, least significant group first; the high bit says "more follows".
    while (value >= 0x80) {
        out_.push_back(static_cast<char>((value & 0x7F) | 0x80));
        value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
}

void ProtoWriter::little_endian(std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void ProtoWriter::key(std::uint32_t field, WireType type) {
    varint((static_cast<std::uint64_t>(field) << 3) | type);
}

void ProtoWriter::uint_field(std::uint32_t field, std::uint64_t value) {
    key(field, kVarint);
    varint(value);
}

void ProtoWriter::int_field(std::uint32_t field, std::int64_t value) {
    // int32/int64 are not zigzagged: a negative value takes all ten varint bytes.
    key(field, kVarint);
    varint(static_cast<std::uint64_t>(value));
}

void ProtoWriter::double_field(std::uint32_t field, double value) {
    key(field, kFixed64);
    little_endian(std::bit_cast<std::uint64_t>(value), 8);
}

void ProtoWriter::float_field(std::uint32_t field, float value) {
    key(field, kFixed32);
    little_endian(std::bit_cast<std::uint32_t>(value), 4);
}

void ProtoWriter::bytes_field(std::uint32_t field, std::string_view value) {
    key(field, kLengthDelimited);
    varint(value.size());
    out_.append(value);
}

void ProtoWriter::message_field(std::uint32_t field, const ProtoWriter& message) {
    bytes_field(field, message.bytes());
}

void ProtoWriter::packed_doubles(std::uint32_t field, std::span<const double> values) {
    key(field, kLengthDelimited);
    varint(values.size() * 8);
    for (double v : values) little_endian(std::bit_cast<std::uint64_t>(v), 8);
}

void ProtoWriter::packed_ints(std::uint32_t field, std::span<const std::int64_t> values) {
    ProtoWriter body;
    for (std::int64_t v : values) body.varint(static_cast<std::uint64_t>(v));
    bytes_field(field, body.bytes());
}

// ---- decoder ----

void ProtoReader::fail(const std::string& what) const { throw Error(fmt::format("{}: {}", context_, what)); }

std::uint64_t ProtoReader::read_varint(std::string_view& from) const {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (from.empty()) fail("truncated varint (the message ends inside a number)");
        const auto byte = static_cast<std::uint8_t>(from.front());
        from.remove_prefix(1);
        value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return value;
    }
    fail("a varint longer than 10 bytes");
}

bool ProtoReader::next() {
    if (pending_) skip();
    if (rest_.empty()) return false;
    const std::uint64_t key = read_varint(rest_);
    field_ = static_cast<std::uint32_t>(key >> 3);
    wire_ = static_cast<std::uint32_t>(key & 7);
    if (field_ == 0 || (key >> 3) > 0x1FFFFFFF) fail(fmt::format("invalid field number {}", key >> 3));
    pending_ = true;
    return true;
}

void ProtoReader::skip() {
    pending_ = false;
    switch (wire_) {
        case kVarint: read_varint(rest_); return;
        case kFixed64:
        case kFixed32: {
            const std::size_t n = wire_ == kFixed64 ? 8 : 4;
            if (rest_.size() < n) fail(fmt::format("field {}: truncated fixed-width value", field_));
            rest_.remove_prefix(n);
            return;
        }
        case kLengthDelimited: pending_ = true, bytes(); return;
        default: fail(fmt::format("field {}: unsupported wire type {} (groups are not read)", field_, wire_));
    }
}

void ProtoReader::expect(std::uint32_t wire, const char* what) const {
    if (!pending_) fail(fmt::format("field {} read twice", field_));
    if (wire_ != wire) fail(fmt::format("field {}: expected {}, the file has wire type {}", field_, what, wire_));
}

std::uint64_t ProtoReader::uint() {
    expect(kVarint, "a varint");
    pending_ = false;
    return read_varint(rest_);
}

std::int64_t ProtoReader::int64() { return static_cast<std::int64_t>(uint()); }

std::uint64_t ProtoReader::fixed(std::uint32_t wire, int width, const char* what) {
    expect(wire, what);
    pending_ = false;
    if (rest_.size() < static_cast<std::size_t>(width)) fail(fmt::format("field {}: truncated {}", field_, what));
    std::uint64_t bits = 0;
    for (int i = 0; i < width; ++i) bits |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(rest_[i])) << (8 * i);
    rest_.remove_prefix(static_cast<std::size_t>(width));
    return bits;
}

float ProtoReader::float32() { return std::bit_cast<float>(static_cast<std::uint32_t>(fixed(kFixed32, 4, "a 32-bit float"))); }

double ProtoReader::float64() { return std::bit_cast<double>(fixed(kFixed64, 8, "a 64-bit double")); }

std::string_view ProtoReader::bytes() {
    expect(kLengthDelimited, "a length-delimited value");
    pending_ = false;
    const std::uint64_t n = read_varint(rest_);
    if (n > rest_.size())
        fail(fmt::format("field {}: a length of {} bytes with only {} left in the message", field_, n, rest_.size()));
    const std::string_view value = rest_.substr(0, static_cast<std::size_t>(n));
    rest_.remove_prefix(static_cast<std::size_t>(n));
    return value;
}

void ProtoReader::ints(std::vector<std::int64_t>& out) {
    if (wire_ == kVarint) {
        out.push_back(int64());
        return;
    }
    std::string_view packed = bytes();
    while (!packed.empty()) out.push_back(static_cast<std::int64_t>(read_varint(packed)));
}

template <class T>
void ProtoReader::append_fixed(std::vector<T>& out) {
    constexpr std::uint32_t single = sizeof(T) == 4 ? kFixed32 : kFixed64;
    if (wire_ == single) {
        out.push_back(std::bit_cast<T>(static_cast<std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>(
            fixed(single, sizeof(T), "a fixed-width number"))));
        return;
    }
    const std::string_view packed = bytes();
    if (packed.size() % sizeof(T) != 0)
        fail(fmt::format("field {}: {} bytes of packed {}-byte numbers", field_, packed.size(), sizeof(T)));
    if (packed.empty()) return;  // (an empty vector's data() may be null: no memcpy from it)
    const std::size_t at = out.size();
    out.resize(at + packed.size() / sizeof(T));
    std::memcpy(out.data() + at, packed.data(), packed.size());  // little-endian, as the hosts we build for
}

void ProtoReader::floats(std::vector<float>& out) { append_fixed(out); }
void ProtoReader::doubles(std::vector<double>& out) { append_fixed(out); }

}  // namespace tg::summary::detail
