// SummaryWriter: what lands on disk is checked without the project's writer code. The
// TFRecord framing is split here and both masked CRC32Cs are checked with this file's own
// bitwise CRC32C (itself checked against RFC 3720's vectors); every record's payload is
// decoded by protoc --decode_raw (Debian's protobuf-compiler), an independent protobuf
// decoder, and the fields are asserted by TensorFlow's field numbers.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "../tools/tfrecord_framing.hpp"
#include "test_support.hpp"

// The project's CRC32C (lib/io/crc32c.hpp, not a public header): checked against the RFC
// vectors directly, besides through the records' CRCs.
namespace tg::summary::detail {
std::uint32_t crc32c(const void* data, std::size_t size);
}

namespace fs = std::filesystem;

namespace {

// ---- an independent CRC32C, bit by bit (tools/tfrecord_framing.hpp, shared with tbplot) ----
using tfrecord::bitwise_crc32c;
using tfrecord::masked;
using tfrecord::read_le;

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Splits a TFRecord file into its payloads, REQUIRE-ing both masked CRCs of each record.
std::vector<std::string> split_records(const std::string& file) {
    std::vector<std::string> records;
    std::size_t pos = 0;
    while (pos < file.size()) {
        REQUIRE(pos + 12 <= file.size());
        const std::uint64_t length = read_le(file, pos, 8);
        REQUIRE(read_le(file, pos + 8, 4) == masked(bitwise_crc32c(file.substr(pos, 8))));
        REQUIRE(pos + 12 + length + 4 <= file.size());
        std::string data = file.substr(pos + 12, length);
        REQUIRE(read_le(file, pos + 12 + length, 4) == masked(bitwise_crc32c(data)));
        records.push_back(std::move(data));
        pos += 12 + length + 4;
    }
    return records;
}

// ---- protoc --decode_raw output as a tree ----------------------------------------------
// Lines are `N: value` (varint as decimal, fixed64/fixed32 as 0x-hex, bytes as a C-escaped
// string) or `N {` ... `}` for bytes that parse as a message. A string whose bytes happen
// to parse as a message would show as a message: the strings used below start with bytes
// that cannot begin a message (or are checked to come out as strings).
struct Msg {
    struct Entry {
        int field;
        std::string scalar;         // as printed, when not a message
        std::shared_ptr<Msg> msg;  // when the bytes parsed as a message
    };
    std::vector<Entry> entries;  // in file order

    std::vector<std::string> all(int field) const;  // string-ish fields, see text()
    bool has(int field) const {
        return std::any_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.field == field; });
    }
    std::string scalar(int field) const {
        std::vector<std::string> values;
        for (const auto& e : entries)
            if (e.field == field && !e.msg) values.push_back(e.scalar);
        INFO("field " << field);
        REQUIRE(values.size() == 1);
        return values[0];
    }
    // A bytes/string field: its bytes whether protoc printed it as a string or (because
    // the bytes happened to parse) as a message.
    std::string text(int field) const {
        auto values = all(field);
        INFO("field " << field);
        REQUIRE(values.size() == 1);
        return values[0];
    }
    std::vector<std::shared_ptr<Msg>> msgs(int field) const {
        std::vector<std::shared_ptr<Msg>> out;
        for (const auto& e : entries)
            if (e.field == field && e.msg) out.push_back(e.msg);
        return out;
    }
    const Msg& msg(int field) const {
        auto values = msgs(field);
        INFO("message field " << field);
        REQUIRE(values.size() == 1);
        return *values[0];
    }
};

std::string unescape(const std::string& quoted) {
    REQUIRE(quoted.size() >= 2);
    REQUIRE(quoted.front() == '"');
    REQUIRE(quoted.back() == '"');
    std::string out;
    for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
        char c = quoted[i];
        if (c != '\\') {
            out.push_back(c);
            continue;
        }
        c = quoted[++i];
        if (c >= '0' && c <= '7') {
            int v = 0, digits = 0;
            while (digits < 3 && quoted[i] >= '0' && quoted[i] <= '7') v = v * 8 + (quoted[i++] - '0'), ++digits;
            --i;
            out.push_back(static_cast<char>(v));
        } else if (c == 'n') {
            out.push_back('\n');
        } else if (c == 'r') {
            out.push_back('\r');
        } else if (c == 't') {
            out.push_back('\t');
        } else {
            out.push_back(c);  // \" \' \\ .
        }
    }
    return out;
}

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) out.push_back(static_cast<char>((v & 0x7F) | 0x80)), v >>= 7;
    out.push_back(static_cast<char>(v));
}

