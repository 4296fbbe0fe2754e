/**
 * SSH failures as a small closed set of kinds, each with a message a user can
 * act on and a `permanent` flag the workflow layer maps to "don't retry".
 * Only auth, host-key and sudo problems are permanent: retrying cannot fix them and
 * hammering a server with a bad key looks like an attack.
 */

export type SshErrorKind =
  | "auth"
  | "host_key_mismatch"
  | "sudo"
  | "refused"
  | "reset"
  | "timeout"
  | "unreachable"
  | "dns"
  | "protocol"
  | "command_timeout"
  | "dropped";

// sudo refusing the login user is fixed on the server by a human, not by trying again.
const PERMANENT: ReadonlySet<SshErrorKind> = new Set(["auth", "host_key_mismatch", "sudo"]);

export interface SshErrorContext {
  host: string;
  port: number;
  username?: string;
  /** Connecting, or running a command on an established connection. */
  phase?: "connect" | "exec";
  expectedHostKey?: string | null;
  actualHostKey?: string;
  command?: string;
  timeoutMs?: number;
  /** Secrets to scrub from messages (e.g. a password inside `command`). */
  redact?: readonly string[];
}

export class SshError extends Error {
  override name = "SshError";
  readonly permanent: boolean;
  readonly host: string;
  readonly port: number;

  constructor(
    readonly kind: SshErrorKind,
    message: string,
    ctx: Pick<SshErrorContext, "host" | "port" | "redact">,
    options?: { cause?: unknown },
  ) {
    super(redactText(message, ctx.redact), options);
    this.permanent = PERMANENT.has(kind);
    this.host = ctx.host;
    this.port = ctx.port;
  }

  get retryable(): boolean {
    return !this.permanent;
  }
}

export function redactText(text: string, secrets: readonly string[] | undefined): string {
  let out = text;
  // Longest first, so a secret containing another is scrubbed whole.
  for (const s of [...(secrets ?? [])].filter(Boolean).sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(s, "[redacted]");
  }
  return out;
}

function where(ctx: SshErrorContext): string {
  return `${ctx.host}:${ctx.port}`;
}

function shortCommand(cmd: string | undefined): string {
  if (!cmd) return "";
  const oneLine = cmd.replace(/\s+/g, " ");
  return `: ${oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine}`;
}

/** Build an SshError with the standard message for its kind. */
export function sshError(kind: SshErrorKind, ctx: SshErrorContext, detail?: string, cause?: unknown): SshError {
  const at = where(ctx);
  const user = ctx.username ?? "root";
  const messages: Record<SshErrorKind, string> = {
    auth: `Authentication failed for ${user}@${at}: the server did not accept BrokeForge's key. Authorize the public key shown on the server page.`,
    host_key_mismatch: `Host key for ${at} changed: expected ${ctx.expectedHostKey ?? "(none)"}, got ${ctx.actualHostKey ?? "(unknown)"}. If you rebuilt the server, reset the pinned key.`,
    sudo: `The login user ${user} on ${at} cannot run commands as root without a password: BrokeForge runs every command through "sudo -n" when the login user is not root. As root on the server, allow it: echo '${user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/brokeforge && chmod 0440 /etc/sudoers.d/brokeforge (or log in as root).`,
    refused: `Connection to ${at} refused: nothing is listening on that port. Is sshd running and is the port right?`,
    reset: `Connection to ${at} was reset by the server.`,
    timeout: `Timed out connecting to ${at}${ctx.timeoutMs ? ` after ${ctx.timeoutMs} ms` : ""}. The server may be down, or a firewall is dropping SSH traffic.`,
    unreachable: `${at} is unreachable: no route to the host. Check the IP address and the network.`,
    dns: `Could not resolve the host name "${ctx.host}".`,
    protocol: `SSH protocol error talking to ${at}`,
    command_timeout: `Command on ${at} timed out after ${ctx.timeoutMs ?? "?"} ms and was stopped${shortCommand(ctx.command)}`,
    dropped: `Connection to ${at} was lost while a command was running${shortCommand(ctx.command)}`,
  };
  const message = detail ? `${messages[kind]} (${detail})` : messages[kind];
  return new SshError(kind, message, ctx, cause === undefined ? undefined : { cause });
}

const CODE_KIND: Record<string, SshErrorKind> = {
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  EPIPE: "reset",
  ECONNABORTED: "reset",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EAI_FAIL: "dns",
  EAI_NONAME: "dns",
};

/** Map an ssh2 / node error to an SshError. An SshError passes through unchanged. */
export function classifySshError(err: unknown, ctx: SshErrorContext): SshError {
  if (err instanceof SshError) return err;
  const e = (err ?? {}) as { code?: unknown; level?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : undefined;
  const level = typeof e.level === "string" ? e.level : undefined;
  const msg = typeof e.message === "string" ? e.message : String(err);
  const inExec = ctx.phase === "exec";

  let kind: SshErrorKind;
  if (level === "client-authentication" || /authentication methods failed/i.test(msg)) kind = "auth";
  else if (/Host denied/i.test(msg)) kind = "host_key_mismatch";
  else if (code && CODE_KIND[code]) kind = inExec && CODE_KIND[code] !== "dns" ? "dropped" : CODE_KIND[code]!;
  else if (level === "client-dns") kind = "dns";
  else if (level === "client-timeout") kind = inExec || /keepalive/i.test(msg) ? "dropped" : "timeout";
  else if (/No response from server|Not connected|socket (closed|ended)/i.test(msg)) kind = "dropped";
  // Server closed TCP before saying hello (MaxStartups, fail2ban, tcp wrappers): worth a retry.
  else if (/Connection lost before handshake/i.test(msg)) kind = "reset";
  else kind = "protocol";

  const detail = kind === "protocol" || kind === "dropped" ? msg : code;
  return sshError(kind, ctx, detail, err);
}
