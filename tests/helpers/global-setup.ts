import { dropTestDatabases } from './database.js';

/** On PostgreSQL: drop the databases the test files created, once all of them are done. */
export default function setup(): (() => Promise<void>) | undefined {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return undefined;
  return () => dropTestDatabases(url);
}
