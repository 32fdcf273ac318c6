/**
 * What the measure scripts share: a SQLite database seeded through the stores (one user,
 * `chats` chats of 10 answered pairs, indexed for search), and a process's CPU time.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openDatabase } from '../../src/db/sqlite/client.js';
import type { ChatSettings } from '../../src/domain/types.js';
import type { ImportedChat } from '../../src/domain/transfer.js';
import { createSqliteStorage } from '../../src/repositories/sqlite/index.js';
import { createUserService } from '../../src/services/users.js';

export interface SeededDatabase {
  userId: string;
  apiKey: string;
  chatIds: string[];
}

/** Seeds `file` and closes it, so that a server can claim it. */
export async function seedMeasureDatabase(
  file: string,
  options: { chats: number; provider: string; settings?: ChatSettings },
): Promise<SeededDatabase> {
  const opened = openDatabase(file);
  try {
    const storage = createSqliteStorage(opened.db, 'measure');
    const users = createUserService({ users: storage.users, allowSignup: true });
    const at = new Date(Date.UTC(2026, 0, 1));
    const chatOf = (index: number): ImportedChat => ({
      sourceId: `measure:${index}`,
      title: `Chat ${index}`,
      createdAt: at,
      updatedAt: new Date(at.getTime() + index * 1000),
      settings: options.settings ?? {},
      pairs: Array.from({ length: 10 }, (_, position) => ({
        key: `p${position}`,
        parentKey: position === 0 ? null : `p${position - 1}`,
        question: `How does the river ${index} cross the valley, part ${position}?`,
        answer: 'The river finds the lowest path through the stone, season after season. '.repeat(12),
        searchResults: [{ url: `https://example${position}.com/${index}`, name: 'Example', snippet: 'A snippet' }],
        status: 'answered',
        errorCode: null,
        errorMessage: null,
        createdAt: at,
        answeredAt: at,
        provider: options.provider,
        model: null,
        upstreamRequestId: null,
        historyTurns: position,
        latencyMs: 1,
      })),
      branches: [{ key: 'main', name: 'main', forkKey: null, headKey: 'p9', createdAt: at, updatedAt: at }],
      activeBranchKey: 'main',
    });
    const { user, apiKey } = await users.createUser(undefined, { name: 'measured' });
    const chatIds: string[] = [];
    // One transaction: the per-chat ones nest as savepoints.
    opened.sqlite.exec('BEGIN');
    for (let index = 0; index < options.chats; index += 1) {
      const result = await storage.transfer.importChat({ userId: user.id, chat: chatOf(index), newId: randomUUID });
      if (result.status === 'imported') chatIds.push(result.chat.id);
    }
    opened.sqlite.exec('COMMIT');
    // Indexed for search now, so that the server starts with nothing to catch up on.
    while ((await storage.search.indexPending(1000)) > 0);
    return { userId: user.id, apiKey, chatIds };
  } finally {
    await opened.close();
  }
}

/** Clock ticks per second, for utime and stime in /proc/<pid>/stat. */
const clockTicks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU time (user + system) the process has used, in milliseconds. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / clockTicks) * 1000;
}
