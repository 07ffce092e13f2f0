/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";

// protobuf-es ships its descriptor.proto enums as `var E; (function (E) {…})(E || (E = {}))`,
// which no bundler can drop; the widget uses almost none of them. Rewritten as pure
// initialisers (same object, same values), the unused ones are tree-shaken away.
function pureEnums(): Plugin {
  const re = /export var (\w+);\n\(function \(\1\) \{([\s\S]*?)\n\}\)\(\1 \|\| \(\1 = \{\}\)\);/g;
  return {
    name: "kefu-pure-enums",
    transform(code, id) {
      if (!id.includes("@bufbuild/protobuf/dist/esm/")) return null;
      const out = code.replace(re, (_m, name: string, body: string) => `export var ${name} = /*@__PURE__*/ (function (${name}) {${body}\nreturn ${name};\n})({});`);
      return out === code ? null : { code: out, map: null };
    },
  };
}

// One self-contained IIFE (CSS travels inside as a string) that the server embeds and
// serves at /widget.js; the retailer's page must not need anything else.
export default defineConfig({
  plugins: [pureEnums()],
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // terser squeezes ~1 kB more than esbuild out of the 35 kB gzip budget.
    minify: "terser",
    terserOptions: { compress: { passes: 3 }, format: { comments: false } },
    lib: {
      entry: "src/embed.ts",
      formats: ["iife"],
      name: "KefuWidget",
      fileName: () => "widget.js",
    },
  },
  test: {
    environment: "happy-dom",
    include: ["test/**/*.test.ts"],
  },
});
