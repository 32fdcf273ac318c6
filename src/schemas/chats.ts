import { Type, type Static } from '@sinclair/typebox';
import { publicChat, publicForkedFrom, publicSettings, type PublicChat } from '../domain/render.js';
import type { ChatRow, QaPairRow } from '../domain/types.js';
import { MODEL_MAX_LENGTH, SYSTEM_PROMPT_MAX_LENGTH } from '../domain/limits.js';
import type { ChatView } from '../domain/views.js';
import type { SettingsChange } from '../domain/settings.js';
import type { TreeIndex } from '../domain/tree.js';
import { QUESTION_MAX_LENGTH, TITLE_MAX_LENGTH } from '../domain/limits.js';
import { QaPair, QaPairOnBranch, toQaPair, type PairPlace } from './pairs.js';
import { EXAMPLE_IDS, Id, IdWith, PaginationQuery, Timestamp, TrimmedText, Nullable } from './common.js';

export const UserParams = Type.Object({ user_id: Id }, { additionalProperties: false });
export const ChatParams = Type.Object({ user_id: Id, chat_id: Id }, { additionalProperties: false });

export const SettingsInput = Type.Object(
  {
    system_prompt: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: SYSTEM_PROMPT_MAX_LENGTH,
          description: 'Sent as the system message (openai) or as instructions (you); null clears it',
        }),
      ),
    ),
    model: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: MODEL_MAX_LENGTH,
          description: 'The model to ask (openai); null clears it',
        }),
      ),
    ),
    history_max_turns: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 0,
          maximum: 1000,
          description: 'How many earlier answered pairs to send (overrides HISTORY_MAX_TURNS); null clears it',
        }),
      ),
    ),
  },
  { additionalProperties: false, description: 'A field set to a value changes it, null clears it, absent leaves it' },
);
export const ChatSettings = Type.Object({
  system_prompt: Nullable(Type.String()),
  model: Nullable(Type.String()),
  history_max_turns: Nullable(Type.Integer()),
});

