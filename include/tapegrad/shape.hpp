// tg::Shape: sizes (or strides) of a tensor. Inline room for 6 dims, so the shapes of
// everyday tensors never touch the heap on the per-op hot path.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace tg {

class Shape {
public:
    static constexpr std::size_t kInline = 6;

    Shape() = default;
    Shape(std::initializer_list<std::int64_t> dims);
    Shape(const std::vector<std::int64_t>& dims);  // NOLINT: implicit, like IntArrayRef
    Shape(const std::int64_t* first, std::size_t count);
    explicit Shape(std::size_t count, std::int64_t value = 0);
    Shape(const Shape& other);
    Shape(Shape&& other) noexcept;
    Shape& operator=(const Shape& other);
    Shape& operator=(Shape&& other) noexcept;
    ~Shape();

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

    std::int64_t numel() const;  // product of the dims; 1 for a scalar shape (INT64_MAX on overflow)
    std::vector<std::int64_t> vec() const { return {begin(), end()}; }
    std::string str() const;     // "[32, 10]"

    friend bool operator==(const Shape& a, const Shape& b);
    friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

private:
    void reserve(std::size_t capacity);

    std::int64_t inline_[kInline] = {};
    std::int64_t* data_ = inline_;
    std::size_t size_ = 0;
    std::size_t capacity_ = kInline;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

}  // namespace tg
