#include "repl_display.hpp"

#include <png.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tapegrad/error.hpp"

namespace tg::repl {

namespace {

std::string escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.4g", v);
    return buffer;
}

// Indices shown along a dimension of `size`: all of them, or the first and last three
// with -1 marking the "..." gap (the printer abbreviates the same way).
std::vector<std::int64_t> shown(std::int64_t size, std::int64_t limit) {
    std::vector<std::int64_t> out;
    if (size <= limit) {
        for (std::int64_t i = 0; i < size; ++i) out.push_back(i);
        return out;
    }
    for (std::int64_t i = 0; i < 3; ++i) out.push_back(i);
    out.push_back(-1);
    for (std::int64_t i = size - 3; i < size; ++i) out.push_back(i);
    return out;
}

// A temporary directory removed when it goes out of scope.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tapegrad-plot-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw Error("plot: cannot create a temporary directory");
        path = pattern;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

std::string gnuplot_quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

void add_tensor_html(DisplayData& data, const Tensor& tensor) {
    if (!tensor.defined()) return;
    const Tensor values = tensor.detach().contiguous().to(kFloat64);
    const auto flat = values.to_vector<double>();
    const auto sizes = values.sizes().vec();
    const std::int64_t cols = sizes.empty() ? 1 : sizes.back();
    const std::int64_t rows = sizes.size() < 2 ? 1 : sizes[sizes.size() - 2];
    const std::int64_t matrices = cols * rows == 0 ? 0 : static_cast<std::int64_t>(flat.size()) / (rows * cols);

    // The printer's last line ("[ float32 [2, 3], grad_fn=... ]") is the caption.
    const std::string& text = data["text/plain"];
    const auto last_line = text.substr(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);

    std::ostringstream html;
    html << "<div class=\"tapegrad-tensor\">";
    const auto matrix_indices = shown(matrices, 6);
    for (std::int64_t m : matrix_indices) {
        if (m < 0) {
            html << "<div>&hellip;</div>";
            continue;
        }
        if (sizes.size() > 2) {  // label the matrix with its leading indices, e.g. [1, 0, :, :]
            std::vector<std::int64_t> lead(sizes.size() - 2);
            for (std::int64_t rest = m, d = static_cast<std::int64_t>(lead.size()) - 1; d >= 0; --d) {
                lead[d] = rest % sizes[d];
                rest /= sizes[d];
            }
            html << "<div style=\"font-family:monospace\">[";
            for (auto i : lead) html << i << ", ";
            html << ":, :]</div>";
        }
        html << "<table style=\"font-family:monospace;border-collapse:collapse\">";
        if (sizes.size() >= 1) {  // column indices as a header row
            html << "<tr><th></th>";
            for (auto c : shown(cols, 12)) html << "<th style=\"color:#888\">" << (c < 0 ? "&hellip;" : std::to_string(c)) << "</th>";
            html << "</tr>";
        }
        for (auto r : shown(rows, 12)) {
            html << "<tr><th style=\"color:#888\">" << (r < 0 ? "&vellip;" : sizes.size() >= 2 ? std::to_string(r) : "")
                 << "</th>";
            for (auto c : shown(cols, 12)) {
                html << "<td style=\"text-align:right;padding:1px 8px\">";
                if (r < 0 || c < 0) html << (r < 0 ? "&vellip;" : "&hellip;");
                else html << number(flat[static_cast<std::size_t>((m * rows + r) * cols + c)]);
                html << "</td>";
            }
            html << "</tr>";
        }
        html << "</table>";
    }
    html << "<div style=\"font-family:monospace;color:#666\">" << escaped(last_line) << "</div></div>";
    data["text/html"] = html.str();
}

std::string line_chart_png(const Series& series, const std::string& title, const std::string& xlabel,
                           const std::string& ylabel, int width, int height) {
    if (series.empty() || std::all_of(series.begin(), series.end(), [](const auto& s) { return s.second.empty(); }))
        throw Error("plot: no values to plot");
    ScratchDir dir;
    std::ostringstream script;
    script << "set terminal pngcairo size " << width << ',' << height << " enhanced font 'DejaVu Sans,10'\n"
           << "set output " << gnuplot_quoted((dir.path / "chart.png").string()) << "\n"
           << "set grid lc rgb '#dddddd'\nset border 3\nset tics nomirror\nset key top right\n"
           << "set title " << gnuplot_quoted(title) << "\nset xlabel " << gnuplot_quoted(xlabel)
           << "\nset ylabel " << gnuplot_quoted(ylabel) << "\nplot ";
    for (std::size_t s = 0; s < series.size(); ++s) {
        const auto file = dir.path / ("series" + std::to_string(s) + ".dat");
        std::ofstream out(file);
        for (std::size_t i = 0; i < series[s].second.size(); ++i) out << i + 1 << ' ' << series[s].second[i] << '\n';
        script << (s ? ", " : "") << gnuplot_quoted(file.string()) << " using 1:2 with linespoints lw 2 pt 7 ps 0.5 title "
               << (series[s].first.empty() ? "''" : gnuplot_quoted(series[s].first));
    }
    script << "\n";
    const auto script_file = dir.path / "chart.gp";
    std::ofstream(script_file) << script.str();

    const std::string command = "gnuplot " + gnuplot_quoted(script_file.string()) + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) throw Error("plot: cannot run gnuplot");
    std::string messages;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) messages += buffer;
    const int status = pclose(pipe);
    if (status != 0 || !std::filesystem::exists(dir.path / "chart.png")) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            throw Error("plot: gnuplot is not installed (Debian: apt-get install gnuplot-nox)");
        throw Error("plot: gnuplot failed: " + messages);
    }
    std::ifstream png(dir.path / "chart.png", std::ios::binary);
    return {std::istreambuf_iterator<char>(png), std::istreambuf_iterator<char>()};
}

