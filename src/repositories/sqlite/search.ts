import { sql } from 'drizzle-orm';
import type { SqliteDb } from '../../db/sqlite/client.js';
import {
  MARK_CLOSE,
  MARK_OPEN,
  RANK_WINDOW,
  type SearchFilters,
  type SearchHit,
  type SearchTerm,
} from '../../domain/search.js';
import { InvalidSearchQuery, type SearchStore } from '../contract.js';
import { searchFilters } from '../shared-sql.js';

interface HitRow {
  chat_id: string;
  chat_title: string;
  qa_pair_id: string | null;
  created_at: number;
  score: number | null;
  snippet: string;
  in_title: number;
  in_question: number;
  in_answer: number;
  in_sources: number;
}

const MARK_OPEN_SQL = MARK_OPEN.codePointAt(0) ?? 0;
const MARK_CLOSE_SQL = MARK_CLOSE.codePointAt(0) ?? 0;

/** Columns of `search_index`, in order, and how much a match in each counts (scope: nothing). */
const BM25 = sql.raw('bm25(search_index, 4.0, 3.0, 1.0, 0.5, 0.0)');
const matchedIn = (column: number) =>
  sql.raw(
    `instr(highlight(search_index, ${column}, char(${MARK_OPEN_SQL}), char(${MARK_CLOSE_SQL})), char(${MARK_OPEN_SQL})) > 0`,
  );

/** Pairs indexed per transaction when a search finds the index behind. */
const INDEX_BATCH = 500;

/** The `scope` token of a user or a chat in the index (ids without dashes). */
export const scopeToken = (kind: 'u' | 'c', id: string) => `"${kind}${id.replaceAll('-', '')}"`;

/** A term as an FTS5 string: quoted (so never parsed as FTS5 syntax), a prefix with `*`. */
const ftsTerm = (term: SearchTerm) => `"${term.text.replaceAll('"', '""')}"${term.prefix ? '*' : ''}`;

/** The whole MATCH expression: the user's (and chat's) documents, and the terms in the text columns. */
export function buildMatchExpression(terms: readonly SearchTerm[], userId: string, chatId?: string): string {
  const scope = [`scope : ${scopeToken('u', userId)}`, ...(chatId ? [`scope : ${scopeToken('c', chatId)}`] : [])];
  return `${scope.join(' AND ')} AND {title question answer sources} : (${terms.map(ftsTerm).join(' ')})`;
}

/**
 * Full-text search over the FTS5 index of migration 0005, kept up to date from
 * search_outbox (migration 0012) by `indexPending` and before every search. The match expression
 * is built by `buildMatchExpression`, which quotes every user term; a user's documents are
 * selected by their scope token inside the index and checked again against search_docs.
 */
