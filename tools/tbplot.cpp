// tbplot LOGDIR [TAG...] [-o out.png]: scalar curves from TensorBoard event files, drawn
// with gnuplot, for machines without TensorBoard. Every event file below LOGDIR is read
// (each directory is a run, as in TensorBoard); one chart per tag, one curve per run.
// Without TAGs every scalar tag is drawn. gnuplot comes from Debian's gnuplot-nox, which
// is installed with apt-get when it is missing.
//
// A self-contained reader (TFRecord framing with CRC32C checks, then just enough protobuf
// decoding for Event.step / Event.summary.value.{tag, simple_value}); it does not link
// tapegrad, so it also reads event files written by TensorFlow or PyTorch.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tfrecord_framing.hpp"

namespace fs = std::filesystem;

namespace {

using tfrecord::bitwise_crc32c;
using tfrecord::masked;
using tfrecord::read_le;

// Protobuf fields of one message: (field, wire type, varint or fixed value, bytes).
struct Field {
    std::uint32_t number;
    int wire_type;
    std::uint64_t value;
    std::string_view bytes;
};

bool read_varint(std::string_view in, std::size_t& pos, std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && pos < in.size(); shift += 7) {
        const auto byte = static_cast<unsigned char>(in[pos++]);
        out |= std::uint64_t{byte & 0x7Fu} << shift;
        if (!(byte & 0x80)) return true;
    }
    return false;
}

bool parse(std::string_view in, std::vector<Field>& fields) {
    std::size_t pos = 0;
    while (pos < in.size()) {
        std::uint64_t key;
        if (!read_varint(in, pos, key)) return false;
        Field f{static_cast<std::uint32_t>(key >> 3), static_cast<int>(key & 7), 0, {}};
        switch (f.wire_type) {
            case 0:
                if (!read_varint(in, pos, f.value)) return false;
                break;
            case 1:
                if (pos + 8 > in.size()) return false;
                f.value = read_le(in, pos, 8), pos += 8;
                break;
            case 5:
                if (pos + 4 > in.size()) return false;
                f.value = read_le(in, pos, 4), pos += 4;
                break;
            case 2: {
                std::uint64_t n;
                if (!read_varint(in, pos, n) || n > in.size() - pos) return false;
                f.bytes = in.substr(pos, n), pos += n;
                break;
            }
            default: return false;
        }
        fields.push_back(f);
    }
    return true;
}

struct Point {
    std::int64_t step;
    double value;
};
// run -> tag -> points
using Series = std::map<std::string, std::map<std::string, std::vector<Point>>>;

void read_event_file(const fs::path& path, const std::string& run, Series& series) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    std::string_view file(data);
    std::size_t pos = 0;
    while (pos + 12 <= file.size()) {
        const std::uint64_t length = read_le(file, pos, 8);
        if (read_le(file, pos + 8, 4) != masked(bitwise_crc32c(file.substr(pos, 8)))) {
            std::cerr << "tbplot: " << path.string() << ": bad record at byte " << pos << ", skipping the rest\n";
            break;
        }
        if (length > file.size() - pos - 16) break;  // the last record is still being written
        const std::string_view record = file.substr(pos + 12, length);
        if (read_le(file, pos + 12 + length, 4) != masked(bitwise_crc32c(record))) {
            std::cerr << "tbplot: " << path.string() << ": CRC mismatch at byte " << pos << ", skipping the rest\n";
            break;
        }
        pos += 16 + length;
        std::vector<Field> event;
        if (!parse(record, event)) continue;
        std::int64_t step = 0;
        for (const Field& f : event)
            if (f.number == 2 && f.wire_type == 0) step = static_cast<std::int64_t>(f.value);
        for (const Field& f : event) {
            if (f.number != 5 || f.wire_type != 2) continue;  // Event.summary
            std::vector<Field> summary;
            if (!parse(f.bytes, summary)) continue;
            for (const Field& v : summary) {
                if (v.number != 1 || v.wire_type != 2) continue;  // Summary.value
                std::vector<Field> value;
                if (!parse(v.bytes, value)) continue;
                std::string tag;
                bool has_value = false;
                float simple = 0;
                for (const Field& x : value) {
                    if (x.number == 1 && x.wire_type == 2) tag = std::string(x.bytes);
                    if (x.number == 2 && x.wire_type == 5) {
                        const auto bits = static_cast<std::uint32_t>(x.value);
                        std::memcpy(&simple, &bits, 4);
                        has_value = true;
                    }
                }
                if (has_value) series[run][tag].push_back({step, simple});
            }
        }
    }
}

