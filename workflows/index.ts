// Every workflow the worker registers (bundled by the Temporal worker; deterministic code only).
export { testConnectionWorkflow } from "./test-connection";
export { serverQueueWorkflow } from "./server-queue";
export { operationWorkflow } from "./operation";
