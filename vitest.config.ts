import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // examples import the package by name, as users do
    alias: [
      { find: /^agent-interrupt\/(http|redis|demo)$/, replacement: fileURLToPath(new URL("./src/$1/index.ts", import.meta.url)) },
      { find: /^agent-interrupt$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
