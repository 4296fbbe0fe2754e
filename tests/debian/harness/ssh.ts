// SSH readiness: a machine is up when a real login as root with the harness's key runs `true`,
// through BrokeForge's own ssh2 client, with the host key checked against the ones generated
// for this boot — never a port probe (slirp4netns and qemu accept connections long before sshd).
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type SshConnection } from "../../../activities/ssh/client";
import type { KeyPair } from "../../../activities/ssh/keys";
import type { BootMode, Machine } from "./types";

export interface HarnessSsh {
  /** A new login as root; throws unless the host key is one of this boot's. */
  connect(readyTimeoutMs: number): Promise<SshConnection>;
  /** Retries logins until `accept` says yes, the machine exits, or the boot timeout passes (the console log in the error). */
  waitFor(accept: (c: SshConnection) => Promise<boolean>, what: string): Promise<SshConnection>;
}

export function harnessSsh(opts: {
  machine: Machine;
  name: string;
  mode: BootMode;
  harnessKey: KeyPair;
  hostKeyFingerprints: string[];
  bootTimeoutMs: number;
  consoleLog(): string;
}): HarnessSsh {
  const { machine, name, mode, harnessKey, hostKeyFingerprints, bootTimeoutMs, consoleLog } = opts;
  const { sshPort } = machine;
  const connectHarness = async (readyTimeoutMs: number) => {
    const conn = await connect(
      { host: "127.0.0.1", port: sshPort, username: "root", privateKey: harnessKey.privateKey, expectedHostKey: null },
      { readyTimeoutMs },
    );
    if (!hostKeyFingerprints.includes(conn.hostKey.fingerprint)) {
      conn.close();
      throw new Error(`unexpected host key ${conn.hostKey.fingerprint} on 127.0.0.1:${sshPort}`);
    }
    return conn;
  };
  return {
    connect: connectHarness,
    async waitFor(accept, what) {
      let lastError: unknown;
      const deadline = Date.now() + bootTimeoutMs;
      for (;;) {
        const exited = machine.exitReason();
        if (exited) throw new Error(`${exited} before ${what}. Console:\n${consoleLog().slice(-8000)}`);
        if (Date.now() > deadline) {
          throw new Error(
            `Debian test server ${name} (${mode}): no ${what} on 127.0.0.1:${sshPort} within ${bootTimeoutMs} ms ` +
              `(last error: ${(lastError as Error)?.message ?? lastError}). Console:\n${consoleLog().slice(-8000)}`,
          );
        }
        let c: SshConnection | undefined;
        try {
          // A VM under software emulation answers the SSH handshake slowly.
          c = await connectHarness(mode === "qemu" ? 20_000 : 5_000);
          if (await accept(c)) return c;
          c.close();
          lastError = new Error("not yet");
        } catch (err) {
          c?.close();
          lastError = err;
        }
        await sleep(mode === "qemu" ? 1_000 : 250);
      }
    },
  };
}

/** `true` over `c`; throws unless it exits 0. */
export async function sshTrueOn(c: SshConnection): Promise<boolean> {
  const r = await c.exec("true", { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new Error(`ssh true exited ${r.exitCode}: ${r.stderr}`);
  return true;
}
