// File helpers shared by the tensor file formats (native checkpoints, safetensors):
// atomic writes, whole-file reads, byte-order swaps and the checked copy behind every
// load_into. Internal: never included by public headers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/serialize.hpp"

namespace tg::io {

// Writes a file atomically: the bytes go to a temp file next to `path`; commit() flushes,
// fsyncs, renames it over `path` and syncs the directory. Destroyed without commit() (an
// error on the way), the temp file is removed and any previous `path` is untouched.
// Errors throw tg::Error "<op>: ..." naming the file.
class AtomicFile {
public:
    AtomicFile(std::string path, std::string_view op);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, std::size_t n);  // buffered
    void commit();
    const std::string& path() const { return path_; }

private:
    void flush();
    void write_all(const unsigned char* p, std::size_t n);

    std::string path_;
    std::string op_;
    std::string tmp_path_;
    int fd_ = -1;
    bool committed_ = false;
    std::vector<unsigned char> buffer_;
};

// The whole file; throws "<op>: cannot open '<path>': <reason>".
std::vector<unsigned char> read_file(const std::string& path, std::string_view op);

// Reverses the bytes of each `width`-byte element (little-endian files on big-endian hosts).
void swap_elements(unsigned char* data, std::size_t nbytes, std::size_t width);

// The second half of every load_into: checks that `loaded` (read from `path`) holds exactly
// the names of `targets` with the same shapes and dtypes, and only then copies (not
// recorded on the tape). On any mismatch it throws before the first copy, so the targets
// are unchanged.
void copy_checked(const NamedTensors& targets, const NamedTensors& loaded, const std::string& path,
                  std::string_view op);

}  // namespace tg::io
