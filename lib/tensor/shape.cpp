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

void Shape::reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    std::size_t grown = std::max(capacity, capacity_ * 2);
    auto* fresh = new std::int64_t[grown];
    std::copy(data_, data_ + size_, fresh);
    if (data_ != inline_.data()) delete[] data_;
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

// Zeros first: [0, 2^62, 2^62] holds no element even though 2^62 * 2^62 overflows.
std::int64_t Shape::numel_past_overflow() const {
    if (std::find(data_, data_ + size_, 0) != data_ + size_) return 0;
    return std::numeric_limits<std::int64_t>::max();
}

std::string Shape::str() const {
    std::string s = "[";
    for (std::size_t i = 0; i < size_; ++i) {
        if (i) s += ", ";
        s += std::to_string(data_[i]);
    }
    return s + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape.str(); }

}  // namespace tg
