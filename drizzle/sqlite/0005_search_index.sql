-- Custom migration (drizzle-kit generate --custom): the full-text index over what users
-- asked, were answered and cited, and their chat titles, kept in step with every write by
-- triggers (so it changes in the same transaction as the data), then filled with what
-- already exists.
--
-- Tokenizer: porter stemming over unicode61 with diacritics removed, so "fox" finds "foxes"
-- and "cafe" finds "Café". `scope` holds "u<user id> c<chat id>" tokens (ids without dashes)
-- so a user's (and a chat's) documents are selected inside the index itself. The FTS rowid
-- is search_docs.id, a stable INTEGER PRIMARY KEY (a table's implicit rowid can change on VACUUM).
-- qa_pair_sources gets the host of every cited URL (lower case, port dropped), for the
-- "answers citing this site" filter. The host is cut out of the URL with a few string
-- functions (no CTEs are allowed in triggers); each step reads the previous one only twice,
-- since SQLite inlines nested selects and deeper chains make every insert slow to compile.
CREATE VIRTUAL TABLE `search_index` USING fts5(
  `title`, `question`, `answer`, `sources`, `scope`,
  tokenize = 'porter unicode61 remove_diacritics 2'
);
--> statement-breakpoint
CREATE TRIGGER `qa_pairs_search_insert` AFTER INSERT ON `qa_pairs` BEGIN
  INSERT INTO `search_docs` (`user_id`, `chat_id`, `qa_pair_id`, `created_at`)
  VALUES (new.`user_id`, new.`chat_id`, new.`id`, new.`created_at`);
  INSERT INTO `search_index` (`rowid`, `title`, `question`, `answer`, `sources`, `scope`)
  VALUES (
    (SELECT `id` FROM `search_docs` WHERE `qa_pair_id` = new.`id`),
    '',
    new.`question`,
    coalesce(new.`answer`, ''),
    coalesce((SELECT group_concat(coalesce(json_extract(value, '$.name'), '') || ' ' || coalesce(json_extract(value, '$.snippet'), '') || ' ' || coalesce(json_extract(value, '$.url'), ''), ' ') FROM json_each(new.`search_results`)), ''),
    'u' || replace(new.`user_id`, '-', '') || ' c' || replace(new.`chat_id`, '-', '')
  );
  INSERT OR IGNORE INTO `qa_pair_sources` (`qa_pair_id`, `user_id`, `domain`)
  SELECT new.`id`, new.`user_id`, host FROM (
    SELECT lower(substr(h, 1, instr(h || ':', ':') - 1)) AS host FROM (
      SELECT substr(x, 1, instr(x || '/', '/') - 1) AS h FROM (
        SELECT replace(replace(ltrim(substr(u, instr(u, '//') + 1), '/'), '?', '/'), '#', '/') AS x FROM (
          SELECT json_extract(value, '$.url') AS u FROM json_each(new.`search_results`)
        ) WHERE u IS NOT NULL
      )
    )
  ) WHERE host <> '';
END;
--> statement-breakpoint
CREATE TRIGGER `qa_pairs_search_update` AFTER UPDATE OF `question`, `answer`, `search_results` ON `qa_pairs` BEGIN
  UPDATE `search_index` SET
    `question` = new.`question`,
    `answer` = coalesce(new.`answer`, ''),
    `sources` = coalesce((SELECT group_concat(coalesce(json_extract(value, '$.name'), '') || ' ' || coalesce(json_extract(value, '$.snippet'), '') || ' ' || coalesce(json_extract(value, '$.url'), ''), ' ') FROM json_each(new.`search_results`)), '')
  WHERE `rowid` = (SELECT `id` FROM `search_docs` WHERE `qa_pair_id` = new.`id`);
  DELETE FROM `qa_pair_sources` WHERE `qa_pair_id` = new.`id`;
  INSERT OR IGNORE INTO `qa_pair_sources` (`qa_pair_id`, `user_id`, `domain`)
  SELECT new.`id`, new.`user_id`, host FROM (
    SELECT lower(substr(h, 1, instr(h || ':', ':') - 1)) AS host FROM (
      SELECT substr(x, 1, instr(x || '/', '/') - 1) AS h FROM (
        SELECT replace(replace(ltrim(substr(u, instr(u, '//') + 1), '/'), '?', '/'), '#', '/') AS x FROM (
          SELECT json_extract(value, '$.url') AS u FROM json_each(new.`search_results`)
        ) WHERE u IS NOT NULL
      )
    )
  ) WHERE host <> '';
END;
--> statement-breakpoint
CREATE TRIGGER `chats_search_insert` AFTER INSERT ON `chats` BEGIN
  INSERT INTO `search_docs` (`user_id`, `chat_id`, `qa_pair_id`, `created_at`)
  VALUES (new.`user_id`, new.`id`, NULL, new.`created_at`);
  INSERT INTO `search_index` (`rowid`, `title`, `question`, `answer`, `sources`, `scope`)
  VALUES (
    (SELECT `id` FROM `search_docs` WHERE `chat_id` = new.`id` AND `qa_pair_id` IS NULL),
    new.`title`, '', '', '',
    'u' || replace(new.`user_id`, '-', '') || ' c' || replace(new.`id`, '-', '')
  );
END;
--> statement-breakpoint
CREATE TRIGGER `chats_search_update` AFTER UPDATE OF `title` ON `chats` BEGIN
  UPDATE `search_index` SET `title` = new.`title`
  WHERE `rowid` = (SELECT `id` FROM `search_docs` WHERE `chat_id` = new.`id` AND `qa_pair_id` IS NULL);
END;
--> statement-breakpoint
-- Deleting a pair or a chat cascades to search_docs; this takes the FTS row with it.
CREATE TRIGGER `search_docs_delete` AFTER DELETE ON `search_docs` BEGIN
  DELETE FROM `search_index` WHERE `rowid` = old.`id`;
END;
--> statement-breakpoint
INSERT INTO `search_docs` (`user_id`, `chat_id`, `qa_pair_id`, `created_at`)
SELECT `user_id`, `id`, NULL, `created_at` FROM `chats`;
--> statement-breakpoint
INSERT INTO `search_docs` (`user_id`, `chat_id`, `qa_pair_id`, `created_at`)
SELECT `user_id`, `chat_id`, `id`, `created_at` FROM `qa_pairs`;
--> statement-breakpoint
INSERT INTO `search_index` (`rowid`, `title`, `question`, `answer`, `sources`, `scope`)
SELECT d.`id`, c.`title`, '', '', '', 'u' || replace(c.`user_id`, '-', '') || ' c' || replace(c.`id`, '-', '')
FROM `search_docs` d JOIN `chats` c ON c.`id` = d.`chat_id`
WHERE d.`qa_pair_id` IS NULL;
--> statement-breakpoint
INSERT INTO `search_index` (`rowid`, `title`, `question`, `answer`, `sources`, `scope`)
SELECT d.`id`, '', p.`question`, coalesce(p.`answer`, ''),
  coalesce((SELECT group_concat(coalesce(json_extract(value, '$.name'), '') || ' ' || coalesce(json_extract(value, '$.snippet'), '') || ' ' || coalesce(json_extract(value, '$.url'), ''), ' ') FROM json_each(p.`search_results`)), ''),
  'u' || replace(p.`user_id`, '-', '') || ' c' || replace(p.`chat_id`, '-', '')
FROM `search_docs` d JOIN `qa_pairs` p ON p.`id` = d.`qa_pair_id`;
--> statement-breakpoint
INSERT OR IGNORE INTO `qa_pair_sources` (`qa_pair_id`, `user_id`, `domain`)
SELECT pair_id, user_id, host FROM (
  SELECT pair_id, user_id, lower(substr(h, 1, instr(h || ':', ':') - 1)) AS host FROM (
      SELECT pair_id, user_id, substr(x, 1, instr(x || '/', '/') - 1) AS h FROM (
        SELECT pair_id, user_id, replace(replace(ltrim(substr(u, instr(u, '//') + 1), '/'), '?', '/'), '#', '/') AS x FROM (
          SELECT p.`id` AS pair_id, p.`user_id` AS user_id, json_extract(j.value, '$.url') AS u FROM `qa_pairs` p, json_each(p.`search_results`) j
        ) WHERE u IS NOT NULL
      )
    )
) WHERE host <> '';
