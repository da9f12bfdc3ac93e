// tg::einsum: Einstein summation reduced to the ops that already have gradients. Each
// operand first sums out the labels nobody else needs; then operands are contracted left to
// right, each pair as one bmm (batch labels x kept labels x summed labels), and the result is
// permuted into the output's order. So the gradient (and every higher one) is that of
// permute/reshape/sum/bmm, and no einsum-specific backward exists to get wrong.
#include <algorithm>
#include <string>

#include <fmt/ranges.h>

#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"

namespace tg {

namespace {

constexpr std::string_view kOp = "einsum";

// A label is a letter (its char code) or one dim of the ellipsis, numbered from the right
// (ellipsis dims align to the right like broadcasting): kEllipsis + 0 is the last one.
using Label = int;
constexpr Label kEllipsis = 1000;

struct Operand {
    Tensor tensor;
    std::vector<Label> labels;  // one per dim of tensor
};

std::string shapes_of(const std::vector<Tensor>& tensors) {
    std::string s;
    for (std::size_t i = 0; i < tensors.size(); ++i) s += (i ? ", " : "") + tensors[i].sizes().str();
    return s;
}

// The labels of one subscript ("ij", "b...k"), with `ellipsis_dims` dims for "...".
// has_ellipsis reports whether "..." occurred.
std::vector<Label> parse_subscript(std::string_view sub, std::int64_t ellipsis_dims, std::string_view equation,
                                   const std::string& shapes, bool* has_ellipsis) {
    std::vector<Label> labels;
    *has_ellipsis = false;
    for (std::size_t i = 0; i < sub.size(); ++i) {
        const char c = sub[i];
        if (c == ' ') continue;
        if (c == '.') {
            TG_CHECK(sub.substr(i, 3) == "..." && !*has_ellipsis, kOp,
                     "equation '{}': '.' must come as one '...' per subscript (tensors of shapes {})", equation, shapes);
            *has_ellipsis = true;
            for (std::int64_t e = ellipsis_dims - 1; e >= 0; --e) labels.push_back(kEllipsis + static_cast<Label>(e));
            i += 2;
            continue;
        }
        TG_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'), kOp,
                 "equation '{}': subscripts are letters a-z, A-Z and '...', got '{}' (tensors of shapes {})",
                 equation, c, shapes);
        labels.push_back(c);
    }
    return labels;
}

std::int64_t letter_count(std::string_view sub) {
    return std::count_if(sub.begin(), sub.end(), [](char c) { return c != ' ' && c != '.'; });
}

std::string label_name(Label l) { return l >= kEllipsis ? "..." : std::string(1, static_cast<char>(l)); }

bool contains(const std::vector<Label>& labels, Label l) {
    return std::find(labels.begin(), labels.end(), l) != labels.end();
}

// Sums every dim of `op` whose label is not in `keep`.
Operand sum_out(const Operand& op, const std::vector<Label>& keep) {
    Shape dims;
    Operand out;
    for (std::size_t i = 0; i < op.labels.size(); ++i) {
        if (contains(keep, op.labels[i])) out.labels.push_back(op.labels[i]);
        else dims.push_back(static_cast<std::int64_t>(i));
    }
    out.tensor = dims.empty() ? op.tensor : sum(op.tensor, dims);
    return out;
}

// op's dims in the order of `order` (which lists each of op's labels once).
Tensor permuted(const Operand& op, const std::vector<Label>& order) {
    Shape perm;
    for (Label l : order)
        perm.push_back(std::find(op.labels.begin(), op.labels.end(), l) - op.labels.begin());
    return permute(op.tensor, perm);
}

std::int64_t size_product(const Operand& op, const std::vector<Label>& labels, Shape* sizes = nullptr) {
    std::int64_t n = 1;
    for (Label l : labels) {
        const auto i = static_cast<std::size_t>(std::find(op.labels.begin(), op.labels.end(), l) - op.labels.begin());
        n *= op.tensor.sizes()[i];
        if (sizes) sizes->push_back(op.tensor.sizes()[i]);
    }
    return n;
}

// a and b contracted into one operand with the labels `keep` needs: one bmm of
// (batch, a's own, summed) x (batch, summed, b's own).
Operand contract(const Operand& a0, const Operand& b0, const std::vector<Label>& keep) {
    std::vector<Label> keep_a = keep, keep_b = keep;
    keep_a.insert(keep_a.end(), b0.labels.begin(), b0.labels.end());
    keep_b.insert(keep_b.end(), a0.labels.begin(), a0.labels.end());
    const Operand a = sum_out(a0, keep_a), b = sum_out(b0, keep_b);
    std::vector<Label> batch, summed, a_own, b_own;
    for (Label l : a.labels) {
        if (!contains(b.labels, l)) a_own.push_back(l);
        else if (contains(keep, l)) batch.push_back(l);
        else summed.push_back(l);
    }
    for (Label l : b.labels)
        if (!contains(a.labels, l)) b_own.push_back(l);
    Shape out_sizes;
    const std::int64_t nb = size_product(a, batch, &out_sizes), m = size_product(a, a_own, &out_sizes);
    const std::int64_t k = size_product(a, summed), n = size_product(b, b_own, &out_sizes);
    std::vector<Label> a_order = batch, b_order = batch;
    a_order.insert(a_order.end(), a_own.begin(), a_own.end());
    a_order.insert(a_order.end(), summed.begin(), summed.end());
    b_order.insert(b_order.end(), summed.begin(), summed.end());
    b_order.insert(b_order.end(), b_own.begin(), b_own.end());
    const Tensor product = bmm(reshape(permuted(a, a_order), {nb, m, k}), reshape(permuted(b, b_order), {nb, k, n}));
    Operand out;
    out.tensor = reshape(product, out_sizes);
    out.labels = batch;
    out.labels.insert(out.labels.end(), a_own.begin(), a_own.end());
    out.labels.insert(out.labels.end(), b_own.begin(), b_own.end());
    return out;
}

}  // namespace

