-- Custom migration (drizzle-kit generate --custom): PostgreSQL's full-text search over what
-- users asked, were answered and cited, and their chat titles, kept in step with every
-- write by triggers (in the same transaction as the data).
--
-- Text search configuration `chat_search`: the English parser; every word goes through
-- `unaccent` (so "cafe" finds "Café") and then an English Snowball stemmer without a stop
-- word list (so "fox" finds "foxes", and no word is silently dropped: SQLite's porter
-- tokenizer has no stop words either). Each document's tsvector weighs title A,
-- question B, answer C, cited sources D, and is searched through a GIN index.
-- qa_pair_sources gets the host of every cited URL (lower case, port dropped), cut out of
-- the URL exactly as the SQLite migration does.
CREATE EXTENSION IF NOT EXISTS unaccent;
--> statement-breakpoint
CREATE TEXT SEARCH DICTIONARY chat_search_stem (TEMPLATE = snowball, LANGUAGE = english);
--> statement-breakpoint
CREATE TEXT SEARCH CONFIGURATION chat_search (COPY = english);
--> statement-breakpoint
ALTER TEXT SEARCH CONFIGURATION chat_search
  ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part, numword, numhword, hword_numpart
  WITH unaccent, chat_search_stem;
--> statement-breakpoint
CREATE FUNCTION chat_search_sources(results jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(coalesce(r->>'name', '') || ' ' || coalesce(r->>'snippet', '') || ' ' || coalesce(r->>'url', ''), ' '), '')
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(results) = 'array' THEN results ELSE '[]'::jsonb END) AS r
$$;
--> statement-breakpoint
CREATE FUNCTION chat_search_pair_document(question text, answer text, results jsonb) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(to_tsvector('chat_search', question), 'B')
    || setweight(to_tsvector('chat_search', coalesce(answer, '')), 'C')
    || setweight(to_tsvector('chat_search', chat_search_sources(results)), 'D')
$$;
--> statement-breakpoint
CREATE FUNCTION chat_search_hosts(results jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT DISTINCT host FROM (
    SELECT lower(split_part(split_part(
      replace(replace(ltrim(substr(u, strpos(u, '//') + 1), '/'), '?', '/'), '#', '/'), '/', 1), ':', 1)) AS host
    FROM (
      SELECT r->>'url' AS u
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(results) = 'array' THEN results ELSE '[]'::jsonb END) AS r
    ) urls
    WHERE u IS NOT NULL
  ) hosts
  WHERE host <> ''
$$;
--> statement-breakpoint
CREATE FUNCTION qa_pairs_search_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO search_docs (user_id, chat_id, qa_pair_id, created_at, document)
    VALUES (NEW.user_id, NEW.chat_id, NEW.id, NEW.created_at,
      chat_search_pair_document(NEW.question, NEW.answer, NEW.search_results));
  ELSE
    UPDATE search_docs SET document = chat_search_pair_document(NEW.question, NEW.answer, NEW.search_results)
    WHERE qa_pair_id = NEW.id;
    DELETE FROM qa_pair_sources WHERE qa_pair_id = NEW.id;
  END IF;
  INSERT INTO qa_pair_sources (qa_pair_id, user_id, domain)
  SELECT NEW.id, NEW.user_id, host FROM chat_search_hosts(NEW.search_results) AS host
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER qa_pairs_search_insert AFTER INSERT ON qa_pairs
  FOR EACH ROW EXECUTE FUNCTION qa_pairs_search_write();
--> statement-breakpoint
CREATE TRIGGER qa_pairs_search_update AFTER UPDATE OF question, answer, search_results ON qa_pairs
  FOR EACH ROW EXECUTE FUNCTION qa_pairs_search_write();
--> statement-breakpoint
CREATE FUNCTION chats_search_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO search_docs (user_id, chat_id, qa_pair_id, created_at, document)
    VALUES (NEW.user_id, NEW.id, NULL, NEW.created_at, setweight(to_tsvector('chat_search', NEW.title), 'A'));
  ELSE
    UPDATE search_docs SET document = setweight(to_tsvector('chat_search', NEW.title), 'A')
    WHERE chat_id = NEW.id AND qa_pair_id IS NULL;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER chats_search_insert AFTER INSERT ON chats
  FOR EACH ROW EXECUTE FUNCTION chats_search_write();
--> statement-breakpoint
CREATE TRIGGER chats_search_update AFTER UPDATE OF title ON chats
  FOR EACH ROW EXECUTE FUNCTION chats_search_write();