export const CreateChatBody = Type.Object(
  {
    title: Type.Optional(TrimmedText(TITLE_MAX_LENGTH)),
    settings: Type.Optional(SettingsInput),
  },
  {
    additionalProperties: false,
    examples: [
      {
        title: 'Trip to Lisbon',
        settings: { system_prompt: 'Answer in three sentences at most.', history_max_turns: 10 },
      },
    ],
  },
);
export const UpdateChatBody = Type.Object(
  {
    title: Type.Optional(TrimmedText(TITLE_MAX_LENGTH)),
    settings: Type.Optional(SettingsInput),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ title: 'Lisbon in May' }] },
);
export const ContextQuery = Type.Object(
  {
    parent_id: Type.Optional(
      Type.Union([Id, Type.Literal('null')], {
        description:
          'A pair of the chat: the context of a question asked after it; "null": of a new first question. Omit for the active branch.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const ContextResponse = Type.Object({
  provider: Type.String(),
  history_turns: Type.Integer({ description: 'Answered pairs included as history' }),
  body: Type.Unknown({
    description: 'The JSON body the next question would send upstream, without that question (and never a key)',
  }),
});
export const ListChatsQuery = Type.Object(PaginationQuery, { additionalProperties: false });

export const AskBody = Type.Object(
  {
    user_id: Id,
    chat_id: Type.Optional(
      IdWith('An existing chat of the user, or a new UUID (lower case) chosen by the client; omit to start a new chat'),
    ),
    question: Type.String({
      minLength: 1,
      maxLength: QUESTION_MAX_LENGTH,
      description: `1 to ${QUESTION_MAX_LENGTH} characters (Unicode code points: an emoji is one) after trimming`,
    }),
    stream: Type.Optional(
      Type.Boolean({ description: 'Answer with Server-Sent Events (as does Accept: text/event-stream)' }),
    ),
    parent_id: Type.Optional(
      Nullable(
        IdWith(
          'Omit to continue the active branch. A pair of this chat: ask after it (continuing the branch that ends ' +
            'there, or forking a new active branch); this is also how a question is edited (send the edited ' +
            "question with the original pair's parent_id). null: a new first question on a new branch.",
        ),
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'user_id: your id (the id of POST /v1/users); without chat_id a new chat is started',
    examples: [{ user_id: EXAMPLE_IDS.user_id, question: 'What should I see in Lisbon in two days?' }],
  },
);

export const Chat = Type.Object({
  id: Id,
  user_id: Id,
  title: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  qa_count: Type.Integer({ description: 'Pairs in the chat, on every branch' }),
  last_question: Nullable(Type.String()),
  active_branch_id: Nullable(Id),
  settings: ChatSettings,
  forked_from: Nullable(
    Type.Object(
      { chat_id: Id, qa_pair_id: Id },
      { description: 'For a chat made by POST .../fork: the chat and pair its history was copied from' },
    ),
  ),
});
export type Chat = Static<typeof Chat>;

export const ChatWithPairs = Type.Object({
  ...Chat.properties,
  branch_count: Type.Integer(),
  qa_pairs: Type.Array(QaPairOnBranch, {
    description: 'The active branch, first question first: its latest 1000 pairs at most',
  }),
  earlier_qa_pairs: Type.Integer({
    description: 'Pairs of the active branch before the first one returned (the export has them all)',
  }),
});

export const AskResponse = Type.Object({
  chat_id: Id,
  branch_id: IdWith('The branch the pair is on, now the active one'),
  qa_pair: QaPair,
});
export type AskResponse = Static<typeof AskResponse>;

/** The answer of an ask or a regeneration: where the pair went, and the pair. */
export function toAskResponse(asked: { chatId: string; branchId: string; pair: QaPairRow }): AskResponse {
  return { chat_id: asked.chatId, branch_id: asked.branchId, qa_pair: toQaPair(asked.pair) };
}

/** The API's chat: the domain's rendering, field for field (checked both ways below). */
export const toChat = (chat: ChatRow): Chat => publicChat(chat);
export const toForkedFrom = publicForkedFrom;

/**
 * The chat view's JSON (ChatWithPairs, in its key order): the chat, and the pairs of its
 * active branch, each its stored JSON with its place in the tree appended. Concatenated,
 * not built as objects and serialised: a pair's JSON is written once, when it is final.
 * tests/render.test.ts checks that the text is exactly what the response schema's
 * serialiser would write.
 */
export function chatViewJson(view: ChatView): string {
  const chat = JSON.stringify(toChat(view.chat));
  const parts: string[] = [chat.slice(0, -1), ',"branch_count":', String(view.branches.length), ',"qa_pairs":['];
  for (const [index, pair] of view.pairs.entries()) {
    const place = placeInTree(view.tree, pair.id);
    parts.push(
      index === 0 ? '' : ',',
      pair.json.slice(0, -1),
      ',"sibling_index":',
      String(place.siblingIndex),
      ',"siblings":',
      JSON.stringify(place.siblings),
      '}',
    );
  }
  parts.push('],"earlier_qa_pairs":', String(view.earlierPairs), '}');
  return parts.join('');
}

/** The pair's siblings (itself included) in asking order, each with a branch to open it. */
function placeInTree(tree: TreeIndex, pairId: string): PairPlace {
  const siblings = tree.siblingsOf(pairId);
  return {
    siblingIndex: Math.max(0, siblings.indexOf(pairId)),
    siblings: siblings.map((id) => ({ qa_pair_id: id, branch_id: tree.branchThrough(id) })),
  };
}

export const toSettings = publicSettings;

export function fromSettingsInput(input: Static<typeof SettingsInput>): SettingsChange {
  return {
    ...(input.system_prompt === undefined ? {} : { systemPrompt: input.system_prompt }),
    ...(input.model === undefined ? {} : { model: input.model }),
    ...(input.history_max_turns === undefined ? {} : { historyMaxTurns: input.history_max_turns }),
  };
}

// The chat schema is the domain's rendering of a chat, field for field (checked both ways).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Check<T extends true> = T;
export type ChatMatchesRendering = Check<Same<Chat, PublicChat>>;
