// Registers BrokeForge's search attributes on a Temporal server that lacks them (a server
// the app did not start itself, e.g. TEMPORAL_ADDRESS in production). Idempotent.
import { Connection } from "@temporalio/client";
import proto from "@temporalio/proto"; // CommonJS: named imports do not resolve under ESM
import { SEARCH_ATTRIBUTES } from "./search-attributes";

const { IndexedValueType } = proto.temporal.api.enums.v1;

const TYPES = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Text: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

export async function registerSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (customAttributes ?? {})));
    if (missing.length > 0) {
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map(([name, kind]) => [name, TYPES[kind]])),
      });
    }
    return missing.map(([name]) => name);
  } finally {
    await connection.close();
  }
}
