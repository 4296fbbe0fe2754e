// Harness for engine tests: an isolated app env, an in-process worker, the ssh2 test peer
// standing in for any number of servers (each a fake server that really runs what it gets:
// tests/fixtures/ssh-peer/; `peer.server(serverId)` reads what it ended with), and a
// signed-in user's tRPC caller.
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import { eventually, setupTestEnv, startTestWorker, teardownTestEnv, type TestEnv } from "./app";

export interface Engine {
  env: TestEnv;
  peer: SshPeer;
  /** The in-process worker; null with `worker: false` (the test runs worker processes of its own). */
  worker: Awaited<ReturnType<typeof startTestWorker>> | null;
  api: ReturnType<typeof import("../../trpc/router").createCaller>;
  db: ReturnType<typeof import("../../core/db").db>;
  userId: string;
  /**
   * Adds a server like a user would, pointing at the peer, its key authorized there for its
   * login user (root), which gives it a fake server of its own. It starts with `packages`
   * (default: firewall, scheduler and supervisor) recorded as installed, as a provisioned
   * server would, so resource tests pass the kit's package preconditions (the fake server's
   * stub tools answer whether or not their package was installed on it); `packages: []`
   * gives a bare server.
   */
  addServer(name?: string, opts?: { packages?: readonly string[] }): Promise<{ id: string }>;
  stop(): Promise<void>;
}

export async function startEngine(opts: { worker?: boolean } = {}): Promise<Engine> {
  const env = await setupTestEnv();
  const peer = await startSshPeer();
  const worker = opts.worker === false ? null : await startTestWorker();
  const { db: getDb } = await import("../../core/db");
  const { createCaller } = await import("../../trpc/router");
  const db = getDb();
  const user = await db.user.create({ data: { email: `ops-${env.taskQueue}@example.com`, passwordHash: "x" } });
  const api = createCaller({ principal: { user, via: { kind: "session", sessionId: "test" } }, ip: "127.0.0.1" });
  let n = 0;
  return {
    env,
    peer,
    worker,
    api,
    db,
    userId: user.id,
    async addServer(name = `server-${++n}`, opts = {}) {
      const sshUser = "root";
      const server = await api.servers.create({ name, host: "127.0.0.1", sshPort: peer.port, sshUser });
      const credential = await db.serverCredential.findFirstOrThrow({ where: { serverId: server.id, kind: "root" } });
      peer.authorize(credential.publicKey, server.id, { username: sshUser });
      const { packageDefinition } = await import("../../catalogue");
      for (const type of opts.packages ?? ["firewall", "scheduler", "supervisor"]) {
        const definition = packageDefinition(type);
        if (!definition) throw new Error(`no package ${type}`);
        await db.serverPackage.create({ data: { serverId: server.id, type, name: definition.name, status: "active" } });
      }
      return server;
    },
    async stop() {
      await worker?.stop();
      await peer.stop();
      await teardownTestEnv(env);
    },
  };
}

export { eventually };

/** A latch a peer handler can wait on, to hold a command "running" while the test looks. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}
