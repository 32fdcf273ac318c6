CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`key_hash` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_unique` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_user_id_idx` ON `api_keys` (`user_id`);--> statement-breakpoint
CREATE TABLE `chats` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`title` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`qa_count` integer DEFAULT 0 NOT NULL,
	`last_question` text,
	`last_seq` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `chats_user_updated_idx` ON `chats` (`user_id`,`updated_at`,`id`);--> statement-breakpoint
CREATE TABLE `qa_pairs` (
	`id` text PRIMARY KEY NOT NULL,
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`parent_id` text,
	`seq` integer NOT NULL,
	`question` text NOT NULL,
	`answer` text,
	`search_results` text DEFAULT '[]' NOT NULL,
	`status` text NOT NULL,
	`error_code` text,
	`error_message` text,
	`provider` text NOT NULL,
	`history_turns` integer DEFAULT 0 NOT NULL,
	`latency_ms` integer,
	`created_at` integer NOT NULL,
	`answered_at` integer,
	FOREIGN KEY (`chat_id`) REFERENCES `chats`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`parent_id`) REFERENCES `qa_pairs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `qa_pairs_chat_seq_unique` ON `qa_pairs` (`chat_id`,`seq`);--> statement-breakpoint
CREATE INDEX `qa_pairs_parent_idx` ON `qa_pairs` (`parent_id`);--> statement-breakpoint
CREATE INDEX `qa_pairs_user_idx` ON `qa_pairs` (`user_id`);--> statement-breakpoint
CREATE INDEX `qa_pairs_unfinished_idx` ON `qa_pairs` (`status`) WHERE "qa_pairs"."status" in ('pending', 'streaming');--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