std::string image_grid_png(const Tensor& images, std::int64_t columns, std::int64_t scale, int* width_out,
                           int* height_out) {
    const auto given = images.sizes().vec();  // [N, H, W] is read as [N, 1, H, W]
    const auto sizes = given.size() == 3 ? std::vector<std::int64_t>{given[0], 1, given[1], given[2]} : given;
    if (sizes.size() != 4 || (sizes[1] != 1 && sizes[1] != 3) || sizes[0] == 0)
        throw Error("show_images: expected images of shape [N, H, W], [N, 1, H, W] or [N, 3, H, W], got " +
                    [&] { std::ostringstream os; os << images.sizes(); return os.str(); }());
    if (columns < 1 || scale < 1) throw Error("show_images: columns and scale must be at least 1");
    const std::int64_t n = sizes[0], channels = sizes[1], h = sizes[2], w = sizes[3];
    const std::int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols, pad = 2;
    const std::int64_t width = cols * (w * scale + pad) + pad, height = rows * (h * scale + pad) + pad;
    if (width > 8192 || height > 8192) throw Error("show_images: the grid would exceed 8192 pixels; show fewer images");

    const auto values = images.detach().contiguous().to(kFloat64).to_vector<double>();
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    const double lo = *low, range = *high > *low ? *high - *low : 1.0;
    std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height * channels), 255);
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t x0 = pad + (i % cols) * (w * scale + pad), y0 = pad + (i / cols) * (h * scale + pad);
        for (std::int64_t c = 0; c < channels; ++c)
            for (std::int64_t y = 0; y < h * scale; ++y)
                for (std::int64_t x = 0; x < w * scale; ++x) {
                    const double v = values[static_cast<std::size_t>(((i * channels + c) * h + y / scale) * w + x / scale)];
                    const double level = std::isfinite(v) ? (v - lo) / range : 0.0;
                    pixels[static_cast<std::size_t>(((y0 + y) * width + x0 + x) * channels + c)] =
                        static_cast<std::uint8_t>(std::lround(255.0 * level));
                }
    }
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    image.width = static_cast<png_uint_32>(width);
    image.height = static_cast<png_uint_32>(height);
    image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr))
        throw Error(std::string("show_images: libpng: ") + image.message);
    std::string png(size, '\0');
    if (!png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr))
        throw Error(std::string("show_images: libpng: ") + image.message);
    png.resize(size);
    if (width_out) *width_out = static_cast<int>(width);
    if (height_out) *height_out = static_cast<int>(height);
    return png;
}

void plot(const std::vector<double>& values, const std::string& title, const std::string& xlabel,
          const std::string& ylabel) {
    plot(Series{{"", values}}, title, xlabel, ylabel);
}

void plot(const Series& series, const std::string& title, const std::string& xlabel, const std::string& ylabel) {
    std::size_t points = 0;
    for (const auto& s : series) points = std::max(points, s.second.size());
    display({{"image/png", line_chart_png(series, title, xlabel, ylabel)},
             {"text/plain", "<line chart" + (title.empty() ? "" : " \"" + title + "\"") + ": " +
                                std::to_string(series.size()) + (series.size() == 1 ? " series, " : " series, ") +
                                std::to_string(points) + " points>"}});
}

void show_images(const Tensor& images, std::int64_t columns, std::int64_t scale) {
    int width = 0, height = 0;
    std::string png = image_grid_png(images, columns, scale, &width, &height);
    std::ostringstream text;
    text << "<image grid: " << images.sizes() << ", " << width << "x" << height << " pixels>";
    display({{"image/png", std::move(png)}, {"text/plain", text.str()}});
}

}  // namespace tg::repl
