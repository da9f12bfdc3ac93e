// Every public op that constrains shapes, called with a wrong shape: the tg::Error message
// must name the op and the offending shapes (the core issue's rule, issue 8's enumeration).
#include <functional>
#include <regex>

#include "test_support.hpp"

namespace F = tg::nn::functional;

namespace {

struct Case {
    const char* op;                       // the name the message must start with
    std::function<void()> call;
    std::vector<std::string> fragments;   // shapes (and other facts) it must contain
};

tg::Tensor t(const tg::Shape& shape) { return tg::randn(shape); }
tg::Tensor idx(const tg::Shape& shape, std::int64_t hi = 2) {
    return tg::randint(0, hi, shape);
}

std::vector<Case> cases() {
    const tg::Tensor a = t({2, 3}), b = t({4}), m = t({3, 4});
    std::vector<Case> c = {
        // ---- elementwise (broadcasting) ----
        {"add", [=] { tg::add(a, b); }, {"[2, 3]", "[4]"}},
        {"sub", [=] { tg::sub(a, b); }, {"[2, 3]", "[4]"}},
        {"mul", [=] { tg::mul(a, b); }, {"[2, 3]", "[4]"}},
        {"div", [=] { tg::div(a, b); }, {"[2, 3]", "[4]"}},
        {"add", [=] { (void)(a + b); }, {"[2, 3]", "[4]"}},
        {"sub", [=] { (void)(a - b); }, {"[2, 3]", "[4]"}},
        {"mul", [=] { (void)(a * b); }, {"[2, 3]", "[4]"}},
        {"div", [=] { (void)(a / b); }, {"[2, 3]", "[4]"}},
        {"pow", [=] { tg::pow(a, b); }, {"[2, 3]", "[4]"}},
        {"maximum", [=] { tg::maximum(a, b); }, {"[2, 3]", "[4]"}},
        {"minimum", [=] { tg::minimum(a, b); }, {"[2, 3]", "[4]"}},
        // ---- comparisons and selection ----
        {"eq", [=] { tg::eq(a, b); }, {"[2, 3]", "[4]"}},
        {"ne", [=] { tg::ne(a, b); }, {"[2, 3]", "[4]"}},
        {"lt", [=] { tg::lt(a, b); }, {"[2, 3]", "[4]"}},
        {"le", [=] { tg::le(a, b); }, {"[2, 3]", "[4]"}},
        {"gt", [=] { tg::gt(a, b); }, {"[2, 3]", "[4]"}},
        {"ge", [=] { tg::ge(a, b); }, {"[2, 3]", "[4]"}},
        {"logical_and", [=] { tg::logical_and(a > 0.0, b > 0.0); }, {"[2, 3]", "[4]"}},
        {"logical_or", [=] { tg::logical_or(a > 0.0, b > 0.0); }, {"[2, 3]", "[4]"}},
        {"where", [=] { tg::where(a > 0.0, a, b); }, {"[2, 3]", "[4]"}},
        {"allclose", [=] { tg::allclose(a, b); }, {"[2, 3]", "[4]"}},
        // ---- reductions: a dim the shape does not have ----
        {"sum", [=] { tg::sum(a, {2}); }, {"dim 2", "[2, 3]"}},
        {"mean", [=] { tg::mean(a, {-3}); }, {"dim -3", "[2, 3]"}},
        {"max", [=] { tg::max(a, 5); }, {"dim 5", "[2, 3]"}},
        {"min", [=] { tg::min(a, 5); }, {"dim 5", "[2, 3]"}},
        {"argmax", [=] { tg::argmax(a, 2); }, {"dim 2", "[2, 3]"}},
        {"argmin", [=] { tg::argmin(a, 2); }, {"dim 2", "[2, 3]"}},
        {"var", [=] { tg::var(a, {3}); }, {"dim 3", "[2, 3]"}},
        {"std", [=] { tg::std(a, {3}); }, {"dim 3", "[2, 3]"}},
        {"logsumexp", [=] { tg::logsumexp(a, 2); }, {"dim 2", "[2, 3]"}},
        {"max", [=] { tg::max(t({0, 3})); }, {"[0, 3]"}},
        // ---- shape and indexing ----
        {"reshape", [=] { tg::reshape(a, {4, 2}); }, {"[2, 3]", "[4, 2]"}},
        {"view", [=] { tg::view(a, {5}); }, {"[2, 3]", "[5]"}},
        {"view", [=] { tg::view(a.t(), {6}); }, {"[3, 2]", "[6]"}},
        {"flatten", [=] { tg::flatten(a, 1, 0); }, {"[2, 3]"}},
        {"transpose", [=] { tg::transpose(a, 0, 2); }, {"dim 2", "[2, 3]"}},
        {"permute", [=] { tg::permute(a, {0}); }, {"[2, 3]", "[0]"}},
        {"squeeze", [=] { tg::squeeze(a, 2); }, {"dim 2", "[2, 3]"}},
        {"unsqueeze", [=] { tg::unsqueeze(a, 4); }, {"dim 4", "[2, 3]"}},
        {"expand", [=] { tg::expand(a, {2, 4}); }, {"[2, 3]", "[2, 4]"}},
        {"broadcast_to", [=] { tg::broadcast_to(a, {4}); }, {"[2, 3]", "[4]"}},
        {"narrow", [=] { tg::narrow(a, 1, 2, 2); }, {"[2, 3]"}},
        {"select", [=] { tg::select(a, 0, 2); }, {"index 2", "[2, 3]"}},
        {"index_select", [=] { tg::index_select(a, 0, idx({2, 2})); }, {"1-D", "[2, 2]"}},
        {"cat", [=] { tg::cat({a, m}, 0); }, {"[2, 3]", "[3, 4]"}},
        {"stack", [=] { tg::stack({a, m}); }, {"[2, 3]", "[3, 4]"}},
        {"split", [=] { tg::split(a, 1, 2); }, {"dim 2", "[2, 3]"}},
        {"chunk", [=] { tg::chunk(a, 2, 2); }, {"dim 2", "[2, 3]"}},
        {"unbind", [=] { tg::unbind(a, 2); }, {"dim 2", "[2, 3]"}},
        {"split_with_sizes", [=] { tg::split_with_sizes(a, {1, 1}, 1); }, {"[1, 1]", "[2, 3]", "size 3"}},
        {"masked_select", [=] { tg::masked_select(a, b > 0.0); }, {"[2, 3]", "[4]"}},
        {"masked_fill", [=] { tg::masked_fill(a, b > 0.0, 1.0); }, {"[2, 3]", "[4]"}},
        {"gather", [=] { tg::gather(a, 1, idx({2})); }, {"[2, 3]", "[2]"}},
        // ---- flip/roll/repeat/tile, sorting, pad ----
        {"flip", [=] { tg::flip(a, {2}); }, {"dim 2", "[2, 3]"}},
        {"roll", [=] { tg::roll(a, {1, 2}, {0}); }, {"[1, 2]", "[0]", "[2, 3]"}},
        {"repeat", [=] { tg::repeat(a, {2}); }, {"[2]", "[2, 3]"}},
        {"tile", [=] { tg::tile(a, {-1}); }, {"[-1]", "[2, 3]"}},
        {"sort", [=] { tg::sort(a, 2); }, {"dim 2", "[2, 3]"}},
        {"argsort", [=] { tg::argsort(a, -3); }, {"dim -3", "[2, 3]"}},
        {"topk", [=] { tg::topk(a, 4); }, {"k = 4", "size 3", "[2, 3]"}},
        {"pad", [=] { F::pad(a, {1, 1, 1, 1, 1, 1}); }, {"[1, 1, 1, 1, 1, 1]", "[2, 3]"}},
        {"pad", [=] { F::pad(a, {3, 0}, F::PadMode::Reflect); }, {"(3, 0)", "size 3", "[2, 3]"}},
        // ---- linear algebra ----
        {"matmul", [=] { tg::matmul(a, a); }, {"[2, 3]"}},
        {"matmul", [=] { tg::matmul(t({2, 2, 3}), t({3, 3, 4})); }, {"[2, 2, 3]", "[3, 3, 4]"}},
        {"mm", [=] { tg::mm(a, a); }, {"[2, 3]"}},
        {"mm", [=] { tg::mm(a, b); }, {"[2, 3]", "[4]"}},
        {"bmm", [=] { tg::bmm(t({2, 2, 3}), t({2, 4, 2})); }, {"[2, 2, 3]", "[2, 4, 2]"}},
        {"bmm", [=] { tg::bmm(t({2, 2, 3}), t({3, 3, 2})); }, {"[2, 2, 3]", "[3, 3, 2]"}},
        {"dot", [=] { tg::dot(b, t({3})); }, {"[4]", "[3]"}},
        {"dot", [=] { tg::dot(a, b); }, {"[2, 3]"}},
        {"addmm", [=] { tg::addmm(t({2, 5}), a, m); }, {"[2, 5]", "[2, 4]", "[2, 3]", "[3, 4]"}},
        {"addmm", [=] { tg::addmm(t({2, 4}), a, a); }, {"[2, 3]"}},
        // ---- activations ----
        {"softmax", [=] { tg::softmax(a, 2); }, {"dim 2", "[2, 3]"}},
        {"log_softmax", [=] { tg::log_softmax(a, -3); }, {"dim -3", "[2, 3]"}},
        {"one_hot", [=] { tg::one_hot(idx({2}, 5), 3); }, {"3"}},
        // ---- unary math, new activations, prod/cumsum/cumprod/norm: integer input, bad dim, p <= 0 ----
        {"sin", [=] { tg::sin(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"cos", [=] { tg::cos(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"rsqrt", [=] { tg::rsqrt(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"reciprocal", [=] { tg::reciprocal(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"expm1", [=] { tg::expm1(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"log1p", [=] { tg::log1p(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"erf", [=] { tg::erf(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"gelu", [=] { tg::gelu(a, "tan"); }, {"[2, 3]", "\"tan\""}},
        {"silu", [=] { tg::silu(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"relu6", [=] { tg::relu6(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"hardtanh", [=] { tg::hardtanh(a, 1.0, -1.0); }, {"[2, 3]", "min_val 1", "max_val -1"}},
        {"selu", [=] { tg::selu(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"softsign", [=] { tg::softsign(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"hardsigmoid", [=] { tg::hardsigmoid(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"prod", [=] { tg::prod(a, 2); }, {"dim 2", "[2, 3]"}},
        {"cumsum", [=] { tg::cumsum(a, -3); }, {"dim -3", "[2, 3]"}},
        {"cumprod", [=] { tg::cumprod(a, 2); }, {"dim 2", "[2, 3]"}},
        {"norm", [=] { tg::norm(a, 0.0); }, {"[2, 3]", "p must be positive"}},
        {"norm", [=] { tg::norm(a, 2.0, {2}); }, {"dim 2", "[2, 3]"}},
        {"normalize", [=] { F::normalize(a, -1.0); }, {"[2, 3]", "p must be positive"}},
        // ---- nn::functional ----
        {"softmax_cross_entropy_with_logits",
         [=] { F::softmax_cross_entropy_with_logits(a, t({2, 4})); }, {"[2, 3]", "[2, 4]"}},
        {"cross_entropy", [=] { F::cross_entropy(a, idx({3})); }, {"[2, 3]", "[3]"}},
        {"cross_entropy", [=] { F::cross_entropy(b, idx({4})); }, {"[4]"}},
        {"cross_entropy", [=] { F::cross_entropy(a, idx({3}), F::Reduction::Mean, 0.1); }, {"[2, 3]", "[3]"}},
        {"nll_loss", [=] { F::nll_loss(a, idx({4})); }, {"[2, 3]", "[4]"}},
        {"linear", [=] { F::linear(a, t({5, 4})); }, {"[2, 3]", "[5, 4]"}},
        {"linear", [=] { F::linear(a, t({5, 3}), t({4})); }, {"[5, 3]", "[4]"}},
        {"conv2d", [=] { F::conv2d(t({1, 2, 5, 5}), t({4, 3, 3, 3})); }, {"[1, 2, 5, 5]", "[4, 3, 3, 3]"}},
        {"conv2d", [=] { F::conv2d(t({2, 5, 5}), t({4, 2, 3, 3})); }, {"[2, 5, 5]"}},
        {"conv2d", [=] { F::conv2d(t({1, 2, 2, 2}), t({4, 2, 3, 3})); }, {"[1, 2, 2, 2]", "[4, 2, 3, 3]"}},
        {"conv2d", [=] { F::conv2d(t({1, 2, 5, 5}), t({4, 2, 3, 3}), t({3})); }, {"[3]", "[4, 2, 3, 3]"}},
        {"conv2d", [=] { F::conv2d(t({1, 4, 5, 5}), t({6, 2, 3, 3}), {}, {1}, {0}, {1}, 3); },
         {"[1, 4, 5, 5]", "[6, 2, 3, 3]"}},
        {"conv2d", [=] { F::conv2d(t({1, 4, 5, 5}), t({5, 2, 3, 3}), {}, {1}, {0}, {1}, 2); },
         {"[1, 4, 5, 5]", "[5, 2, 3, 3]"}},
        {"unfold", [=] { F::unfold(t({1, 1, 2, 2}), {3}); }, {"[1, 1, 2, 2]"}},
        {"fold", [=] { F::fold(t({1, 4, 3}), {3}, {2}); }, {"[1, 4, 3]"}},
        {"max_pool2d", [=] { F::max_pool2d(t({1, 1, 4, 4}), {2}, {2}, {0}, {4}); }, {"[1, 1, 4, 4]"}},
        {"max_pool2d", [=] { F::max_pool2d(a, {2}); }, {"[2, 3]"}},
        {"max_pool2d", [=] { F::max_pool2d(t({1, 1, 2, 2}), {3}); }, {"[1, 1, 2, 2]"}},
        {"avg_pool2d", [=] { F::avg_pool2d(b, {2}); }, {"[4]"}},
        {"avg_pool2d", [=] { F::avg_pool2d(t({1, 1, 2, 2}), {3}); }, {"[1, 1, 2, 2]"}},
        {"batch_norm", [=] { F::batch_norm(b, {}, {}, {}, {}, true); }, {"[4]"}},
        {"batch_norm", [=] { F::batch_norm(a, t({4}), t({4}), {}, {}, false); }, {"[2, 3]", "[4]"}},
        {"batch_norm", [=] { F::batch_norm(a, {}, {}, t({2}), {}, true); }, {"[2, 3]", "[2]"}},
        {"embedding", [=] { F::embedding(idx({3}), b); }, {"[4]"}},
        {"layer_norm", [=] { F::layer_norm(a, {4}); }, {"[2, 3]", "[4]"}},
        {"conv_transpose2d", [=] { F::conv_transpose2d(t({1, 2, 5, 5}), t({3, 4, 3, 3})); },
         {"[1, 2, 5, 5]", "[3, 4, 3, 3]"}},
        {"conv_transpose2d", [=] { F::conv_transpose2d(t({1, 6, 3, 3}), t({6, 2, 3, 3}), {}, {1}, {0}, {0}, 4); },
         {"[1, 6, 3, 3]", "[6, 2, 3, 3]"}},
        {"upsample_nearest2d", [=] { F::upsample_nearest2d(a, {4, 4}); }, {"[2, 3]"}},
        {"adaptive_avg_pool2d", [=] { F::adaptive_avg_pool2d(b, {2}); }, {"[4]"}},
        {"mse_loss", [=] { F::mse_loss(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"l1_loss", [=] { F::l1_loss(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"huber_loss", [=] { F::huber_loss(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"smooth_l1_loss", [=] { F::smooth_l1_loss(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"hinge_loss", [=] { F::hinge_loss(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"binary_cross_entropy_with_logits",
         [=] { F::binary_cross_entropy_with_logits(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"kl_div", [=] { F::kl_div(a, t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        // ---- issue 18's ops ----
        {"scatter", [=] { tg::scatter(a, 0, idx({1, 4}), a); }, {"[1, 4]", "[2, 3]"}},
        {"scatter_add", [=] { tg::scatter_add(a, 2, idx({1, 1}), a); }, {"dim 2", "[2, 3]"}},
        {"index_add", [=] { tg::index_add(a, 0, idx({2}), t({2, 4})); }, {"[2, 4]", "[2, 3]"}},
        {"index_copy", [=] { tg::index_copy(a, 1, idx({2, 2}), t({2, 2})); }, {"[2, 2]", "1-D"}},
        {"index_put", [=] { tg::index_put(a, {idx({2}), idx({3})}, t({})); }, {"[2]", "[3]"}},
        {"triu", [=] { tg::triu(b); }, {"[4]"}},
        {"tril", [=] { tg::tril(b); }, {"[4]"}},
        {"outer", [=] { tg::outer(a, b); }, {"[2, 3]", "[4]"}},
        {"baddbmm", [=] { tg::baddbmm(a, t({2, 2, 3}), t({2, 3, 4})); }, {"[2, 3]", "[2, 2, 4]"}},
        {"einsum", [=] { tg::einsum("ij,jk->ik", {a, a}); }, {"[2, 3]", "label 'j'"}},
        {"logcumsumexp", [=] { tg::logcumsumexp(a, 2); }, {"dim 2", "[2, 3]"}},
        {"softplus", [=] { tg::softplus(a, 0.0); }, {"[2, 3]", "beta"}},
        {"logsigmoid", [=] { tg::logsigmoid(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"hardswish", [=] { tg::hardswish(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"mish", [=] { tg::mish(idx({2, 3})); }, {"[2, 3]", "int64"}},
        {"cosine_similarity", [=] { tg::cosine_similarity(a, b); }, {"[2, 3]", "[4]"}},
        {"pairwise_distance", [=] { tg::pairwise_distance(a, m); }, {"[2, 3]", "[3, 4]"}},
        {"binary_cross_entropy", [=] { F::binary_cross_entropy(tg::sigmoid(a), t({3, 2})); }, {"[2, 3]", "[3, 2]"}},
        {"margin_ranking_loss", [=] { F::margin_ranking_loss(a, a, t({3})); }, {"[2, 3]", "[3]"}},
        {"cosine_embedding_loss", [=] { F::cosine_embedding_loss(a, a, t({3})); }, {"[2, 3]", "[3]"}},
        {"triplet_margin_loss", [=] { F::triplet_margin_loss(a, a, b); }, {"[2, 3]", "[4]"}},
        {"group_norm", [=] { F::group_norm(t({2, 3, 4}), 2); }, {"[2, 3, 4]", "num_groups 2"}},
        {"instance_norm", [=] { F::instance_norm(a); }, {"[2, 3]"}},
        {"interpolate", [=] { F::interpolate(a, F::InterpolateFuncOptions().size({4})); }, {"[2, 3]", "4-D"}},
    };
    return c;
}

}  // namespace

TEST_CASE("every shape-taking op names itself and the offending shapes") {
    const std::regex shape_pattern(R"(\[(-?\d+(, -?\d+)*)?\])");
    int checked = 0;
    for (const Case& c : cases()) {
        std::string what = "(no tg::Error thrown)";
        try {
            c.call();
        } catch (const tg::Error& e) {
            what = e.what();
        }
        INFO("op " << c.op << " -> message: " << what);
        CHECK(what.rfind(std::string(c.op) + ":", 0) == 0);  // starts with "op:"
        for (const std::string& fragment : c.fragments) CHECK(what.find(fragment) != std::string::npos);
        // error.hpp's promise, checked for every message and not just the listed fragments:
        // some shape, printed as Shape::str() does ("[]", "[4]", "[2, 3]").
        CHECK(std::regex_search(what, shape_pattern));
        ++checked;
    }
    CHECK(checked >= 80);
}

TEST_CASE("errors name the op in backward too: a gradient of the wrong shape") {
    tg::Tensor x = tg::randn({2, 3}).requires_grad_();
    tg::Tensor y = x * 2.0;
    REQUIRE_TG_ERROR(y.backward(tg::ones({3, 2})), "backward", "[3, 2]", "[2, 3]");
    REQUIRE_TG_ERROR(y.backward(), "backward", "[2, 3]", "one-element");
}
