// Rich renderings of the interactive hosts (tapegrad-repl, the Jupyter kernel): an HTML
// table for a tensor, line charts drawn by gnuplot and image grids encoded by libpng, each
// handed to tg::display as text/plain plus text/html or image/png. Defined in the host
// program (interactive/rich.cpp); the REPL prelude includes this header under
// TG_REPL_HOST, so interpreted code calls them and the JIT finds them in the host.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/display.hpp"
#include "tapegrad/tensor.hpp"

namespace tg::repl {

using Series = std::vector<std::pair<std::string, std::vector<double>>>;

// Adds text/html to `data`: the tensor as a table, abbreviated like the printer.
void add_tensor_html(DisplayData& data, const Tensor& tensor);
// Line charts: one series, or several named ones on shared axes (x = 1, 2, ...).
void plot(const std::vector<double>& values, const std::string& title = "", const std::string& xlabel = "",
          const std::string& ylabel = "");
void plot(const Series& series, const std::string& title = "", const std::string& xlabel = "",
          const std::string& ylabel = "");
// A grid of images: [N, H, W], [N, 1, H, W] or [N, 3, H, W]; values scaled from the
// batch's min..max to 0..255; `columns` images a row, each enlarged `scale` times.
void show_images(const Tensor& images, std::int64_t columns = 8, std::int64_t scale = 2);

// The PNG bytes behind plot and show_images (for hosts and tests).
std::string line_chart_png(const Series& series, const std::string& title, const std::string& xlabel,
                           const std::string& ylabel, int width = 640, int height = 360);
std::string image_grid_png(const Tensor& images, std::int64_t columns, std::int64_t scale, int* width = nullptr,
                           int* height = nullptr);

}  // namespace tg::repl