// The bytes of a message as decode_raw printed it: varints in decimal, fixed32/fixed64
// as 0x + 8/16 hex digits, length-delimited as a string or a nested message.
std::string reencode(const Msg& m) {
    std::string out;
    for (const auto& e : m.entries) {
        const auto key = static_cast<std::uint64_t>(e.field) << 3;
        if (e.msg) {
            const std::string body = reencode(*e.msg);
            put_varint(out, key | 2);
            put_varint(out, body.size());
            out += body;
        } else if (e.scalar.front() == '"') {
            const std::string body = unescape(e.scalar);
            put_varint(out, key | 2);
            put_varint(out, body.size());
            out += body;
        } else if (e.scalar.rfind("0x", 0) == 0) {
            const bool fixed64 = e.scalar.size() == 18;
            REQUIRE((fixed64 || e.scalar.size() == 10));
            put_varint(out, key | (fixed64 ? 1 : 5));
            const std::uint64_t v = std::stoull(e.scalar, nullptr, 16);
            for (int i = 0; i < (fixed64 ? 8 : 4); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
        } else {
            put_varint(out, key);
            put_varint(out, std::stoull(e.scalar));
        }
    }
    return out;
}

std::vector<std::string> Msg::all(int field) const {
    std::vector<std::string> out;
    for (const auto& e : entries) {
        if (e.field != field) continue;
        out.push_back(e.msg ? reencode(*e.msg) : unescape(e.scalar));
    }
    return out;
}

std::shared_ptr<Msg> decode_raw(const std::string& payload) {
    char tmpl[] = "/tmp/tg_summary_record_XXXXXX";
    const int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, payload.data(), payload.size()) == static_cast<ssize_t>(payload.size()));
    close(fd);
    const std::string command = std::string("protoc --decode_raw < ") + tmpl + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string text;
    char chunk[4096];
    std::size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0) text.append(chunk, n);
    const int status = pclose(pipe);
    fs::remove(tmpl);
    INFO("protoc --decode_raw said:\n" << text);
    REQUIRE(status == 0);

    auto root = std::make_shared<Msg>();
    std::vector<std::shared_ptr<Msg>> stack{root};
    std::istringstream lines(text);
    std::string line;
    const std::regex open_re(R"(^\s*(\d+) \{$)"), close_re(R"(^\s*\}$)"), scalar_re(R"(^\s*(\d+): (.*)$)");
    std::smatch m;
    while (std::getline(lines, line)) {
        if (std::regex_match(line, m, open_re)) {
            auto child = std::make_shared<Msg>();
            stack.back()->entries.push_back({std::stoi(m[1]), {}, child});
            stack.push_back(child);
        } else if (std::regex_match(line, m, close_re)) {
            stack.pop_back();
            REQUIRE(!stack.empty());
        } else if (std::regex_match(line, m, scalar_re)) {
            stack.back()->entries.push_back({std::stoi(m[1]), m[2], nullptr});
        } else {
            FAIL("unexpected protoc output line: " << line);
        }
    }
    REQUIRE(stack.size() == 1);
    return root;
}

bool have_protoc() { return std::system("protoc --version > /dev/null 2>&1") == 0; }

double as_double(const std::string& hex) {
    REQUIRE(hex.rfind("0x", 0) == 0);
    return std::bit_cast<double>(static_cast<std::uint64_t>(std::stoull(hex, nullptr, 16)));
}
float as_float(const std::string& hex) {
    REQUIRE(hex.rfind("0x", 0) == 0);
    return std::bit_cast<float>(static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16)));
}
std::vector<double> packed_doubles(const std::string& bytes) {
    REQUIRE(bytes.size() % 8 == 0);
    std::vector<double> out;
    for (std::size_t i = 0; i < bytes.size(); i += 8) out.push_back(std::bit_cast<double>(read_le(bytes, i, 8)));
    return out;
}

using tgtest::TempDir;

