import { describe, expect, it } from "vitest";
import { SshError, classifySshError, sshError } from "./errors";

const ctx = { host: "10.0.0.1", port: 22, username: "root" };
const err = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), extra);

describe("classifySshError", () => {
  it.each([
    [err("connect ECONNREFUSED", { code: "ECONNREFUSED", level: "client-socket" }), "refused", false],
    [err("read ECONNRESET", { code: "ECONNRESET", level: "client-socket" }), "reset", false],
    [err("connect ETIMEDOUT", { code: "ETIMEDOUT" }), "timeout", false],
    [err("connect EHOSTUNREACH", { code: "EHOSTUNREACH" }), "unreachable", false],
    [err("getaddrinfo ENOTFOUND x", { code: "ENOTFOUND" }), "dns", false],
    [err("All configured authentication methods failed", { level: "client-authentication" }), "auth", true],
    [err("Timed out while waiting for handshake", { level: "client-timeout" }), "timeout", false],
    [err("Host denied (verification failed)", { level: "handshake" }), "host_key_mismatch", true],
    [err("Handshake failed: no matching key exchange algorithm", { level: "handshake" }), "protocol", false],
    [err("Connection lost before handshake", { level: "protocol" }), "reset", false],
    [err("Keepalive timeout", { level: "client-timeout" }), "dropped", false],
    [err("weird"), "protocol", false],
  ])("%s → %s (permanent=%s)", (e, kind, permanent) => {
    const s = classifySshError(e, ctx);
    expect(s).toBeInstanceOf(SshError);
    expect(s.kind).toBe(kind);
    expect(s.permanent).toBe(permanent);
    expect(s.retryable).toBe(!permanent);
    expect(s.cause).toBe(e);
  });

  it("socket errors while a command runs mean the connection dropped", () => {
    expect(classifySshError(err("read ECONNRESET", { code: "ECONNRESET" }), { ...ctx, phase: "exec" }).kind).toBe("dropped");
  });

  it("passes SshErrors through", () => {
    const e = sshError("auth", ctx);
    expect(classifySshError(e, ctx)).toBe(e);
  });
});

describe("messages", () => {
  it("are actionable", () => {
    expect(sshError("auth", ctx).message).toBe(
      "Authentication failed for root@10.0.0.1:22: the server did not accept BrokeForge's key. Authorize the public key shown on the server page.",
    );
    expect(sshError("host_key_mismatch", { ...ctx, expectedHostKey: "SHA256:abc", actualHostKey: "SHA256:def" }).message).toBe(
      "Host key for 10.0.0.1:22 changed: expected SHA256:abc, got SHA256:def. If you rebuilt the server, reset the pinned key.",
    );
  });

  it("redact secrets, including inside the command", () => {
    const e = sshError("command_timeout", { ...ctx, timeoutMs: 500, command: "echo 'hunter2' | chpasswd", redact: ["hunter2"] });
    expect(e.message).toBe("Command on 10.0.0.1:22 timed out after 500 ms and was stopped: echo '[redacted]' | chpasswd");
  });
});
