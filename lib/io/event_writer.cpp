// Event files as TensorBoard reads them: a sequence of TFRecords, each holding one
// serialized tensorflow.Event; the first says file_version "brain.Event:2".
#include "io/event_writer.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "io/crc32c.hpp"
#include "tapegrad/error.hpp"

namespace tg::summary::detail {

namespace {

// Above this many buffered bytes a record is written out without waiting for flush().
constexpr std::size_t kBufferLimit = std::size_t{256} << 10;

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
}

void append_le(std::string& out, std::uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

[[noreturn]] void io_error(std::string_view what, const std::string& path, int error) {
    throw Error(fmt::format("SummaryWriter: cannot {} '{}': {}", what, path, std::strerror(error)));
}

}  // namespace

double now_seconds() {
    using namespace std::chrono;
    return duration<double>(system_clock::now().time_since_epoch()).count();
}

EventFileWriter::EventFileWriter(const std::string& logdir) {
    std::error_code ec;
    std::filesystem::create_directories(logdir, ec);
    if (ec) {
        throw Error(fmt::format("SummaryWriter: cannot create logdir '{}': {}", logdir,
                                ec.message()));
    }
    const double wall_time = now_seconds();
    const std::string base = fmt::format("{}/events.out.tfevents.{}.{}", logdir,
                                         static_cast<std::int64_t>(std::floor(wall_time)),
                                         host_name());
    // Two writers started in the same second would pick the same name: O_EXCL makes the
    // second one notice, and it adds the process id and a per-process counter.
    static std::atomic<std::uint64_t> counter{0};
    std::string candidate = base;
    for (;;) {
        fd_ = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ >= 0) break;
        if (errno != EEXIST) io_error("create event file", candidate, errno);
        candidate = fmt::format("{}.{}.{}", base, ::getpid(), ++counter);
    }
    path_ = candidate;

    ProtoWriter event;
    event.double_field(kEventWallTime, wall_time);
    event.bytes_field(kEventFileVersion, "brain.Event:2");
    write_record(event.bytes());
    flush();  // the file is valid (and visible to TensorBoard) from the start
}

EventFileWriter::~EventFileWriter() {
    try {
        close();
    } catch (const Error& e) {
        std::fprintf(stderr, "tapegrad: %s\n", e.what());
    }
}

void EventFileWriter::check_open(std::string_view what) const {
    if (fd_ < 0)
        throw Error(fmt::format("SummaryWriter: {} after close() of '{}'", what, path_));
}

void EventFileWriter::write_event(double wall_time, std::int64_t step, EventField field,
                                  std::string_view payload) {
    ProtoWriter event;
    event.double_field(kEventWallTime, wall_time);
    event.int_field(kEventStep, step);
    event.bytes_field(field, payload);
    write_record(event.bytes());
}

void EventFileWriter::write_record(std::string_view data) {
    check_open("write");
    std::string header;
    append_le(header, data.size(), 8);
    const std::uint32_t length_crc = mask_crc32c(crc32c(header.data(), header.size()));
    buffer_ += header;
    append_le(buffer_, length_crc, 4);
    buffer_.append(data);
    append_le(buffer_, mask_crc32c(crc32c(data.data(), data.size())), 4);
    if (buffer_.size() > kBufferLimit) write_buffer();
}

void EventFileWriter::write_buffer() {
    std::size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            // Keep what was not written: a later flush() (after space was freed) completes
            // the record instead of leaving it cut short.
            buffer_.erase(0, done);
            io_error("write", path_, errno);
        }
        done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void EventFileWriter::flush() {
    check_open("flush");
    write_buffer();
    if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) io_error("fsync", path_, errno);
}

void EventFileWriter::close() {
    if (fd_ < 0) return;
    try {
        flush();
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
    const int result = ::close(fd_);
    fd_ = -1;
    if (result != 0) io_error("close", path_, errno);
}

}  // namespace tg::summary::detail