std::vector<fs::path> event_files(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().filename().string().find("tfevents") != std::string::npos)
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

// All events of the single event file in `dir`, decoded; checks the header event first.
std::vector<std::shared_ptr<Msg>> read_events(const fs::path& dir) {
    REQUIRE(have_protoc());
    auto files = event_files(dir);
    REQUIRE(files.size() == 1);
    auto records = split_records(read_file(files[0]));
    REQUIRE(!records.empty());
    std::vector<std::shared_ptr<Msg>> events;
    for (const auto& r : records) events.push_back(decode_raw(r));
    const Msg& header = *events[0];
    CHECK(header.text(3) == "brain.Event:2");
    CHECK(as_double(header.scalar(1)) > 1.5e9);  // a wall time in seconds, after 2017
    events.erase(events.begin());
    return events;
}

// Summary.Value of a summary event (Event.summary = 5, Summary.value = 1).
const Msg& summary_value(const Msg& event) { return event.msg(5).msg(1); }

}  // namespace

TEST_CASE("protoc is installed (Debian: protobuf-compiler)") {
    INFO("these tests decode event files with `protoc --decode_raw`: apt-get install protobuf-compiler");
    REQUIRE(have_protoc());
}

TEST_CASE("CRC32C matches RFC 3720's test vectors") {
    const std::string zeros(32, '\0'), ones(32, '\xff');
    std::string ascending, descending;
    for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
    for (int i = 31; i >= 0; --i) descending.push_back(static_cast<char>(i));
    // The checker first: RFC 3720 B.4.
    CHECK(bitwise_crc32c(zeros) == 0x8a9136aau);
    CHECK(bitwise_crc32c(ones) == 0x62a8ab43u);
    CHECK(bitwise_crc32c(ascending) == 0x46dd794eu);
    CHECK(bitwise_crc32c(descending) == 0x113fdb5cu);
    CHECK(bitwise_crc32c("123456789") == 0xe3069283u);  // the usual check value
    // Then the project's table-driven one.
    for (const std::string& s : {zeros, ones, ascending, descending, std::string("123456789"), std::string()})
        CHECK(tg::summary::detail::crc32c(s.data(), s.size()) == bitwise_crc32c(s));
}

TEST_CASE("scalars: file name, header event, tags, steps, values, wall time") {
    TempDir dir;
    const fs::path logdir = dir.path / "run" / "nested";  // created like mkdir -p
    {
        tg::summary::SummaryWriter writer(logdir.string());
        writer.add_scalar("loss", 0.5, 1);
        writer.add_scalar("loss", 0.25, 2, 1234.5);
        writer.add_scalar("accuracy", 0.875, -3);
        writer.flush();
        // Flushed: readable before the writer closes.
        auto events = read_events(logdir);
        REQUIRE(events.size() == 3);
        writer.add_scalar("late", 1.0, 4);  // written by the destructor's close
    }
    auto files = event_files(logdir);
    REQUIRE(files.size() == 1);
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const std::regex name_re("events\\.out\\.tfevents\\.(\\d+)\\.(.*)");
    std::smatch m;
    const std::string name = files[0].filename().string();
    REQUIRE(std::regex_match(name, m, name_re));
    CHECK(m[2] == std::string(host));
    const auto seconds = std::stoll(m[1]);
    CHECK(std::abs(static_cast<double>(seconds) - static_cast<double>(time(nullptr))) < 60);

    auto events = read_events(logdir);
    REQUIRE(events.size() == 4);
    CHECK(events[0]->scalar(2) == "1");
    CHECK(summary_value(*events[0]).text(1) == "loss");
    CHECK(as_float(summary_value(*events[0]).scalar(2)) == 0.5f);
    CHECK(std::abs(as_double(events[0]->scalar(1)) - static_cast<double>(time(nullptr))) < 60);
    CHECK(events[1]->scalar(2) == "2");
    CHECK(as_double(events[1]->scalar(1)) == 1234.5);
    CHECK(as_float(summary_value(*events[1]).scalar(2)) == 0.25f);
    // int64 is not zigzagged: -3 is its two's complement as a 64-bit varint.
    CHECK(events[2]->scalar(2) == "18446744073709551613");
    CHECK(summary_value(*events[2]).text(1) == "accuracy");
    CHECK(as_float(summary_value(*events[2]).scalar(2)) == 0.875f);
    CHECK(summary_value(*events[3]).text(1) == "late");
}

