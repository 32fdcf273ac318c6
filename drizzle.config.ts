import { defineConfig } from 'drizzle-kit';

// Migrations are generated from src/db/schema.ts and applied by the app at start-up
// (src/db/client.ts); never edit the generated files by hand.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './drizzle/sqlite',
});
