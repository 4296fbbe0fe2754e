// The onboarding command shown on the server page, run the way a user runs it: pasted into a
// shell (bash, and dash: Debian's /bin/sh, a login shell for users made by plain `useradd`).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { authorizeKeyCommand } from "./servers";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHh0ZXN0a2V5Zm9yYnJva2Vmb3JnZXRlc3RzMDAwMDAw brokeforge-root@srv1";
const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVya2V5b3RoZXJrZXlvdGhlcmtleW90aGVya2V5 me@laptop";

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function freshHome(): string {
  const home = mkdtempSync(path.join(tmpdir(), "bf-authorize-"));
  homes.push(home);
  return home;
}

/** Pastes the command into `shell -c` with HOME set, as a login shell would have it. */
function paste(shell: string, home: string, command = authorizeKeyCommand(KEY)) {
  const r = spawnSync(shell, ["-c", command], { cwd: home, env: { ...process.env, HOME: home }, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
}

const keysFile = (home: string) => path.join(home, ".ssh/authorized_keys");
const keyLines = (home: string) => readFileSync(keysFile(home), "utf8").split("\n").filter(Boolean);
const mode = (p: string) => statSync(p).mode & 0o777;

describe("authorizeKeyCommand", () => {
  it("is the exact line the server page shows", () => {
    expect(authorizeKeyCommand(KEY)).toBe(
      "mkdir -p ~/.ssh && chmod 700 ~/.ssh && " +
        `{ grep -qxF '${KEY}' ~/.ssh/authorized_keys 2>/dev/null || printf '\\n%s\\n' '${KEY}' >> ~/.ssh/authorized_keys; } && ` +
        "chmod 600 ~/.ssh/authorized_keys",
    );
  });

  it.each(["bash", "dash"])("in %s: creates ~/.ssh (700) and authorized_keys (600) holding the key", (shell) => {
    const home = freshHome();
    paste(shell, home);
    expect(keyLines(home)).toEqual([KEY]);
    expect(mode(path.join(home, ".ssh"))).toBe(0o700);
    expect(mode(keysFile(home))).toBe(0o600);
  });

  it.each(["bash", "dash"])("in %s: pasted twice, the key is there once", (shell) => {
    const home = freshHome();
    paste(shell, home);
    paste(shell, home);
    expect(keyLines(home)).toEqual([KEY]);
  });

  it("keeps a key already there intact when the file does not end in a newline", () => {
    const home = freshHome();
    mkdirSync(path.join(home, ".ssh"), { mode: 0o755 });
    writeFileSync(keysFile(home), OTHER, { mode: 0o644 }); // hand-edited: no final newline
    paste("dash", home);
    expect(keyLines(home)).toEqual([OTHER, KEY]);
    expect(mode(path.join(home, ".ssh"))).toBe(0o700);
    expect(mode(keysFile(home))).toBe(0o600);
  });

  it("a key with a comment an attacker chose stays one quoted word", () => {
    const home = freshHome();
    const hostile = "ssh-ed25519 AAAAC3Nza x'; touch pwned; echo '";
    paste("bash", home, authorizeKeyCommand(hostile));
    expect(keyLines(home)).toEqual([hostile]);
    expect(spawnSync("ls", [home], { encoding: "utf8" }).stdout).not.toContain("pwned");
  });
});
