// ESLint (flat config): `npm run lint`. Type-aware rules are left out on purpose: `npm run
// typecheck` (tsc, strict) already runs, and type-aware linting would type-check everything twice.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig([
  // Generated or downloaded, never edited by hand.
  globalIgnores(["build/", "public/build/", "generated/", "node_modules/", ".cache/", ".data/", ".tools/", ".scratch/", "coverage/"]),

  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      // Server code, scripts, tests and configs all run on Node; app/ adds the browser below.
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // `_` marks a parameter or binding that is there for its position (callbacks, destructuring).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // `any` switches the type checker off; it is allowed only where the kinds of code below say why.
      "@typescript-eslint/no-explicit-any": "error",
      // Input validators here reject control characters on purpose (/[\0-\x1f]/ in domain/ and
      // catalogue/); the rule is for regexes that contain them by accident.
      "no-control-regex": "off",
      // `interface AppLoadContext extends BrokeForgeContext {}` is how a module augmentation
      // extends a library's interface; an empty interface with no supertype is still an error.
      "@typescript-eslint/no-empty-object-type": ["error", { allowInterfaces: "with-single-extends" }],
    },
  },
  {
    // The Remix app runs in the browser too (routes, components, hooks).
    files: ["app/**/*.{ts,tsx}"],
    extends: [reactHooks.configs.flat.recommended],
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
  },
  {
    // Fakes in tests, and overrides of overloaded library methods (pg's query() in
    // prisma/tools/pg-adapter.ts), may need `any`; everywhere else it is an error.
    files: ["tests/**/*.ts", "prisma/tools/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
]);
