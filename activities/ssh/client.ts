/**
 * SSH client on ssh2: one connection per task, many commands over it
 * (ideally as ONE `script()` channel each: channels cost ~170 ms on sshd).
 *
 * Guarantees:
 *  - the host key is always checked (pinned fingerprint, or reported on first use);
 *  - every failure is an SshError (see errors.ts) with secrets redacted;
 *  - output is bounded (keeps the tail) and redacted before it is stored;
 *  - timeouts and aborts stop the REMOTE command (lifeline), not just our wait;
 *  - private keys never end up in errors, logs or util.inspect output.
 */
import { performance } from "node:perf_hooks";
import { StringDecoder } from "node:string_decoder";
import { inspect } from "node:util";
import ssh2 from "ssh2";
// ssh2 is CommonJS and only some names are visible as ESM named exports: use the default import.
import type { Client as Ssh2Client, ClientChannel } from "ssh2";
import { SshError, classifySshError, redactText, sshError, type SshErrorContext } from "./errors";
import { algorithmOfKeyBlob, fingerprintOfKeyBlob } from "./keys";
import { wireCommand } from "./shell";

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKey: string;
  /** OpenSSH "SHA256:…" fingerprint, or null = trust on first use (read `hostKey` after connecting). */
  expectedHostKey: string | null;
  /**
   * Who runs the commands. "root" (default): every plan needs root, so a login user other
   * than root runs each command through `sudo -n` (shell.ts `wireCommand`). "login": as the
   * login user itself (e.g. the unprivileged site user).
   */
  runAs?: "root" | "login";
}

export interface ConnectOptions {
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

export interface OutputChunk {
  stream: "stdout" | "stderr";
  text: string;
}

export interface ExecOptions {
  /** What error messages call the command (e.g. a milestone's label) instead of its full text. */
  label?: string;
  timeoutMs?: number;
  /** Per stream. Beyond it the HEAD is dropped: the end of the output is where errors are. */
  maxOutputBytes?: number;
  /** Strings replaced by "[redacted]" in output, chunks and error messages. */
  redact?: string[];
  signal?: AbortSignal;
  onOutput?: (chunk: OutputChunk) => void;
  /** After TERM, wait this long before KILL and closing the channel. */
  killGraceMs?: number;
  /**
   * Run under the lifeline wrapper (default true), the only way to stop a root
   * session's command: see `withLifeline` in shell.ts. With false, stdin gets EOF
   * and stopping relies on SSH signal requests, which OpenSSH ignores for root.
   */
  lifeline?: boolean;
}

export interface ExecResult {
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
}

export interface HostKeyInfo {
  fingerprint: string;
  algorithm: string;
}

const DEFAULT_MAX_OUTPUT = 1024 * 1024;
// The server's shell gets the command as ONE argv string: Linux caps those at 128 KiB.
const MAX_COMMAND_BYTES = 128 * 1024 - 1;

export async function connect(target: SshTarget, opts: ConnectOptions = {}): Promise<SshConnection> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const ctx: SshErrorContext = {
    host: target.host,
    port: target.port,
    username: target.username,
    phase: "connect",
    expectedHostKey: target.expectedHostKey,
    timeoutMs: readyTimeoutMs,
  };
  const client = new ssh2.Client();
  let seen: HostKeyInfo | null = null;
  let mismatch = false;

  return new Promise<SshConnection>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      client.destroy();
      reject(mismatch ? sshError("host_key_mismatch", { ...ctx, actualHostKey: seen?.fingerprint }) : classifySshError(err, ctx));
    };
    client.on("error", fail);
    client.on("close", () => fail(new Error("Connection lost before handshake")));
    // Small request/response packets: without TCP_NODELAY, Nagle + delayed ACK adds ~40 ms per exec.
    client.once("connect", () => client.setNoDelay(true));
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      client.removeListener("error", fail);
      resolve(new SshConnection(client, target, seen!));
    });
    try {
      client.connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: opts.keepaliveIntervalMs ?? 15_000,
        keepaliveCountMax: opts.keepaliveCountMax ?? 4,
        // Raw key blob in, decision out. Never accept blindly: null means "pin
        // whatever we see now", and the caller stores `hostKey.fingerprint`.
        hostVerifier: (key: Buffer) => {
          seen = { fingerprint: fingerprintOfKeyBlob(key), algorithm: algorithmOfKeyBlob(key) };
          mismatch = target.expectedHostKey !== null && seen.fingerprint !== target.expectedHostKey;
          return !mismatch;
        },
      });
    } catch (err) {
      // e.g. an unparsable private key; ssh2's message does not include the key.
      fail(err);
    }
  });
}

