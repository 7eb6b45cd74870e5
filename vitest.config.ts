import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    alias: [
      // examples import the package by name, as users do
      { find: /^agent-interrupt\/(http|redis|demo)$/, replacement: fileURLToPath(new URL("./src/$1/index.ts", import.meta.url)) },
      { find: /^agent-interrupt$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) },
      // @effect/ai-openai-compat 4.0.0-beta.98 (a devDependency: the provider suite runs against its
      // client too) was built for the effect 4.0 betas: their `effect/unstable/*` modules are `effect/*`
      // in 4.1, and `effect/Encoding` is gone. Only that package imports these paths.
      { find: /^effect\/unstable\/(.*)$/, replacement: "effect/$1" },
      { find: /^effect\/Encoding$/, replacement: fileURLToPath(new URL("./test/fixtures/effect-encoding.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // processed by Vite (not loaded by Node directly), so that the aliases above apply to it
    server: { deps: { inline: ["@effect/ai-openai-compat"] } }
  }
})
