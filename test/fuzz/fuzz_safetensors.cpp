// libFuzzer target: tg::load_safetensors on arbitrary bytes (header JSON included). Every
// input must load or throw tg::Error, and what loads must save and load back the same.
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = tgfuzz::as_file(data, size, "input.safetensors");
    tg::NamedTensors loaded;
    tg::SafetensorsMetadata metadata;
    try {
        loaded = tg::load_safetensors(path, &metadata);
    } catch (const tg::Error&) {
        return 0;
    }
    tgfuzz::touch(loaded);
    tg::save_safetensors(loaded, path, metadata);
    const tg::NamedTensors again = tg::load_safetensors(path);
    if (again.size() != loaded.size()) std::abort();
    return 0;
}
