// tg::Shape: sizes (or strides) of a tensor. Inline room for 6 dims, so the shapes of
// everyday tensors never touch the heap on the per-op hot path.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

class Shape {
public:
    static constexpr std::size_t kInline = 6;

    Shape() = default;
    Shape(std::initializer_list<std::int64_t> dims);
    Shape(const std::vector<std::int64_t>& dims);  // NOLINT: implicit, like IntArrayRef
    Shape(const std::int64_t* first, std::size_t count);
    explicit Shape(std::size_t count, std::int64_t value = 0);
    // Copies, moves, comparison and numel are inline: every op copies and compares a few
    // shapes, and out-of-line calls made them a sixth of a small op's instructions
    // (callgrind, issue 15). An inline source is copied whole (kInline dims, fixed size).
    Shape(const Shape& other) { copy_from(other); }
    Shape(Shape&& other) noexcept { take(other); }
    Shape& operator=(const Shape& other) {
        if (this != &other) copy_from(other);
        return *this;
    }
    Shape& operator=(Shape&& other) noexcept {
        if (this != &other) take(other);
        return *this;
    }
    ~Shape() {
        if (data_ != inline_.data()) delete[] data_;
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::int64_t* data() { return data_; }
    const std::int64_t* data() const { return data_; }
    std::int64_t& operator[](std::size_t i) { return data_[i]; }
    std::int64_t operator[](std::size_t i) const { return data_[i]; }
    std::int64_t* begin() { return data_; }
    std::int64_t* end() { return data_ + size_; }
    const std::int64_t* begin() const { return data_; }
    const std::int64_t* end() const { return data_ + size_; }
    std::int64_t back() const { return data_[size_ - 1]; }

    void push_back(std::int64_t value);
    void pop_back() { --size_; }
    void insert(std::size_t pos, std::int64_t value);
    void erase(std::size_t pos);
    void resize(std::size_t count, std::int64_t value = 0);

    // Product of the dims; 1 for a scalar shape (INT64_MAX on overflow).
    std::int64_t numel() const {
        std::int64_t n = 1;
        for (std::size_t d = 0; d < size_; ++d)
            if (__builtin_mul_overflow(n, data_[d], &n)) return numel_past_overflow();
        return n;
    }
    std::vector<std::int64_t> vec() const { return {begin(), end()}; }
    std::string str() const;     // "[32, 10]"

    friend bool operator==(const Shape& a, const Shape& b) {
        if (a.size_ != b.size_) return false;
        for (std::size_t d = 0; d < a.size_; ++d)
            if (a.data_[d] != b.data_[d]) return false;
        return true;
    }
    friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

private:
    void reserve(std::size_t capacity);
    std::int64_t numel_past_overflow() const;  // 0 with a zero dim, else INT64_MAX
    void copy_from(const Shape& other) {
        if (other.data_ == other.inline_.data() && data_ == inline_.data()) {
            inline_ = other.inline_;
        } else {
            size_ = 0;
            reserve(other.size_);
            for (std::size_t d = 0; d < other.size_; ++d) data_[d] = other.data_[d];
        }
        size_ = other.size_;
    }
    // Takes other's dims, leaving it empty: copies an inline buffer, steals a heap one.
    void take(Shape& other) noexcept {
        if (other.data_ == other.inline_.data()) {
            if (data_ == inline_.data()) {
                inline_ = other.inline_;
            } else {  // our heap buffer holds at least kInline dims
                for (std::size_t d = 0; d < other.size_; ++d) data_[d] = other.inline_[d];
            }
        } else {
            if (data_ != inline_.data()) delete[] data_;
            data_ = other.data_;
            capacity_ = other.capacity_;
            other.data_ = other.inline_.data();
            other.capacity_ = kInline;
        }
        size_ = other.size_;
        other.size_ = 0;
    }

    // An array, not a C array: GCC turns a copy loop over the C array into a call to memcpy
    // (30 calls per iteration of a*b+a with backward); an array assignment stays inline.
    std::array<std::int64_t, kInline> inline_ = {};
    std::int64_t* data_ = inline_.data();
    std::size_t size_ = 0;
    std::size_t capacity_ = kInline;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

}  // namespace tg

TG_PUBLIC_END
