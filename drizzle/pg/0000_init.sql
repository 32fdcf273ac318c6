CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "app_instances" (
	"id" text PRIMARY KEY NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"heartbeat_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "branches" (
	"id" text PRIMARY KEY NOT NULL,
	"chat_id" text NOT NULL,
	"user_id" text NOT NULL,
	"name" text,
	"fork_pair_id" text,
	"head_pair_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chats" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"title" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"qa_count" integer DEFAULT 0 NOT NULL,
	"last_question" text,
	"last_seq" integer DEFAULT 0 NOT NULL,
	"active_branch_id" text,
	"forked_from_chat_id" text,
	"forked_from_pair_id" text,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"import_source" text
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"user_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"state" text NOT NULL,
	"status_code" integer,
	"response" text,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "idempotency_keys_user_id_key_pk" PRIMARY KEY("user_id","key")
);
--> statement-breakpoint
CREATE TABLE "pending_pairs" (
	"qa_pair_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"instance_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "qa_pair_sources" (
	"qa_pair_id" text NOT NULL,
	"user_id" text NOT NULL,
	"domain" text NOT NULL,
	CONSTRAINT "qa_pair_sources_qa_pair_id_domain_pk" PRIMARY KEY("qa_pair_id","domain")
);
--> statement-breakpoint
CREATE TABLE "qa_pairs" (
	"id" text PRIMARY KEY NOT NULL,
	"chat_id" text NOT NULL,
	"user_id" text NOT NULL,
	"parent_id" text,
	"seq" integer NOT NULL,
	"question" text NOT NULL,
	"answer" text,
	"search_results" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"status" text NOT NULL,
	"error_code" text,
	"error_message" text,
	"provider" text NOT NULL,
	"model" text,
	"upstream_request_id" text,
	"history_turns" integer DEFAULT 0 NOT NULL,
	"latency_ms" integer,
	"created_at" timestamp with time zone NOT NULL,
	"answered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "search_docs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "search_docs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"user_id" text NOT NULL,
	"chat_id" text NOT NULL,
	"qa_pair_id" text,
	"created_at" timestamp with time zone NOT NULL,
	"document" "tsvector" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branches" ADD CONSTRAINT "branches_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branches" ADD CONSTRAINT "branches_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branches" ADD CONSTRAINT "branches_fork_pair_id_qa_pairs_id_fk" FOREIGN KEY ("fork_pair_id") REFERENCES "public"."qa_pairs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "branches" ADD CONSTRAINT "branches_head_pair_id_qa_pairs_id_fk" FOREIGN KEY ("head_pair_id") REFERENCES "public"."qa_pairs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chats" ADD CONSTRAINT "chats_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pending_pairs" ADD CONSTRAINT "pending_pairs_qa_pair_id_qa_pairs_id_fk" FOREIGN KEY ("qa_pair_id") REFERENCES "public"."qa_pairs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pending_pairs" ADD CONSTRAINT "pending_pairs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "qa_pair_sources" ADD CONSTRAINT "qa_pair_sources_qa_pair_id_qa_pairs_id_fk" FOREIGN KEY ("qa_pair_id") REFERENCES "public"."qa_pairs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "qa_pair_sources" ADD CONSTRAINT "qa_pair_sources_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "qa_pairs" ADD CONSTRAINT "qa_pairs_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "qa_pairs" ADD CONSTRAINT "qa_pairs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "qa_pairs" ADD CONSTRAINT "qa_pairs_parent_id_qa_pairs_id_fk" FOREIGN KEY ("parent_id") REFERENCES "public"."qa_pairs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "search_docs" ADD CONSTRAINT "search_docs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "search_docs" ADD CONSTRAINT "search_docs_chat_id_chats_id_fk" FOREIGN KEY ("chat_id") REFERENCES "public"."chats"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "search_docs" ADD CONSTRAINT "search_docs_qa_pair_id_qa_pairs_id_fk" FOREIGN KEY ("qa_pair_id") REFERENCES "public"."qa_pairs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_unique" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_keys_user_id_idx" ON "api_keys" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "branches_chat_idx" ON "branches" USING btree ("chat_id","created_at","id");--> statement-breakpoint
CREATE INDEX "branches_head_idx" ON "branches" USING btree ("head_pair_id");--> statement-breakpoint
CREATE INDEX "branches_fork_idx" ON "branches" USING btree ("fork_pair_id");--> statement-breakpoint
CREATE INDEX "branches_user_idx" ON "branches" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "branches_chat_name_unique" ON "branches" USING btree ("chat_id","name") WHERE "branches"."name" is not null;--> statement-breakpoint
CREATE INDEX "chats_user_updated_idx" ON "chats" USING btree ("user_id","updated_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "chats_user_import_source_unique" ON "chats" USING btree ("user_id","import_source") WHERE "chats"."import_source" is not null;--> statement-breakpoint
CREATE INDEX "idempotency_keys_expires_idx" ON "idempotency_keys" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "pending_pairs_instance_idx" ON "pending_pairs" USING btree ("instance_id");--> statement-breakpoint
CREATE INDEX "qa_pair_sources_user_domain_idx" ON "qa_pair_sources" USING btree ("user_id","domain");--> statement-breakpoint
CREATE UNIQUE INDEX "qa_pairs_chat_seq_unique" ON "qa_pairs" USING btree ("chat_id","seq");--> statement-breakpoint
CREATE INDEX "qa_pairs_parent_seq_idx" ON "qa_pairs" USING btree ("parent_id","seq");--> statement-breakpoint
CREATE INDEX "qa_pairs_user_idx" ON "qa_pairs" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "qa_pairs_unfinished_idx" ON "qa_pairs" USING btree ("status") WHERE "qa_pairs"."status" in ('pending', 'streaming');--> statement-breakpoint
CREATE UNIQUE INDEX "search_docs_qa_pair_unique" ON "search_docs" USING btree ("qa_pair_id");--> statement-breakpoint
CREATE INDEX "search_docs_chat_pair_idx" ON "search_docs" USING btree ("chat_id","qa_pair_id");--> statement-breakpoint
CREATE INDEX "search_docs_user_idx" ON "search_docs" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "search_docs_document_idx" ON "search_docs" USING gin ("document");