export function createSqliteSearchStore(db: SqliteDb): SearchStore {
  const filters = (input: SearchFilters) => searchFilters(input, (value) => sql`${value.getTime()}`);

  const toHit = (row: HitRow): SearchHit => ({
    chatId: row.chat_id,
    chatTitle: row.chat_title,
    qaPairId: row.qa_pair_id,
    createdAt: new Date(row.created_at),
    score: row.score,
    snippet: row.snippet,
    matched: {
      title: row.in_title === 1,
      question: row.in_question === 1,
      answer: row.in_answer === 1,
      sources: row.in_sources === 1,
    },
  });

  /**
   * Indexes up to `limit` pairs noted in search_outbox, in one transaction: their entry in
   * search_index (removed first, for a pair indexed before its answer came) and their cited
   * hosts; returns how many. IMMEDIATE, so that two processes (a server and the command
   * line) never index the same batch.
   */
  const pending = () => db.get<{ one: number } | undefined>(sql`SELECT 1 AS one FROM search_outbox LIMIT 1`);
  const indexBatch = (limit: number): number =>
    // A read first: an idle server's indexer takes no write lock.
    pending() === undefined
      ? 0
      : db.transaction(
          (): number => {
            const ids = db.all<{ id: string }>(sql`SELECT qa_pair_id AS id FROM search_outbox LIMIT ${limit}`);
            if (ids.length === 0) return 0;
            const batch = JSON.stringify(ids.map((row) => row.id));
            const inBatch = sql`(SELECT value FROM json_each(${batch}))`;
            db.run(sql`
      DELETE FROM search_index WHERE rowid IN (SELECT id FROM search_docs WHERE qa_pair_id IN ${inBatch})`);
            db.run(sql`
      INSERT INTO search_index (rowid, title, question, answer, sources, scope)
      SELECT d.id, '', p.question, coalesce(p.answer, ''),
        coalesce((SELECT group_concat(coalesce(json_extract(value, '$.name'), '') || ' ' || coalesce(json_extract(value, '$.snippet'), '') || ' ' || coalesce(json_extract(value, '$.url'), ''), ' ') FROM json_each(p.search_results)), ''),
        'u' || replace(p.user_id, '-', '') || ' c' || replace(p.chat_id, '-', '')
      FROM qa_pairs p JOIN search_docs d ON d.qa_pair_id = p.id
      WHERE p.id IN ${inBatch}`);
            db.run(sql`DELETE FROM qa_pair_sources WHERE qa_pair_id IN ${inBatch}`);
            // The host of every cited URL: lower case, without port, user info kept out by taking
            // what follows '//' up to the first '/', '?' or '#' (as the earlier triggers did).
            db.run(sql`
      INSERT OR IGNORE INTO qa_pair_sources (qa_pair_id, user_id, domain)
      SELECT pair_id, user_id, host FROM (
        SELECT pair_id, user_id, lower(substr(h, 1, instr(h || ':', ':') - 1)) AS host FROM (
          SELECT pair_id, user_id, substr(x, 1, instr(x || '/', '/') - 1) AS h FROM (
            SELECT pair_id, user_id, replace(replace(ltrim(substr(u, instr(u, '//') + 1), '/'), '?', '/'), '#', '/') AS x FROM (
              SELECT p.id AS pair_id, p.user_id AS user_id, json_extract(j.value, '$.url') AS u
              FROM qa_pairs p, json_each(p.search_results) j
              WHERE p.id IN ${inBatch}
            ) WHERE u IS NOT NULL
          )
        )
      ) WHERE host <> ''`);
            db.run(sql`DELETE FROM search_outbox WHERE qa_pair_id IN ${inBatch}`);
            return ids.length;
          },
          { behavior: 'immediate' },
        );

  /** Indexes every noted pair, so that a search sees every committed write. */
  const indexAll = () => {
    while (indexBatch(INDEX_BATCH) === INDEX_BATCH);
  };

  return {
    async indexPending(limit: number): Promise<number> {
      return indexBatch(limit);
    },

    /** Ranked matches of `match` among the user's documents. */
    async search(terms: readonly SearchTerm[], input: SearchFilters): Promise<SearchHit[]> {
      indexAll();
      const match = buildMatchExpression(terms, input.userId, input.chatId);
      try {
        const conditions = sql.join(filters(input), sql` AND `);
        const window = Math.max(RANK_WINDOW, input.offset + input.limit);
        const oldest = db.get<{ id: number | null }>(sql`
          SELECT min(id) AS id FROM (
            SELECT search_index.rowid AS id
            FROM search_index
            JOIN search_docs d ON d.id = search_index.rowid
            WHERE search_index MATCH ${match} AND ${conditions}
            ORDER BY search_index.rowid DESC
            LIMIT ${window}
          )`)?.id;
        if (oldest === null || oldest === undefined) return [];
        // Rank first, then make snippets and highlights for the page only: computed in one
        // query, SQLite would build them for every match before sorting.
        const rows = db.all<HitRow>(sql`
          SELECT d.chat_id, c.title AS chat_title, d.qa_pair_id, d.created_at, page.score,
            snippet(search_index, -1, char(${sql.raw(String(MARK_OPEN_SQL))}), char(${sql.raw(String(MARK_CLOSE_SQL))}), '…', 24) AS snippet,
            ${matchedIn(0)} AS in_title, ${matchedIn(1)} AS in_question,
            ${matchedIn(2)} AS in_answer, ${matchedIn(3)} AS in_sources
          FROM (
            SELECT search_index.rowid AS doc_id, ${BM25} AS score
            FROM search_index
            JOIN search_docs d ON d.id = search_index.rowid
            WHERE search_index MATCH ${match} AND search_index.rowid >= ${oldest} AND ${conditions}
            ORDER BY score, d.id
            LIMIT ${input.limit} OFFSET ${input.offset}
          ) page
          JOIN search_index ON search_index.rowid = page.doc_id AND search_index MATCH ${match}
          JOIN search_docs d ON d.id = page.doc_id
          JOIN chats c ON c.id = d.chat_id
          ORDER BY page.score, d.id`);
        return rows.map(toHit);
      } catch (error) {
        // The expression is built from quoted terms only; should FTS5 still refuse it, the
        // query is the client's problem to fix, not a server error.
        if (error instanceof Error && 'code' in error && error.code === 'SQLITE_ERROR') {
          throw new InvalidSearchQuery(error.message);
        }
        throw error;
      }
    },

    /** Without a text query: the user's pairs citing `domain`, newest first. */
    async listCiting(input: SearchFilters & { domain: string }): Promise<SearchHit[]> {
      indexAll();
      const rows = db.all<HitRow>(sql`
        SELECT d.chat_id, c.title AS chat_title, d.qa_pair_id, d.created_at, NULL AS score,
          replace(replace(substr(p.question, 1, 200), char(${sql.raw(String(MARK_OPEN_SQL))}), ''), char(${sql.raw(String(MARK_CLOSE_SQL))}), '') AS snippet,
          0 AS in_title, 0 AS in_question, 0 AS in_answer, 1 AS in_sources
        FROM search_docs d
        JOIN chats c ON c.id = d.chat_id
        JOIN qa_pairs p ON p.id = d.qa_pair_id
        WHERE ${sql.join(filters(input), sql` AND `)}
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT ${input.limit} OFFSET ${input.offset}`);
      return rows.map(toHit);
    },
  };
}
