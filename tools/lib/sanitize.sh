# The sanitizer and fuzz build, shared by tools/check and tools/fuzz (sourced).
#
# One build folder (build-sanitize, or $SANITIZE_BUILD) holds both: library and tests built
# with AddressSanitizer + UndefinedBehaviorSanitizer, and, when clang and its runtime are
# installed, the whole library instrumented for libFuzzer plus the fuzz targets of test/fuzz.
# With clang one compilation serves the sanitized test run and the fuzzers; without it, g++
# builds the sanitized tests and fuzzing is skipped.

SANITIZE_BUILD=${SANITIZE_BUILD:-build-sanitize}

# Every report stops the program with a non-zero status (halt_on_error; -fno-sanitize-recover
# makes UBSan's checks fatal at compile time too). allocator_may_return_null: tests ask for
# impossible allocations on purpose and expect tg::Error, not an ASan abort.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# The clang++ that can link libFuzzer (Debian: clang + libclang-rt-NN-dev), or nothing.
fuzz_compiler() {
    local cxx
    for cxx in clang++-19 clang++ clang++-14; do
        command -v "$cxx" > /dev/null || continue
        echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
            "$cxx" -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - 2> /dev/null && { echo "$cxx"; return 0; }
    done
    return 1
}

# setup_sanitize_build: configures $SANITIZE_BUILD once (afresh if a setup was left half done).
setup_sanitize_build() {
    [ -f "$SANITIZE_BUILD/build.ninja" ] && return 0
    rm -rf "$SANITIZE_BUILD"
    mkdir -p "$SANITIZE_BUILD"
    local cxx fuzz=true
    if ! cxx=$(fuzz_compiler); then
        cxx=g++ fuzz=false
        echo "sanitize: no clang++ that links libFuzzer; g++ builds the tests, no fuzz targets"
    fi
    # clang 19 announces OpenMP 5.1, which meson 1.0's dependency('openmp') does not know.
    # Line tables only (clang; g++: -g1): enough for the file:line of every frame in a report,
    # a fraction of the compile and link time of full debug info.
    local extra_args="-gline-tables-only -fopenmp-version=50"
    $fuzz || extra_args="-g1"
    # -O1: less compile time than -O2 (CI builds this folder from scratch on 2 cores) and the
    # sanitizers' documented setting. Not native: the portable code paths are the ones every user
    # runs. MPI stays out (its runtime keeps allocations LeakSanitizer reports;
    # test/scripts/mpi.sh covers it in the normal run); so do the interactive hosts (not
    # built by the sanitize run).
    CXX="$cxx" meson setup "$SANITIZE_BUILD" -Doptimization=1 -Ddebug=false -Db_sanitize=address,undefined \
        -Db_lundef=false "-Dcpp_args=-fno-sanitize-recover=all -fno-omit-frame-pointer $extra_args" \
        -Dnative=false -Dmpi=disabled -Dinteractive=disabled -Dfuzz=$fuzz \
        > "$SANITIZE_BUILD/setup.log" 2>&1 || { cat "$SANITIZE_BUILD/setup.log"; return 1; }
}

# fuzz_configured: whether the sanitize build has the fuzz targets (clang was found).
fuzz_configured() { grep -q "test/fuzz/make_seeds:" "$SANITIZE_BUILD/build.ninja" 2> /dev/null; }

# fuzz_targets: the fuzz targets the build defines (fuzz_NAME in test/fuzz/meson.build), by NAME.
fuzz_targets() {
    ninja -C "$SANITIZE_BUILD" -t targets all 2> /dev/null | sed -n 's|^test/fuzz/fuzz_\([a-z0-9_]*\): .*|\1|p' | sort -u
}

# build_fuzz_targets: the library, every fuzz target and the seed writer.
build_fuzz_targets() {
    local targets=(test/fuzz/make_seeds) name
    for name in $(fuzz_targets); do targets+=("test/fuzz/fuzz_$name"); done
    ninja -C "$SANITIZE_BUILD" "${targets[@]}"
}

# run_fuzz NAME SECONDS [libFuzzer options]: fuzzes one target from its seeds, the committed regression inputs
# (test/fuzz/regressions/NAME) and what earlier runs found (kept in the build folder).
# A crash, leak, sanitizer report, timeout or out-of-memory fails it; the input that caused
# it is saved as $SANITIZE_BUILD/test/fuzz/artifacts/NAME-*.
run_fuzz() {
    local name=$1 seconds=$2 dir="$SANITIZE_BUILD/test/fuzz"
    shift 2
    local exe="$dir/fuzz_$name"
    [ -x "$exe" ] || { echo "fuzz: no target '$name' (have: $(fuzz_targets | tr '\n' ' '))"; return 1; }
    rm -rf "$dir/seeds/$name"
    "$dir/make_seeds" "$dir/seeds" || return 1
    mkdir -p "$dir/corpus/$name" "$dir/artifacts"
    local corpora=("$dir/corpus/$name" "$dir/seeds/$name")
    [ -d "test/fuzz/regressions/$name" ] && corpora+=("test/fuzz/regressions/$name")
    # -timeout: one input may take 10 s; -rss_limit_mb: no input may need 2 GB (every loader
    # checks sizes against the file before allocating).
    "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/$name-" "$@" "${corpora[@]}"
}
