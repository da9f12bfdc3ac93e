// The protobuf wire format (protobuf.dev "Encoding"), encoder side only; why it is written
// by hand rather than with libprotobuf is in protobuf.hpp.
#include "io/protobuf.hpp"

#include <bit>

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

}  // namespace tg::summary::detail
