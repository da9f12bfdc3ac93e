// Gradient checking by central finite differences (torch.autograd.gradcheck's idea).
#include <cmath>

#include <fmt/format.h>

#include "tapegrad/autograd.hpp"
#include "tapegrad/creation.hpp"
#include "tapegrad/ops.hpp"
#include "tensor/check.hpp"
#include "tensor/tensor_impl.hpp"

namespace tg::autograd {

namespace {
// Projects a vector output onto fixed random weights, so one scalar covers every output
// element (a wrong gradient for any one element changes the projection).
double project(const Tensor& out, const Tensor& weights) {
    NoGradGuard no_grad;
    return sum(mul(out.to(kFloat64), weights)).item<double>();
}
}  // namespace

bool gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
               const GradcheckOptions& options, std::string* report) {
    for (const auto& t : inputs)
        if (t.defined() && t.requires_grad())
            TG_CHECK(t.dtype() == kFloat64, "gradcheck",
                     "inputs that require grad must be float64 for finite differences to be accurate, got {} of shape {}",
                     dtype_name(t.dtype()), t.sizes());
    Tensor out = fn(inputs);
    detail::check_defined(out, "gradcheck");
    const Tensor weights = uniform(out.sizes(), 0.5, 1.5, kFloat64);
    std::vector<Tensor> wrt;
    std::vector<std::size_t> wrt_index;
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].defined() && inputs[i].requires_grad()) {
            wrt.push_back(inputs[i]);
            wrt_index.push_back(i);
        }
    TG_CHECK(!wrt.empty(), "gradcheck", "no input requires grad");
    TG_CHECK(out.requires_grad(), "gradcheck", "the output of shape {} does not depend on any input", out.sizes());
    const Tensor objective = sum(mul(out.to(kFloat64), weights));
    const std::vector<Tensor> analytic = grad({objective}, wrt, {}, false, false, /*allow_unused=*/true);

    bool ok = true;
    std::string messages;
    for (std::size_t k = 0; k < wrt.size(); ++k) {
        const Tensor& x = wrt[k];
        TG_CHECK(x.is_contiguous(), "gradcheck", "input {} must be contiguous (make views inside fn)", wrt_index[k]);
        double* p = impl_of(x).data_as<double>();
        for (std::int64_t e = 0; e < x.numel(); ++e) {
            const double saved = p[e];
            p[e] = saved + options.eps;
            const double plus = project(fn(inputs), weights);
            p[e] = saved - options.eps;
            const double minus = project(fn(inputs), weights);
            p[e] = saved;
            const double numeric = (plus - minus) / (2 * options.eps);
            const double exact =
                analytic[k].defined() ? analytic[k].contiguous().to(kFloat64).data_ptr<double>()[e] : 0.0;
            if (!(std::abs(numeric - exact) <= options.atol + options.rtol * std::abs(numeric))) {
                ok = false;
                if (messages.size() < 2000)
                    messages += fmt::format("input {} element {}: analytic {:.8g} vs numeric {:.8g}\n", wrt_index[k], e,
                                            exact, numeric);
            }
        }
    }
    if (report) *report = messages;
    return ok;
}

}  // namespace tg::autograd
