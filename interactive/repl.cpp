// tapegrad-repl: an interactive C++ prompt with tapegrad loaded that survives mistakes.
// Each input runs in the session of session.hpp: an error (compile error, tg::Error, any
// std::exception) is printed, the input is undone and every earlier definition stays.
//
//   tapegrad-repl                  # prompt with line editing and history (~/.tapegrad_history)
//   tapegrad-repl < session.cpp    # a scripted session: no prompt, exit status 0 at the end
//
// Input ends where its brackets balance (a function or a { block } may span lines; a
// trailing backslash continues a line). Commands: %quit, %undo (drop the last input), %help.
// Ctrl-C stops a running input at its next op (tg::Interrupted); at the prompt it does nothing.
#include <signal.h>
#include <unistd.h>

#include <llvm/LineEditor/LineEditor.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "session.hpp"
#include "tapegrad/display.hpp"
#include "tapegrad/interrupt.hpp"

namespace {

const char* const help_text =
    "C++ with tapegrad: declarations and statements run as they are entered.\n"
    "  show(x)         print a tensor, module, shape, named_parameters(), global_variables()\n"
    "  plot(values)    a line chart; show_images(batch) an image grid (PNG files here,\n"
    "                  inline in a notebook)\n"
    "  %undo           remove the last input's declarations\n"
    "  Ctrl-C          stop the running input at its next op (earlier definitions stay)\n"
    "  %quit, Ctrl-D   leave\n"
    "An input ends where its brackets balance; end a line with \\ to continue it.\n";

std::string trimmed(const std::string& s) {
    auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return "";
    auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

// Lines come from llvm::LineEditor (libedit: editing, history) at a terminal, from
// std::getline otherwise (no prompt is printed into a scripted session's output).
class LineSource {
public:
    LineSource() : interactive_(isatty(0) && isatty(1)) {
        if (!interactive_) return;
        std::string history;
        if (const char* home = std::getenv("HOME")) history = std::string(home) + "/.tapegrad_history";
        editor_.emplace("tapegrad-repl", history);
    }
    ~LineSource() { save(); }
    void save() {
        if (editor_) editor_->saveHistory();
    }
    std::optional<std::string> read(bool continuation) {
        if (editor_) {
            editor_->setPrompt(continuation ? "...> " : "tg> ");
            return editor_->readLine();
        }
        std::string line;
        if (!std::getline(std::cin, line)) return std::nullopt;
        return line;
    }
    bool interactive() const { return interactive_; }

private:
    bool interactive_;
    std::optional<llvm::LineEditor> editor_;
};

extern "C" void on_sigint(int) { tg::request_interrupt(); }

// SIGINT asks the running input to stop (the session runs it in a tg::InterruptibleScope);
// SA_RESTART keeps the line editor's read going, so Ctrl-C at the prompt is harmless.
void handle_ctrl_c() {
    struct sigaction action {};
    action.sa_handler = on_sigint;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
}

// A terminal shows text: images (plot, show_images) go to PNG files, named after the text.
void write_images_to_files() {
    tg::set_display_handler([images_written = 0](const tg::DisplayData& data) mutable {
        auto text = data.find("text/plain");
        if (text != data.end()) std::cout << text->second;
        auto png = data.find("image/png");
        if (png != data.end()) {
            const char* tmp = std::getenv("TMPDIR");
            const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/tapegrad-repl-" +
                                     std::to_string(getpid()) + "-" + std::to_string(++images_written) + ".png";
            std::ofstream(path, std::ios::binary) << png->second;
            std::cout << (text != data.end() ? " " : "") << "-> " << path;
        }
        std::cout << std::endl;
    });
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> compiler_args(argv + 1, argv + argc);  // e.g. -O1
    LineSource lines;
    std::optional<tg::interactive::Session> session;
    try {
        session.emplace(compiler_args);
    } catch (const std::exception& e) {
        std::cerr << "tapegrad-repl: " << e.what() << std::endl;
        return 1;
    }
    write_images_to_files();
    handle_ctrl_c();
    if (lines.interactive()) std::cerr << "tapegrad-repl: C++20 with tapegrad; %help, %quit or Ctrl-D ends" << std::endl;

    std::string input;
    while (auto line = lines.read(!input.empty())) {
        if (input.empty()) {
            const std::string command = trimmed(*line);
            if (command.empty()) continue;
            if (command == "%quit" || command == "%q" || command == "exit" || command == "quit") break;
            if (command == "%help") {
                std::cout << help_text << std::flush;
                continue;
            }
            if (command == "%undo") {
                std::cerr << (session->undo_last() ? "undone" : "nothing to undo") << std::endl;
                continue;
            }
        }
        input += *line;
        input += '\n';
        if (!tg::interactive::input_complete(input)) continue;
        const auto outcome = session->run(input);
        input.clear();
        if (outcome.kind == tg::interactive::Outcome::Kind::exception ||
            outcome.kind == tg::interactive::Outcome::Kind::crash)
            std::cerr << outcome.ename << ": " << outcome.evalue << std::endl;
        else if (outcome.kind == tg::interactive::Outcome::Kind::compile_error && outcome.ename == "LinkError")
            std::cerr << outcome.evalue << std::endl;  // (compile errors printed their diagnostics)
    }
    if (!input.empty()) std::cerr << "tapegrad-repl: the last input was left unfinished (unbalanced brackets)" << std::endl;
    lines.save();
    tg::interactive::leave(0);
}
