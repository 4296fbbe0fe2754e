/**
 * Real Debian 12 servers for tests: a debootstrapped bookworm tree (built once, cached under
 * .cache/debian/bookworm-<recipe hash>) booted per test file with systemd-nspawn, in its own
 * network namespace whose only way out is slirp4netns (outbound NAT to Debian's mirror, and
 * port forwards from 127.0.0.1:<free port> into the container). Every server is a
 * throwaway overlay over the cached tree; stop() (or the exit hook, or the sweep of the next
 * run) removes everything it made.
 *
 *   host 127.0.0.1:P ──slirp4netns──▶ tap0 10.0.2.100:P (sshd listens on P, see below)
 *   container ──▶ 10.0.2.2 gateway ──slirp4netns──▶ host sockets ──▶ deb.debian.org
 *
 * sshd inside listens on the SAME port number as the host forward: BrokeForge's firewall
 * allows "the server's SSH port" (the port it connects to) before enabling ufw, so on a
 * server behind a port-translating NAT it would lock itself out. Same number = a normal server.
 *
 * Needs root (mount, namespaces, nspawn). Missing host tools are apt-installed
 * (scripts/debian/host-deps.sh).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../scripts/infra/ports';
import { connect, type ExecResult, type SshConnection } from '../../activities/ssh/client';
import { fingerprintOfPublicKey, generateKeyPair } from '../../activities/ssh/keys';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPTS = path.join(REPO, 'scripts/debian');
export const CACHE_ROOT = process.env.DEBIAN_TEST_CACHE ?? path.join(REPO, '.cache/debian');
const RUN_PREFIX = 'bf-debian-';

export interface DebianServer {
  /** nspawn machine name (unique per boot). */
  name: string;
  host: '127.0.0.1';
  /** Host port forwarded to the container's sshd, which listens on the same number. */
  sshPort: number;
  /** SHA256 fingerprints of the host keys generated for this boot (any one may be negotiated). */
  hostKeyFingerprints: string[];
  /** The container's root as seen from the host (the overlay's merged dir). */
  rootDir: string;
  /** Runs a command as root over the harness's own key (one SSH connection, reused). */
  exec(command: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Like exec, but throws with the output unless it exits 0; returns stdout. */
  sh(command: string, opts?: { timeoutMs?: number }): Promise<string>;
  /** A brand-new SSH connection + `true`: proves new logins still get through (firewall!). */
  sshTrue(timeoutMs?: number): Promise<void>;
  /** Appends a public key line to /root/.ssh/authorized_keys (as a human would over SSH). */
  authorize(publicKey: string): Promise<void>;
  /** Forwards a free 127.0.0.1 port to `guestPort` in the container; returns the host port. */
  forward(guestPort: number): Promise<number>;
  /** Everything the container printed on its console so far. */
  consoleLog(): string;
  /** Milliseconds from spawning nspawn to the first successful `ssh true`. */
  bootMs: number;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------
// Prerequisites and the cached tree

let toolsChecked: Promise<void> | undefined;
let qemuToolsChecked: Promise<void> | undefined;

/** Root + host tools (apt-installed when missing). Throws a readable message otherwise. */
export function ensureHostTools(opts: { qemu?: boolean } = {}): Promise<void> {
  const check = async () => {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'tests/debian need root: they mount overlays, create network namespaces and boot systemd-nspawn containers. ' +
          'Run the tests as root (plus these Debian packages: debootstrap systemd-container slirp4netns; qemu-system-x86 for vm.test.ts).',
      );
    }
    // Async: waiting for another test file's apt-get must not block this worker's event loop.
    const { code, out } = await runCollect('bash', [path.join(SCRIPTS, 'host-deps.sh'), ...(opts.qemu ? ['qemu'] : [])]);
    if (code !== 0) throw new Error(`Installing the Debian test tools failed:\n${out}`);
    if (out.trim()) console.log(out.trim());
  };
  if (opts.qemu) return (qemuToolsChecked ??= check());
  return (toolsChecked ??= check());
}

