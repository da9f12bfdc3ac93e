#include "io/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tapegrad/autograd.hpp"
#include "tensor/check.hpp"

namespace tg::io {

namespace {

constexpr std::size_t kBufferBytes = std::size_t{1} << 16;

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string_view op) : path_(std::move(path)), op_(op) {
    std::string tmp = path_ + ".tmp.XXXXXX";
    fd_ = ::mkstemp(tmp.data());
    TG_CHECK(fd_ >= 0, op_, "cannot create a temporary file next to '{}': {}", path_, std::strerror(errno));
    tmp_path_ = std::move(tmp);
    ::fchmod(fd_, 0644);  // mkstemp creates 0600; these are ordinary files
    buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !tmp_path_.empty()) ::unlink(tmp_path_.c_str());
}

void AtomicFile::write(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    if (buffer_.size() + n > kBufferBytes) flush();
    if (n >= kBufferBytes)
        write_all(p, n);
    else
        buffer_.insert(buffer_.end(), p, p + n);
}

void AtomicFile::flush() {
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
}

void AtomicFile::write_all(const unsigned char* p, std::size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd_, p, n);
        if (w < 0 && errno == EINTR) continue;
        TG_CHECK(w > 0, op_, "cannot write '{}': {}", path_, std::strerror(errno));
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

void AtomicFile::commit() {
    flush();
    // Data on disk before the rename makes it visible; then the rename itself.
    TG_CHECK(::fsync(fd_) == 0, op_, "cannot sync '{}': {}", tmp_path_, std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    TG_CHECK(::close(fd) == 0, op_, "cannot close '{}': {}", tmp_path_, std::strerror(errno));
    TG_CHECK(::rename(tmp_path_.c_str(), path_.c_str()) == 0, op_, "cannot rename '{}' to '{}': {}", tmp_path_,
             path_, std::strerror(errno));
    committed_ = true;
    const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {  // best effort: some file systems refuse to sync directories
        ::fsync(dir);
        ::close(dir);
    }
}

std::vector<unsigned char> read_file(const std::string& path, std::string_view op) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    TG_CHECK(f != nullptr, op, "cannot open '{}': {}", path, std::strerror(errno));
    std::vector<unsigned char> data;
    unsigned char chunk[1 << 16];
    std::size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) data.insert(data.end(), chunk, chunk + n);
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    TG_CHECK(!failed, op, "cannot read '{}'", path);
    return data;
}

void swap_elements(unsigned char* data, std::size_t nbytes, std::size_t width) {
    if (width <= 1) return;
    for (std::size_t i = 0; i + width <= nbytes; i += width)
        for (std::size_t a = i, b = i + width - 1; a < b; ++a, --b) std::swap(data[a], data[b]);
}

void copy_checked(const NamedTensors& targets, const NamedTensors& loaded, const std::string& path,
                  std::string_view op) {
    std::unordered_map<std::string_view, const Tensor*> by_name;
    for (const auto& [name, t] : loaded) by_name.emplace(name, &t);

    // Check everything first: on any mismatch no target has been written.
    std::unordered_set<std::string_view> wanted;
    for (const auto& [name, target] : targets) {
        TG_CHECK(target.defined(), op, "'{}': target '{}' is undefined", path, name);
        TG_CHECK(wanted.insert(name).second, op, "'{}': target name '{}' is given twice", path, name);
        auto it = by_name.find(name);
        TG_CHECK(it != by_name.end(), op, "'{}' has no tensor named '{}' (wanted shape {}, {})", path, name,
                 target.sizes(), dtype_name(target.dtype()));
        const Tensor& src = *it->second;
        TG_CHECK(src.sizes() == target.sizes(), op, "'{}': tensor '{}' has shape {} in the file but {} in the target",
                 path, name, src.sizes(), target.sizes());
        TG_CHECK(src.dtype() == target.dtype(), op, "'{}': tensor '{}' has dtype {} in the file but {} in the target",
                 path, name, dtype_name(src.dtype()), dtype_name(target.dtype()));
    }
    for (const auto& [name, t] : loaded)
        TG_CHECK(wanted.count(name) != 0, op, "'{}' holds an unexpected tensor '{}' of shape {}", path, name,
                 t.sizes());

    NoGradGuard no_grad;
    for (const auto& [name, target] : targets) {
        Tensor dst = target;
        dst.copy_(*by_name.at(name));
    }
}

}  // namespace tg::io
