-- Custom migration (drizzle-kit generate --custom): moves chats made before branching to
-- the tree model. Every existing chat gets one branch named "main" whose head is its last
-- pair (chats were linear, each pair's parent the one asked before it), and that branch
-- becomes the chat's active branch. Branch ids are random UUIDv4 strings.
INSERT INTO `branches` (`id`, `chat_id`, `user_id`, `name`, `fork_pair_id`, `head_pair_id`, `created_at`, `updated_at`)
SELECT
  lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-'
    || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
  c.`id`,
  c.`user_id`,
  'main',
  NULL,
  (SELECT p.`id` FROM `qa_pairs` p WHERE p.`chat_id` = c.`id` ORDER BY p.`seq` DESC LIMIT 1),
  c.`created_at`,
  c.`updated_at`
FROM `chats` c
WHERE c.`active_branch_id` IS NULL;
--> statement-breakpoint
UPDATE `chats`
SET `active_branch_id` = (SELECT b.`id` FROM `branches` b WHERE b.`chat_id` = `chats`.`id` AND b.`name` = 'main')
WHERE `active_branch_id` IS NULL;
