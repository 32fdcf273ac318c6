// Module hooks of loaded-modules.mjs: every resolved URL goes to the main thread.
/** @type {import('node:worker_threads').MessagePort | undefined} */
let port;

/** @param {{ port: import('node:worker_threads').MessagePort }} data */
export function initialize(data) {
  port = data.port;
}

/** @param {string} specifier @param {unknown} context @param {(specifier: string, context: unknown) => Promise<{ url: string }>} nextResolve */
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  port?.postMessage(result.url);
  return result;
}
