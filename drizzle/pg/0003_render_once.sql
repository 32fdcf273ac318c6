ALTER TABLE "chats" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "qa_pairs" ADD COLUMN "rendered" text;--> statement-breakpoint
ALTER TABLE "qa_pairs" ADD COLUMN "rendered_node" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "chats_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX "qa_pairs_chat_tree_idx" ON "qa_pairs" USING btree ("chat_id","seq","id","parent_id");--> statement-breakpoint
CREATE INDEX "qa_pairs_unrendered_idx" ON "qa_pairs" USING btree ("id") WHERE "qa_pairs"."rendered" is null and "qa_pairs"."status" in ('answered', 'failed');