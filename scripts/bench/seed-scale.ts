/**
 * Seeds the scale run's database directly, without HTTP: USERS users sharing PAIRS
 * question/answer pairs (10 pairs a chat), written through the stores the server
 * uses, so every trigger (search index, cited hosts) runs as in production. On top, the
 * same probes as the small database: one chat of 200 pairs and one user with 10,000 chats.
 *
 *   DATABASE_URL=/tmp/scale.db USERS=10000 PAIRS=1000000 tsx scripts/bench/seed-scale.ts
 *
 * Prints one JSON line: the probe user and its key, the 200-pair chat, the lister and its key.
 */
import { randomUUID } from 'node:crypto';
import { openDatabase } from '../../src/db/sqlite/client.js';
import { createSqliteStorage } from '../../src/repositories/sqlite/index.js';
import type { ImportedChat, ImportedPair } from '../../src/domain/transfer.js';
import { createUserService } from '../../src/services/users.js';

const location = process.env.DATABASE_URL ?? '';
if (!location) throw new Error('Set DATABASE_URL to the database file to seed');
const userCount = Number(process.env.USERS ?? 10_000);
const pairCount = Number(process.env.PAIRS ?? 1_000_000);
const PAIRS_PER_CHAT = 10;

const database = openDatabase(location);
const storage = createSqliteStorage(database.db, 'seed');
const userService = createUserService({ users: storage.users, allowSignup: true });

// Text from a small vocabulary, varied per pair, so the search index has realistic postings.
const words = (
  'otter heron beaver fox river forest winter summer night morning water stone light shadow wind rain field ' +
  'mountain valley city road bridge garden market music story history science energy planet ocean'
).split(' ');
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const sentence = (length: number) =>
  Array.from({ length }, () => words[Math.floor(random() * words.length)] ?? 'word').join(' ');

const at = new Date(Date.UTC(2026, 0, 1));
function chatOf(title: string, pairs: number): ImportedChat {
  const imported: ImportedPair[] = Array.from({ length: pairs }, (_, index) => ({
    key: `p${index}`,
    parentKey: index === 0 ? null : `p${index - 1}`,
    question: `How does the ${sentence(6)}?`,
    answer: `${sentence(70)}.`,
    searchResults: [{ url: `https://example${index % 50}.com/page`, name: 'Example', snippet: sentence(8) }],
    status: 'answered',
    errorCode: null,
    errorMessage: null,
    createdAt: at,
    answeredAt: at,
    provider: 'you',
    model: null,
    upstreamRequestId: null,
    historyTurns: Math.min(index, 20),
    latencyMs: 900,
  }));
  return {
    sourceId: `scale:${randomUUID()}`,
    title,
    createdAt: at,
    updatedAt: new Date(at.getTime() + Math.floor(random() * 1e9)),
    settings: {},
    pairs: imported,
    branches: [
      {
        key: 'main',
        name: 'main',
        forkKey: null,
        headKey: pairs ? `p${pairs - 1}` : null,
        createdAt: at,
        updatedAt: at,
      },
    ],
    activeBranchKey: 'main',
  };
}

/** Many chats in one transaction: the per-chat transactions nest as savepoints. */
async function inOneTransaction(work: () => Promise<void>) {
  database.sqlite.exec('BEGIN');
  try {
    await work();
    database.sqlite.exec('COMMIT');
  } catch (error) {
    database.sqlite.exec('ROLLBACK');
    throw error;
  }
}

const started = Date.now();
const chatsPerUser = Math.max(1, Math.round(pairCount / userCount / PAIRS_PER_CHAT));
let written = 0;
for (let userIndex = 0; userIndex < userCount; userIndex += 50) {
  const batch = await Promise.all(
    Array.from({ length: Math.min(50, userCount - userIndex) }, (_, offset) =>
      userService.createUser(undefined, { name: `scale user ${userIndex + offset}` }),
    ),
  );
  await inOneTransaction(async () => {
    for (const { user } of batch) {
      for (let chat = 0; chat < chatsPerUser; chat += 1) {
        await storage.transfer.importChat({
          userId: user.id,
          chat: chatOf(`Chat ${chat}`, PAIRS_PER_CHAT),
          newId: randomUUID,
        });
        written += PAIRS_PER_CHAT;
      }
    }
  });
  if (userIndex % 1000 === 0)
    process.stderr.write(`  ${written} pairs in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

const probe = await userService.createUser(undefined, { name: 'probe' });
const probeChat = await storage.transfer.importChat({
  userId: probe.user.id,
  chat: chatOf('Probe', 200),
  newId: randomUUID,
});
const lister = await userService.createUser(undefined, { name: 'lister' });
for (let start = 0; start < 10_000; start += 1000) {
  await inOneTransaction(async () => {
    for (let index = start; index < start + 1000; index += 1)
      await storage.transfer.importChat({
        userId: lister.user.id,
        chat: chatOf(`Listed ${index}`, 1),
        newId: randomUUID,
      });
  });
}
// Imports only note their pairs for the search index (search_outbox); index them now, as
// the triggers of a database from before it did while seeding, so that the server does not
// spend the measured runs catching up in the background.
const indexing = Date.now();
let indexed = 0;
for (let batch = await storage.search.indexPending(5000); batch > 0; batch = await storage.search.indexPending(5000))
  indexed += batch;
process.stderr.write(`  indexed ${indexed} pairs for search in ${((Date.now() - indexing) / 1000).toFixed(0)} s\n`);
await database.close();
if (probeChat.status !== 'imported') throw new Error('the probe chat was not imported');
process.stderr.write(`  seeded ${written + 10_200} pairs in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.stdout.write(
  `${JSON.stringify({
    probe: { id: probe.user.id, apiKey: probe.apiKey, chatId: probeChat.chat.id },
    lister: { id: lister.user.id, apiKey: lister.apiKey },
  })}\n`,
);
