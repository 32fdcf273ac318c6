/**
 * Every length and count limit of the service, in one place: the schemas, the services and
 * both engines' stores take them from here, so a limit is never stated twice. Lengths
 * count characters (Unicode code points), as `characterCount` in ./text.ts does.
 */

/** Chat titles, given or imported. */
export const TITLE_MAX_LENGTH = 200;
/** A title derived from a chat's first question is at most this long. */
export const DERIVED_TITLE_LENGTH = 80;
/** The title of a chat created without one. */
export const DEFAULT_CHAT_TITLE = 'New chat';
export const QUESTION_MAX_LENGTH = 16_000;
/** User names. */
export const NAME_MAX_LENGTH = 100;
/** Raw input may be longer than its limit by surrounding whitespace, which is trimmed. */
export const RAW_TEXT_SLACK = 1000;

export const SYSTEM_PROMPT_MAX_LENGTH = 8000;
export const MODEL_MAX_LENGTH = 200;

/** The branch every chat starts with. */
export const MAIN_BRANCH_NAME = 'main';
export const BRANCH_NAME_MAX_LENGTH = 100;
/** Branches one chat may have: every list and tree of a chat stays bounded. */
export const MAX_BRANCHES_PER_CHAT = 1000;
/** The most pairs the tree route returns; larger trees are cut (in asking order) and flagged. */
export const MAX_TREE_NODES = 5000;
/** GET of a chat returns at most this many pairs: the latest of its active branch. */
export const MAX_PAIRS_IN_VIEW = 1000;

/** Asks waiting behind the running one on a chat before more are turned away (429 CHAT_BUSY). */
export const MAX_QUEUED_ASKS_PER_CHAT = 8;
/** More sources than this are not kept from one answer (an export holds at most 200 per pair). */
export const MAX_SEARCH_RESULTS = 100;

export const SEARCH_QUERY_MAX_LENGTH = 500;
/** Deeper than this, refine the query instead of paging on. */
export const SEARCH_MAX_OFFSET = 10_000;

/** The most chats one import may hold. */
export const MAX_IMPORTED_CHATS = 1000;
/** How deep an imported value may nest: deeper than any chat of ours or ChatGPT's conversation needs. */
export const MAX_IMPORT_DEPTH = 64;
/** Imported questions, titles and other text fields. */
export const IMPORTED_TEXT_MAX_LENGTH = 200_000;
/** As large as any answer the service itself stores (the upstream body cap), so every export re-imports. */
export const IMPORTED_ANSWER_MAX_LENGTH = 5_000_000;
export const MAX_EXPORTED_SEARCH_RESULTS = 200;
export const MAX_IMPORTED_PAIRS = 10_000;
export const MAX_IMPORTED_BRANCHES = 1_000;