function runCollect(cmd: string, args: string[]): Promise<{ code: number | null; out: string; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, out: `${stderr}${stdout}` })));
}

/** Path of the cached bookworm tree, building it (≈1–2 min) when the recipe changed. */
export async function ensureTree(flavor: 'nspawn' | 'vm' = 'nspawn'): Promise<string> {
  await ensureHostTools({ qemu: flavor === 'vm' });
  const started = Date.now();
  const { code, stdout, stderr } = await runCollect('bash', [path.join(SCRIPTS, 'ensure-tree.sh'), CACHE_ROOT, flavor]);
  if (code !== 0) throw new Error(`Building the Debian test tree failed (exit ${code}):\n${stderr.slice(-6000)}`);
  const tree = stdout.trim().split('\n').at(-1)!;
  if (!existsSync(path.join(tree, '.complete'))) throw new Error(`ensure-tree.sh returned ${tree}, which is not a complete tree`);
  if (/built in/.test(stderr)) console.log(`[debian] ${stderr.trim().split('\n').at(-1)} (${Date.now() - started} ms incl. waiting)`);
  return tree;
}

// ---------------------------------------------------------------------------------------
// Leftovers of killed runs

interface RunState {
  owner: number;
  dir: string;
  rootDir: string;
  mounted: boolean;
  machine: string;
  pids: Record<string, number>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills `pid` only if it still is the process we started (its cmdline mentions `marker`). */
function killOurs(pid: number | undefined, marker: string, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(marker)) return;
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
}

function unmount(dir: string): void {
  for (let i = 0; i < 20 && isMounted(dir); i++) {
    const r = spawnSync('umount', [dir], { encoding: 'utf8' });
    if (r.status === 0) break;
    if (i === 19) spawnSync('umount', ['-l', dir]);
    else execFileSync('sleep', ['0.1']);
  }
}

/** Synchronous teardown of one run dir (used by stop(), the exit hook and the sweep). */
function teardownSync(state: RunState): void {
  // nspawn first (its container dies with it: nspawn gives the container's init PDEATHSIG=KILL).
  killOurs(state.pids.nspawn, state.machine);
  killOurs(state.pids.slirp, 'slirp4netns');
  killOurs(state.pids.holder, 'sleep');
  if (state.mounted) unmount(state.rootDir);
  try {
    rmSync(`/run/systemd/nspawn/propagate/${state.machine}`, { recursive: true, force: true });
  } catch {
    // not there
  }
  if (!isMounted(state.rootDir)) rmSync(state.dir, { recursive: true, force: true });
}

let swept = false;
/** Removes test servers whose owning process died (SIGKILL, crash) without cleaning up. */
export function sweepLeftovers(): void {
  if (swept) return;
  swept = true;
  const tmp = os.tmpdir();
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = path.join(tmp, name);
    let state: RunState;
    try {
      state = JSON.parse(readFileSync(path.join(dir, 'state.json'), 'utf8')) as RunState;
    } catch {
      continue; // being set up right now, or not ours
    }
    if (isAlive(state.owner)) continue;
    console.log(`[debian] sweeping leftover test server ${state.machine} (${dir})`);
    teardownSync(state);
  }
}

const live = new Set<RunState>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const teardownAll = () => {
    for (const s of live) teardownSync(s);
    live.clear();
  };
  // afterAll normally stops servers; this covers a worker exiting without it.
  process.on('exit', teardownAll);
  // A vitest fork whose runner died (e.g. SIGINT to the runner alone) is orphaned and may
  // never exit: take our servers down as soon as the parent is gone.
  const parent = process.ppid;
  process.once('disconnect', teardownAll);
  setInterval(() => {
    if (process.ppid !== parent && live.size > 0) {
      console.warn('[debian] test runner is gone: stopping this process\'s Debian test servers');
      teardownAll();
    }
  }, 1_000).unref();
}

// ---------------------------------------------------------------------------------------
// slirp4netns API

