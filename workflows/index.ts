// Every workflow the worker registers (bundled by the Temporal worker; deterministic code only).
export { testConnectionWorkflow } from "./test-connection";
