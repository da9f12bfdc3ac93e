// The tapegrad half of test/scripts/onnx_import_torch.sh: loads each model PyTorch
// exported (test/python/onnx_import_torch.py wrote DIR/NAME.onnx, its input and torch's
// output as raw float32, and a manifest line "name input_dims... | output_dims..."), runs it
// with tapegrad and requires max|tapegrad - torch| <= 1e-5 * max|torch|; then exports the
// imported graph again (export_model's ONNX), imports that and requires the same.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tapegrad/onnx.hpp"
#include "tapegrad/tapegrad.hpp"

using namespace tg;

namespace {

Tensor read_floats(const std::string& path, const Shape& shape) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> values(static_cast<std::size_t>(n));
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(n * 4));
    if (!in) throw Error("cannot read " + std::to_string(n) + " floats from " + path);
    return from_vector(values, shape);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    std::ifstream manifest(dir + "/manifest.txt");
    int failures = 0, models = 0;
    for (std::string line; std::getline(manifest, line);) {
        std::istringstream fields(line);
        std::string name, token;
        fields >> name;
        std::vector<std::int64_t> in_dims, out_dims;
        bool output_dims = false;
        while (fields >> token) {
            if (token == "|") output_dims = true;
            else (output_dims ? out_dims : in_dims).push_back(std::stoll(token));
        }
        ++models;
        try {
            const jit::Graph graph = onnx::load(dir + "/" + name + ".onnx");
            const Tensor x = read_floats(dir + "/" + name + ".in", Shape(in_dims));
            const Tensor expected = read_floats(dir + "/" + name + ".out", Shape(out_dims));
            const Tensor got = graph.run({{"input", x}})[0];
            const jit::Graph again = onnx::from_onnx(onnx::to_onnx(graph), name + " exported by tapegrad");
            const Tensor got_again = again.run({{"input", x}})[0];
            std::map<std::string, int> kinds;
            for (const auto& node : graph.nodes()) ++kinds[node.kind];
            std::string summary;
            for (const auto& [kind, count] : kinds) summary += " " + kind + (count > 1 ? "x" + std::to_string(count) : "");
            if (got.sizes() != expected.sizes()) {
                std::printf("FAIL %s: tapegrad's output has shape %s, torch's %s\n", name.c_str(), got.sizes().str().c_str(),
                            expected.sizes().str().c_str());
                ++failures;
                continue;
            }
            const std::vector<float> a = got.contiguous().to_vector<float>(), b = expected.to_vector<float>();
            const std::vector<float> c = got_again.contiguous().to_vector<float>();
            double max_diff = 0, max_ref = 0, again_diff = 0;
            for (std::size_t i = 0; i < a.size(); ++i) {
                max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
                max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
                if (i < c.size()) again_diff = std::max(again_diff, std::abs(static_cast<double>(c[i]) - b[i]));
            }
            const bool ok = max_diff <= 1e-5 * max_ref && c.size() == a.size() && again_diff <= 1e-5 * max_ref;
            std::printf("%s %s: %zu nodes (%s ), output %s, max|diff| %.3g, relative %.3g; re-exported and imported: "
                        "max|diff| %.3g\n",
                        ok ? "ok  " : "FAIL", name.c_str(), graph.nodes().size(), summary.c_str() + 1,
                        got.sizes().str().c_str(), max_diff, max_ref > 0 ? max_diff / max_ref : max_diff, again_diff);
            if (!ok) ++failures;
        } catch (const std::exception& e) {
            std::printf("FAIL %s: %s\n", name.c_str(), e.what());
            ++failures;
        }
    }
    if (models == 0) {
        std::printf("FAIL: no models in %s/manifest.txt\n", dir.c_str());
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
