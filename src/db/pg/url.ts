// Apart from ./client.ts so that messages can name a database without loading the pg driver.

/** The URL without its password, for messages and logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // node-postgres also takes the password as a query parameter.
    for (const name of [...parsed.searchParams.keys()]) {
      if (name.toLowerCase() === 'password') parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
