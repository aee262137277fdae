import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests spawn real Codex processes: keep them from starving each other on 2 cores.
    maxWorkers: 2,
    reporters: ['default']
  }
})
