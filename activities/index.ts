// Every activity the worker registers. Workflows import this file as a type only.
export { markOperationRunning, probeServer, recordConnectionOutcome } from "./connection";
export { beginOperation, completeOperation, failOperation } from "./operations";
export { cleanupOperation, runMilestone } from "./milestones";
export { checkPreconditions } from "./preconditions";
