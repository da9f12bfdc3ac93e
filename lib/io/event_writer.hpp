// One TensorBoard event file: TFRecord framing around serialized Event messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "io/protobuf.hpp"

namespace tg::summary::detail {

// Field numbers of tensorflow.Event (tensorflow/core/util/event.proto).
enum EventField : std::uint32_t {
    kEventWallTime = 1,     // double
    kEventStep = 2,         // int64
    kEventFileVersion = 3,  // string
    kEventGraphDef = 4,     // bytes: a serialized GraphDef
    kEventSummary = 5,      // Summary
};

// Seconds since the Unix epoch, with sub-second precision.
double now_seconds();

// Creates `logdir` if missing and a new file events.out.tfevents.<seconds>.<hostname> in
// it (with .<pid>.<n> appended when that name is taken: an existing file is never opened),
// and writes the "brain.Event:2" header event. Records are buffered in memory until
// flush() or until the buffer grows past a few hundred KiB.
class EventFileWriter {
public:
    explicit EventFileWriter(const std::string& logdir);
    ~EventFileWriter();  // flushes and closes; reports a failure on stderr (cannot throw)
    EventFileWriter(const EventFileWriter&) = delete;
    EventFileWriter& operator=(const EventFileWriter&) = delete;

    // An Event with wall_time, step and one payload field (a message or bytes).
    void write_event(double wall_time, std::int64_t step, EventField field, std::string_view payload);
    // One TFRecord: length, masked CRC32C of the length, data, masked CRC32C of the data
    // (all little-endian).
    void write_record(std::string_view data);
    // Writes the buffer out and fsyncs the file.
    void flush();
    void close();

    const std::string& path() const { return path_; }

private:
    void write_buffer();
    void check_open(std::string_view what) const;

    std::string path_;
    int fd_ = -1;
    std::string buffer_;
};

}  // namespace tg::summary::detail