function slirpApi(socket: string, request: object): Promise<{ return?: { id?: number }; error?: { desc?: string } }> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let buf = '';
    c.on('connect', () => c.end(JSON.stringify(request)));
    c.on('data', (d) => (buf += d));
    c.on('error', reject);
    c.on('close', () => {
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new Error(`slirp4netns API: unexpected answer ${JSON.stringify(buf)}`));
      }
    });
  });
}

/** Forwards a free 127.0.0.1 port to `guestPort` (default: the same number) in the container. */
async function addHostForward(socket: string, guestPort?: number): Promise<number> {
  let lastError = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = await freePort(); // another process may grab it first: then try another
    const answer = await slirpApi(socket, {
      execute: 'add_hostfwd',
      arguments: { proto: 'tcp', host_addr: '127.0.0.1', host_port: port, guest_port: guestPort ?? port },
    });
    if (answer.return) return port;
    lastError = answer.error?.desc ?? JSON.stringify(answer);
  }
  throw new Error(`slirp4netns could not forward a port to ${guestPort ?? 'the same port'}: ${lastError}`);
}

// ---------------------------------------------------------------------------------------
// QEMU monitor (QMP): port forwards added at run time

async function qmpHumanCommand(socket: string, commandLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => (c.destroy(), reject(new Error(`QMP: no answer to ${commandLine}`))), 10_000);
    c.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (msg.event) continue;
        if (msg.error) return (clearTimeout(timer), c.end(), reject(new Error(`QMP: ${msg.error.desc}`)));
        if (step === 0 && msg.QMP) {
          step = 1;
          c.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (step === 1) {
          step = 2;
          c.write(JSON.stringify({ execute: 'human-monitor-command', arguments: { 'command-line': commandLine } }) + '\n');
        } else if (step === 2) {
          clearTimeout(timer);
          c.end();
          resolve(String(msg.return ?? ''));
        }
      }
    });
    c.on('error', (err) => (clearTimeout(timer), reject(err)));
  });
}

// ---------------------------------------------------------------------------------------
// Boot

export type BootMode = 'nspawn' | 'qemu';

export interface BootOptions {
  /** Machine name prefix (shows in logs). */
  label?: string;
  /**
   * nspawn (default): a container on the host's kernel, boots in ~1 s.
   * qemu: a VM with Debian's own kernel (software emulation: boot ≈ 40 s, apt ≈ 10× slower).
   */
  mode?: BootMode;
}

export interface DebianServerExtras {
  mode: BootMode;
  /** Reboots for real (`systemctl reboot`) and waits for SSH with a new boot id. Returns ms. */
  reboot(): Promise<number>;
  /** /proc/sys/kernel/random/boot_id */
  bootId(): Promise<string>;
}

const DEFAULT_BOOT_TIMEOUT: Record<BootMode, number> = { nspawn: 120_000, qemu: 600_000 };