TEST_CASE("add_scalars: one run directory per key, logged under the main tag") {
    TempDir dir;
    tg::summary::SummaryWriter writer(dir.path.string());
    writer.add_scalars("loss/all", {{"train", 0.75}, {"test", 1.5}}, 7);
    writer.add_scalars("loss/all", {{"train", 0.5}}, 8);
    writer.flush();
    auto train = read_events(dir.path / "loss_all_train");
    auto test = read_events(dir.path / "loss_all_test");
    REQUIRE(train.size() == 2);
    REQUIRE(test.size() == 1);
    CHECK(summary_value(*train[0]).text(1) == "loss/all");
    CHECK(as_float(summary_value(*train[0]).scalar(2)) == 0.75f);
    CHECK(train[0]->scalar(2) == "7");
    CHECK(as_float(summary_value(*train[1]).scalar(2)) == 0.5f);
    CHECK(train[1]->scalar(2) == "8");
    CHECK(as_float(summary_value(*test[0]).scalar(2)) == 1.5f);
    CHECK(read_events(dir.path).empty());  // the parent run has its header only
}

TEST_CASE("tags take the current name scope, as tf.summary does inside tf.name_scope") {
    TempDir dir;
    {
        tg::summary::SummaryWriter writer(dir.path.string());
        // The course's variable_summaries: tf.name_scope("summaries") then scalar("mean", ...).
        {
            tg::name_scope summaries("summaries");
            writer.add_scalar("mean", 0.5, 1);
            writer.add_histogram("histogram", tg::tensor({1.0, 2.0}), 1);
            {
                tg::name_scope inner("stddev");
                writer.add_text("note", "nested", 1);
            }
            writer.add_image("image", tg::zeros({2, 2}), 1);
            writer.add_scalars("loss", {{"train", 0.25}}, 1);
        }
        writer.add_scalar("mean", 0.75, 2);  // outside every scope: unchanged
        {
            tg::variable_scope layer("layer1");  // opens a name scope too, as in TF-1
            writer.add_scalar("max", 3.0, 3);
        }
    }
    auto events = read_events(dir.path);
    REQUIRE(events.size() == 6);
    CHECK(summary_value(*events[0]).text(1) == "summaries/mean");
    CHECK(as_float(summary_value(*events[0]).scalar(2)) == 0.5f);
    CHECK(summary_value(*events[1]).text(1) == "summaries/histogram");
    CHECK(summary_value(*events[2]).text(1) == "summaries/stddev/note");
    CHECK(summary_value(*events[3]).text(1) == "summaries/image");
    CHECK(summary_value(*events[4]).text(1) == "mean");
    CHECK(summary_value(*events[5]).text(1) == "layer1/max");
    auto train = read_events(dir.path / "summaries_loss_train");
    REQUIRE(train.size() == 1);
    CHECK(summary_value(*train[0]).text(1) == "summaries/loss");
}

