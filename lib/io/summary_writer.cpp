// SummaryWriter: tf.summary values encoded as Summary messages inside Events.
//
// Messages and field numbers (tensorflow/core/framework/summary.proto, tensor.proto):
//   Summary         value = 1 (repeated Value)
//   Summary.Value   tag = 1, simple_value = 2 (float), image = 4, histo = 5, tensor = 8,
//                   metadata = 9
//   Summary.Image   height = 1, width = 2, colorspace = 3, encoded_image_string = 4
//   HistogramProto  min = 1, max = 2, num = 3, sum = 4, sum_squares = 5 (doubles),
//                   bucket_limit = 6, bucket = 7 (packed doubles)
//   SummaryMetadata plugin_data = 1 (PluginData: plugin_name = 1, content = 2)
//   TensorProto     dtype = 1, tensor_shape = 2, string_val = 8
#include "tapegrad/summary.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "io/event_writer.hpp"
#include "io/graph_def.hpp"
#include "io/png.hpp"
#include "io/protobuf.hpp"
#include "tapegrad/variable_store.hpp"  // current_name_scope
#include "tensor/check.hpp"

namespace tg::summary {

using detail::EventFileWriter;
using detail::ProtoWriter;

namespace {

// TensorBoard's (and TF's core/lib/histogram) default bucket right edges: 0, then
// ±1e-12 · 1.1^k up to 1e20, and ±DBL_MAX at the ends; bucket i holds the values v with
// limit[i-1] <= v < limit[i].
const std::vector<double>& default_bucket_limits() {
    static const std::vector<double> limits = [] {
        std::vector<double> positive;
        for (double v = 1e-12; v < 1e20; v *= 1.1) positive.push_back(v);
        positive.push_back(DBL_MAX);
        std::vector<double> all;
        all.reserve(2 * positive.size() + 1);
        for (auto it = positive.rbegin(); it != positive.rend(); ++it) all.push_back(-*it);
        all.push_back(0.0);
        all.insert(all.end(), positive.begin(), positive.end());
        return all;
    }();
    return limits;
}

// TF-1's rule: a summary made inside tf.name_scope("a") is tagged "a/<tag>" (the course's
// variable_summaries logs "summaries/mean" this way). Module calls and variable_scope open
// name scopes too, so a tag logged inside them carries their path as well.
std::string scoped_tag(const std::string& tag) {
    const std::string scope = current_name_scope();
    return scope.empty() ? tag : scope + "/" + tag;
}

// Every add_* builds its Summary.Value here, so each one honours the name scope.
ProtoWriter value_with_tag(const std::string& tag) {
    ProtoWriter value;
    value.bytes_field(1, scoped_tag(tag));
    return value;
}

ProtoWriter summary_of(const ProtoWriter& value) {
    ProtoWriter summary;
    summary.message_field(1, value);
    return summary;
}

void check_tag(const std::string& tag, std::string_view op) {
    TG_CHECK(!tag.empty(), op, "the tag is empty");
}

}  // namespace

SummaryWriter::SummaryWriter(const std::string& logdir)
    : logdir_(logdir), file_(std::make_unique<EventFileWriter>(logdir)) {}

SummaryWriter::~SummaryWriter() = default;  // EventFileWriter's destructor flushes
SummaryWriter::SummaryWriter(SummaryWriter&&) noexcept = default;
SummaryWriter& SummaryWriter::operator=(SummaryWriter&&) noexcept = default;

const std::string& SummaryWriter::path() const {
    TG_CHECK(file_ != nullptr, "SummaryWriter", "moved-from writer has no file");
    return file_->path();
}

void SummaryWriter::add_scalar(const std::string& tag, double value, std::int64_t step,
                               std::optional<double> wall_time) {
    check_tag(tag, "add_scalar");
    ProtoWriter v = value_with_tag(tag);
    v.float_field(2, static_cast<float>(value));  // simple_value is a float in summary.proto
    file_->write_event(wall_time.value_or(detail::now_seconds()), step, detail::kEventSummary,
                       summary_of(v).bytes());
}

void SummaryWriter::add_scalars(const std::string& main_tag,
                                const std::map<std::string, double>& values, std::int64_t step,
                                std::optional<double> wall_time) {
    check_tag(main_tag, "add_scalars");
    std::string prefix = scoped_tag(main_tag);  // the children's add_scalar scope the tag itself
    std::replace(prefix.begin(), prefix.end(), '/', '_');
    const double time = wall_time.value_or(detail::now_seconds());
    for (const auto& [key, value] : values) {
        const std::string run = prefix + "_" + key;
        auto it = children_.find(run);
        if (it == children_.end())
            it = children_.emplace(run, std::make_unique<SummaryWriter>(logdir_ + "/" + run)).first;
        it->second->add_scalar(main_tag, value, step, time);
    }
}

void SummaryWriter::add_histogram(const std::string& tag, const Tensor& values, std::int64_t step,
                                  std::optional<double> wall_time) {
    constexpr std::string_view op = "add_histogram";
    check_tag(tag, op);
    tg::detail::check_defined(values, op);
    TG_CHECK(values.numel() > 0, op, "tag '{}': the tensor is empty (shape {})", tag,
             values.sizes());
    const std::vector<double> data = values.to_vector<double>();
    const std::vector<double>& limits = default_bucket_limits();
    std::vector<double> counts(limits.size(), 0.0);
    double min = data[0], max = data[0], sum = 0.0, sum_squares = 0.0;
    for (double v : data) {
        TG_CHECK(std::isfinite(v), op, "tag '{}': the tensor (shape {}) holds NaN or infinity",
                 tag, values.sizes());
        min = std::min(min, v);
        max = std::max(max, v);
        sum += v;
        sum_squares += v * v;
        const auto bucket = std::upper_bound(limits.begin(), limits.end(), v) - limits.begin();
        counts[static_cast<std::size_t>(bucket)] += 1.0;
    }
    // From the first to the last non-empty bucket, each run of empty buckets merged into
    // one (as TF's Histogram::EncodeToProto does): a few dozen buckets instead of 1,500.
    std::size_t first = 0, last = counts.size() - 1;
    while (counts[first] == 0.0) ++first;
    while (counts[last] == 0.0) --last;
    std::vector<double> bucket_limit, bucket;
    for (std::size_t i = first; i <= last; ++i) {
        if (counts[i] == 0.0 && !bucket.empty() && bucket.back() == 0.0) {
            bucket_limit.back() = limits[i];  // extend the empty run
            continue;
        }
        bucket_limit.push_back(limits[i]);
        bucket.push_back(counts[i]);
    }

    ProtoWriter histo;
    histo.double_field(1, min);
    histo.double_field(2, max);
    histo.double_field(3, static_cast<double>(data.size()));
    histo.double_field(4, sum);
    histo.double_field(5, sum_squares);
    histo.packed_doubles(6, bucket_limit);
    histo.packed_doubles(7, bucket);
    ProtoWriter v = value_with_tag(tag);
    v.message_field(5, histo);
    file_->write_event(wall_time.value_or(detail::now_seconds()), step, detail::kEventSummary,
                       summary_of(v).bytes());
}

void SummaryWriter::add_image(const std::string& tag, const Tensor& image, std::int64_t step,
                              std::optional<double> wall_time) {
    constexpr std::string_view op = "add_image";
    check_tag(tag, op);
    tg::detail::check_defined(image, op);
    TG_CHECK(image.dim() == 2 || image.dim() == 3, op,
             "tag '{}': expected an image of shape [C, H, W] or [H, W], got {}", tag, image.sizes());
    const std::int64_t channels = image.dim() == 3 ? image.size(0) : 1;
    const std::int64_t height = image.size(-2), width = image.size(-1);
    TG_CHECK(channels == 1 || channels == 3 || channels == 4, op,
             "tag '{}': shape {} has {} channels (expected 1, 3 or 4 in [C, H, W])", tag,
             image.sizes(), channels);
    TG_CHECK(height > 0 && width > 0 && height < (1 << 24) && width < (1 << 24), op,
             "tag '{}': shape {} is not a drawable image size", tag, image.sizes());
    const bool floating = image.is_floating_point();
    TG_CHECK(floating || image.dtype() == kInt64, op,
             "tag '{}': expected a floating tensor in [0, 1] or int64 in 0..255, got {}", tag,
             dtype_name(image.dtype()));
    const std::vector<double> data = image.to_vector<double>();  // C, H, W order
    // PNG rows interleave the channels: [H, W, C].
    std::vector<std::uint8_t> pixels(data.size());
    const std::int64_t plane = height * width;
    for (std::int64_t c = 0; c < channels; ++c) {
        for (std::int64_t p = 0; p < plane; ++p) {
            const double v = data[static_cast<std::size_t>(c * plane + p)];
            double byte;
            if (floating) {
                byte = std::isnan(v) ? 0.0 : std::round(std::clamp(v, 0.0, 1.0) * 255.0);
            } else {
                TG_CHECK(v >= 0 && v <= 255, op,
                         "tag '{}': int64 image (shape {}) holds {} (expected 0..255)", tag,
                         image.sizes(), static_cast<std::int64_t>(v));
                byte = v;
            }
            pixels[static_cast<std::size_t>(p * channels + c)] = static_cast<std::uint8_t>(byte);
        }
    }
    ProtoWriter img;
    img.int_field(1, height);
    img.int_field(2, width);
    img.int_field(3, channels);
    img.bytes_field(4, detail::encode_png(pixels.data(), static_cast<int>(width),
                                          static_cast<int>(height), static_cast<int>(channels)));
    ProtoWriter v = value_with_tag(tag);
    v.message_field(4, img);
    file_->write_event(wall_time.value_or(detail::now_seconds()), step, detail::kEventSummary,
                       summary_of(v).bytes());
}

void SummaryWriter::add_text(const std::string& tag, const std::string& text, std::int64_t step,
                             std::optional<double> wall_time) {
    check_tag(tag, "add_text");
    // The text plugin reads a string tensor whose metadata names the plugin; a scalar
    // (rank-0) tensor is rendered as one Markdown block.
    ProtoWriter plugin;
    plugin.bytes_field(1, "text");
    ProtoWriter metadata;
    metadata.message_field(1, plugin);
    ProtoWriter tensor;
    tensor.uint_field(1, detail::kTfString);
    tensor.message_field(2, ProtoWriter{});  // shape [] (a scalar)
    tensor.bytes_field(8, text);
    ProtoWriter v = value_with_tag(tag);
    v.message_field(9, metadata);
    v.message_field(8, tensor);
    file_->write_event(wall_time.value_or(detail::now_seconds()), step, detail::kEventSummary,
                       summary_of(v).bytes());
}

void SummaryWriter::add_graph(const Tensor& output, const NamedTensors& parameters,
                              std::optional<double> wall_time) {
    const std::string graph = detail::build_graph_def(output, parameters);
    file_->write_event(wall_time.value_or(detail::now_seconds()), 0, detail::kEventGraphDef, graph);
}

void SummaryWriter::add_graph(const jit::Graph& graph, std::optional<double> wall_time) {
    file_->write_event(wall_time.value_or(detail::now_seconds()), 0, detail::kEventGraphDef,
                       detail::build_graph_def(graph));
}

void SummaryWriter::flush() {
    file_->flush();
    for (auto& [run, child] : children_) child->flush();
}

void SummaryWriter::close() {
    file_->close();
    for (auto& [run, child] : children_) child->close();
}

}  // namespace tg::summary
