// Where tensor buffers come from: 64-byte aligned blocks, with large ones kept for reuse.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tapegrad/export.hpp"

namespace tg::detail {

// A block of at least `bytes` (64-byte aligned); `capacity` receives its real size, which
// release() needs back.
void* acquire_block(std::size_t bytes, std::size_t* capacity);
void release_block(void* data, std::size_t capacity);

// A place blocks come from instead of the system, installed on one thread for a while
// (ScopedBlockSource): the jit executor's planned arena (lib/jit/memory_plan.hpp). While one
// is installed, acquire_block first asks take(); a block it gives has capacity 0 and
// release_block leaves it alone (the source owns it). A block it declines comes from the
// system or the cache as usual, and acquired() is told where it went, so a recording source
// can tie it to the tensor that holds it.
struct BlockSource {
    virtual void* take(std::size_t bytes) = 0;  // null: declined
    virtual void acquired(void* data, std::size_t bytes) = 0;

protected:
    ~BlockSource() = default;
};

class ScopedBlockSource {
public:
    explicit ScopedBlockSource(BlockSource* source);
    ~ScopedBlockSource();
    ScopedBlockSource(const ScopedBlockSource&) = delete;
    ScopedBlockSource& operator=(const ScopedBlockSource&) = delete;

private:
    BlockSource* previous_;
};

// Blocks acquire_block has taken from the system or the cache on the calling thread since
// it started (not those a BlockSource gave): tests assert a planned run takes none.
TG_API std::uint64_t block_acquisitions();  // exported for test_jit_exec

// Bytes held in the cache now (for tests and tools).
std::size_t cached_block_bytes();
// Returns every cached block to the system.
void empty_block_cache();

}  // namespace tg::detail
