#include "session.hpp"

#include <cxxabi.h>
#include <setjmp.h>
#include <signal.h>

#include <clang/Frontend/CompilerInstance.h>
#include <clang/Interpreter/Interpreter.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/TargetSelect.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <typeinfo>
#include <vector>

#include "tapegrad/error.hpp"
#include "tapegrad/interrupt.hpp"

namespace tg::interactive {

namespace {

// The first directory of `candidates` that holds `relative`.
std::string locate(const std::vector<std::string>& candidates, const std::string& relative) {
    for (const auto& dir : candidates)
        if (!dir.empty() && std::filesystem::exists(std::filesystem::path(dir) / relative)) return dir;
    throw std::runtime_error("tapegrad interactive: cannot find " + relative);
}

std::string demangled(const std::type_info& type) {
    int status = 0;
    char* name = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
    std::string result = status == 0 && name ? name : type.name();
    std::free(name);
    return result;
}

Outcome caught_exception() {
    try {
        throw;
    } catch (const tg::Interrupted& e) {
        return {Outcome::Kind::exception, "tg::Interrupted", e.what()};
    } catch (const tg::Error& e) {
        return {Outcome::Kind::exception, "tg::Error", e.what()};
    } catch (const std::exception& e) {
        return {Outcome::Kind::exception, demangled(typeid(e)), e.what()};
    } catch (...) {
        return {Outcome::Kind::exception, "unknown exception", "a value that is not a std::exception was thrown"};
    }
}

// A crash signal raised by the input's own code (a null or dangling pointer, runaway
// recursion, an integer division by zero, abort()) jumps back to the session instead of
// ending the process, as ROOT's prompt does: the input is abandoned and undone, and what
// was defined before stays. The jump skips the destructors of the crashed input's frames
// (what they owned leaks; a lock they held stays taken), so the message says a restart is
// the way out if the session misbehaves afterwards. Signals outside an input (the host
// itself, another thread) keep their default action.
constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
thread_local sigjmp_buf* crash_landing = nullptr;

extern "C" void on_crash_signal(int signal) {
    if (crash_landing != nullptr) siglongjmp(*crash_landing, signal);
    struct sigaction fallback {};
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(signal, &fallback, nullptr);
    raise(signal);
}

// Per thread: runaway recursion leaves no stack for the handler, so it runs on its own.
void install_crash_handlers() {
    thread_local std::vector<char> handler_stack;
    if (handler_stack.empty()) {
        handler_stack.resize(256 * 1024);
        stack_t stack {};
        stack.ss_sp = handler_stack.data();
        stack.ss_size = handler_stack.size();
        sigaltstack(&stack, nullptr);
    }
    struct sigaction action {};
    action.sa_handler = on_crash_signal;
    action.sa_flags = SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (int signal : kCrashSignals) sigaction(signal, &action, nullptr);
}

Outcome execute(clang::Interpreter& interpreter, clang::PartialTranslationUnit& unit) {
    try {
        tg::InterruptibleScope interruptible;  // Ctrl-C (request_interrupt) stops the input at its next op
        if (auto error = interpreter.Execute(unit))
            return {Outcome::Kind::compile_error, "LinkError", llvm::toString(std::move(error))};
    } catch (...) {
        return caught_exception();
    }
    return {};
}

// execute(), or the crash signal that ended it (0 if none). No object with a destructor
// lives in this frame between sigsetjmp and the jump back.
int execute_or_crash(clang::Interpreter& interpreter, clang::PartialTranslationUnit& unit, Outcome& outcome) {
    sigjmp_buf landing;
    if (const int signal = sigsetjmp(landing, /*savemask=*/1); signal != 0) {
        crash_landing = nullptr;
        return signal;
    }
    crash_landing = &landing;
    outcome = execute(interpreter, unit);
    crash_landing = nullptr;
    return 0;
}

Outcome crashed(int signal) {
    const char* abbreviation = sigabbrev_np(signal);
    return {Outcome::Kind::crash, std::string("SIG") + (abbreviation ? abbreviation : "?"),
            std::string("the input crashed (") + strsignal(signal) +
                ") and was abandoned; everything defined before it is intact (what the input "
                "itself held may have leaked: restart if the session misbehaves)"};
}

}  // namespace

Session::Session(const std::vector<std::string>& extra_args) {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();

    // Run from the build tree, the headers and prelude of the source tree (they match the
    // library beside it); installed, the copies installed beside the binary (wherever the
    // installation was staged or moved), then those of the configured prefix.
    std::error_code ignored;
    const auto binary_dir = std::filesystem::read_symlink("/proc/self/exe", ignored).parent_path();
    const bool in_build_tree = std::filesystem::equivalent(binary_dir, TG_BUILD_DIR, ignored);
    auto prefix = binary_dir;
    for (const auto& part : std::filesystem::path(TG_BINDIR)) {
        (void)part;
        prefix = prefix.parent_path();
    }
    const char* override_include = std::getenv("TG_INTERACTIVE_INCLUDE");
    const std::string include_dir =
        locate({override_include ? override_include : "", in_build_tree ? TG_SOURCE_INCLUDE_DIR : "",
                in_build_tree ? "" : (prefix / TG_INCLUDEDIR).string(), TG_INSTALLED_INCLUDE_DIR,
                TG_SOURCE_INCLUDE_DIR},
               "tapegrad/tapegrad.hpp");
    const std::string prelude_dir =
        locate({in_build_tree ? TG_SOURCE_PRELUDE_DIR : "", in_build_tree ? "" : (prefix / TG_PRELUDEDIR).string(),
                TG_INSTALLED_PRELUDE_DIR, TG_SOURCE_PRELUDE_DIR},
               "repl_prelude.hpp");

    std::vector<std::string> args = {"-std=c++20", "-fexceptions", "-fcxx-exceptions",
                                      "-resource-dir", TG_CLANG_RESOURCE_DIR, "-I" + include_dir,
                                      "-DTG_REPL_HOST=1", "-Wno-unused-value",
                                      // Parsed before the first input (as clang-repl's -include): not undoable,
                                      // and diagnostics do not say "In file included from <<< inputs >>>".
                                      "-include", prelude_dir + "/repl_prelude.hpp"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());

    clang::IncrementalCompilerBuilder builder;
    builder.SetCompilerArgs(argv);
    auto compiler = builder.CreateCpp();
    if (!compiler) throw std::runtime_error("clang: " + llvm::toString(compiler.takeError()));
    auto interpreter = clang::Interpreter::create(std::move(*compiler));
    if (!interpreter) throw std::runtime_error("clang: " + llvm::toString(interpreter.takeError()));
    interpreter_ = std::move(*interpreter);

    // Runs the prelude's initialisers now rather than with the first input.
    Outcome start = run("");
    if (!start.ok()) throw std::runtime_error("the REPL prelude failed: " + start.ename + ": " + start.evalue);
    user_inputs_ = 0;
}

Session::~Session() = default;

Outcome Session::run(const std::string& code) {
    // Parse failures remove their partial translation unit themselves; the diagnostics
    // have gone to stderr already.
    auto unit = interpreter_->Parse(code);
    if (!unit) {
        std::string message = llvm::toString(unit.takeError());
        return {Outcome::Kind::compile_error, "CompileError", message};
    }
    install_crash_handlers();
    Outcome outcome;
    if (const int signal = execute_or_crash(*interpreter_, *unit, outcome); signal != 0) outcome = crashed(signal);
    std::cout.flush();
    std::fflush(stdout);
    if (outcome.ok()) {
        ++user_inputs_;
        return outcome;
    }
    // The failed input goes, so `auto y = ...;` can be typed again after fixing it.
    if (auto error = interpreter_->Undo(1)) llvm::consumeError(std::move(error));
    return outcome;
}

bool Session::undo_last() {
    if (user_inputs_ == 0) return false;
    if (auto error = interpreter_->Undo(1)) {
        llvm::consumeError(std::move(error));
        return false;
    }
    --user_inputs_;
    return true;
}

bool input_complete(const std::string& code) {
    int depth = 0;
    enum { code_text, line_comment, block_comment, string_literal, char_literal } state = code_text;
    for (std::size_t i = 0; i < code.size(); ++i) {
        const char c = code[i];
        const char next = i + 1 < code.size() ? code[i + 1] : '\0';
        switch (state) {
        case code_text:
            if (c == '/' && next == '/') state = line_comment, ++i;
            else if (c == '/' && next == '*') state = block_comment, ++i;
            else if (c == '"') state = string_literal;
            else if (c == '\'' && !(i > 0 && std::isxdigit(static_cast<unsigned char>(code[i - 1]))))
                state = char_literal;  // (a quote after a digit separates digits: 1'000)
            else if (c == '(' || c == '[' || c == '{') ++depth;
            else if (c == ')' || c == ']' || c == '}') --depth;
            break;
        case line_comment:
            if (c == '\n') state = code_text;
            break;
        case block_comment:
            if (c == '*' && next == '/') state = code_text, ++i;
            break;
        case string_literal:
        case char_literal:
            if (c == '\\') ++i;
            else if (c == (state == string_literal ? '"' : '\'')) state = code_text;
            break;
        }
    }
    if (state == block_comment || depth > 0) return false;
    std::size_t end = code.find_last_not_of(" \t\r\n");
    return end == std::string::npos || code[end] != '\\';
}

void leave(int status) {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(status);
}

}  // namespace tg::interactive
