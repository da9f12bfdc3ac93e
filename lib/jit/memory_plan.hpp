// The executor's memory plan: the blocks a plan's nodes take on its first run are
// recorded (size, step, until which step they are read), laid out in one arena by
// liveness, and handed out in the same order on later runs through the allocator's
// BlockSource hook (tensor/allocator.hpp). Why a hook and not kernels writing into given
// outputs: docs/design.md, "The executor's arena".
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "tapegrad/export.hpp"
#include "tensor/allocator.hpp"

namespace tg::jit::detail {

// One block a step took: its size, the step that took it and the last step that reads it
// (a temporary of the op: its own step). offset is its place in the arena; -1 keeps it
// out (a fetched value, which outlives the run).
struct PlannedBlock {
    std::size_t bytes = 0;
    int first_step = 0;
    int last_step = 0;
    std::int64_t offset = -1;
};

// Places the blocks with offset 0 (the others stay out) in one arena: largest first, each at
// the lowest offset whose gap is free for its whole lifetime (the greedy-by-size strategy of
// TF-Lite's arena planner and ONNX Runtime's memory planner). Returns the arena's size.
TG_API std::size_t assign_offsets(std::vector<PlannedBlock>& blocks);  // exported for test_jit_exec

// Installed during a plan's first run: takes nothing, remembers every block the steps take.
class BlockRecorder final : public tg::detail::BlockSource {
public:
    void begin_step(int step) { step_ = step; }
    void* take(std::size_t) override { return nullptr; }
    void acquired(void* data, std::size_t bytes) override;
    // The block whose memory starts at `data` (a storage's), or -1.
    int block_of(const void* data) const;
    std::vector<PlannedBlock>& blocks() { return blocks_; }

private:
    int step_ = 0;
    std::vector<PlannedBlock> blocks_;
    std::vector<const void*> data_;
};

// Installed during later runs: the k-th block a step asks for comes from the arena when
// the recording had a block of that size there. Anything else (an op that allocates
// otherwise than it did when recorded) diverges: from then on every block comes from the
// allocator, and the plan is recorded again on its next run.
class TG_API Arena final : public tg::detail::BlockSource {
public:
    void lay_out(std::vector<PlannedBlock> blocks);
    std::size_t bytes() const { return bytes_; }
    void rewind() { next_ = 0, diverged_ = false; }
    // After each step: a step that took other blocks than recorded diverges the arena.
    void end_step(int step);
    // Whether `data` lies in the arena (a diverged step's outputs there are copied out).
    bool holds(const void* data) const {
        const auto* p = static_cast<const unsigned char*>(data);
        return slab_ && p >= slab_.get() && p < slab_.get() + bytes_;
    }
    bool diverged() const { return diverged_; }
    void* take(std::size_t bytes) override;
    void acquired(void*, std::size_t) override {}

private:
    struct Free {
        void operator()(void* p) const { std::free(p); }
    };
    std::vector<PlannedBlock> blocks_;  // in the order the steps took them
    std::vector<std::size_t> first_of_step_;  // index of each step's first block; one past the end last
    std::unique_ptr<unsigned char, Free> slab_;
    std::size_t bytes_ = 0;
    std::size_t next_ = 0;
    bool diverged_ = false;
};

}  // namespace tg::jit::detail
