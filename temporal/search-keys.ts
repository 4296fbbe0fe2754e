// Typed search attribute keys the app sets on workflows (registered with the server from
// SEARCH_ATTRIBUTES in ./search-attributes). Safe to import from workflow code.
import { defineSearchAttributeKey, SearchAttributeType } from "@temporalio/common";

export const serverIdKey = defineSearchAttributeKey("BrokeForgeServerId", SearchAttributeType.KEYWORD);
export const operationKindKey = defineSearchAttributeKey("BrokeForgeOperationKind", SearchAttributeType.KEYWORD);
export const resourceTypeKey = defineSearchAttributeKey("BrokeForgeResourceType", SearchAttributeType.KEYWORD);
export const resourceIdKey = defineSearchAttributeKey("BrokeForgeResourceId", SearchAttributeType.KEYWORD);
