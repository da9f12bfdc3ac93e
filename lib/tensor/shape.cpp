#include "tapegrad/shape.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <ostream>
#include <utility>

namespace tg {

Shape::Shape(std::initializer_list<std::int64_t> dims) : Shape(dims.begin(), dims.size()) {}
Shape::Shape(const std::vector<std::int64_t>& dims) : Shape(dims.data(), dims.size()) {}

Shape::Shape(const std::int64_t* first, std::size_t count) {
    reserve(count);
    std::copy(first, first + count, data_);
    size_ = count;
}

Shape::Shape(std::size_t count, std::int64_t value) {
    reserve(count);
    std::fill(data_, data_ + count, value);
    size_ = count;
}

Shape::Shape(const Shape& other) : Shape(other.data_, other.size_) {}

// An empty inline Shape taking other's elements: copies an inline buffer, steals a heap one.
Shape::Shape(Shape&& other) noexcept { *this = std::move(other); }

Shape& Shape::operator=(const Shape& other) {
    if (this == &other) return *this;
    size_ = 0;
    reserve(other.size_);
    std::copy(other.data_, other.data_ + other.size_, data_);
    size_ = other.size_;
    return *this;
}

Shape& Shape::operator=(Shape&& other) noexcept {
    if (this == &other) return *this;
    if (other.data_ == other.inline_) {
        size_ = 0;
        reserve(other.size_);  // no allocation: other.size_ <= kInline <= capacity_
        std::copy(other.inline_, other.inline_ + other.size_, data_);
    } else {  // steal the heap buffer
        if (data_ != inline_) delete[] data_;
        data_ = other.data_;
        capacity_ = other.capacity_;
        other.data_ = other.inline_;
        other.capacity_ = kInline;
    }
    size_ = other.size_;
    other.size_ = 0;
    return *this;
}

Shape::~Shape() {
    if (data_ != inline_) delete[] data_;
}

void Shape::reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    std::size_t grown = std::max(capacity, capacity_ * 2);
    auto* fresh = new std::int64_t[grown];
    std::copy(data_, data_ + size_, fresh);
    if (data_ != inline_) delete[] data_;
    data_ = fresh;
    capacity_ = grown;
}

void Shape::push_back(std::int64_t value) {
    reserve(size_ + 1);
    data_[size_++] = value;
}

void Shape::insert(std::size_t pos, std::int64_t value) {
    reserve(size_ + 1);
    std::copy_backward(data_ + pos, data_ + size_, data_ + size_ + 1);
    data_[pos] = value;
    ++size_;
}

void Shape::erase(std::size_t pos) {
    std::copy(data_ + pos + 1, data_ + size_, data_ + pos);
    --size_;
}

void Shape::resize(std::size_t count, std::int64_t value) {
    reserve(count);
    for (std::size_t i = size_; i < count; ++i) data_[i] = value;
    size_ = count;
}

std::int64_t Shape::numel() const {
    // Zeros first: [0, 2^62, 2^62] holds no element even though 2^62 * 2^62 overflows.
    if (std::find(data_, data_ + size_, 0) != data_ + size_) return 0;
    std::int64_t n = 1;
    for (std::size_t i = 0; i < size_; ++i)
        if (__builtin_mul_overflow(n, data_[i], &n)) return std::numeric_limits<std::int64_t>::max();
    return n;
}

std::string Shape::str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < size_; ++i) {
        if (i) s += ", ";
        s += std::to_string(data_[i]);
    }
    return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape.str(); }

}  // namespace tg
