// Custom search attributes BrokeForge puts on workflows. Imported by workflow code: no Node imports here.
// The dev server registers exactly these at start (scripts/infra/temporal.ts, tests/setup/global.ts).

export type SearchAttributeKind = 'Keyword' | 'Text' | 'Int' | 'Bool' | 'Datetime' | 'Double' | 'KeywordList';

export const SEARCH_ATTRIBUTES = {
  BrokeForgeServerId: 'Keyword',
  BrokeForgeOperationKind: 'Keyword',
  BrokeForgeResourceType: 'Keyword',
  BrokeForgeResourceId: 'Keyword',
} as const satisfies Record<string, SearchAttributeKind>;

export type BrokeForgeSearchAttribute = keyof typeof SEARCH_ATTRIBUTES;
