// Runs each model of an onnx_export_models manifest in ONNX Runtime (onnxruntime-node) and
// compares its output with tapegrad's: max|ort - tapegrad| <= 1e-5 * max|tapegrad| per model.
// usage: node onnx_run.js ORT_MODULE_DIR EXPORT_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.resolve(process.argv[2]));
const dir = process.argv[3];

function floats(file) {
    const b = fs.readFileSync(file);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}
function int64s(file) {
    const b = fs.readFileSync(file);
    return new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

async function main() {
    const lines = fs.readFileSync(path.join(dir, 'manifest.txt'), 'utf8').trim().split('\n');
    let failed = 0;
    for (const line of lines) {
        const [lhs, rhs] = line.split('|');
        const [name, dtype, ...inDims] = lhs.trim().split(/\s+/);
        const outDims = rhs.trim().split(/\s+/).map(Number);
        const session = await ort.InferenceSession.create(path.join(dir, name + '.onnx'));
        const data = dtype === 'int64' ? int64s(path.join(dir, name + '.in')) : floats(path.join(dir, name + '.in'));
        const feeds = {input: new ort.Tensor(dtype, data, inDims.map(Number))};
        const result = await session.run(feeds);
        const got = result.output;
        const want = floats(path.join(dir, name + '.out'));
        let maxDiff = 0, maxAbs = 0;
        const shapeOk = JSON.stringify(got.dims.map(Number)) === JSON.stringify(outDims) && got.data.length === want.length;
        if (shapeOk) {
            for (let i = 0; i < want.length; ++i) {
                maxDiff = Math.max(maxDiff, Math.abs(got.data[i] - want[i]));
                maxAbs = Math.max(maxAbs, Math.abs(want[i]));
            }
        }
        const rel = maxDiff / Math.max(maxAbs, 1e-30);
        const ok = shapeOk && rel <= 1e-5;
        if (!ok) failed++;
        console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: output ${JSON.stringify(got.dims)} (tapegrad ${JSON.stringify(outDims)}), ` +
                    `max|diff| ${maxDiff.toExponential(2)}, relative ${rel.toExponential(2)}`);
    }
    process.exit(failed ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(1); });
