// A C++ session on clang's incremental interpreter (clang::Interpreter, the library under
// clang-repl) with libtapegrad and the REPL prelude loaded. Each input either runs to the
// end or is undone: a compile error, a tg::Error or any other exception thrown by the input,
// or a crash signal its code raises (SIGSEGV, SIGFPE, SIGABRT, ...) is caught and reported, the failed input is removed from the interpreter (so its names
// can be declared again), and everything defined by earlier inputs stays alive.
// Shared by tapegrad-repl and the Jupyter kernel.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace clang {
class Interpreter;
}

namespace tg::interactive {

struct Outcome {
    enum class Kind { ok, compile_error, exception, crash };
    Kind kind = Kind::ok;
    std::string ename;   // "tg::Error", "std::out_of_range", "CompileError", "SIGSEGV", ...
    std::string evalue;  // the exception's what(), or the compiler's message

    bool ok() const { return kind == Kind::ok; }
};

class Session {
public:
    // Starts the interpreter (extra_args are compiler flags such as -O1) and runs the
    // prelude. Throws std::runtime_error when the interpreter or the prelude fails.
    explicit Session(const std::vector<std::string>& extra_args = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Compiles and runs one input (any number of declarations and statements).
    Outcome run(const std::string& code);
    // Removes the last successful input (its declarations; effects already done stay).
    bool undo_last();

private:
    std::unique_ptr<clang::Interpreter> interpreter_;
    std::size_t user_inputs_ = 0;  // successful inputs that undo_last may remove
};

// Whether `code` looks finished: brackets balanced outside strings and comments, no
// trailing backslash. A REPL keeps reading lines while it is not.
bool input_complete(const std::string& code);

// Writes everything buffered and leaves the process without running the session's
// static destructors (the interpreter's JIT-ed code may already be gone by then).
[[noreturn]] void leave(int status);

}  // namespace tg::interactive
