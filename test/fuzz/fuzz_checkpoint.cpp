// libFuzzer target: tg::load on arbitrary bytes. Every input must load or throw tg::Error,
// and what loads must save and load back to the same tensors.
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = tgfuzz::as_file(data, size, "input.tgckpt");
    tg::NamedTensors loaded;
    try {
        loaded = tg::load(path);
    } catch (const tg::Error&) {
        return 0;
    }
    tgfuzz::touch(loaded);
    tg::save(loaded, path);
    const tg::NamedTensors again = tg::load(path);
    if (again.size() != loaded.size()) std::abort();
    for (std::size_t i = 0; i < loaded.size(); ++i)
        if (again[i].first != loaded[i].first || again[i].second.sizes() != loaded[i].second.sizes()) std::abort();
    return 0;
}
