// bootDebian: one throwaway Debian server (12 by default, 13 with suite 'trixie') per call. The cached tree (tree.ts) gets a fresh
// overlay and identity (overlay.ts) in its own run dir (run-dir.ts), boots as an nspawn
// container (nspawn.ts) or a QEMU VM (qemu.ts), and is ready once a real SSH login works
// (ssh.ts). The returned server talks to it over one reused harness connection.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { APT_PROXY_CONF, aptProxyConf, applyNetnsRules, ensureAptCache, netnsRules } from "./apt-cache";
import { startNspawn } from "./nspawn";
import { provisionOverlay } from "./overlay";
import { startQemu } from "./qemu";
import { createRun, sweepLeftovers } from "./run-dir";
import { harnessSsh, sshTrueOn } from "./ssh";
import { ensureHostTools, ensureTree } from "./tree";
import type { BootMode, BootOptions, DebianServer, DebianServerExtras } from "./types";

const DEFAULT_BOOT_TIMEOUT: Record<BootMode, number> = { nspawn: 120_000, qemu: 600_000 };

export async function bootDebian(opts: BootOptions = {}): Promise<DebianServer & DebianServerExtras> {
  const mode = opts.mode ?? "nspawn";
  const suite = opts.suite ?? "bookworm";
  await ensureHostTools({ qemu: mode === "qemu" });
  sweepLeftovers();
  const tree = await ensureTree(mode === "qemu" ? "vm" : "nspawn", suite);
  const aptCachePort = opts.aptCache === false ? null : await ensureAptCache();
  const bootTimeoutMs = Number(process.env.DEBIAN_TEST_BOOT_TIMEOUT_MS ?? DEFAULT_BOOT_TIMEOUT[mode]);

  const id = randomBytes(4).toString("hex");
  const name = `bf-${(opts.label ?? "deb").replace(/[^a-z0-9-]/gi, "").slice(0, 20)}-${id}`.toLowerCase();
  const run = createRun(name);

  try {
    const { hostKeyFingerprints, harnessKey } = provisionOverlay(run, tree);
    if (aptCachePort !== null) writeFileSync(path.join(run.rootDir, APT_PROXY_CONF), aptProxyConf(aptCachePort));
    const machine = mode === "nspawn" ? await startNspawn(run, { hostLoopback: aptCachePort !== null }) : await startQemu(run, tree);
    // Before the machine's first apt run: the host's loopback only on the cache's port (and the
    // ports a test opens later). The table is rebuilt from this state on every change.
    let mirrorBlocked = false;
    const hostPorts = new Set<number>();
    const applyRules = async () => {
      // Without the cache the namespace cannot reach the host at all; 0 matches no real port.
      await applyNetnsRules(machine.netnsPid!, netnsRules(aptCachePort ?? 0, mirrorBlocked, [...hostPorts]));
    };
    const setMirrorBlocked = async (blocked: boolean) => {
      if (machine.netnsPid === undefined) throw new Error(`blockMirror/unblockMirror need nspawn mode (${name} is ${mode})`);
      mirrorBlocked = blocked;
      await applyRules();
    };
    if (aptCachePort !== null && machine.netnsPid !== undefined) await setMirrorBlocked(false);
    const ssh = harnessSsh({ machine, name, mode, harnessKey, hostKeyFingerprints, bootTimeoutMs, consoleLog: run.consoleLog });
    let current = await ssh.waitFor(sshTrueOn, "`ssh true`");
    const bootMs = Date.now() - machine.startedAt;

    const exec = async (command: string, o: { timeoutMs?: number } = {}) => {
      try {
        return await current.exec(command, { timeoutMs: o.timeoutMs ?? 120_000 });
      } catch (err) {
        // The connection may have dropped (e.g. a firewall test); one reconnect, then give up.
        if ((err as { kind?: string }).kind === "command_timeout") throw err;
        current.close();
        current = await ssh.connect(10_000);
        return current.exec(command, { timeoutMs: o.timeoutMs ?? 120_000 });
      }
    };
    const bootId = async () => (await server.sh("cat /proc/sys/kernel/random/boot_id")).trim();
    const server: DebianServer & DebianServerExtras = {
      name,
      mode,
      host: "127.0.0.1",
      sshPort: machine.sshPort,
      hostKeyFingerprints,
      rootDir: run.rootDir,
      bootMs,
      suite,
      blockMirror: () => setMirrorBlocked(true),
      unblockMirror: () => setMirrorBlocked(false),
      async allowHostPort(port) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not a TCP port: ${port}`);
        // QEMU's user network maps 10.0.2.2 to the host's loopback with no fence: already open.
        if (machine.netnsPid === undefined) return;
        if (aptCachePort === null) throw new Error(`${name} booted with aptCache: false cannot reach the host's loopback at all`);
        hostPorts.add(port);
        await applyRules();
      },
      exec,
      async sh(command, o) {
        const r = await exec(command, o);
        if (r.exitCode !== 0) {
          throw new Error(`on ${name}: \`${command}\` exited ${r.exitCode}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`);
        }
        return r.stdout;
      },
      async sshTrue(timeoutMs = 15_000) {
        const c = await ssh.connect(timeoutMs);
        try {
          await sshTrueOn(c);
        } finally {
          c.close();
        }
      },
      async authorize(publicKey) {
        if (!/^ssh-[a-z0-9-]+ [A-Za-z0-9+/=]+( [^\n']*)?$/.test(publicKey.trim())) throw new Error(`not a public key line: ${publicKey}`);
        await server.sh(`printf '%s\\n' '${publicKey.trim()}' >> /root/.ssh/authorized_keys`);
      },
      forward: machine.forward,
      consoleLog: run.consoleLog,
      bootId,
      async reboot() {
        const before = await bootId();
        const t = Date.now();
        // The connection drops while the command runs: its result does not matter.
        await current.exec("systemctl reboot", { timeoutMs: 10_000 }).catch(() => undefined);
        current.close();
        current = await ssh.waitFor(async (c) => {
          const r = await c.exec("cat /proc/sys/kernel/random/boot_id; systemctl is-system-running --wait", { timeoutMs: 120_000 });
          return r.stdout.split("\n")[0]!.trim() !== before;
        }, "login after the reboot");
        return Date.now() - t;
      },
      async stop() {
        current.close();
        await run.stop();
      },
    };
    return server;
  } catch (err) {
    await run.stop();
    throw err;
  }
}
