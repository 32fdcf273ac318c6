import { sql, type Column, type SQL, type Table } from 'drizzle-orm';
import type { SearchFilters } from '../domain/search.js';

/**
 * SQL that is the same on both engines, written once over Drizzle's `sql` with each
 * engine's tables as parameters. Values are cast where PostgreSQL could not infer a
 * parameter's type (`CAST(... AS text)`, which SQLite reads the same way).
 */

interface TreeTables {
  branches: Table & { id: Column; chatId: Column; headPairId: Column };
  qaPairs: Table;
}

/**
 * The pairs of a branch that no other branch of its chat passes through (a suffix of its
 * path): what deleting the branch removes. Walks up from every other branch's head, and
 * from this one's, and keeps what only this walk reached.
 */
export function exclusivePairsOf(
  tables: TreeTables,
  branch: { chatId: string; branchId: string; headPairId: string },
): SQL<{ id: string }> {
  const { branches, qaPairs } = tables;
  return sql`
    WITH RECURSIVE
      others(id) AS (
        SELECT ${branches.headPairId} FROM ${branches}
        WHERE ${branches.chatId} = ${branch.chatId} AND ${branches.id} != ${branch.branchId}
          AND ${branches.headPairId} IS NOT NULL
        UNION
        SELECT p.parent_id FROM ${qaPairs} p JOIN others ON p.id = others.id WHERE p.parent_id IS NOT NULL
      ),
      mine(id) AS (
        SELECT CAST(${branch.headPairId} AS text)
        UNION
        SELECT p.parent_id FROM ${qaPairs} p JOIN mine ON p.id = mine.id WHERE p.parent_id IS NOT NULL
      )
    SELECT id FROM mine WHERE id NOT IN (SELECT id FROM others)`;
}

/** `text` as a LIKE pattern that matches it literally (with `ESCAPE '\\'`). */
const likeEscape = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/**
 * The scope and filters of a search over `search_docs d`: the user's documents, optionally
 * one chat's, a time window (`date` binds a Date as the engine stores it) and pairs that
 * cited a host or one of its subdomains.
 */
export function searchFilters(input: SearchFilters, date: (value: Date) => SQL): SQL[] {
  const conditions: SQL[] = [sql`d.user_id = ${input.userId}`];
  if (input.chatId) conditions.push(sql`d.chat_id = ${input.chatId}`);
  if (input.since) conditions.push(sql`d.created_at >= ${date(input.since)}`);
  if (input.until) conditions.push(sql`d.created_at < ${date(input.until)}`);
  if (input.domain) {
    conditions.push(sql`d.qa_pair_id IN (
      SELECT s.qa_pair_id FROM qa_pair_sources s
      WHERE s.user_id = ${input.userId}
        AND (s.domain = ${input.domain} OR s.domain LIKE ${`%.${likeEscape(input.domain)}`} ESCAPE '\\')
    )`);
  }
  return conditions;
}
