// Onboarding on a real Debian 12 server (systemd-nspawn, see harness/): the command the server
// page shows (`authorizeCommand` from `servers.byId`, core/servers.ts `authorizeKeyCommand`)
// pasted into the login user's own shell on the server, then BrokeForge's connection test and a
// real package install through the engine — for root, and for a login user other than root,
// whose commands BrokeForge runs through `sudo -n` (docs/decisions/010-non-root-login-user.md).
//
// "Pasting" is `su - <user> </root/paste-…`: the user's login shell (bash for root and the sudo
// user, dash for the plain `useradd` user) reads the command text as typed lines. The text is
// written into the container's filesystem from the host as is, so nothing here quotes or
// rewrites the command BrokeForge shows, and no test appends the key itself.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { lastOperation, OP_TIMEOUT_MS, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;

beforeAll(async () => {
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "onboarding" })]);
}, 15 * 60_000);

afterAll(async () => {
  await server?.stop();
  await e?.stop();
});

/** A login name of the test's own (lower case, as sshUserSchema wants). */
const newUserName = (prefix: string) => `${prefix}${randomBytes(3).toString("hex")}`;

/** Types `text` into `user`'s login shell on the server, as a human pasting it would. */
async function pasteAs(user: string, text: string): Promise<string> {
  const file = `paste-${randomBytes(4).toString("hex")}`;
  writeFileSync(path.join(server.rootDir, "root", file), `${text}\n`, { mode: 0o600 });
  try {
    return await server.sh(`su - ${user} </root/${file}`);
  } finally {
    await server.sh(`rm -f /root/${file}`);
  }
}

/** The user's path: add the server, paste the shown command as the login user, test the connection. */
async function onboard(sshUser: string) {
  const created = await e.api.servers.create({ name: `onboard-${sshUser}`, host: server.host, sshPort: server.sshPort, sshUser });
  const detail = await e.api.servers.byId({ id: created.id });
  const shown = detail.publicKeys.find((k) => k.kind === "root");
  if (!shown) throw new Error("BrokeForge shows no login key for the new server");
  expect(shown.authorizeCommand).toContain(shown.publicKey);
  await pasteAs(sshUser, shown.authorizeCommand);
  return { id: created.id, publicKey: shown.publicKey, authorizeCommand: shown.authorizeCommand };
}

/** Runs BrokeForge's connection test and waits for its outcome. */
async function testConnection(id: string) {
  await e.api.servers.testConnection({ id });
  return eventually(async () => {
    const s = await e.api.servers.byId({ id });
    return s.connectionStatus === "connected" || s.connectionStatus === "failed" ? s : null;
  }, 60_000);
}

/** The case starts from a server without ufw, whatever ran before it. */
async function withoutUfw() {
  await server.sh(
    "if command -v ufw >/dev/null; then ufw --force disable >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ufw >/dev/null; fi",
    { timeoutMs: OP_TIMEOUT_MS },
  );
}

/** Installs the firewall through BrokeForge and checks ufw really is on; returns the operation. */
async function installFirewall(serverId: string) {
  const { id } = await e.api.packages.create({ serverId, type: "firewall" });
  await until(() => e.db.serverPackage.findUnique({ where: { id } }), "active", OP_TIMEOUT_MS);
  const verbose = await server.sh("ufw status verbose");
  expect(verbose).toContain("Status: active");
  expect(verbose).toContain("Default: deny (incoming), allow (outgoing)");
  expect(verbose).toMatch(new RegExp(`^${server.sshPort}/tcp +ALLOW IN +Anywhere +# brokeforge-ssh$`, "m"));
  await server.sshTrue(); // and new logins still get through it
  const op = await lastOperation(e, id);
  expect(op.state).toBe("succeeded");
  return op;
}

/** The lines of a file on the server (read through the container's root dir). */
const lines = (p: string) => readFileSync(path.join(server.rootDir, p), "utf8").split("\n").filter(Boolean);

/** Mode and owner of a path on the server, e.g. "600 admin". */
const stat = async (p: string) => (await server.sh(`stat -c '%a %U' ${p}`)).trim();

