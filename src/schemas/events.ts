import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from './common.js';

export const EventStreamQuery = Type.Object(
  {
    after: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Replay every event after this id first (the id of the last event you received; 0 for the whole log). ' +
          'For SSE the Last-Event-ID header does the same, and wins.',
      }),
    ),
    ticket: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'A ticket from POST .../events/tickets, instead of the Authorization header (browsers)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const EventStreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
});

export const EventTicket = Type.Object({
  ticket: Type.String({ description: 'Single use; send it as ?ticket= on the events route. Never logged.' }),
  expires_at: Timestamp,
});
export type EventTicket = Static<typeof EventTicket>;

export const EVENTS_DESCRIPTION = `
A user's events, live: with \`Accept: text/event-stream\` as Server-Sent Events (event name = type, \`id:\` = the
event id), or with a WebSocket upgrade as JSON text frames. Each event is \`{id, type, chat_id, at, data}\`:

| type | data |
| --- | --- |
| \`chat.created\`, \`chat.updated\` | \`{chat}\`: the chat as GET .../chats lists it |
| \`chat.deleted\` | \`{}\` |
| \`pair.started\` | \`{branch_id, qa_pair}\`: the question is stored (status pending or streaming) |
| \`pair.search_results\` | \`{qa_pair_id, search_results}\` |
| \`pair.token\` | \`{qa_pair_id, text}\`: the next piece of a streaming answer (not kept: see the reattach route) |
| \`pair.completed\` | \`{qa_pair}\`: the stored pair, answered or failed |
| \`branch.created\`, \`branch.updated\` | \`{branch: {id, name, fork_qa_pair_id, head_qa_pair_id, created_at, updated_at}}\` |
| \`branch.deleted\` | \`{branch_id, deleted_qa_pairs}\` |
| \`branch.activated\` | \`{branch_id}\` |

After what is replayed (if anything), a \`ready\` frame (\`{last_event_id}\`, \`chat_id\` null) says the stream
is live. **Resume** with \`Last-Event-ID\` (SSE) or
\`?after=ID\`: what you missed is replayed first from the log, which keeps at least each user's latest 1,000 events
or 24 hours of them, whichever is more. When it no longer holds what follows your id you get \`resync\`
(\`{last_event_id}\`): reload what you show, then carry on. **Browsers** (no headers on a WebSocket): get a
single-use ticket from POST .../events/tickets and send \`?ticket=\`. Heartbeats (an SSE comment, a WebSocket ping)
keep idle streams open. A stream that falls too far behind is closed (WebSocket code 4008; SSE: the response ends)
and can resume; at shutdown streams close (WebSocket 1012) and resume on another instance.`;