std::string quote_gnuplot(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
    return out + "'";
}

int usage() {
    std::cerr << "usage: tbplot LOGDIR [TAG...] [-o out.png]\n"
                 "draws the scalar curves of the TensorBoard event files below LOGDIR with gnuplot\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string logdir, output = "tbplot.png";
    std::set<std::string> wanted;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-o" || arg == "--output") {
            if (++i >= argc) return usage();
            output = argv[i];
        } else if (arg == "-h" || arg == "--help") {
            usage();
            return 0;
        } else if (logdir.empty()) {
            logdir = arg;
        } else {
            wanted.insert(arg);
        }
    }
    if (logdir.empty()) return usage();
    std::error_code ec;
    if (!fs::is_directory(logdir, ec)) {
        std::cerr << "tbplot: '" << logdir << "' is not a directory\n";
        return 1;
    }

    Series series;
    for (const auto& entry : fs::recursive_directory_iterator(logdir, ec)) {
        if (!entry.is_regular_file() || entry.path().filename().string().find("tfevents") == std::string::npos)
            continue;
        std::string run = fs::relative(entry.path().parent_path(), logdir).string();
        if (run.empty()) run = ".";
        read_event_file(entry.path(), run, series);
    }
    std::set<std::string> tags;
    for (const auto& [run, by_tag] : series)
        for (const auto& [tag, points] : by_tag)
            if (wanted.empty() || wanted.count(tag)) tags.insert(tag);
    for (const std::string& tag : wanted)
        if (!tags.count(tag)) std::cerr << "tbplot: no scalar events with tag '" << tag << "'\n";
    if (tags.empty()) {
        std::cerr << "tbplot: no scalar events found below '" << logdir << "'\n";
        return 1;
    }

    if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
        std::cerr << "tbplot: gnuplot not found; installing Debian's gnuplot-nox\n";
        if (std::system("apt-get install -y gnuplot-nox > /dev/null 2>&1 || "
                        "(apt-get update > /dev/null 2>&1 && apt-get install -y gnuplot-nox > /dev/null 2>&1)") != 0 ||
            std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
            std::cerr << "tbplot: could not install gnuplot-nox; install it and run again\n";
            return 1;
        }
    }

    // Data blocks inline in the script ($name << EOD), so no temporary data files.
    std::ostringstream script;
    script.precision(9);
    const int rows = static_cast<int>(tags.size());
    script << "set terminal png size 900," << 320 * rows << "\n";
    script << "set termoption noenhanced\n";  // tags and run names are literal text
    script << "set output " << quote_gnuplot(output) << "\n";
    script << "set multiplot layout " << rows << ",1\n";
    script << "set grid\nset key outside right top\nset xlabel 'step'\n";
    int block = 0;
    for (const std::string& tag : tags) {
        std::vector<std::string> plots;
        for (const auto& [run, by_tag] : series) {
            auto it = by_tag.find(tag);
            if (it == by_tag.end()) continue;
            auto points = it->second;
            std::stable_sort(points.begin(), points.end(),
                             [](const Point& a, const Point& b) { return a.step < b.step; });
            const std::string name = "$d" + std::to_string(block++);
            script << name << " << EOD\n";
            for (const Point& p : points) script << p.step << " " << p.value << "\n";
            script << "EOD\n";
            plots.push_back(name + " using 1:2 with linespoints pt 7 ps 0.4 title " + quote_gnuplot(run));
        }
        script << "set title " << quote_gnuplot(tag) << "\n";
        script << "plot ";
        for (std::size_t i = 0; i < plots.size(); ++i) script << (i ? ", " : "") << plots[i];
        script << "\n";
    }
    script << "unset multiplot\n";

    FILE* gnuplot = popen("gnuplot", "w");
    if (!gnuplot) {
        std::cerr << "tbplot: cannot run gnuplot\n";
        return 1;
    }
    const std::string text = script.str();
    std::fwrite(text.data(), 1, text.size(), gnuplot);
    if (pclose(gnuplot) != 0) {
        std::cerr << "tbplot: gnuplot failed\n";
        return 1;
    }
    std::cout << "tbplot: " << tags.size() << " tag(s) from " << series.size() << " run(s) -> " << output << "\n";
    return 0;
}
