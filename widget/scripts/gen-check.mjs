// Fails when src/gen differs from what `buf generate` makes from ../proto today,
// so a .proto change without `npm run gen` cannot slip through.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const committed = join(root, "src/gen");
const tmp = mkdtempSync(join(tmpdir(), "kefu-widget-gen-"));

function files(dir) {
  let out = [];
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(files(p));
    else out.push(p);
  }
  return out;
}

try {
  // buf finds the protoc-gen-es plugin on PATH: put the local bin first, as `npm run` does.
  const bin = join(root, "node_modules/.bin");
  execFileSync(join(bin, "buf"), ["generate", "--template", "buf.gen.yaml", "-o", tmp], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
  });
  const fresh = join(tmp, "src/gen");
  const want = new Map(files(fresh).map((f) => [relative(fresh, f), readFileSync(f, "utf8")]));
  const have = new Map(files(committed).map((f) => [relative(committed, f), readFileSync(f, "utf8")]));
  const stale = [];
  for (const [name, text] of want) {
    if (!have.has(name)) stale.push(`missing: src/gen/${name}`);
    else if (have.get(name) !== text) stale.push(`out of date: src/gen/${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) stale.push(`no longer generated: src/gen/${name}`);
  if (stale.length > 0) {
    console.error(`src/gen is stale against ../proto:\n  ${stale.join("\n  ")}\nRun \`npm run gen\` in widget/ and commit the result.`);
    process.exitCode = 1;
  } else {
    console.log(`src/gen is up to date (${want.size} files).`);
  }
} catch (e) {
  console.error(`could not regenerate from ../proto (run \`npm ci\` in widget/ first?): ${e.message}`);
  process.exitCode = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
