// Custom search attributes BrokeForge puts on workflows: the names and types registered with the
// server, and the typed keys workflows and the client set. Imported by workflow code: no Node imports.
import { defineSearchAttributeKey, SearchAttributeType } from "@temporalio/common";
// The dev server registers exactly these at start (scripts/infra/temporal.ts, tests/setup/global.ts).

export type SearchAttributeKind = "Keyword" | "Text" | "Int" | "Bool" | "Datetime" | "Double" | "KeywordList";

export const SEARCH_ATTRIBUTES = {
  BrokeForgeServerId: "Keyword",
  BrokeForgeOperationKind: "Keyword",
  BrokeForgeResourceType: "Keyword",
  BrokeForgeResourceId: "Keyword",
} as const satisfies Record<string, SearchAttributeKind>;

export type BrokeForgeSearchAttribute = keyof typeof SEARCH_ATTRIBUTES;

export const serverIdKey = defineSearchAttributeKey("BrokeForgeServerId", SearchAttributeType.KEYWORD);
export const operationKindKey = defineSearchAttributeKey("BrokeForgeOperationKind", SearchAttributeType.KEYWORD);
export const resourceTypeKey = defineSearchAttributeKey("BrokeForgeResourceType", SearchAttributeType.KEYWORD);
export const resourceIdKey = defineSearchAttributeKey("BrokeForgeResourceId", SearchAttributeType.KEYWORD);
