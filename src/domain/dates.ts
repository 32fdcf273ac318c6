// Date.UTC maps the years 0 to 99 to 1900 onwards, so year 1 is set explicitly.
const MIN_STORABLE_TIME = new Date(0).setUTCFullYear(1, 0, 1);
const MAX_STORABLE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Whether both engines can store and compare the date: the years 1 to 9999 (PostgreSQL
 * has no year 0). Dates a client sends, or forges into a cursor, are checked with this.
 */
export function isStorableDate(date: Date): boolean {
  const time = date.getTime();
  return Number.isFinite(time) && time >= MIN_STORABLE_TIME && time <= MAX_STORABLE_TIME;
}