export async function bootDebian(opts: BootOptions = {}): Promise<DebianServer & DebianServerExtras> {
  const mode = opts.mode ?? 'nspawn';
  await ensureHostTools({ qemu: mode === 'qemu' });
  sweepLeftovers();
  installExitHook();
  const tree = await ensureTree(mode === 'qemu' ? 'vm' : 'nspawn');
  const bootTimeoutMs = Number(process.env.DEBIAN_TEST_BOOT_TIMEOUT_MS ?? DEFAULT_BOOT_TIMEOUT[mode]);

  const id = randomBytes(4).toString('hex');
  const machine = `bf-${(opts.label ?? 'deb').replace(/[^a-z0-9-]/gi, '').slice(0, 20)}-${id}`.toLowerCase();
  const dir = execFileSync('mktemp', ['-d', path.join(os.tmpdir(), `${RUN_PREFIX}XXXXXX`)], { encoding: 'utf8' }).trim();
  const rootDir = path.join(dir, 'root');
  const state: RunState = { owner: process.pid, dir, rootDir, mounted: false, machine, pids: {} };
  const save = () => writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
  save();
  live.add(state);
  const children: ChildProcess[] = [];
  const consolePath = path.join(dir, 'console.log');
  const consoleLog = () => (existsSync(consolePath) ? readFileSync(consolePath, 'utf8') : '');
  let stopping = false;

  const cleanup = async () => {
    stopping = true;
    if (!live.has(state)) return;
    live.delete(state);
    const nspawn = state.pids.nspawn;
    if (nspawn && isAlive(nspawn)) {
      // SIGTERM → nspawn sends SIGRTMIN+3 to the container's systemd: an orderly halt (≈1 s).
      killOurs(nspawn, machine, 'SIGTERM');
      for (let i = 0; i < 100 && isAlive(nspawn); i++) await sleep(100);
    }
    teardownSync(state);
    for (const c of children) c.kill('SIGKILL');
  };

  try {
    // 1. A throwaway copy: overlay (upper/work in our dir) over the cached read-only tree.
    for (const d of ['upper', 'work', 'root']) mkdirSync(path.join(dir, d));
    const overlay = spawnSync(
      'mount',
      ['-t', 'overlay', 'overlay', '-o', `lowerdir=${tree},upperdir=${dir}/upper,workdir=${dir}/work`, rootDir],
      { encoding: 'utf8' },
    );
    if (overlay.status === 0) {
      state.mounted = true;
    } else {
      console.warn(`[debian] overlayfs unavailable (${overlay.stderr.trim()}): copying the tree instead`);
      rmSync(rootDir, { recursive: true });
      execFileSync('cp', ['-a', '--reflink=auto', tree, rootDir]);
    }
    save();

    // 2. Identity: fresh host keys, and the harness's key for root.
    execFileSync('ssh-keygen', ['-q', '-A', '-f', rootDir]);
    const hostKeyFingerprints = readdirSync(path.join(rootDir, 'etc/ssh'))
      .filter((f) => /^ssh_host_.*_key\.pub$/.test(f))
      .map((f) => fingerprintOfPublicKey(readFileSync(path.join(rootDir, 'etc/ssh', f), 'utf8')));
    const harnessKey = generateKeyPair(`brokeforge-test-harness@${machine}`);
    mkdirSync(path.join(rootDir, 'root/.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(rootDir, 'root/.ssh/authorized_keys'), `${harnessKey.publicKey}\n`, { mode: 0o600 });

    let sshPort: number;
    let forward: (guestPort: number) => Promise<number>;
    let started: number;
    let exitReason: () => string | null;

    if (mode === 'nspawn') {
      // 3. The network namespace (held by a `sleep`), then slirp4netns attached to it.
      //    setpriv --pdeathsig: if this test process dies, its helpers die too.
      const holder = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--net', '--', 'sleep', 'infinity'], { stdio: 'ignore' });
      children.push(holder);
      state.pids.holder = holder.pid!;
      save();
      // unshare execs sleep in the same process: wait until it did, i.e. it has its own netns.
      const hostNetns = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' }).trim();
      for (let i = 0; ; i++) {
        const ns = spawnSync('readlink', [`/proc/${holder.pid}/ns/net`], { encoding: 'utf8' }).stdout.trim();
        const comm = spawnSync('cat', [`/proc/${holder.pid}/comm`], { encoding: 'utf8' }).stdout.trim();
        if (ns && ns !== hostNetns && comm === 'sleep') break;
        if (i > 100) throw new Error('unshare --net did not create a network namespace');
        await sleep(20);
      }

      const apiSocket = path.join(dir, 'slirp.sock');
      const slirpLogPath = path.join(dir, 'slirp.log');
      const slirpLog = openSync(slirpLogPath, 'a');
      const slirp = spawn(
        'setpriv',
        [
          '--pdeathsig', 'KILL', '--', 'slirp4netns',
          '--configure', '--mtu=65520', '--disable-host-loopback',
          '--api-socket', apiSocket, '--ready-fd', '3',
          String(holder.pid), 'tap0',
        ],
        { stdio: ['ignore', slirpLog, slirpLog, 'pipe'] },
      );
      closeSync(slirpLog);
      children.push(slirp);
      state.pids.slirp = slirp.pid!;
      save();
      const slirpLogText = () => (existsSync(slirpLogPath) ? readFileSync(slirpLogPath, 'utf8') : '');
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          clearTimeout(timer);
          slirp.off('exit', onExit);
          if (err) reject(err);
          else resolve();
        };
        const onExit = (code: number | null) => done(new Error(`slirp4netns exited (${code}): ${slirpLogText()}`));
        const timer = setTimeout(() => done(new Error(`slirp4netns not ready after 10 s: ${slirpLogText()}`)), 10_000);
        (slirp.stdio[3] as NodeJS.ReadableStream).once('data', () => done());
        slirp.once('exit', onExit);
      });

      // 4. SSH: the same port number outside and inside.
      sshPort = await addHostForward(apiSocket);
      writeFileSync(path.join(rootDir, 'etc/ssh/sshd_config.d/10-test-port.conf'), `Port ${sshPort}\n`);
      forward = (guestPort) => addHostForward(apiSocket, guestPort);

      // 5. Boot. A reboot inside makes nspawn exit with 133 (as under systemd-nspawn@.service,
      //    whose RestartForceExitStatus=133 restarts it): we start it again on the same tree.
      let exit: string | null = null;
      const launch = () => {
        const consoleFd = openSync(consolePath, 'a');
        const nspawn = spawn(
          'setpriv',
          [
            '--pdeathsig', 'TERM', '--', 'systemd-nspawn',
            '--boot', '--keep-unit', '--register=no',
            '--capability=CAP_NET_ADMIN',
            `--network-namespace-path=/proc/${holder.pid}/ns/net`,
            '--resolv-conf=off', '--timezone=off', '--link-journal=no',
            `--machine=${machine}`,
            '--directory', rootDir,
          ],
          { stdio: ['ignore', consoleFd, consoleFd] },
        );
        closeSync(consoleFd);
        children.push(nspawn);
        state.pids.nspawn = nspawn.pid!;
        save();
        nspawn.once('exit', (code, signal) => {
          if (code === 133 && !stopping) {
            launch(); // the container asked for a reboot
            return;
          }
          exit = `systemd-nspawn exited (${signal ?? code})`;
        });
      };
      started = Date.now();
      launch();
      exitReason = () => exit;
    } else {
      // 3'. QEMU: the tree (with this boot's keys) becomes an ext4 disk image, Debian's own
      //     kernel boots it; user-mode networking gives NAT and the 127.0.0.1 port forwards.
      sshPort = await freePort();
      writeFileSync(path.join(rootDir, 'etc/ssh/sshd_config.d/10-test-port.conf'), `Port ${sshPort}\n`);
      const disk = path.join(dir, 'disk.raw');
      execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', rootDir, disk, '6G']);
      unmount(rootDir);
      state.mounted = false;
      rmSync(path.join(dir, 'upper'), { recursive: true, force: true });
      save();
      const boot = path.join(tree, 'boot');
      const kernel = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
      const initrd = readdirSync(boot).find((f) => f.startsWith('initrd.img-'));
      if (!kernel || !initrd) throw new Error(`no kernel/initrd in ${boot}`);
      const qmp = path.join(dir, 'qmp.sock');
      const qemuLogPath = path.join(dir, 'qemu.log');
      const qemuLog = openSync(qemuLogPath, 'a');
      const qemu = spawn(
        'setpriv',
        [
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
        ],
        { stdio: ['ignore', qemuLog, qemuLog] },
      );
      closeSync(qemuLog);
      children.push(qemu);
      state.pids.nspawn = qemu.pid!; // "the machine" for teardown
      save();
      started = Date.now();
      let exit: string | null = null;
      qemu.once('exit', (code, signal) => (exit = `qemu exited (${signal ?? code}): ${readFileSync(qemuLogPath, 'utf8')}`));
      exitReason = () => exit;
      forward = async (guestPort) => {
        for (let attempt = 0; ; attempt++) {
          const port = await freePort();
          const out = await qmpHumanCommand(qmp, `hostfwd_add n0 tcp:127.0.0.1:${port}-:${guestPort}`);
          if (!out.trim()) return port;
          if (attempt >= 5) throw new Error(`qemu could not forward a port to ${guestPort}: ${out}`);
        }
      };
    }

    // 6. Wait for a real login + command, never a port probe.
    const connectHarness = async (readyTimeoutMs: number) => {
      const conn = await connect(
        { host: '127.0.0.1', port: sshPort, username: 'root', privateKey: harnessKey.privateKey, expectedHostKey: null },
        { readyTimeoutMs },
      );
      if (!hostKeyFingerprints.includes(conn.hostKey.fingerprint)) {
        conn.close();
        throw new Error(`unexpected host key ${conn.hostKey.fingerprint} on 127.0.0.1:${sshPort}`);
      }
      return conn;
    };
    const waitForSsh = async (accept: (c: SshConnection) => Promise<boolean>, what: string): Promise<SshConnection> => {
      let lastError: unknown;
      const deadline = Date.now() + bootTimeoutMs;
      for (;;) {
        const exited = exitReason();
        if (exited) throw new Error(`${exited} before ${what}. Console:\n${consoleLog().slice(-8000)}`);
        if (Date.now() > deadline) {
          throw new Error(
            `Debian test server ${machine} (${mode}): no ${what} on 127.0.0.1:${sshPort} within ${bootTimeoutMs} ms ` +
              `(last error: ${(lastError as Error)?.message ?? lastError}). Console:\n${consoleLog().slice(-8000)}`,
          );
        }
        let c: SshConnection | undefined;
        try {
          c = await connectHarness(mode === 'qemu' ? 20_000 : 5_000);
          if (await accept(c)) return c;
          c.close();
          lastError = new Error('not yet');
        } catch (err) {
          c?.close();
          lastError = err;
        }
        await sleep(mode === 'qemu' ? 1_000 : 250);
      }
    };
    const sshTrueOn = async (c: SshConnection) => {
      const r = await c.exec('true', { timeoutMs: 30_000 });
      if (r.exitCode !== 0) throw new Error(`ssh true exited ${r.exitCode}: ${r.stderr}`);
      return true;
    };
    let current = await waitForSsh(sshTrueOn, '`ssh true`');
    const bootMs = Date.now() - started;

    const exec = async (command: string, o: { timeoutMs?: number } = {}) => {
      try {
        return await current.exec(command, { timeoutMs: o.timeoutMs ?? 120_000 });
      } catch (err) {
        // The connection may have dropped (e.g. a firewall test); one reconnect, then give up.
        if ((err as { kind?: string }).kind === 'command_timeout') throw err;
        current.close();
        current = await connectHarness(10_000);
        return current.exec(command, { timeoutMs: o.timeoutMs ?? 120_000 });
      }
    };
    const bootId = async () => (await server.sh('cat /proc/sys/kernel/random/boot_id')).trim();
    const server: DebianServer & DebianServerExtras = {
      name: machine,
      mode,
      host: '127.0.0.1',
      sshPort,
      hostKeyFingerprints,
      rootDir,
      bootMs,
      exec,
      async sh(command, o) {
        const r = await exec(command, o);
        if (r.exitCode !== 0) {
          throw new Error(`on ${machine}: \`${command}\` exited ${r.exitCode}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`);
        }
        return r.stdout;
      },
      async sshTrue(timeoutMs = 15_000) {
        const c = await connectHarness(timeoutMs);
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
      forward,
      consoleLog,
      bootId,
      async reboot() {
        const before = await bootId();
        const t = Date.now();
        // The connection drops while the command runs: its result does not matter.
        await current.exec('systemctl reboot', { timeoutMs: 10_000 }).catch(() => undefined);
        current.close();
        current = await waitForSsh(async (c) => {
          const r = await c.exec('cat /proc/sys/kernel/random/boot_id; systemctl is-system-running --wait', { timeoutMs: 120_000 });
          return r.stdout.split('\n')[0]!.trim() !== before;
        }, 'login after the reboot');
        return Date.now() - t;
      },
      async stop() {
        current.close();
        await cleanup();
      },
    };
    return server;
  } catch (err) {
    await cleanup();
    throw err;
  }
}