Tensor einsum(std::string_view equation, const std::vector<Tensor>& tensors) {
    for (const Tensor& t : tensors) detail::check_defined(t, kOp);
    const std::string shapes = shapes_of(tensors);
    TG_CHECK(!tensors.empty(), kOp, "equation '{}': expected at least one tensor, got none (shapes [])", equation);
    for (const Tensor& t : tensors) {
        TG_CHECK(t.is_floating_point(), kOp, "expected float32 or float64 tensors, got {} (tensors of shapes {})",
                 dtype_name(t.dtype()), shapes);
        TG_CHECK(t.dtype() == tensors[0].dtype(), kOp, "tensors must share one dtype, got {} and {} (shapes {})",
                 dtype_name(tensors[0].dtype()), dtype_name(t.dtype()), shapes);
    }

    // ---- parse "a,b->c" into labels per operand and for the output ----
    const std::size_t arrow = equation.find("->");
    const std::string_view inputs = equation.substr(0, arrow);
    std::vector<std::string_view> subs;
    for (std::size_t start = 0;;) {
        const std::size_t comma = inputs.find(',', start);
        subs.push_back(inputs.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    TG_CHECK(subs.size() == tensors.size(), kOp, "equation '{}' has {} operand(s) but {} tensor(s) were given (shapes {})",
             equation, subs.size(), tensors.size(), shapes);
    std::vector<Operand> ops;
    std::int64_t ellipsis_dims = 0;
    for (std::size_t i = 0; i < subs.size(); ++i) {
        const bool has_dots = subs[i].find("...") != std::string_view::npos;
        const std::int64_t letters = letter_count(subs[i]);
        const std::int64_t rank = tensors[i].dim();
        TG_CHECK(has_dots ? rank >= letters : rank == letters, kOp,
                 "equation '{}': subscript '{}' of operand {} names {} dim(s) but the tensor has shape {} (tensors of shapes {})",
                 equation, subs[i], i, letters, tensors[i].sizes(), shapes);
        bool dots = false;
        const std::int64_t own = has_dots ? rank - letters : 0;
        ellipsis_dims = std::max(ellipsis_dims, own);
        Operand op{tensors[i], parse_subscript(subs[i], own, equation, shapes, &dots)};
        for (std::size_t j = 0; j < op.labels.size(); ++j)
            TG_CHECK(std::count(op.labels.begin(), op.labels.end(), op.labels[j]) == 1, kOp,
                     "equation '{}': label '{}' repeats in operand {} ('{}', shape {}); diagonals and traces "
                     "(a label twice in one operand) are not supported",
                     equation, label_name(op.labels[j]), i, subs[i], tensors[i].sizes());
        ops.push_back(std::move(op));
    }
    std::vector<Label> output;
    if (arrow != std::string_view::npos) {
        const std::string_view out_sub = equation.substr(arrow + 2);
        bool dots = false;
        output = parse_subscript(out_sub, ellipsis_dims, equation, shapes, &dots);
        for (Label l : output) {
            TG_CHECK(std::count(output.begin(), output.end(), l) == 1, kOp,
                     "equation '{}': output label '{}' appears more than once (tensors of shapes {})", equation,
                     label_name(l), shapes);
            TG_CHECK(l >= kEllipsis || std::any_of(ops.begin(), ops.end(), [l](const Operand& o) { return contains(o.labels, l); }),
                     kOp, "equation '{}': output label '{}' is in no operand (tensors of shapes {})", equation,
                     label_name(l), shapes);
        }
    } else {
        // Implicit output (NumPy's and libtorch's rule): the ellipsis, then every letter that
        // occurs exactly once, in alphabetical order (upper case first).
        for (std::int64_t e = ellipsis_dims - 1; e >= 0; --e) output.push_back(kEllipsis + static_cast<Label>(e));
        std::vector<Label> once;
        for (const Operand& o : ops)
            for (Label l : o.labels) {
                if (l >= kEllipsis) continue;
                std::int64_t n = 0;
                for (const Operand& p : ops) n += std::count(p.labels.begin(), p.labels.end(), l);
                if (n == 1) once.push_back(l);
            }
        std::sort(once.begin(), once.end());
        output.insert(output.end(), once.begin(), once.end());
    }

    // ---- sizes: one per label; 1 broadcasts (libtorch's rule), anything else must agree ----
    std::vector<std::pair<Label, std::int64_t>> label_size;
    for (std::size_t i = 0; i < ops.size(); ++i)
        for (std::size_t j = 0; j < ops[i].labels.size(); ++j) {
            const Label l = ops[i].labels[j];
            const std::int64_t n = ops[i].tensor.sizes()[j];
            auto it = std::find_if(label_size.begin(), label_size.end(), [l](const auto& p) { return p.first == l; });
            if (it == label_size.end()) label_size.emplace_back(l, n);
            else if (it->second == 1) it->second = n;
            else
                TG_CHECK(n == 1 || n == it->second, kOp,
                         "equation '{}': label '{}' has size {} in operand {} but {} elsewhere (tensors of shapes {})",
                         equation, label_name(l), n, i, it->second, shapes);
        }
    for (Operand& o : ops) {
        Shape target;
        for (Label l : o.labels)
            target.push_back(std::find_if(label_size.begin(), label_size.end(), [l](const auto& p) { return p.first == l; })->second);
        if (target != o.tensor.sizes()) o.tensor = expand(o.tensor, target);
    }
    // ---- contract left to right, keeping what the output or a later operand needs ----
    auto needed_after = [&](std::size_t i) {
        std::vector<Label> keep = output;
        for (std::size_t j = i + 1; j < ops.size(); ++j) keep.insert(keep.end(), ops[j].labels.begin(), ops[j].labels.end());
        return keep;
    };
    Operand acc = sum_out(ops[0], needed_after(0));
    for (std::size_t i = 1; i < ops.size(); ++i) acc = contract(acc, ops[i], needed_after(i));
    return permuted(sum_out(acc, output), output);
}

}  // namespace tg
