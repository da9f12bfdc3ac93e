// Where tensor buffers come from: 64-byte aligned blocks, with large ones kept for reuse.
#pragma once

#include <cstddef>

namespace tg::detail {

// A block of at least `bytes` (64-byte aligned); `capacity` receives its real size, which
// release() needs back.
void* acquire_block(std::size_t bytes, std::size_t* capacity);
void release_block(void* data, std::size_t capacity);

// Bytes held in the cache now (for tests and tools).
std::size_t cached_block_bytes();
// Returns every cached block to the system.
void empty_block_cache();

}  // namespace tg::detail
