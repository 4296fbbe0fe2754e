import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'activities/**/*.test.ts', 'trpc/**/*.test.ts', 'workflows/**/*.test.ts'],
    globalSetup: ['tests/setup/global.ts', 'tests/setup/build.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
