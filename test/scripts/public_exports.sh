#!/usr/bin/env bash
# libtapegrad is compiled with hidden visibility (include/tapegrad/export.hpp): only what a
# public header declares between TG_PUBLIC_BEGIN and TG_PUBLIC_END is exported. A public
# header without them would compile, and then fail to link in every program that calls
# what it declares. So: every header under include/tapegrad that declares anything opens
# the exported region after its includes and closes it at its end; and the built library
# exports the public API (a sample of it) but not an internal kernel helper.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
fail=0
while IFS= read -r header; do
    [[ $header == include/tapegrad/export.hpp ]] && continue
    # umbrella headers (only #include lines) declare nothing
    grep -qE '^(namespace|template|class|struct|inline|using|enum)' "$header" || continue
    begin=$(grep -n '^TG_PUBLIC_BEGIN$' "$header" | head -1 | cut -d: -f1)
    end=$(grep -n '^TG_PUBLIC_END$' "$header" | tail -1 | cut -d: -f1)
    first=$(grep -nE '^(namespace|template|class|struct|inline|using|enum)' "$header" | head -1 | cut -d: -f1)
    last_include=$(grep -n '^#include' "$header" | tail -1 | cut -d: -f1)
    if [[ -z $begin || -z $end ]]; then
        echo "FAIL: $header: no TG_PUBLIC_BEGIN / TG_PUBLIC_END (see include/tapegrad/export.hpp)"; fail=1
    elif (( begin > first || begin < ${last_include:-0} )); then
        echo "FAIL: $header: TG_PUBLIC_BEGIN must come after the includes and before the first declaration"; fail=1
    elif (( end < $(grep -cE '' "$header") - 1 )); then
        echo "FAIL: $header: TG_PUBLIC_END must close the header (its last line)"; fail=1
    fi
done < <(find include/tapegrad -name '*.hpp' | sort)

lib=$(readlink -f "$BUILD/lib/libtapegrad.so")
exported=$(nm -D --defined-only -C "$lib")
for symbol in 'tg::Tensor::backward(' 'tg::matmul(' 'tg::nn::Module::' 'tg::optim::Adam::Adam(' 'tg::Shape::reserve('; do
    grep -qF -- "$symbol" <<<"$exported" || { echo "FAIL: $lib does not export $symbol"; fail=1; }
done
if grep -qF 'tg::detail::small_object_alloc(' <<<"$exported"; then
    echo "FAIL: $lib exports the internal tg::detail::small_object_alloc (hidden visibility not applied?)"; fail=1
fi
[[ $fail == 0 ]] && echo "ok: every public header exports its declarations; the library exports the API only"
exit $fail
