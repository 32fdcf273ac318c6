import { spawn } from 'node:child_process';
import { startPgCluster, type PgCluster } from './cluster.js';

/**
 * `npm run test:pg`: the test suite on PostgreSQL. Uses TEST_DATABASE_URL when it is set
 * (a server where the suite may create and drop databases); otherwise starts a private
 * cluster (scripts/pg/cluster.ts), runs vitest against it and stops it. Extra arguments go
 * to vitest (e.g. `npm run test:pg -- tests/search.test.ts`).
 */
let cluster: PgCluster | undefined;
const given = process.env.TEST_DATABASE_URL;
const url = given && given !== '' ? given : (cluster = await startPgCluster()).url;
const stop = () => cluster?.stop();
process.on('SIGINT', () => {
  stop();
  process.exit(130);
});

const child = spawn(
  process.execPath,
  ['node_modules/vitest/vitest.mjs', 'run', '--config', 'tests/vitest.config.ts', ...process.argv.slice(2)],
  { stdio: 'inherit', env: { ...process.env, TEST_DATABASE_URL: url } },
);
const code = await new Promise<number>((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? 1)));
stop();
process.exit(code);
