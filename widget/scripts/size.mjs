// Prints dist/widget.js's size gzipped the way the budget is defined (`gzip -9c | wc -c`;
// Node's zlib, which compresses a little worse, when no gzip binary exists) and fails above it.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 35_000;
const path = new URL("../dist/widget.js", import.meta.url).pathname;
let raw;
try {
  raw = readFileSync(path);
} catch {
  console.error("dist/widget.js not found: run `npm run build` first.");
  process.exit(1);
}
let gz;
let how = "gzip -9";
try {
  gz = execFileSync("gzip", ["-9c", path]).length;
} catch {
  gz = gzipSync(raw, { level: 9 }).length;
  how = "zlib level 9";
}
console.log(`dist/widget.js: ${raw.length} bytes, ${gz} bytes gzipped (${how}; budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`over budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
