// End-to-end tests (e2e/*.e2e.ts): a real kefu process and Debian's chromium. Run by
// `npm run e2e` after `cargo build -p kefu-server -p kefu-testkit` (scripts/test.sh's
// `cargo test --workspace` builds both).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    testTimeout: 90_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
