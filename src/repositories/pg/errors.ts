/**
 * True when `error` (or the error Drizzle wrapped in it) is a PostgreSQL error with this
 * SQLSTATE, e.g. 23505 unique_violation, optionally on this constraint.
 */
export function isPgError(error: unknown, sqlState: string, constraint?: string): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth += 1) {
    if ('code' in current && current.code === sqlState) {
      return constraint === undefined || ('constraint' in current && current.constraint === constraint);
    }
    current = current.cause;
  }
  return false;
}
