// What tools/repl runs before the first prompt: loads libtapegrad into the clang-repl
// process, includes the whole public API and adds a few REPL helpers. Not a public header
// (it lives in tools/lib, not include/); C++ programs have no use for it.
//
//   auto x = tg::randn({2, 3}).requires_grad_();
//   show(x);                                  // values, then [ float32 [2, 3], requires_grad ]
//   TG_TRY(show(tg::matmul(x, x)));           // a tg::Error is printed, the session goes on
//   void step() { tg::repl::run([&] { show(x.sum()); }); }   // the same inside a function
//
// TG_REPL_LIB (set by tools/repl with -D) is the path of libtapegrad.so. The library is
// opened with dlopen(RTLD_NOW | RTLD_GLOBAL) rather than clang-repl's %lib: clang-repl 16 has
// no %lib, and in 19 it crashes at exit once a global object has a destructor.
#pragma once

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// TG_REPL_HOST (set by tapegrad-repl and the Jupyter kernel, interactive/): the host has
// libtapegrad linked in and catches every input's exceptions itself, and it implements the
// rich display helpers declared below (plot, show_images, HTML tables for tensors).
#ifndef TG_REPL_HOST
#ifndef TG_REPL_LIB
#error "tools/repl defines TG_REPL_LIB, the path of libtapegrad.so"
#endif

namespace tg::repl::detail {
// Runs before any tapegrad symbol is needed: clang-repl resolves a statement's symbols
// when it runs that statement, and dlsym finds RTLD_GLOBAL libraries.
inline void* open_library() {
    void* handle = dlopen(TG_REPL_LIB, RTLD_NOW | RTLD_GLOBAL);
    if (handle == nullptr) {
        std::fprintf(stderr, "tools/repl: cannot load %s: %s\n", TG_REPL_LIB, dlerror());
        std::fflush(stderr);
    }
    return handle;
}
inline void* const library = open_library();
}  // namespace tg::repl::detail
#endif

#include "tapegrad/display.hpp"
#include "tapegrad/tapegrad.hpp"

#ifdef TG_REPL_HOST
#include "repl_display.hpp"  // plot, show_images, add_tensor_html: defined by the host
namespace tg::repl {
inline void plot(const Tensor& values, const std::string& title = "", const std::string& xlabel = "",
                 const std::string& ylabel = "") {
    plot(values.detach().contiguous().to(kFloat64).to_vector<double>(), title, xlabel, ylabel);
}
}  // namespace tg::repl
#endif

namespace tg::repl {

namespace detail {

template <class T, class = void> struct is_streamable : std::false_type {};
template <class T>
struct is_streamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<const T&>())>>
    : std::true_type {};

inline void print_one(std::ostream& os, const Tensor& t) { os << t; }
inline void print_one(std::ostream& os, const nn::Module& m) { os << m; }
template <class M, class = std::enable_if_t<std::is_base_of_v<nn::Module, M>>>
void print_one(std::ostream& os, const std::shared_ptr<M>& m) {
    if (m) os << *m;
    else os << "(null module)";
}
// Named tensors (module.named_parameters(), tg::load): one "name  shape dtype" line each.
inline void print_one(std::ostream& os, const NamedTensors& named) {
    for (const auto& [name, t] : named) {
        os << name << "  ";
        if (t.defined()) os << t.sizes() << ' ' << t.dtype() << (t.requires_grad() ? ", requires_grad" : "");
        else os << "(undefined)";
        os << '\n';
    }
    os << named.size() << (named.size() == 1 ? " tensor" : " tensors");
}
inline void print_one(std::ostream& os, const std::vector<Tensor>& ts) {
    for (std::size_t i = 0; i < ts.size(); ++i) os << '(' << i << ") " << ts[i] << '\n';
    os << ts.size() << (ts.size() == 1 ? " tensor" : " tensors");
}
inline void print_one(std::ostream& os, bool b) { os << (b ? "true" : "false"); }
template <class T, class = std::enable_if_t<is_streamable<T>::value>>
void print_one(std::ostream& os, const T& value) { os << value; }
template <class T, class = std::enable_if_t<!is_streamable<T>::value>, class = void>
void print_one(std::ostream& os, const std::vector<T>& values) {
    os << '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) os << ", ";
        print_one(os, values[i]);
    }
    os << ']';
}

}  // namespace detail

// Prints a value readably and ends the line: tensors (values, dtype, shape, grad_fn),
// modules (their tree), shapes, named tensors, tg::global_variables(), numbers, strings.
// The text goes through tg::display, so a notebook shows it as the cell's output (and a
// tensor also as an HTML table).
template <class T>
void show(const T& value) {
    std::ostringstream os;
    detail::print_one(os, value);
    DisplayData data{{"text/plain", os.str()}};
#ifdef TG_REPL_HOST
    if constexpr (std::is_same_v<T, Tensor>) add_tensor_html(data, value);
#endif
    std::cout << std::flush;
    display(data);
}

// Prints an exception caught in the session: "tg::Error: <message>" on stderr.
inline void report(const std::exception& e) {
    std::cout << std::flush;
    if (dynamic_cast<const tg::Error*>(&e) != nullptr) std::cerr << "tg::Error: " << e.what() << std::endl;
    else std::cerr << "exception: " << e.what() << std::endl;
}

// Runs `fn`, reports an exception instead of letting it end the session (an exception
// that leaves a top-level statement aborts clang-repl). Returns whether fn completed.
template <class F>
bool run(F&& fn) {
    try {
        std::forward<F>(fn)();
        return true;
    } catch (const std::exception& e) {
        report(e);
    } catch (...) {
        std::cout << std::flush;
        std::cerr << "unknown exception" << std::endl;
    }
    return false;
}

#ifndef TG_REPL_HOST  // (the host catches exceptions itself)
namespace detail {
// An exception that leaves a top-level statement ends clang-repl (std::terminate); say
// what it was and how to keep the session next time.
[[noreturn]] inline void on_terminate() {
    std::cout << std::flush;
    if (auto current = std::current_exception()) {
        try {
            std::rethrow_exception(current);
        } catch (const std::exception& e) {
            report(e);
        } catch (...) {
            std::cerr << "unknown exception" << std::endl;
        }
        std::cerr << "tools/repl: the exception left a top-level statement, which ends clang-repl;"
                     " wrap statements that may throw in TG_TRY(...)" << std::endl;
    }
    std::abort();
}
inline const std::terminate_handler previous_terminate = std::set_terminate(on_terminate);
}  // namespace detail
#endif

// Leaves the REPL at once, flushing the streams but skipping the destructors of the
// session's globals (a way out when a destructor misbehaves at exit).
[[noreturn]] inline void quit(int status = 0) {
    std::cout << std::flush;
    std::cerr << std::flush;
    std::_Exit(status);
}

}  // namespace tg::repl

using tg::repl::show;
#ifdef TG_REPL_HOST
using tg::repl::plot;
using tg::repl::show_images;
#endif

// TG_TRY(statements): runs top-level statements, reporting a thrown exception instead of
// ending the session. clang-repl 19 runs a top-level try (and can crash compiling a
// top-level lambda that instantiates a template); 16 crashes on a top-level try, so there
// the statements become a captureless lambda (the session's variables are globals).
#if __clang_major__ >= 17
#define TG_TRY(...) \
    try { __VA_ARGS__; } catch (const std::exception& tg_repl_error_) { tg::repl::report(tg_repl_error_); }
#else
#define TG_TRY(...) tg::repl::run([]() -> void { __VA_ARGS__; })
#endif