export class SshConnection {
  readonly hostKey: HostKeyInfo;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  /** Commands go through `sudo -n` (root wanted, logged in as someone else). */
  readonly sudo: boolean;
  // #private: invisible to util.inspect / JSON, and ssh2's config holds the key.
  #client: Ssh2Client;
  #closed = false;
  #active = new Set<() => void>();

  constructor(client: Ssh2Client, target: SshTarget, hostKey: HostKeyInfo) {
    this.#client = client;
    this.hostKey = hostKey;
    this.host = target.host;
    this.port = target.port;
    this.username = target.username;
    this.sudo = (target.runAs ?? "root") === "root" && target.username !== "root";
    // ssh2 emits 'error' (e.g. keepalive timeout) and then closes; a listener is
    // required or node would crash. In-flight execs learn about it via 'close'.
    client.on("error", () => {});
    client.on("close", () => {
      this.#closed = true;
      for (const onDrop of [...this.#active]) onDrop();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    this.#closed = true;
    this.#client.end();
  }

  [inspect.custom](): string {
    return `SshConnection(${this.username}@${this.host}:${this.port} ${this.hostKey.fingerprint}${this.#closed ? " closed" : ""})`;
  }

  toJSON(): object {
    return { host: this.host, port: this.port, username: this.username, hostKey: this.hostKey, closed: this.#closed };
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const redact = opts.redact ?? [];
    const ctx: SshErrorContext = {
      host: this.host,
      port: this.port,
      username: this.username,
      phase: "exec",
      command: opts.label ?? command,
      timeoutMs: opts.timeoutMs,
      redact,
    };
    const lifeline = opts.lifeline ?? true;
    const wire = wireCommand(command, { lifeline, sudo: this.sudo });
    // Through sudo the command arrives on stdin, but the server still passes it on as one argument.
    const bytes = Math.max(Buffer.byteLength(wire.command), Buffer.byteLength(wire.stdin ?? ""));
    if (bytes > MAX_COMMAND_BYTES) {
      return Promise.reject(new Error(`Command is ${bytes} bytes on the wire, over the 128 KiB limit; upload large content as a file`));
    }
    const started = performance.now();
    const out = new OutputCollector("stdout", opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT, redact, opts.onOutput);
    const err = new OutputCollector("stderr", opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT, redact, opts.onOutput);

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      let timer: NodeJS.Timeout | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      let exit: { code: number | null; signal?: string } | undefined;

      const finish = (error: unknown, result?: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        this.#active.delete(onDrop);
        if (error) reject(error);
        else resolve(result!);
      };
      // Stop the remote process group: TERM now, KILL + close after a grace period.
      const stopRemote = () => {
        if (!channel) return;
        const ch = channel;
        const signal = (name: "TERM" | "KILL") => (lifeline ? ch.writable && ch.write(`${name}\n`) : sendSignal(ch, name));
        signal("TERM");
        killTimer = setTimeout(() => {
          signal("KILL");
          ch.close();
        }, opts.killGraceMs ?? 2000);
        killTimer.unref();
        ch.once("close", () => clearTimeout(killTimer));
      };
      const onDrop = () => finish(sshError("dropped", ctx));
      const onAbort = () => {
        if (settled) return;
        stopRemote();
        finish(opts.signal?.reason ?? Object.assign(new Error("Command aborted"), { name: "AbortError" }));
      };

      if (opts.signal?.aborted) return onAbort();
      if (this.#closed) return onDrop();
      this.#active.add(onDrop);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          stopRemote();
          finish(sshError("command_timeout", ctx));
        }, opts.timeoutMs);
      }

      try {
        this.#client.exec(wire.command, (openErr, ch) => {
          if (openErr) return finish(classifySshError(openErr, ctx));
          channel = ch;
          ch.on("error", () => {}); // e.g. a control line written as the channel closes
          // Before anything else goes to stdin (a TERM from an abort while the channel opened).
          if (wire.stdin !== undefined) ch.write(wire.stdin);
          if (settled) return stopRemote(); // aborted/timed out while the channel was opening
          ch.on("data", (b: Buffer) => out.push(b));
          ch.stderr.on("data", (b: Buffer) => err.push(b));
          ch.on("exit", (code: number | null, signal?: string) => {
            exit = { code, ...(signal ? { signal } : {}) };
          });
          ch.on("close", () => {
            // No exit status and the connection went away → dropped, not "exit null".
            if (!exit && this.#closed) return onDrop();
            out.end();
            err.end();
            const refused = this.sudo ? sudoRefusal(exit?.code ?? null, out.text(), err.text()) : null;
            if (refused) return finish(sshError("sudo", ctx, refused));
            finish(null, {
              exitCode: exit?.code ?? null,
              ...(exit?.signal ? { signal: exit.signal } : {}),
              stdout: out.text(),
              stderr: err.text(),
              truncated: out.truncated || err.truncated,
              durationMs: Math.round(performance.now() - started),
            });
          });
          // Without the lifeline (which gives the command </dev/null), EOF on stdin
          // so a command reading stdin gets nothing instead of hanging.
          if (!lifeline) ch.end();
        });
      } catch (e) {
        finish(classifySshError(e, ctx)); // "Not connected"
      }
    });
  }
}

