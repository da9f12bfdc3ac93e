// TensorBoard logging (TF-1's tf.summary + tf.summary.FileWriter; libtorch users know the
// shape from torch.utils.tensorboard.SummaryWriter). No Python or TensorFlow involved:
// the event files are written here, byte for byte (see docs/summaries.md).
//
//   tg::summary::SummaryWriter writer("runs/mlp");
//   writer.add_graph(loss, model.named_parameters());   // before loss.backward()
//   writer.add_scalar("loss", loss.item<double>(), step);
//   writer.add_histogram("fc1/weight", fc1->weight, step);
//   writer.add_image("input", images[0], step);          // CHW or HW, floats in [0, 1]
//
// then `tensorboard --logdir runs`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "tapegrad/serialize.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/export.hpp"

TG_PUBLIC_BEGIN

namespace tg::jit {
class Graph;
}

namespace tg::summary {

namespace detail {
class EventFileWriter;
}

// Writes one event file `events.out.tfevents.<seconds>.<hostname>[.<pid>.<n>]` in `logdir`
// (created like mkdir -p). Writes are buffered; flush() makes them durable (fsync); the
// destructor flushes and closes. Every method throws tg::Error naming the file on an I/O
// failure (unwritable logdir, full disk). `wall_time` is seconds since the Unix epoch;
// by default the current time.
class SummaryWriter {
public:
    explicit SummaryWriter(const std::string& logdir);
    ~SummaryWriter();
    SummaryWriter(SummaryWriter&&) noexcept;
    SummaryWriter& operator=(SummaryWriter&&) noexcept;
    SummaryWriter(const SummaryWriter&) = delete;
    SummaryWriter& operator=(const SummaryWriter&) = delete;

    // A point on the scalar curve `tag` (tf.summary.scalar).
    void add_scalar(const std::string& tag, double value, std::int64_t step,
                    std::optional<double> wall_time = std::nullopt);
    // Several curves on one chart: as torch.utils.tensorboard does, each key gets its own
    // run, the subdirectory `<logdir>/<main_tag>_<key>` ('/' in main_tag becomes '_'), and
    // the value is logged there under the tag `main_tag`.
    void add_scalars(const std::string& main_tag, const std::map<std::string, double>& values,
                     std::int64_t step, std::optional<double> wall_time = std::nullopt);
    // A histogram of every element of `values` (tf.summary.histogram), in TensorBoard's
    // default buckets: edges ±1e-12 · 1.1^k, and 0. NaN or infinity is an error.
    void add_histogram(const std::string& tag, const Tensor& values, std::int64_t step,
                       std::optional<double> wall_time = std::nullopt);
    // An image (tf.summary.image), PNG-encoded: shape [C, H, W] with C = 1 (gray),
    // 3 (RGB) or 4 (RGBA), or [H, W]; floating values in [0, 1] (clamped) or int64 in
    // 0..255.
    void add_image(const std::string& tag, const Tensor& image, std::int64_t step,
                   std::optional<double> wall_time = std::nullopt);
    // Text for the Text tab (tf.summary.text); Markdown is rendered there.
    void add_text(const std::string& tag, const std::string& text, std::int64_t step,
                  std::optional<double> wall_time = std::nullopt);
    // The eager tape behind `output` as a graph for the Graphs tab: one node per recorded
    // op (named by its scope / module path when it has one, else "<op>", "<op>_1", ...),
    // edges to its inputs, output shapes and dtype as attributes. Leaves that require grad
    // become "VariableV2" nodes named from `parameters` (dots become '/', so
    // "fc1.weight" shows as fc1/weight), else from tg::variable_scope's variables, else
    // Tensor::name(), else "Variable", "Variable_1", ... Call it before backward() (or
    // after backward with retain_graph), while the tape still exists.
    void add_graph(const Tensor& output, const NamedTensors& parameters = {},
                   std::optional<double> wall_time = std::nullopt);
    // A traced graph (tg::jit::trace) for the Graphs tab: placeholders, initializers (as
    // variables, dots as '/') and one node per op, named as in the graph (scope/kind_N).
    void add_graph(const jit::Graph& graph, std::optional<double> wall_time = std::nullopt);

    // Writes everything buffered and fsyncs, here and in add_scalars' writers.
    void flush();
    // Flushes and closes; later calls throw. The destructor does this too.
    void close();

    const std::string& logdir() const { return logdir_; }
    // The event file being written (full path).
    const std::string& path() const;

private:
    std::string logdir_;
    std::unique_ptr<detail::EventFileWriter> file_;
    // add_scalars' per-key writers, by subdirectory name.
    std::map<std::string, std::unique_ptr<SummaryWriter>> children_;
};

}  // namespace tg::summary

TG_PUBLIC_END
