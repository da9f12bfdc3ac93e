// A protobuf *encoder*, just what event files need: varints, fixed64/fixed32,
// length-delimited fields (strings, bytes, nested messages) and packed repeated fields.
//
// Why by hand and not libprotobuf: the messages we write (Event, Summary, HistogramProto,
// GraphDef and a few more) take ~150 lines to encode, and we never decode them. Debian's
// libprotobuf-dev would work too, but it brings a protoc code-generation step into the
// build, copies of TensorFlow's .proto files to keep, and a large runtime dependency for
// every user of the library. The wire format is stable and small; tests check our bytes
// with protoc --decode_raw, an independent decoder.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tg::summary::detail {

class ProtoWriter {
public:
    // Field kinds by wire type. Each field is written only when called (no proto3
    // "default value is omitted" logic: callers skip what they do not want to send).
    void uint_field(std::uint32_t field, std::uint64_t value);  // uint32/uint64/enum/bool
    void int_field(std::uint32_t field, std::int64_t value);    // int32/int64 (two's complement)
    void double_field(std::uint32_t field, double value);       // fixed64
    void float_field(std::uint32_t field, float value);         // fixed32
    void bytes_field(std::uint32_t field, std::string_view value);  // string/bytes
    void message_field(std::uint32_t field, const ProtoWriter& message);
    void packed_doubles(std::uint32_t field, std::span<const double> values);
    void packed_ints(std::uint32_t field, std::span<const std::int64_t> values);

    const std::string& bytes() const { return out_; }
    std::size_t size() const { return out_.size(); }

private:
    enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
    void key(std::uint32_t field, WireType type);
    void varint(std::uint64_t value);
    void little_endian(std::uint64_t value, int bytes);

    std::string out_;
};

}  // namespace tg::summary::detail
