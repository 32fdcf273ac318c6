import { runCli } from './cli/main.js';

/**
 * `npm start`: the `serve` command (config -> app -> graceful shutdown -> listen, in
 * src/cli/serve.ts), with the command line's exit codes.
 */
function main(): void {
  // Not process.exit(): a server keeps running, and pending output is flushed first.
  void runCli(['serve'], { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}

main();