TEST_CASE("add_histogram: statistics and TensorBoard's default buckets") {
    TempDir dir;
    {
        tg::summary::SummaryWriter writer(dir.path.string());
        // A non-contiguous float64 view: the transpose of [[-1, 0.5, 3], [0, 0.5, 2e-12]].
        tg::Tensor base = tg::tensor({{-1.0, 0.5, 3.0}, {0.0, 0.5, 2e-12}}, tg::kFloat64);
        writer.add_histogram("weights", base.t(), 5);
        REQUIRE_TG_ERROR(writer.add_histogram("bad", tg::tensor({1.0, NAN}), 5), "add_histogram",
                         "bad", "NaN");
        REQUIRE_TG_ERROR(writer.add_histogram("empty", tg::zeros({0, 3}), 5), "add_histogram",
                         "[0, 3]");
    }
    auto events = read_events(dir.path);
    REQUIRE(events.size() == 1);
    CHECK(events[0]->scalar(2) == "5");
    const Msg& value = summary_value(*events[0]);
    CHECK(value.text(1) == "weights");
    const Msg& histo = value.msg(5);
    CHECK(as_double(histo.scalar(1)) == -1.0);
    CHECK(as_double(histo.scalar(2)) == 3.0);
    CHECK(as_double(histo.scalar(3)) == 6.0);
    CHECK(as_double(histo.scalar(4)) == Approx(-1.0 + 0.5 + 3.0 + 0.0 + 0.5 + 2e-12));
    CHECK(as_double(histo.scalar(5)) == Approx(1.0 + 0.25 + 9.0 + 0.25));
    const auto limits = packed_doubles(histo.text(6));
    const auto counts = packed_doubles(histo.text(7));
    REQUIRE(limits.size() == counts.size());
    REQUIRE(!limits.empty());
    double total = 0;
    for (double c : counts) total += c;
    CHECK(total == 6.0);
    // Every edge is 0 or ±1e-12 · 1.1^k, increasing.
    for (std::size_t i = 0; i < limits.size(); ++i) {
        if (i > 0) CHECK(limits[i] > limits[i - 1]);
        if (limits[i] == 0.0) continue;
        const double k = std::log(std::abs(limits[i]) / 1e-12) / std::log(1.1);
        INFO("limit " << limits[i] << " k " << k);
        CHECK(std::abs(k - std::round(k)) < 1e-6);
    }
    // A value v is counted in the first bucket whose right edge exceeds it: check each
    // distinct value's bucket against edges computed here, the smallest ±1e-12·1.1^k > v.
    auto right_edge = [](double v) {
        if (v < 0) {  // the negative edges are -1e-12·1.1^k: the largest k with -edge > v
            double e = 1e-12, best = 0;
            while (-e > v) best = -e, e *= 1.1;
            return best;
        }
        double e = 1e-12;
        while (e <= v) e *= 1.1;
        return e;
    };
    std::map<double, double> expected = {{-1.0, 1}, {0.0, 1}, {2e-12, 1}, {0.5, 2}, {3.0, 1}};
    for (const auto& [v, n] : expected) {
        const double edge = right_edge(v);
        INFO("value " << v << " expected right edge " << edge);
        auto it = std::find_if(limits.begin(), limits.end(),
                               [&](double l) { return std::abs(l - edge) <= 1e-9 * std::abs(edge); });
        REQUIRE(it != limits.end());
        CHECK(counts[static_cast<std::size_t>(it - limits.begin())] == n);
        CHECK(edge > v);
        if (v >= 0) CHECK(edge / 1.1 <= std::max(v, 1e-12));
    }
    // Non-empty buckets: exactly these five; the others are merged empty runs.
    CHECK(std::count_if(counts.begin(), counts.end(), [](double c) { return c > 0; }) == 5);
    for (std::size_t i = 1; i < counts.size(); ++i) CHECK(!(counts[i] == 0 && counts[i - 1] == 0));
}

