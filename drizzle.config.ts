import { defineConfig } from 'drizzle-kit';

// Migrations are generated from the schema and applied by the app at start-up
// (src/db/sqlite/client.ts, src/db/pg/client.ts); never edit the generated files by hand.
// `npm run db:generate` writes SQLite's; `DRIZZLE_DIALECT=pg npm run db:generate` PostgreSQL's.
const dialect = process.env.DRIZZLE_DIALECT ?? 'sqlite';
if (dialect !== 'sqlite' && dialect !== 'pg') throw new Error(`DRIZZLE_DIALECT must be sqlite or pg, not ${dialect}`);

export default dialect === 'pg'
  ? defineConfig({ dialect: 'postgresql', schema: './src/db/pg/schema.ts', out: './drizzle/pg' })
  : defineConfig({ dialect: 'sqlite', schema: './src/db/sqlite/schema.ts', out: './drizzle/sqlite' });
