// Type-aware linting. Budgets keep functions small (as Pepr does); floating promises are errors because an
// unawaited write to the cluster is a silent loss.
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".testenv/", "bench/results/", "charts/", "eslint.config.js"] },
  eslint.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // client-node's models are classes only in name: its own docs pass object literals, as the API expects.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
      // noUncheckedIndexedAccess makes every indexed read optional; a `!` after a bounds check is the honest way
      // to say "checked", and cheaper on the hot path than re-testing.
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      complexity: ["error", 15],
      "max-depth": ["error", 4],
      "max-params": ["error", 5],
      "max-lines": ["error", { max: 400, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // Tests assert on data from the API at run time; its declared types are not evidence. Test bodies read
      // best as one straight story, so no complexity budget.
      "@typescript-eslint/no-unnecessary-condition": "off",
      complexity: "off",
      // node:test's describe/it return promises the runner awaits itself.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] },
          ],
        },
      ],
    },
  },
);
