import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    // Each file builds its own app on its own temporary database, so files run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
