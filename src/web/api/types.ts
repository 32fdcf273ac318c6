import type { components, operations } from '../../openapi/schema.js';

/** The JSON body of a response entry of the generated types. */
type JsonOf<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type Ok<Id extends keyof operations, Status extends keyof operations[Id]['responses']> = JsonOf<
  operations[Id]['responses'][Status]
>;
type RequestJson<Id extends keyof operations> = operations[Id] extends {
  requestBody?: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;

/** The API's shapes, all derived from the generated OpenAPI types (src/openapi/schema.d.ts). */
export type ErrorBody = components['schemas']['ErrorResponse'];
export type ServerInfo = Ok<'getServerInfo', 200>;
export type User = Ok<'getCurrentUser', 200>;
export type CreatedUser = Ok<'createUser', 201>;
export type ChatSummary = Ok<'listChats', 200>['data'][number];
export type ChatDetail = Ok<'getChat', 200>;
export type QaPair = ChatDetail['qa_pairs'][number];
export type SearchResult = QaPair['search_results'][number];
export type ChatSettings = ChatSummary['settings'];
export type SettingsInput = NonNullable<RequestJson<'updateChat'>['settings']>;
export type AskBody = RequestJson<'ask'>;
export type AskResponse = Ok<'ask', 200>;
export type Branch = Ok<'listBranches', 200>['data'][number];
export type ChatTree = Ok<'getChatTree', 200>;
export type TreeNode = ChatTree['nodes'][number];
export type ChatContext = Ok<'getChatContext', 200>;
export type SearchPage = Ok<'searchHistory', 200>;
export type SearchHit = SearchPage['data'][number];
export type SearchParams = NonNullable<operations['searchHistory']['parameters']['query']>;
export type ImportReport = Ok<'importChats', 200>;
export type ImportResult = ImportReport['results'][number];
