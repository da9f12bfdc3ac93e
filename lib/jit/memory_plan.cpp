// Arena layout by liveness and the block sources of the executor's memory plan.
#include "jit/memory_plan.hpp"

#include <algorithm>
#include <new>

namespace tg::jit::detail {

namespace {
constexpr std::size_t kAlignment = 64;  // as the allocator's blocks: what the widest vector loads like

std::size_t aligned(std::size_t bytes) { return (bytes + kAlignment - 1) / kAlignment * kAlignment; }
bool overlap_in_time(const PlannedBlock& a, const PlannedBlock& b) {
    return a.first_step <= b.last_step && b.first_step <= a.last_step;
}
}  // namespace

std::size_t assign_offsets(std::vector<PlannedBlock>& blocks) {
    std::vector<std::size_t> order;
    for (std::size_t k = 0; k < blocks.size(); ++k)
        if (blocks[k].offset >= 0) order.push_back(k);
    // Largest first; equal sizes in the order taken (std::sort with the index as tie-break:
    // a deterministic layout, without stable_sort's temporary buffer).
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return blocks[a].bytes != blocks[b].bytes ? blocks[a].bytes > blocks[b].bytes : a < b;
    });
    std::vector<std::size_t> placed;  // in order of offset
    std::size_t total = 0;
    for (std::size_t k : order) {
        PlannedBlock& block = blocks[k];
        const std::size_t size = aligned(block.bytes);
        // Best fit: the smallest gap between live neighbours that holds it, else past the last.
        std::size_t best = 0, best_gap = SIZE_MAX, end_of_previous = 0;
        bool found = false;
        for (std::size_t p : placed) {
            const PlannedBlock& other = blocks[p];
            if (!overlap_in_time(block, other)) continue;
            const auto other_offset = static_cast<std::size_t>(other.offset);
            if (other_offset >= end_of_previous) {
                const std::size_t gap = other_offset - end_of_previous;
                if (gap >= size && gap < best_gap) best = end_of_previous, best_gap = gap, found = true;
            }
            end_of_previous = std::max(end_of_previous, other_offset + aligned(other.bytes));
        }
        if (!found) best = end_of_previous;
        block.offset = static_cast<std::int64_t>(best);
        total = std::max(total, best + size);
        placed.insert(std::upper_bound(placed.begin(), placed.end(), k,
                                       [&](std::size_t a, std::size_t b) { return blocks[a].offset < blocks[b].offset; }),
                      k);
    }
    return total;
}

void BlockRecorder::acquired(void* data, std::size_t bytes) {
    blocks_.push_back({bytes, step_, step_, 0});
    data_.push_back(data);
}

int BlockRecorder::block_of(const void* data) const {
    for (std::size_t k = data_.size(); k-- > 0;)
        if (data_[k] == data) return static_cast<int>(k);
    return -1;
}

void Arena::lay_out(std::vector<PlannedBlock> blocks) {
    blocks_ = std::move(blocks);
    bytes_ = assign_offsets(blocks_);
    slab_.reset();
    if (bytes_ > 0) {
        void* p = std::aligned_alloc(kAlignment, aligned(bytes_));
        if (p == nullptr) throw std::bad_alloc();
        slab_.reset(static_cast<unsigned char*>(p));
    }
    const int steps = blocks_.empty() ? 0 : blocks_.back().first_step + 1;
    first_of_step_.assign(static_cast<std::size_t>(steps) + 1, blocks_.size());
    for (std::size_t k = blocks_.size(); k-- > 0;)
        first_of_step_[static_cast<std::size_t>(blocks_[k].first_step)] = k;
    for (std::size_t s = first_of_step_.size() - 1; s-- > 0;)
        first_of_step_[s] = std::min(first_of_step_[s], first_of_step_[s + 1]);
    rewind();
}

void Arena::end_step(int step) {
    const auto s = static_cast<std::size_t>(step) + 1;
    const std::size_t expected = s < first_of_step_.size() ? first_of_step_[s] : blocks_.size();
    if (next_ != expected) diverged_ = true;
}

void* Arena::take(std::size_t bytes) {
    if (diverged_) return nullptr;
    if (next_ >= blocks_.size() || blocks_[next_].bytes != bytes) {
        diverged_ = true;
        return nullptr;
    }
    const PlannedBlock& block = blocks_[next_++];
    return block.offset >= 0 ? slab_.get() + block.offset : nullptr;
}

}  // namespace tg::jit::detail
