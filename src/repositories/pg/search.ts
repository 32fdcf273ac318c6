import { sql, type SQL } from 'drizzle-orm';
import type { PgDb } from '../../db/pg/client.js';
import {
  MARK_CLOSE,
  MARK_OPEN,
  RANK_WINDOW,
  type SearchFilters,
  type SearchHit,
  type SearchTerm,
} from '../../domain/search.js';
import type { SearchStore } from '../contract.js';
import { searchFilters } from '../shared-sql.js';

interface HitRow extends Record<string, unknown> {
  chat_id: string;
  chat_title: string;
  qa_pair_id: string | null;
  created_at: string | Date;
  score: number | null;
  snippet: string;
  in_title: boolean;
  in_question: boolean;
  in_answer: boolean;
  in_sources: boolean;
}

/** ts_rank weights in PostgreSQL's order {D, C, B, A}: sources, answer, question, title (as SQLite's bm25 weights). */
const WEIGHTS = sql.raw(`'{0.125, 0.25, 0.75, 1.0}'::float4[]`);
const OPEN = MARK_OPEN.codePointAt(0) ?? 0;
const CLOSE = MARK_CLOSE.codePointAt(0) ?? 0;
const HEADLINE_OPTIONS = sql.raw(
  `'StartSel=' || chr(${OPEN}) || ', StopSel=' || chr(${CLOSE}) || ', MaxWords=24, MinWords=8, ShortWord=0, MaxFragments=1, FragmentDelimiter=…'`,
);
/** A document without the mark characters, whatever rows written before they were reserved hold. */
const unmarked = (document: SQL) =>
  sql`translate(${document}, chr(${sql.raw(String(OPEN))}) || chr(${sql.raw(String(CLOSE))}), '')`;

/**
 * Stand-ins for `<` and `>` while ts_headline runs: its parser takes anything shaped like an
 * HTML tag for markup and leaves it out of the headline, so a question that held
 * `<img src=x>` as text lost it from its snippet. Two more noncharacters, which stored text
 * never holds (they are replaced on the way in), are put back after.
 */
const ANGLE_OPEN = 0xfdd2;
const ANGLE_CLOSE = 0xfdd3;
const angles = sql.raw(`'<>'`);
const standIns = sql.raw(`chr(${ANGLE_OPEN}) || chr(${ANGLE_CLOSE})`);
/** `document` without mark characters and with its angle brackets stood in for, for ts_headline. */
const forHeadline = (document: SQL) => sql`translate(${unmarked(document)}, ${angles}, ${standIns})`;
/** A headline with its angle brackets back. */
const fromHeadline = (headline: SQL) => sql`translate(${headline}, ${standIns}, ${angles})`;

/**
 * One term as a tsquery. The text is a bound parameter that only `phraseto_tsquery` reads,
 * and it treats any input as plain words: no user text is ever parsed as tsquery syntax.
 * A prefix term marks its last word `:*` on the tsquery PostgreSQL printed itself.
 */
function termQuery(term: SearchTerm): SQL {
  const phrase = sql`phraseto_tsquery('chat_search', ${term.text}::text)`;
  if (!term.prefix) return phrase;
  return sql`(SELECT CASE WHEN numnode(t) = 0 THEN t ELSE (t::text || ':*')::tsquery END FROM (SELECT ${phrase} AS t) x)`;
}

/**
 * Full-text search on PostgreSQL: each document's weighted tsvector (kept by triggers,
 * drizzle/pg/0001_search.sql) is matched through its GIN index, ranked by ts_rank
 * (negated, so that lower is better as with SQLite's bm25), and only the page gets
 * highlights (ts_headline) and the "matched in" flags.
 */
