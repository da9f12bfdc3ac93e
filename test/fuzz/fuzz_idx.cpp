// libFuzzer target: tg::data::load_idx on arbitrary bytes, plain or gzip'd (zlib tells them
// apart by the magic). Every input must load or throw tg::Error, as int64 and as float.
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = tgfuzz::as_file(data, size, "input.idx");
    for (bool as_float : {false, true}) {
        try {
            tgfuzz::touch(tg::data::load_idx(path, as_float));
        } catch (const tg::Error&) {
        }
    }
    return 0;
}
