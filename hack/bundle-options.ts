// How the production build bundles (hack/bundle.ts), shared with the benchmark that measures what loading the
// bundle costs (bench/lib/memory-floor.ts), so both load the same code the same way.
import type { BuildOptions } from "esbuild";

export const BUNDLE_OPTIONS = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node24",
  // Dependencies written as CommonJS call require(); an ES module has none of its own.
  banner: {
    js: 'import { createRequire as lastgaspRequire } from "node:module"; const require = lastgaspRequire(import.meta.url);',
  },
  // Whitespace and comments out, names kept (stack traces still name each function): V8 keeps every module's
  // source in memory, and one non-Latin-1 character in a comment (undici has a few) makes it keep a whole chunk
  // at two bytes a character. Measured on the receiver with two threads: 146.6 → 130.5 MiB idle.
  minifyWhitespace: true,
  minifySyntax: true,
  // Elastic's ECS formatter looks for Elastic's APM agent inside a try; lastgasp ships none.
  external: ["elastic-apm-node"],
} satisfies BuildOptions;
