// Classification metrics. Outputs and targets are read into plain vectors once per batch
// (batches are small), so each metric is a few lines of counting.
#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/train.hpp"
#include "tensor/check.hpp"

namespace tg::train {

namespace {

// Scores as rows: (B, C) with C >= 1. A (B) output is one logit per example.
struct Scores {
    std::int64_t rows = 0, cols = 0;
    std::vector<double> values;
    double at(std::int64_t r, std::int64_t c) const { return values[static_cast<std::size_t>(r * cols + c)]; }
};

Scores read_scores(const Tensor& output, const char* op) {
    TG_CHECK(output.defined() && (output.dim() == 1 || output.dim() == 2), op,
             "expected an output of shape (B, C) or (B), got {}", output.defined() ? output.sizes() : Shape{});
    NoGradGuard no_grad;
    Scores s;
    s.rows = output.size(0);
    s.cols = output.dim() == 2 ? output.size(1) : 1;
    s.values = output.detach().to(kFloat64).contiguous().to_vector<double>();
    return s;
}

// Class index per row: the predicted one of (B, C) scores (argmax, first on ties; a single
// logit predicts 1 when positive).
std::int64_t predicted_class(const Scores& s, std::int64_t r) {
    if (s.cols == 1) return s.at(r, 0) > 0 ? 1 : 0;
    std::int64_t best = 0;
    for (std::int64_t c = 1; c < s.cols; ++c)
        if (s.at(r, c) > s.at(r, best)) best = c;
    return best;
}

// Class indices of the target: indices as they are, one-hot / probability rows by argmax.
std::vector<std::int64_t> target_classes(const Tensor& target, const Scores& s, const char* op) {
    TG_CHECK(target.defined() && target.dim() >= 1 && target.size(0) == s.rows, op,
             "expected a target with {} rows, got {}", s.rows, target.defined() ? target.sizes() : Shape{});
    std::vector<std::int64_t> classes(static_cast<std::size_t>(s.rows));
    if (target.dim() == 2 && target.size(1) > 1) {
        const auto rows = read_scores(target, op);
        for (std::int64_t r = 0; r < s.rows; ++r) classes[static_cast<std::size_t>(r)] = predicted_class(rows, r);
        return classes;
    }
    TG_CHECK(target.numel() == s.rows, op, "expected one class per example ({}), got a target of shape {}", s.rows,
             target.sizes());
    NoGradGuard no_grad;
    const auto values = target.detach().to(kFloat64).contiguous().to_vector<double>();
    for (std::int64_t r = 0; r < s.rows; ++r) classes[static_cast<std::size_t>(r)] = static_cast<std::int64_t>(values[static_cast<std::size_t>(r)]);
    return classes;
}

}  // namespace

// ---- TopKAccuracy -------------------------------------------------------------------------------

TopKAccuracy::TopKAccuracy(std::int64_t k) : k_(k) {
    TG_CHECK(k >= 1, "TopKAccuracy", "k must be at least 1, got {}", k);
}

std::string TopKAccuracy::name() const { return k_ == 1 ? "accuracy" : "top_" + std::to_string(k_) + "_accuracy"; }

void TopKAccuracy::update(const Tensor& output, const Tensor& target) {
    const auto scores = read_scores(output, "TopKAccuracy");
    const auto classes = target_classes(target, scores, "TopKAccuracy");
    TG_CHECK(k_ == 1 || k_ <= scores.cols, "TopKAccuracy", "top-{} of {} classes (output {})", k_, scores.cols,
             output.sizes());
    for (std::int64_t r = 0; r < scores.rows; ++r) {
        const auto t = classes[static_cast<std::size_t>(r)];
        bool hit = false;
        if (k_ == 1) {
            hit = predicted_class(scores, r) == t;
        } else if (t >= 0 && t < scores.cols) {
            // In the top k when fewer than k classes score strictly higher.
            std::int64_t higher = 0;
            for (std::int64_t c = 0; c < scores.cols; ++c) higher += scores.at(r, c) > scores.at(r, t);
            hit = higher < k_;
        }
        correct_ += hit;
    }
    total_ += scores.rows;
}

MetricPtr accuracy() { return std::make_shared<TopKAccuracy>(1); }
MetricPtr top_k_accuracy(std::int64_t k) { return std::make_shared<TopKAccuracy>(k); }

// ---- ConfusionMatrix ----------------------------------------------------------------------------

ConfusionMatrix::ConfusionMatrix(std::int64_t num_classes, std::vector<std::string> class_names)
    : num_classes_(num_classes), class_names_(std::move(class_names)) {
    TG_CHECK(num_classes >= 2, "ConfusionMatrix", "expected at least 2 classes, got {}", num_classes);
    TG_CHECK(class_names_.empty() || static_cast<std::int64_t>(class_names_.size()) == num_classes,
             "ConfusionMatrix", "{} class names for {} classes", class_names_.size(), num_classes);
    reset();
}

void ConfusionMatrix::reset() { counts_.assign(static_cast<std::size_t>(num_classes_ * num_classes_), 0); }

void ConfusionMatrix::update(const Tensor& output, const Tensor& target) {
    const auto scores = read_scores(output, "ConfusionMatrix");
    const auto classes = target_classes(target, scores, "ConfusionMatrix");
    for (std::int64_t r = 0; r < scores.rows; ++r) {
        const auto t = classes[static_cast<std::size_t>(r)];
        const auto p = predicted_class(scores, r);
        TG_CHECK(t >= 0 && t < num_classes_ && p < num_classes_, "ConfusionMatrix",
                 "class {} (predicted {}) outside 0..{}", t, p, num_classes_ - 1);
        ++counts_[static_cast<std::size_t>(t * num_classes_ + p)];
    }
}

std::int64_t ConfusionMatrix::count(std::int64_t true_class, std::int64_t predicted_class) const {
    TG_CHECK(true_class >= 0 && true_class < num_classes_ && predicted_class >= 0 && predicted_class < num_classes_,
             "ConfusionMatrix::count", "classes ({}, {}) outside 0..{}", true_class, predicted_class,
             num_classes_ - 1);
    return counts_[static_cast<std::size_t>(true_class * num_classes_ + predicted_class)];
}

double ConfusionMatrix::value() const {
    std::int64_t total = 0, diagonal = 0;
    for (std::int64_t t = 0; t < num_classes_; ++t)
        for (std::int64_t p = 0; p < num_classes_; ++p) {
            total += count(t, p);
            if (t == p) diagonal += count(t, p);
        }
    return total ? static_cast<double>(diagonal) / static_cast<double>(total) : 0.0;
}

Tensor ConfusionMatrix::matrix() const { return from_vector(counts_, {num_classes_, num_classes_}); }

void ConfusionMatrix::print(std::ostream& os) const {
    std::vector<std::string> labels = class_names_;
    if (labels.empty())
        for (std::int64_t c = 0; c < num_classes_; ++c) labels.push_back(std::to_string(c));
    std::size_t label_width = 4;  // "true"
    for (const auto& l : labels) label_width = std::max(label_width, l.size());
    std::size_t cell = 5;
    for (const auto n : counts_) cell = std::max(cell, std::to_string(n).size() + 1);
    os << "confusion matrix (rows: true class, columns: predicted)\n";
    os << std::setw(static_cast<int>(label_width)) << "true";
    for (std::int64_t p = 0; p < num_classes_; ++p) os << std::setw(static_cast<int>(cell)) << p;
    os << "   recall\n";
    for (std::int64_t t = 0; t < num_classes_; ++t) {
        os << std::setw(static_cast<int>(label_width)) << labels[static_cast<std::size_t>(t)];
        std::int64_t row = 0;
        for (std::int64_t p = 0; p < num_classes_; ++p) {
            os << std::setw(static_cast<int>(cell)) << count(t, p);
            row += count(t, p);
        }
        std::ostringstream recall;
        recall << std::fixed << std::setprecision(3)
               << (row ? static_cast<double>(count(t, t)) / static_cast<double>(row) : 0.0);
        os << "   " << recall.str() << '\n';
    }
    std::ostringstream acc;
    acc << std::fixed << std::setprecision(4) << value();
    os << "accuracy " << acc.str() << '\n';
}

std::ostream& operator<<(std::ostream& os, const ConfusionMatrix& matrix) {
    matrix.print(os);
    return os;
}

}  // namespace tg::train
