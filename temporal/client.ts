// One Temporal client per process (web and scripts); the worker has its own connection.
import { Client, Connection } from "@temporalio/client";
import { sharedEnv } from "../core/env";

let client: Promise<Client> | undefined;

export function temporalClient(): Promise<Client> {
  client ??= (async () => {
    const env = sharedEnv();
    const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
    return new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  })();
  client.catch(() => (client = undefined)); // retry the connection on the next call
  return client;
}

export async function closeTemporalClient(): Promise<void> {
  const c = await client?.catch(() => undefined);
  client = undefined;
  await c?.connection.close();
}

export function taskQueue(): string {
  return sharedEnv().TEMPORAL_TASK_QUEUE;
}
