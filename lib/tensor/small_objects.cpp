#include "tensor/small_objects.hpp"

#include <cstdint>
#include <new>

namespace tg::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif
#else
constexpr bool kPooled = true;
#endif

constexpr std::size_t kGranule = 16;    // operator new's alignment; Storage's inline buffer needs it
constexpr std::size_t kClasses = 32;    // blocks of 16, 32, ..., 512 bytes
constexpr std::uint32_t kMaxCached = 256;

struct FreeBlock {
    FreeBlock* next;
};

// Trivially destructible, so it is usable until the thread ends, also from other
// thread_local destructors that free tensors after the Releaser below has run.
struct ThreadLists {
    FreeBlock* head[kClasses];
    std::uint32_t count[kClasses];
    bool registered;  // the Releaser of this thread exists
    bool released;    // ... and has run: free for real from then on
};
thread_local ThreadLists lists{};

void release_all(ThreadLists& l) noexcept {
    for (std::size_t c = 0; c < kClasses; ++c) {
        while (FreeBlock* b = l.head[c]) {
            l.head[c] = b->next;
            ::operator delete(static_cast<void*>(b));
        }
        l.count[c] = 0;
    }
}

struct Releaser {
    ~Releaser() {
        release_all(lists);
        lists.released = true;
    }
};

std::size_t class_of(std::size_t bytes) { return (bytes + kGranule - 1) / kGranule - 1; }

}  // namespace

void* small_object_alloc(std::size_t bytes) {
    const std::size_t c = class_of(bytes);
    if (!kPooled || c >= kClasses) return ::operator new(bytes);
    ThreadLists& l = lists;
    if (FreeBlock* b = l.head[c]) {
        l.head[c] = b->next;
        --l.count[c];
        return b;
    }
    if (!l.registered && !l.released) {
        l.registered = true;
        thread_local Releaser releaser;  // constructed once per thread, destroyed at its exit
        (void)releaser;
    }
    return ::operator new((c + 1) * kGranule);
}

void small_object_free(void* block, std::size_t bytes) noexcept {
    const std::size_t c = class_of(bytes);
    if (!kPooled || c >= kClasses) {
        ::operator delete(block);
        return;
    }
    ThreadLists& l = lists;
    if (l.released || !l.registered || l.count[c] >= kMaxCached) {
        ::operator delete(block);
        return;
    }
    auto* b = static_cast<FreeBlock*>(block);
    b->next = l.head[c];
    l.head[c] = b;
    ++l.count[c];
}

}  // namespace tg::detail
