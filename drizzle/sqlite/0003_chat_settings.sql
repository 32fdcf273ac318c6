ALTER TABLE `chats` ADD `settings` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `qa_pairs` ADD `model` text;--> statement-breakpoint
ALTER TABLE `qa_pairs` ADD `upstream_request_id` text;