export function createPgSearchStore(db: PgDb): SearchStore {
  const filters = (input: SearchFilters) => searchFilters(input, (value) => sql`${value.toISOString()}::timestamptz`);

  const toHit = (row: HitRow): SearchHit => ({
    chatId: row.chat_id,
    chatTitle: row.chat_title,
    qaPairId: row.qa_pair_id,
    createdAt: new Date(row.created_at),
    score: row.score,
    snippet: row.snippet,
    matched: {
      title: row.in_title,
      question: row.in_question,
      answer: row.in_answer,
      sources: row.in_sources,
    },
  });

  return {
    // Documents are written by triggers in the same transaction as their pair or chat
    // (drizzle/pg/0001_search.sql): there is no backlog to index.
    async indexPending(): Promise<number> {
      return 0;
    },

    async search(terms: readonly SearchTerm[], input: SearchFilters): Promise<SearchHit[]> {
      const queries = terms.map(termQuery);
      const all = sql.join(queries, sql` && `);
      const any = sql.join(queries, sql` || `);
      // As on SQLite: ranked among the newest matches only (see RANK_WINDOW).
      const window = Math.max(RANK_WINDOW, input.offset + input.limit);
      const result = await db.execute<HitRow>(sql`
        WITH q AS MATERIALIZED (SELECT (${all}) AS query, (${any}) AS any_query),
        recent AS (
          SELECT d.id
          FROM search_docs d, q
          WHERE d.document @@ q.query AND ${sql.join(filters(input), sql` AND `)}
          ORDER BY d.id DESC
          LIMIT ${window}
        ),
        page AS (
          SELECT d.id, -ts_rank(${WEIGHTS}, d.document, q.query)::float8 AS score
          FROM recent JOIN search_docs d ON d.id = recent.id, q
          ORDER BY score, d.id
          LIMIT ${input.limit} OFFSET ${input.offset}
        ),
        hits AS (
          SELECT page.id, page.score, d.chat_id, c.title AS chat_title, d.qa_pair_id, d.created_at,
            d.qa_pair_id IS NULL AND to_tsvector('chat_search', c.title) @@ q.any_query AS in_title,
            coalesce(to_tsvector('chat_search', p.question) @@ q.any_query, false) AS in_question,
            coalesce(to_tsvector('chat_search', coalesce(p.answer, '')) @@ q.any_query, false) AS in_answer,
            coalesce(to_tsvector('chat_search', chat_search_sources(p.search_results)) @@ q.any_query, false) AS in_sources,
            p.question, p.answer, p.search_results, q.any_query
          FROM page
          CROSS JOIN q
          JOIN search_docs d ON d.id = page.id
          JOIN chats c ON c.id = d.chat_id
          LEFT JOIN qa_pairs p ON p.id = d.qa_pair_id
        )
        SELECT chat_id, chat_title, qa_pair_id, created_at, score, in_title, in_question, in_answer, in_sources,
          ${fromHeadline(sql`ts_headline('chat_search',
            ${forHeadline(sql`CASE
              WHEN qa_pair_id IS NULL THEN chat_title
              WHEN in_question THEN question
              WHEN in_answer THEN answer
              WHEN in_sources THEN chat_search_sources(search_results)
              ELSE question
            END`)},
            any_query, ${HEADLINE_OPTIONS})`)} AS snippet
        FROM hits
        ORDER BY score, id`);
      return result.rows.map(toHit);
    },

    async listCiting(input: SearchFilters & { domain: string }): Promise<SearchHit[]> {
      const result = await db.execute<HitRow>(sql`
        SELECT d.chat_id, c.title AS chat_title, d.qa_pair_id, d.created_at, NULL::float8 AS score,
          ${unmarked(sql`substr(p.question, 1, 200)`)} AS snippet, false AS in_title, false AS in_question, false AS in_answer,
          true AS in_sources
        FROM search_docs d
        JOIN chats c ON c.id = d.chat_id
        JOIN qa_pairs p ON p.id = d.qa_pair_id
        WHERE ${sql.join(filters(input), sql` AND `)}
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT ${input.limit} OFFSET ${input.offset}`);
      return result.rows.map(toHit);
    },
  };
}
