import { runCli } from './cli/main.js';

/**
 * The command line: `serve` (the default), `migrate`, `create-user`, `import`, `export`.
 * The entry of the single executable and of `npm run cli --`.
 */
function main(): void {
  // Not process.exit(): a server keeps running, and pending output is flushed first.
  void runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}

main();
