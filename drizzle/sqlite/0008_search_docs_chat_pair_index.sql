DROP INDEX `search_docs_chat_idx`;--> statement-breakpoint
CREATE INDEX `search_docs_chat_pair_idx` ON `search_docs` (`chat_id`,`qa_pair_id`);