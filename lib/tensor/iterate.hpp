// The one general strided iterator of elementwise kernels. Operands are described by
// their strides (in elements) over a common iteration shape; a broadcast dim has
// stride 0. The loop walks the outer dims with a counter and hands the innermost dim to
// the kernel as a (pointer offsets, count, inner strides) row, so kernels keep a tight
// inner loop that the compiler vectorises when the inner strides are 1.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "tapegrad/shape.hpp"
#include "tensor/parallel.hpp"

namespace tg::detail {

// A contiguous tensor seen as (outer, size, inner) around one dim: that dim has stride
// `inner`, and slice o of it starts at o * size * inner (softmax, scans, norms).
struct DimLayout {
    std::int64_t outer = 1, size = 1, inner = 1;
};

inline DimLayout layout_around(const Shape& sizes, std::size_t dim) {
    DimLayout l;
    for (std::size_t d = 0; d < sizes.size(); ++d) {
        if (d < dim) l.outer *= sizes[d];
        else if (d == dim) l.size = sizes[d];
        else l.inner *= sizes[d];
    }
    return l;
}

template <std::size_t N>
struct StridedRow {
    std::array<std::int64_t, N> offsets;  // element offset of each operand's row start
    std::array<std::int64_t, N> strides;  // each operand's innermost stride
    std::int64_t count;                   // elements in the row
};

// Merges adjacent dims that are contiguous in every operand so that, e.g., a contiguous
// tensor becomes a single long row.
template <std::size_t N>
void coalesce_dims(Shape& shape, std::array<Shape, N>& strides) {
    if (shape.size() <= 1) return;
    std::size_t out = 0;
    for (std::size_t d = 1; d < shape.size(); ++d) {
        bool mergeable = true;
        for (std::size_t k = 0; k < N; ++k)
            if (strides[k][out] != strides[k][d] * shape[d]) mergeable = false;
        if (mergeable) {
            for (std::size_t k = 0; k < N; ++k) strides[k][out] = strides[k][d];
            shape[out] *= shape[d];
        } else {
            ++out;
            shape[out] = shape[d];
            for (std::size_t k = 0; k < N; ++k) strides[k][out] = strides[k][d];
        }
    }
    shape.resize(out + 1);
    for (std::size_t k = 0; k < N; ++k) strides[k].resize(out + 1);
}

// Calls row(StridedRow<N>) for the innermost rows [first, last) of a coalesced `shape`
// (rows numbered in row-major order of the outer dims).
template <std::size_t N, class RowFn>
void for_rows(const Shape& shape, const std::array<Shape, N>& strides, std::int64_t first, std::int64_t last,
              RowFn&& row) {
    const std::size_t rank = shape.size();
    const std::size_t inner = rank - 1;
    StridedRow<N> r{};
    r.count = shape[inner];
    for (std::size_t k = 0; k < N; ++k) r.strides[k] = strides[k][inner];
    Shape counter(rank, 0);
    std::int64_t rest = first;  // decompose `first` into the outer dims' counters
    for (std::size_t d = inner; d-- > 0;) {
        counter[d] = rest % shape[d];
        rest /= shape[d];
        for (std::size_t k = 0; k < N; ++k) r.offsets[k] += counter[d] * strides[k][d];
    }
    for (std::int64_t i = first; i < last; ++i) {
        row(r);
        // advance the outer counter like an odometer
        for (std::size_t d = inner; d-- > 0;) {
            ++counter[d];
            for (std::size_t k = 0; k < N; ++k) r.offsets[k] += strides[k][d];
            if (counter[d] < shape[d]) break;
            for (std::size_t k = 0; k < N; ++k) r.offsets[k] -= strides[k][d] * shape[d];
            counter[d] = 0;
        }
    }
}

// Calls row(StridedRow<N>) for every innermost row of `shape`.
template <std::size_t N, class RowFn>
void for_each_row(Shape shape, std::array<Shape, N> strides, RowFn&& row) {
    if (shape.numel() == 0) return;
    if (shape.empty()) {  // a scalar: one row of one element
        row(StridedRow<N>{{}, {}, 1});
        return;
    }
    coalesce_dims(shape, strides);
    for_rows(shape, strides, 0, shape.numel() / shape[shape.size() - 1], row);
}

// for_each_row with the rows shared among threads (parallel.hpp) once there are at least
// `grain` elements; each row is visited once, by one thread, so results do not depend on
// the thread count.
template <std::size_t N, class RowFn>
void parallel_for_each_row(Shape shape, std::array<Shape, N> strides, std::int64_t grain, RowFn&& row) {
    if (shape.numel() == 0) return;
    if (shape.empty()) {
        row(StridedRow<N>{{}, {}, 1});
        return;
    }
    coalesce_dims(shape, strides);
    const std::int64_t rows = shape.numel() / shape[shape.size() - 1];
    const std::int64_t rows_per_grain = std::max<std::int64_t>(1, grain / std::max<std::int64_t>(1, shape[shape.size() - 1]));
    parallel_for(rows, rows_per_grain, [&](std::int64_t first, std::int64_t last) {
        for_rows(shape, strides, first, last, row);
    });
}

}  // namespace tg::detail
