// The display hook of tapegrad/display.hpp: one process-wide handler, set by the host.
#include "tapegrad/display.hpp"

#include <iostream>
#include <mutex>
#include <utility>

namespace tg {

namespace {
std::mutex handler_mutex;
DisplayHandler& installed_handler() {
    static DisplayHandler handler;
    return handler;
}
}  // namespace

void display(const DisplayData& data) {
    DisplayHandler handler;
    {
        std::lock_guard lock(handler_mutex);
        handler = installed_handler();
    }
    if (handler) {
        handler(data);
        return;
    }
    auto text = data.find("text/plain");
    if (text != data.end()) std::cout << text->second << std::endl;
}

DisplayHandler set_display_handler(DisplayHandler handler) {
    std::lock_guard lock(handler_mutex);
    return std::exchange(installed_handler(), std::move(handler));
}

}  // namespace tg
