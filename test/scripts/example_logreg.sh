#!/usr/bin/env bash
# The Fashion-MNIST logistic-regression example, shortened (two epochs, a few seconds),
# must reach a test accuracy of at least 0.78 (it reaches about 0.83) on the real data. tools/check installs the dataset, so a
# missing dataset is a failure, not a skip. With --logdir it must write a TensorBoard event
# file whose every record protoc --decode_raw decodes (an independent decoder) and which
# holds the loss, the weight summaries and the graph.
set -euo pipefail
source "$(dirname "$0")/lib/example_setup.sh" fashion_mnist_logreg  # BUILD, DATA, exe, $tmp
min_accuracy=0.78
logdir="$tmp/logs"

run_example 120 "$min_accuracy" --data "$DATA" --epochs 2 --seed 1 --workers 2 --logdir "$logdir"

# The TF-1 course's exact recipe (GradientDescent 0.5, 1000 batches of 100): README.md and
# docs/tf1-to-tapegrad.md say it lands between 0.70 and 0.82 on Fashion-MNIST, depending on
# the seed (which is why the default run is lr 0.1 for 10 epochs). Keep that statement true.
recipe=$(timeout 120 "$exe" --data "$DATA" --steps 1000 --lr 0.5 --batch-size 100 --seed 2) || {
    echo "$recipe"; echo "FAIL: the recipe run failed"; exit 1; }
recipe_accuracy=$(printf '%s\n' "$recipe" | sed -n 's/^test accuracy: \([0-9.]*\)$/\1/p' | tail -1)
if awk -v a="$recipe_accuracy" 'BEGIN { exit !(a >= 0.70 && a <= 0.82) }'; then
    echo "ok: the course's recipe gives $recipe_accuracy (documented: 0.70 to 0.82 with the seed)"
else
    echo "FAIL: the course's recipe gives '$recipe_accuracy', outside the documented 0.70 to 0.82"; exit 1
fi

command -v protoc > /dev/null || { echo "FAIL: protoc missing (install protobuf-compiler)"; exit 1; }
files=("$logdir"/events.out.tfevents.*)
[ -f "${files[0]}" ] || { echo "FAIL: --logdir wrote no events.out.tfevents.* file in $logdir"; exit 1; }
[ "${#files[@]}" -eq 1 ] || { echo "FAIL: expected one event file, got ${#files[@]}"; exit 1; }
file=${files[0]}
# TFRecord framing: u64 little-endian length, u32 CRC, the record, u32 CRC.
size=$(stat -c %s "$file")
offset=0
records=0
decoded=""
while [ "$offset" -lt "$size" ]; do
    length=$(od -An -t u8 -j "$offset" -N 8 "$file" | tr -d ' ')
    record=$(dd if="$file" bs=64K iflag=skip_bytes,count_bytes skip=$((offset + 12)) count="$length" \
                 status=none | protoc --decode_raw) || {
        echo "FAIL: protoc --decode_raw rejected record $records of $file"; exit 1; }
    decoded+="$record"$'\n'
    offset=$((offset + 12 + length + 4))
    records=$((records + 1))
done
[ "$offset" -eq "$size" ] || { echo "FAIL: $file ends inside a record"; exit 1; }
for needle in '"brain.Event:2"' '"epoch/loss"' '"epoch/accuracy"' '"step/loss"' '"W/mean"' '"W/stddev"' \
              '"b/max"' '"b/min"' 'VariableV2'; do
    grep -qF -- "$needle" <<< "$decoded" || { echo "FAIL: no $needle in the decoded event file"; exit 1; }
done
echo "ok: --logdir wrote $(basename "$file") with $records records that protoc decodes"
