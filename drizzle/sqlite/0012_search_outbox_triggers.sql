-- Custom migration (drizzle-kit generate --custom): a pair's full-text entry is no longer
-- written by the triggers inside the ask's two transactions (tokenising the question, then
-- deleting and re-tokenising it with the answer, and cutting the hosts out of every cited
-- URL twice), which was about 40% of an ask's CPU time. The triggers now only note the pair
-- in search_outbox; the search store indexes the noted pairs in batches, on a timer and
-- before every search, so a search still sees every committed write. search_docs keeps its
-- row from the insert trigger: its id is the pair's rowid in search_index.
DROP TRIGGER `qa_pairs_search_insert`;
--> statement-breakpoint
CREATE TRIGGER `qa_pairs_search_insert` AFTER INSERT ON `qa_pairs` BEGIN
  INSERT INTO `search_docs` (`user_id`, `chat_id`, `qa_pair_id`, `created_at`)
  VALUES (new.`user_id`, new.`chat_id`, new.`id`, new.`created_at`);
  INSERT OR IGNORE INTO `search_outbox` (`qa_pair_id`) VALUES (new.`id`);
END;
--> statement-breakpoint
DROP TRIGGER `qa_pairs_search_update`;
--> statement-breakpoint
CREATE TRIGGER `qa_pairs_search_update` AFTER UPDATE OF `question`, `answer`, `search_results` ON `qa_pairs` BEGIN
  INSERT OR IGNORE INTO `search_outbox` (`qa_pair_id`) VALUES (new.`id`);
END;
