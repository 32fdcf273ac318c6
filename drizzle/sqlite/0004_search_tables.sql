CREATE TABLE `qa_pair_sources` (
	`qa_pair_id` text NOT NULL,
	`user_id` text NOT NULL,
	`domain` text NOT NULL,
	PRIMARY KEY(`qa_pair_id`, `domain`),
	FOREIGN KEY (`qa_pair_id`) REFERENCES `qa_pairs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `qa_pair_sources_user_domain_idx` ON `qa_pair_sources` (`user_id`,`domain`);--> statement-breakpoint
CREATE TABLE `search_docs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` text NOT NULL,
	`chat_id` text NOT NULL,
	`qa_pair_id` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`qa_pair_id`) REFERENCES `qa_pairs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `search_docs_qa_pair_unique` ON `search_docs` (`qa_pair_id`);--> statement-breakpoint
CREATE INDEX `search_docs_chat_idx` ON `search_docs` (`chat_id`);--> statement-breakpoint
CREATE INDEX `search_docs_user_idx` ON `search_docs` (`user_id`);