/**
 * sudo's own complaint when it refused to run the command at all, or null. Only with nothing
 * on stdout, sudo's exit code (1, or the shell's 127 when there is no sudo) and one of sudo's
 * own messages (sudo 1.9) on a line of its own: a command that ran and failed for its own
 * reasons is not mistaken for this.
 */
export function sudoRefusal(exitCode: number | null, stdout: string, stderr: string): string | null {
  if (stdout !== "" || (exitCode !== 1 && exitCode !== 127)) return null;
  const refusal =
    exitCode === 127
      ? /^(?:\S+: )*(?:line \d+: )?(?:exec: )?sudo: (?:command )?not found$/
      : /^(?:sudo: a (?:password|terminal) is required\b.*|Sorry, user \S+ (?:is not allowed to execute|may not run sudo)\b.*|(?:sudo: )?\S+ is not in the sudoers file\b.*)$/;
  return (
    stderr
      .split("\n")
      .map((l) => l.trim())
      .find((l) => refusal.test(l)) ?? null
  );
}

/**
 * SSH signal request, for `lifeline: false` (works for non-root users only).
 * ssh2's Channel.signal() refuses once we've sent EOF (it checks `writable`),
 * but the protocol allows signals until the channel is closed.
 */
function sendSignal(ch: ClientChannel, name: "TERM" | "KILL"): void {
  const c = ch as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, s: string): void } };
  };
  try {
    if (c.outgoing && (c.outgoing.state === "open" || c.outgoing.state === "eof")) {
      c._client?._protocol?.signal(c.outgoing.id, name);
    }
  } catch {
    // connection already gone: nothing left to stop
  }
}

/**
 * Decode → redact (holding back a possible partial secret) → keep the last
 * `maxBytes` bytes. Redacting before trimming means a secret can never be
 * half-cut into the kept tail.
 */
class OutputCollector {
  truncated = false;
  #chunks: string[] = [];
  #bytes = 0;
  #dropped = 0;
  #pending = "";
  #decoder = new StringDecoder("utf8");
  #holdBack: number;

  constructor(
    readonly stream: "stdout" | "stderr",
    readonly maxBytes: number,
    readonly secrets: readonly string[],
    readonly onOutput?: (chunk: OutputChunk) => void,
  ) {
    this.#holdBack = Math.max(0, ...secrets.map((s) => s.length - 1));
  }

  push(buf: Buffer): void {
    this.#emit(this.#decoder.write(buf), false);
  }

  end(): void {
    this.#emit(this.#decoder.end(), true);
  }

  #emit(text: string, final: boolean): void {
    const all = redactText(this.#pending + text, this.secrets);
    // Keep back a tail that could be the start of a secret completed by the next chunk.
    const cut = final ? all.length : Math.max(0, all.length - this.#holdBack);
    this.#pending = all.slice(cut);
    const ready = all.slice(0, cut);
    if (!ready) return;
    this.onOutput?.({ stream: this.stream, text: ready });
    this.#chunks.push(ready);
    this.#bytes += Buffer.byteLength(ready);
    this.#trim();
  }

  #trim(): void {
    while (this.#bytes > this.maxBytes && this.#chunks.length > 0) {
      const first = this.#chunks[0]!;
      const firstBytes = Buffer.byteLength(first);
      const excess = this.#bytes - this.maxBytes;
      this.truncated = true;
      if (firstBytes <= excess) {
        this.#chunks.shift();
        this.#bytes -= firstBytes;
        this.#dropped += firstBytes;
      } else {
        const buf = Buffer.from(first).subarray(excess);
        let skip = 0; // don't start the kept text in the middle of a UTF-8 character
        while (skip < buf.length && (buf[skip]! & 0xc0) === 0x80) skip++;
        this.#chunks[0] = buf.subarray(skip).toString("utf8");
        this.#bytes -= excess + skip;
        this.#dropped += excess + skip;
      }
    }
  }

  text(): string {
    const body = this.#chunks.join("");
    return this.truncated ? `[output truncated: first ${this.#dropped} bytes omitted]\n${body}` : body;
  }
}

export { SshError };
