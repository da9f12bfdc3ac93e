// The program test/scripts/gdb_printers.sh debugs: tensors of each dtype, a view, a tensor
// on the tape, then a stop in tg_gdb_stop() where gdb prints them.
#include <tapegrad/tapegrad.hpp>

#include <cstdio>

extern "C" __attribute__((noinline)) void tg_gdb_stop() { asm volatile(""); }

int main() {
    tg::Tensor t = tg::tensor({{1, 2, 3}, {4, 5, 6}});                   // float32 [2, 3]
    tg::Tensor tt = t.t();                                                // strided view [3, 2]
    tg::Tensor w = tg::tensor({0.5, -1.25}, tg::kFloat64).requires_grad_();
    tg::Tensor y = (w * w).sum();                                         // grad_fn
    tg::Tensor idx = tg::arange(12).reshape({3, 4});                      // int64
    tg::Tensor mask = tg::tensor({1, 0, 1}, tg::kBool);
    tg::Tensor big = tg::arange(0, 100, 1, tg::kFloat32);                 // abbreviated
    tg::Tensor s = tg::scalar_tensor(7.5);                                // 0-dim
    tg::Tensor undef;
    tg::Shape shape = t.sizes();
    w.set_name("weights");
    tg_gdb_stop();
    std::printf("%g %zu %lld\n", y.item<double>(), shape.size(), static_cast<long long>(undef.defined()));
    (void)tt; (void)idx; (void)mask; (void)big; (void)s;
    return 0;
}
