ALTER TABLE `chats` ADD `version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `qa_pairs` ADD `rendered` text;--> statement-breakpoint
ALTER TABLE `qa_pairs` ADD `rendered_node` text;--> statement-breakpoint
CREATE INDEX `qa_pairs_chat_tree_idx` ON `qa_pairs` (`chat_id`,`seq`,`id`,`parent_id`);--> statement-breakpoint
CREATE INDEX `qa_pairs_unrendered_idx` ON `qa_pairs` (`id`) WHERE "qa_pairs"."rendered" is null and "qa_pairs"."status" in ('answered', 'failed');--> statement-breakpoint
ALTER TABLE `users` ADD `chats_version` integer DEFAULT 1 NOT NULL;