CREATE TABLE `branches` (
	`id` text PRIMARY KEY NOT NULL,
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`name` text,
	`fork_pair_id` text,
	`head_pair_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`fork_pair_id`) REFERENCES `qa_pairs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`head_pair_id`) REFERENCES `qa_pairs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `branches_chat_idx` ON `branches` (`chat_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `branches_head_idx` ON `branches` (`head_pair_id`);--> statement-breakpoint
CREATE INDEX `branches_fork_idx` ON `branches` (`fork_pair_id`);--> statement-breakpoint
CREATE INDEX `branches_user_idx` ON `branches` (`user_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `branches_chat_name_unique` ON `branches` (`chat_id`,`name`) WHERE "branches"."name" is not null;--> statement-breakpoint
DROP INDEX `qa_pairs_parent_idx`;--> statement-breakpoint
CREATE INDEX `qa_pairs_parent_seq_idx` ON `qa_pairs` (`parent_id`,`seq`);--> statement-breakpoint
ALTER TABLE `chats` ADD `active_branch_id` text;--> statement-breakpoint
ALTER TABLE `chats` ADD `forked_from_chat_id` text;--> statement-breakpoint
ALTER TABLE `chats` ADD `forked_from_pair_id` text;