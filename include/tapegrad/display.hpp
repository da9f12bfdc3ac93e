// tg::display: rich output for interactive hosts. A program hands a value's renderings
// (text/plain, text/html, image/png, ...) to tg::display; a host that shows them richly
// (the Jupyter kernel) installs a handler, and everywhere else the text/plain rendering
// goes to std::cout. So show(x) in a notebook gives an HTML table, in a terminal the
// printed tensor, and plain programs never need to know which.
//
//   tg::display({{"text/plain", "hello"}, {"text/html", "<b>hello</b>"}});
//   auto previous = tg::set_display_handler([](const tg::DisplayData& d) { ... });
#pragma once

#include <functional>
#include <map>
#include <string>

#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg {

// MIME type -> content. Text types hold the text itself; binary types (image/png) hold
// the raw bytes (a host that needs base64, as Jupyter does, encodes them).
using DisplayData = std::map<std::string, std::string>;
using DisplayHandler = std::function<void(const DisplayData&)>;

// Hands `data` to the installed handler; without one, writes data["text/plain"] and a
// newline to std::cout (nothing when there is no text/plain entry).
void display(const DisplayData& data);

// Installs `handler` (an empty one restores the default) and returns the previous one.
DisplayHandler set_display_handler(DisplayHandler handler);

}  // namespace tg

TG_PUBLIC_END
