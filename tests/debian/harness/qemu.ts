// qemu mode: the provisioned overlay (with this boot's keys) becomes an ext4 disk image and
// Debian's own kernel from the `vm` tree boots it under software emulation; user-mode
// networking gives NAT and the 127.0.0.1 port forwards (more added at run time over QMP).
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { freePort } from "../../../scripts/infra/ports";
import { setSshPort } from "./overlay";
import { unmount, type Run } from "./run-dir";
import type { Machine } from "./types";

export async function startQemu(run: Run, tree: string): Promise<Machine> {
  const { machine, dir, rootDir, consolePath } = run;
  const sshPort = await freePort();
  setSshPort(rootDir, sshPort);
  const disk = path.join(dir, "disk.raw");
  execFileSync("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", rootDir, disk, "6G"]);
  // The image has it all now: the overlay is no longer needed.
  unmount(rootDir);
  run.setMounted(false);
  rmSync(path.join(dir, "upper"), { recursive: true, force: true });
  const boot = path.join(tree, "boot");
  const kernel = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  const initrd = readdirSync(boot).find((f) => f.startsWith("initrd.img-"));
  if (!kernel || !initrd) throw new Error(`no kernel/initrd in ${boot}`);
  const qmp = path.join(dir, "qmp.sock");
  const qemuLogPath = path.join(dir, "qemu.log");
  const qemuLog = openSync(qemuLogPath, "a");
  // Flags and their values grouped a line each (kept out of the formatter's one-per-line layout).
  // prettier-ignore
  const argv = [
    '--pdeathsig', 'KILL', '--', 'qemu-system-x86_64',
    '-name', machine,
    // KVM cannot boot Debian kernels on these machines: software emulation (TCG).
    '-machine', 'pc', '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', '2', '-m', '1536',
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-kernel', path.join(boot, kernel), '-initrd', path.join(boot, initrd),
    '-append', 'root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1',
    '-drive', `file=${disk},format=raw,if=virtio,cache=unsafe`,
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${sshPort}-:${sshPort}`,
    '-device', 'virtio-net-pci,netdev=n0',
    '-device', 'virtio-rng-pci',
    '-serial', `file:${consolePath}`,
    '-qmp', `unix:${qmp},server=on,wait=off`,
  ];
  const qemu = spawn("setpriv", argv, { stdio: ["ignore", qemuLog, qemuLog] });
  closeSync(qemuLog);
  run.track("nspawn", qemu); // "the machine" for teardown
  const startedAt = Date.now();
  let exit: string | null = null;
  qemu.once("exit", (code, signal) => (exit = `qemu exited (${signal ?? code}): ${readFileSync(qemuLogPath, "utf8")}`));
  const forward = async (guestPort: number) => {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const out = await qmpHumanCommand(qmp, `hostfwd_add n0 tcp:127.0.0.1:${port}-:${guestPort}`);
      if (!out.trim()) return port;
      if (attempt >= 5) throw new Error(`qemu could not forward a port to ${guestPort}: ${out}`);
    }
  };
  return { sshPort, forward, startedAt, exitReason: () => exit };
}

/** One human-monitor command over QMP (capabilities handshake first); resolves with its output. */
async function qmpHumanCommand(socket: string, commandLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let buf = "";
    let step = 0;
    const timer = setTimeout(() => (c.destroy(), reject(new Error(`QMP: no answer to ${commandLine}`))), 10_000);
    c.on("data", (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (msg.event) continue;
        if (msg.error) return (clearTimeout(timer), c.end(), reject(new Error(`QMP: ${msg.error.desc}`)));
        if (step === 0 && msg.QMP) {
          step = 1;
          c.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        } else if (step === 1) {
          step = 2;
          c.write(JSON.stringify({ execute: "human-monitor-command", arguments: { "command-line": commandLine } }) + "\n");
        } else if (step === 2) {
          clearTimeout(timer);
          c.end();
          resolve(String(msg.return ?? ""));
        }
      }
    });
    c.on("error", (err) => (clearTimeout(timer), reject(err)));
  });
}
