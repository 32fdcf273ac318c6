ALTER TABLE `chats` ADD `version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `qa_pairs` ADD `rendered` text;--> statement-breakpoint
ALTER TABLE `qa_pairs` ADD `rendered_node` text;--> statement-breakpoint
ALTER TABLE `users` ADD `chats_version` integer DEFAULT 1 NOT NULL;