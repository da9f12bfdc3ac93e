#!/usr/bin/env bash
# The CMake package: meson install into a temporary root, then configure, build and run a
# small consumer project with cmake that uses only find_package(tapegrad CONFIG REQUIRED)
# and tapegrad::tapegrad. Checks that the target carries the include path of the install
# and the C++20 requirement (CMake's own default for g++ 12 is gnu++17), that the version
# file accepts 0.1 and rejects 2.0, and that the program runs (second derivative of x^3).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/lib/install.sh
BUILD=${BUILD:-build}
command -v cmake > /dev/null || install_packages cmake
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$BUILD" --destdir "$tmp/stage" --no-rebuild --quiet
prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
root="$tmp/stage$prefix"
config=$(find "$root" -name tapegradConfig.cmake | head -1)
[ -n "$config" ] || { echo "FAIL: no tapegradConfig.cmake installed"; exit 1; }
echo "installed: ${config#"$tmp/stage"}"

mkdir -p "$tmp/consumer"
cat > "$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
find_package(tapegrad 0.1 CONFIG REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE tapegrad::tapegrad)
CMAKE
cat > "$tmp/consumer/main.cpp" <<'CPP'
#include <tapegrad/tapegrad.hpp>
#include <iostream>
int main() {
    auto x = tg::tensor(2.0, tg::kFloat64).requires_grad_();
    auto y = x * x * x;
    auto dy = tg::autograd::grad({y}, {x}, {.create_graph = true})[0];  // 3x^2 = 12
    auto d2y = tg::autograd::grad({dy}, {x})[0];                       // 6x = 12
    std::cout << dy.item<double>() << " " << d2y.item<double>() << "\n";
}
CPP
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$root" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > "$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer/build" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
commands="$tmp/consumer/build/compile_commands.json"
grep -q -- "-std=gnu++20\|-std=c++20" "$commands" || { echo "FAIL: no C++20 flag from tapegrad::tapegrad"; cat "$commands"; exit 1; }
grep -qF -- "$root/include" "$commands" || { echo "FAIL: include path of the install missing"; cat "$commands"; exit 1; }
out=$("$tmp/consumer/build/consumer")
echo "consumer printed: $out"
[ "$out" = "12 12" ]

# The version file: a newer major version than installed is not found.
sed -i 's/find_package(tapegrad 0.1 CONFIG REQUIRED)/find_package(tapegrad 2.0 CONFIG REQUIRED)/' "$tmp/consumer/CMakeLists.txt"
if cmake -S "$tmp/consumer" -B "$tmp/consumer/build2" -G Ninja -DCMAKE_PREFIX_PATH="$root" > "$tmp/configure2.log" 2>&1; then
    echo "FAIL: find_package(tapegrad 2.0) accepted version 0.1"; exit 1
fi
grep -q "0.1.0" "$tmp/configure2.log" || { cat "$tmp/configure2.log"; exit 1; }
echo "ok: find_package(tapegrad 2.0) is refused"
