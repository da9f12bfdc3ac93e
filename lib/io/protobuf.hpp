// The protobuf wire format by hand: an encoder (ProtoWriter: varints, fixed64/fixed32,
// length-delimited fields and packed repeated fields, what event files and ONNX export
// write) and a bounds-checked decoder (ProtoReader, what ONNX import reads).
//
// Why by hand and not libprotobuf: the messages we write (Event, Summary, HistogramProto,
// GraphDef, ONNX's ModelProto and a few more) take ~150 lines to encode, and the decoder is
// one small class that walks fields: the schema lives with the code that reads each message
// (lib/onnx/import.cpp), and every length is checked against the bytes left. Debian's
// libprotobuf-dev would work too, but it brings a protoc code-generation step into the
// build, copies of TensorFlow's .proto files to keep, and a large runtime dependency for
// every user of the library. The wire format is stable and small; tests check our bytes
// with protoc --decode_raw, an independent decoder.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/export.hpp"

namespace tg::summary::detail {

enum WireType : std::uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class TG_API ProtoWriter {  // exported for test_onnx_import
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
    void key(std::uint32_t field, WireType type);
    void varint(std::uint64_t value);
    void little_endian(std::uint64_t value, int bytes);

    std::string out_;
};

// Reads one message field by field, in place (no copies of the input). Untrusted input:
// every varint, length and fixed-width value is checked against the bytes left, so a
// truncated, oversized or garbled message throws a tg::Error "<context>: ..." and never
// reads outside `bytes` or allocates more than the input's size.
//
//   ProtoReader r(bytes, "onnx: model.onnx: NodeProto");
//   while (r.next())
//       switch (r.field()) {
//           case 1: inputs.emplace_back(r.bytes()); break;
//           default: break;            // unknown or unread fields are skipped by next()
//       }
class TG_API ProtoReader {  // exported for test_onnx_import
public:
    ProtoReader(std::string_view bytes, std::string context) : rest_(bytes), context_(std::move(context)) {}

    // Moves to the next field (skipping whatever of the current one was not read); false at
    // the end of the message.
    bool next();
    std::uint32_t field() const { return field_; }
    std::uint32_t wire_type() const { return wire_; }

    // The current field's value; a wire type other than the expected one throws.
    std::uint64_t uint();                  // varint: uint32/uint64/enum/bool
    std::int64_t int64();                  // varint: int32/int64 (two's complement)
    float float32();                       // fixed32
    double float64();                      // fixed64
    std::string_view bytes();              // length-delimited: string, bytes, message
    // Repeated int64 (packed or one element per field) / float (packed or not) appended to `out`.
    void ints(std::vector<std::int64_t>& out);
    void floats(std::vector<float>& out);
    void doubles(std::vector<double>& out);

    [[noreturn]] void fail(const std::string& what) const;
    const std::string& context() const { return context_; }

private:
    std::uint64_t read_varint(std::string_view& from) const;
    std::uint64_t fixed(std::uint32_t wire, int width, const char* what);  // little-endian bits
    template <class T>
    void append_fixed(std::vector<T>& out);
    void expect(std::uint32_t wire, const char* what) const;
    void skip();

    std::string_view rest_;
    std::string context_;
    std::uint32_t field_ = 0;
    std::uint32_t wire_ = 0;
    bool pending_ = false;  // the current field's value has not been read yet
};

}  // namespace tg::summary::detail