TEST_CASE("add_image: PNG signature, size and colour type") {
    TempDir dir;
    {
        tg::summary::SummaryWriter writer(dir.path.string());
        tg::Tensor rgb = tg::rand({3, 2, 4});
        writer.add_image("input/rgb", rgb, 1);
        tg::Tensor gray = tg::arange(0, 15, 1, tg::kInt64).reshape({3, 5}).mul_(17.0);
        writer.add_image("input/gray", gray, 2);
        REQUIRE_TG_ERROR(writer.add_image("x", tg::zeros({5, 2, 2}), 1), "add_image", "[5, 2, 2]",
                         "channels");
        REQUIRE_TG_ERROR(writer.add_image("x", tg::full({2, 2}, 300, tg::kInt64), 1), "add_image",
                         "300", "0..255");
        REQUIRE_TG_ERROR(writer.add_image("x", tg::zeros({2}), 1), "add_image", "[2]");
    }
    auto events = read_events(dir.path);
    REQUIRE(events.size() == 2);
    struct Expect { const char* tag; int width, height, channels, color_type; };
    const Expect expect[] = {{"input/rgb", 4, 2, 3, 2}, {"input/gray", 5, 3, 1, 0}};
    for (int i = 0; i < 2; ++i) {
        const Msg& value = summary_value(*events[i]);
        CHECK(value.text(1) == expect[i].tag);
        const Msg& image = value.msg(4);
        CHECK(image.scalar(1) == std::to_string(expect[i].height));
        CHECK(image.scalar(2) == std::to_string(expect[i].width));
        CHECK(image.scalar(3) == std::to_string(expect[i].channels));
        const std::string png = image.text(4);
        REQUIRE(png.size() > 33);
        CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
        CHECK(png.substr(12, 4) == "IHDR");
        auto be32 = [&](std::size_t pos) {
            std::uint32_t v = 0;
            for (int k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(png[pos + k]);
            return v;
        };
        CHECK(be32(16) == static_cast<std::uint32_t>(expect[i].width));
        CHECK(be32(20) == static_cast<std::uint32_t>(expect[i].height));
        CHECK(static_cast<int>(png[24]) == 8);  // bit depth
        CHECK(static_cast<int>(png[25]) == expect[i].color_type);
        CHECK(png.substr(png.size() - 8, 4) == "IEND");
    }
}

TEST_CASE("add_text: a string tensor for the text plugin") {
    TempDir dir;
    {
        tg::summary::SummaryWriter writer(dir.path.string());
        writer.add_text("notes", "good *markdown* here", 3);
    }
    auto events = read_events(dir.path);
    REQUIRE(events.size() == 1);
    CHECK(events[0]->scalar(2) == "3");
    const Msg& value = summary_value(*events[0]);
    CHECK(value.text(1) == "notes");
    CHECK(value.msg(9).msg(1).text(1) == "text");
    const Msg& tensor = value.msg(8);
    CHECK(tensor.scalar(1) == "7");  // DT_STRING
    CHECK(tensor.text(8) == "good *markdown* here");
}

namespace {
struct GraphNode {
    std::string op;
    std::vector<std::string> inputs;
    std::map<std::string, const Msg*> attrs;
};
}  // namespace

TEST_CASE("add_graph: the tape as a GraphDef with variables, edges and shapes") {
    TempDir dir;
    tg::Tensor x = tg::rand({2, 3});                              // data: no grad, no node
    tg::Tensor w = tg::rand({3, 4}).requires_grad_();             // named by the caller
    tg::Tensor b = tg::zeros({4}).requires_grad_();
    b.set_name("bias");                                           // named by Tensor::name
    tg::Tensor c = tg::ones({1}).requires_grad_();                // unnamed
    tg::Tensor r = tg::relu(tg::mm(x, w) + b);
    tg::Tensor out = (r * r).sum() * c;
    {
        tg::summary::SummaryWriter writer(dir.path.string());
        writer.add_graph(out, {{"fc1.weight", w}, {"", b}});
        REQUIRE_TG_ERROR(writer.add_graph(x, {}), "add_graph", "[2, 3]", "no grad_fn");
        tg::Tensor once = (w * 2.0).sum();
        once.backward();
        REQUIRE_TG_ERROR(writer.add_graph(once, {}), "add_graph", "backward");
    }
    auto events = read_events(dir.path);
    REQUIRE(events.size() == 1);
    CHECK(events[0]->scalar(2) == "0");
    // Event.graph_def = 4 holds GraphDef bytes; decode_raw shows them as a nested message.
    const Msg& graph = events[0]->msg(4);
    CHECK(graph.msg(4).scalar(1) == "22");  // versions.producer
    std::map<std::string, GraphNode> nodes;
    std::vector<std::string> order;
    for (const auto& def : graph.msgs(1)) {
        GraphNode node;
        const std::string name = def->text(1);
        node.op = def->text(2);
        node.inputs = def->all(3);
        for (const auto& entry : def->msgs(5)) node.attrs[entry->text(1)] = &entry->msg(2);
        order.push_back(name);
        nodes[name] = node;
    }
    const std::set<std::string> names(order.begin(), order.end());
    CHECK(names == std::set<std::string>{"fc1/weight", "bias", "Variable", "mm", "add", "relu",
                                         "mul", "sum", "mul_1"});
    REQUIRE(names.size() == 9);
    CHECK(nodes["fc1/weight"].op == "VariableV2");
    CHECK(nodes["bias"].op == "VariableV2");
    CHECK(nodes["Variable"].op == "VariableV2");
    CHECK(nodes["fc1/weight"].inputs.empty());
    CHECK(nodes["mm"].op == "mm");
    CHECK(nodes["mm"].inputs == std::vector<std::string>{"fc1/weight"});  // x needs no grad
    CHECK(nodes["add"].inputs == std::vector<std::string>{"mm", "bias"});
    CHECK(nodes["relu"].inputs == std::vector<std::string>{"add"});
    CHECK(nodes["mul"].op == "mul");
    CHECK(nodes["mul"].inputs == std::vector<std::string>{"relu", "relu"});
    CHECK(nodes["sum"].inputs == std::vector<std::string>{"mul"});
    CHECK(nodes["mul_1"].op == "mul");
    CHECK(nodes["mul_1"].inputs == std::vector<std::string>{"sum", "Variable"});
    // Inputs come before their consumers.
    auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
    CHECK(pos("mm") < pos("add"));
    CHECK(pos("relu") < pos("mul"));
    CHECK(pos("sum") < pos("mul_1"));
    // Attributes: dtype (DataType enum: DT_FLOAT = 1) and output shapes.
    auto dims = [](const Msg& shape) {
        std::vector<std::string> d;
        for (const auto& dim : shape.msgs(2)) d.push_back(dim->has(1) ? dim->scalar(1) : "0");
        return d;
    };
    REQUIRE(nodes["mm"].attrs.count("T"));
    CHECK(nodes["mm"].attrs["T"]->scalar(6) == "1");
    REQUIRE(nodes["mm"].attrs.count("_output_shapes"));
    CHECK(dims(nodes["mm"].attrs["_output_shapes"]->msg(1).msg(7)) == std::vector<std::string>{"2", "4"});
    REQUIRE(nodes["fc1/weight"].attrs.count("dtype"));
    CHECK(nodes["fc1/weight"].attrs["dtype"]->scalar(6) == "1");
    REQUIRE(nodes["fc1/weight"].attrs.count("shape"));
    CHECK(dims(nodes["fc1/weight"].attrs["shape"]->msg(7)) == std::vector<std::string>{"3", "4"});
    CHECK(dims(nodes["bias"].attrs["_output_shapes"]->msg(1).msg(7)) == std::vector<std::string>{"4"});
    // sum's output is a scalar: a TensorShapeProto with no dims (an empty message).
    const auto sum_shapes = nodes["sum"].attrs["_output_shapes"]->msg(1);
    CHECK(sum_shapes.all(7) == std::vector<std::string>{""});
}

TEST_CASE("two writers in one logdir write two files; neither touches an existing file") {
    TempDir dir;
    const std::string existing = (dir.path / "notes.txt").string();
    std::ofstream(existing) << "keep me";
    {
        tg::summary::SummaryWriter a(dir.path.string());
        tg::summary::SummaryWriter b(dir.path.string());
        CHECK(a.path() != b.path());
        a.add_scalar("loss", 1.0, 1);
        b.add_scalar("loss", 2.0, 1);
    }
    auto files = event_files(dir.path);
    REQUIRE(files.size() == 2);
    std::set<float> values;
    for (const auto& file : files) {
        auto records = split_records(read_file(file));
        REQUIRE(records.size() == 2);
        CHECK(decode_raw(records[0])->text(3) == "brain.Event:2");
        values.insert(as_float(summary_value(*decode_raw(records[1])).scalar(2)));
    }
    CHECK(values == std::set<float>{1.0f, 2.0f});
    CHECK(read_file(existing) == "keep me");
}

TEST_CASE("I/O errors are tg::Error naming the path, not crashes") {
    TempDir dir;
    const fs::path file = dir.path / "plain_file";
    std::ofstream(file) << "x";
    // A logdir below a regular file cannot be created (even by root).
    const std::string bad = (file / "run").string();
    REQUIRE_TG_ERROR(tg::summary::SummaryWriter(bad), "SummaryWriter", bad);
    REQUIRE_TG_ERROR(tg::summary::SummaryWriter((file).string()), "SummaryWriter", file.string());

    tg::summary::SummaryWriter writer(dir.path.string());
    writer.close();
    REQUIRE_TG_ERROR(writer.add_scalar("loss", 1.0, 1), "SummaryWriter", "close", writer.path());
    REQUIRE_TG_ERROR(writer.add_scalar("", 1.0, 1), "add_scalar", "empty");
}
