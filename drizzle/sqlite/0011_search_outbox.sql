CREATE TABLE `search_outbox` (
	`qa_pair_id` text PRIMARY KEY NOT NULL,
	FOREIGN KEY (`qa_pair_id`) REFERENCES `qa_pairs`(`id`) ON UPDATE no action ON DELETE cascade
);
