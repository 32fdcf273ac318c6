CREATE TABLE "deleted_chats" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "deleted_chats" ADD CONSTRAINT "deleted_chats_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "deleted_chats_user_id_idx" ON "deleted_chats" USING btree ("user_id");