describe("onboarding a real Debian 12 server with the command BrokeForge shows", () => {
  it(
    "root: the pasted command authorizes the key, the connection test passes, the firewall installs and is active",
    async () => {
      await withoutUfw();
      const added = await onboard("root");
      const s = await testConnection(added.id);
      expect(s.connectionError).toBeNull();
      expect(s.connectionStatus).toBe("connected");
      expect(server.hostKeyFingerprints).toContain(s.hostKeyFingerprint);
      expect(s.osName).toMatch(/Debian/);
      expect(s.osVersion).toMatch(/^12/);
      // The harness's own key was there already: the pasted line added ours after it, on its own line.
      const keys = lines("root/.ssh/authorized_keys");
      expect(keys).toHaveLength(2);
      expect(keys[1]).toBe(added.publicKey);
      expect(await stat("/root/.ssh/authorized_keys")).toBe("600 root");

      const op = await installFirewall(added.id);
      expect(op.milestones.map((m) => m.name)).toEqual(["install_ufw", "enable_ufw"]);
    },
    OP_TIMEOUT_MS * 2,
  );

  it(
    "a login user with passwordless sudo: the key lands in their own ~/.ssh, and every command runs as root through sudo -n",
    async () => {
      await withoutUfw();
      const user = newUserName("admin");
      // As on a cloud image (Debian's "admin", Ubuntu's "ubuntu"): bash, passwordless sudo.
      await server.sh(
        `useradd -m -s /bin/bash ${user} && echo '${user} ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/90-${user} && chmod 0440 /etc/sudoers.d/90-${user}`,
      );
      const added = await onboard(user);
      expect(await stat(`/home/${user}/.ssh`)).toBe(`700 ${user}`);
      expect(await stat(`/home/${user}/.ssh/authorized_keys`)).toBe(`600 ${user}`);
      expect(lines(`home/${user}/.ssh/authorized_keys`)).toEqual([added.publicKey]);
      expect(lines("root/.ssh/authorized_keys")).not.toContain(added.publicKey);

      const s = await testConnection(added.id);
      expect(s.connectionError).toBeNull();
      expect(s.connectionStatus).toBe("connected");
      expect(s.osName).toMatch(/Debian/);
      expect(s.kernel).toMatch(/^\d/);
      // What apt offers was read too (apt-cache over sudo): the firewall's version is known.
      expect(Object.keys(s.packageOffers ?? {})).toContain("ufw");

      const op = await installFirewall(added.id);
      // The milestones ran as root in systemd units (detached.ts: only root gets systemd-run).
      for (const step of [1, 2]) {
        expect(await server.sh(`cat /var/lib/brokeforge/runs/brokeforge-op-${op.id}-${step}-1/mode`)).toBe("systemd\n");
      }
      // ...reached through sudo by the login user: sudo logged each command as theirs, as root.
      // What it logged is BrokeForge's fixed reader, never a script (scripts can hold secrets;
      // sudo logs its whole command line to the journal and auth.log).
      const logged = (await server.sh(`journalctl -q --no-pager _COMM=sudo | grep -F ' ${user} : ' || true`)).trim().split("\n");
      const entries = logged.filter((l) => !l.includes("(command continued)"));
      expect(entries.length).toBeGreaterThanOrEqual(3); // the connection test, two milestones
      expect(entries.filter((l) => !l.includes(`USER=root ; COMMAND=/usr/bin/bash --norc --noprofile -c 'IFS= read -r -d "" c`))).toEqual(
        [],
      );
      expect(logged.filter((l) => /ufw|apt-get|bf-step|os-release/.test(l))).toEqual([]);
    },
    OP_TIMEOUT_MS * 2,
  );

  it(
    "a login user whose sudo asks for a password: the connection test says so and how to fix it; after the fix it connects",
    async () => {
      const user = newUserName("deploy");
      // Debian's installer user: in group sudo, with a password. Plain useradd: the shell is /bin/sh (dash).
      await server.sh(`useradd -m ${user} && usermod -aG sudo ${user} && echo '${user}:correct-horse-1' | chpasswd`);
      expect((await server.sh(`getent passwd ${user}`)).trim()).toMatch(/:\/bin\/sh$/);
      const added = await onboard(user);
      expect(await stat(`/home/${user}/.ssh/authorized_keys`)).toBe(`600 ${user}`);

      const s = await testConnection(added.id);
      expect(s.connectionStatus).toBe("failed");
      // Not an authentication failure: the key works, sudo is what refuses.
      expect(s.connectionError).toBe(
        `The login user ${user} on 127.0.0.1:${server.sshPort} cannot run commands as root without a password: ` +
          `BrokeForge runs every command through "sudo -n" when the login user is not root. ` +
          `As root on the server, allow it: echo '${user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/brokeforge && chmod 0440 /etc/sudoers.d/brokeforge ` +
          `(or log in as root). (sudo: a password is required)`,
      );
      // Permanent: one attempt, not four.
      const ops = await e.db.operation.findMany({ where: { serverId: added.id, kind: "server.test_connection" } });
      expect(ops.map((o) => o.state)).toEqual(["failed"]);

      // The fix the message gives, pasted as root, really works.
      const fix = /allow it: (.*) \(or log in as root\)/.exec(s.connectionError ?? "")?.[1];
      expect(fix).toBeDefined();
      await pasteAs("root", fix!);
      const again = await testConnection(added.id);
      expect(again.connectionError).toBeNull();
      expect(again.connectionStatus).toBe("connected");
      await server.sh(`rm -f /etc/sudoers.d/brokeforge`);
    },
    3 * 60_000,
  );
});
