// The command library, Kamal-style: each builder's exact command line is the assertion.
import { describe, expect, it } from "vitest";
import { quote, toShell } from "../../activities/ssh/shell";
import { apt, dpkg, files, systemctl, users } from ".";
import { APT_UPDATE, DPKG_REPAIR } from "./apt";
import { ENSURE_USER } from "./users";
import { ENSURE_LINE, REQUIRE_DIR, WRITE_FILE, WRITE_FILE_IF_CHANGED } from "./files";
import { RESTART_IF_CHANGED } from "./systemctl";

const sh = (step: { argv: readonly string[] }) => toShell(step.argv);

describe("apt", () => {
  it("updates through the cache-age script, 1 hour by default, 0 = always", () => {
    expect(sh(apt.update())).toBe(`sh -c ${quote(APT_UPDATE)} sh 3600 /var/lib/brokeforge/apt-update.stamp`);
    expect(sh(apt.update(0))).toBe(`sh -c ${quote(APT_UPDATE)} sh 0 /var/lib/brokeforge/apt-update.stamp`);
  });

  it("installs non-interactively, keeping edited config files, after repairing an interrupted dpkg", () => {
    expect(apt.install(["nginx", "php8.2-fpm"]).map(sh)).toEqual([
      `sh -c ${quote(DPKG_REPAIR)} sh`,
      "env 'DEBIAN_FRONTEND=noninteractive' apt-get -o 'DPkg::Lock::Timeout=120' -o 'Dpkg::Options::=--force-confold' -o 'Dpkg::Options::=--force-confdef' install -y nginx php8.2-fpm",
    ]);
  });

  it("purges after the same repair", () => {
    expect(apt.purge(["redis-server"]).map(sh)).toEqual([
      `sh -c ${quote(DPKG_REPAIR)} sh`,
      "env 'DEBIAN_FRONTEND=noninteractive' apt-get -o 'DPkg::Lock::Timeout=120' purge -y redis-server",
    ]);
  });

  it.each([[[]], [["-y"]], [["nginx; rm -rf /"]], [["Nginx"]], [["a b"]]])("refuses package list %j", (packages) => {
    expect(() => apt.install(packages)).toThrow(/apt: /);
  });

  it("accepts a version pin", () => {
    expect(sh(apt.install(["redis-server=5:7.0.15-1~deb12u1"])[1]!)).toMatch(/ install -y 'redis-server=5:7\.0\.15-1~deb12u1'$/);
  });
});

describe("dpkg", () => {
  it("reads an installed version under a named output", () => {
    const step = dpkg.version("nginx");
    expect(sh(step)).toBe("dpkg-query -W '-f=${Version}' nginx");
    expect(step.output).toBe("version");
    expect(dpkg.version("php8.2-fpm", "php").output).toBe("php");
  });
});

describe("systemctl", () => {
  it("builds each verb", () => {
    expect(sh(systemctl.enableNow("nginx"))).toBe("systemctl enable --now nginx");
    expect(sh(systemctl.reload("php8.2-fpm"))).toBe("systemctl reload php8.2-fpm");
    expect(sh(systemctl.restart("redis-server.service"))).toBe("systemctl restart redis-server.service");
    expect(sh(systemctl.isActive("nginx"))).toBe("systemctl is-active nginx");
    expect(sh(systemctl.stop("supervisor"))).toBe("systemctl stop supervisor");
    expect(sh(systemctl.start("cron"))).toBe("systemctl start cron");
    expect(sh(systemctl.restartIfChanged("mariadb"))).toBe(
      `sh -c ${quote(RESTART_IF_CHANGED)} sh mariadb /var/lib/brokeforge/restart-pending/mariadb`,
    );
  });

  it.each(["--now", "nginx; reboot", "a b", ""])("refuses unit %j", (unit) => {
    expect(() => systemctl.restart(unit)).toThrow(/systemctl: bad unit/);
  });
});

describe("files", () => {
  it("writes content as data, atomically, with mode and owner", () => {
    const content = "server {\n  listen 80; # it's $here\n}\n";
    expect(sh(files.write("/etc/nginx/sites-available/a.conf", content, { mode: "0644", owner: "root:www-data" }))).toBe(
      `sh -c ${quote(WRITE_FILE)} sh /etc/nginx/sites-available/a.conf ${quote(content)} 0644 root:www-data`,
    );
    expect(sh(files.write("/etc/x", "y"))).toBe(`sh -c ${quote(WRITE_FILE)} sh /etc/x y 0600 ''`);
  });

  it("writes only a changed file, flagging the unit it restarts", () => {
    expect(
      sh(
        files.writeIfChanged("/etc/redis/brokeforge.conf", "bind 127.0.0.1\n", {
          mode: "0640",
          owner: "redis:redis",
          restarts: "redis-server",
        }),
      ),
    ).toBe(
      `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/redis/brokeforge.conf ${quote("bind 127.0.0.1\n")} 0640 redis:redis /var/lib/brokeforge/restart-pending/redis-server`,
    );
    expect(sh(files.writeIfChanged("/etc/x", "y"))).toBe(`sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/x y 0600 '' ''`);
    expect(() => files.writeIfChanged("/etc/x", "y", { restarts: "../x" })).toThrow(/files: bad unit/);
    expect(() => files.writeIfChanged("/etc/x", "y", { restarts: "-x" })).toThrow(/files: bad unit/);
  });

  it("appends a line once, flagging the unit it restarts", () => {
    expect(sh(files.ensureLine("/etc/redis/redis.conf", "include /etc/redis/brokeforge.conf", { restarts: "redis-server" }))).toBe(
      `sh -c ${quote(ENSURE_LINE)} sh /etc/redis/redis.conf 'include /etc/redis/brokeforge.conf' /var/lib/brokeforge/restart-pending/redis-server`,
    );
    expect(sh(files.ensureLine("/etc/a", "b"))).toBe(`sh -c ${quote(ENSURE_LINE)} sh /etc/a b ''`);
    expect(() => files.ensureLine("/etc/a", "b\nc")).toThrow(/files: bad line/);
    expect(() => files.ensureLine("/etc/a", "")).toThrow(/files: bad line/);
  });

  it("makes directories, removes files, and checks a directory", () => {
    expect(sh(files.mkdirs(["/a", "/b c"], { mode: "0755" }))).toBe("mkdir -p -m 0755 -- /a '/b c'");
    expect(sh(files.remove(["/tmp/x"]))).toBe("rm -f -- /tmp/x");
    expect(toShell(files.requireDir("/home/brokeforge"))).toBe(`sh -c ${quote(REQUIRE_DIR)} sh /home/brokeforge`);
  });

  it.each(["relative", "/a/../etc/shadow", "/a\nb"])("refuses path %j", (path) => {
    expect(() => files.write(path, "x")).toThrow(/files: bad path/);
  });

  it.each([["0777x"], ["u+x"]])("refuses mode %j", (mode) => {
    expect(() => files.write("/x", "y", { mode })).toThrow(/files: bad mode/);
  });

  it.each(["root;id", "-R", "Root"])("refuses owner %j", (owner) => {
    expect(() => files.write("/x", "y", { owner })).toThrow(/files: bad owner/);
  });
});

describe("users", () => {
  it("checks, creates and groups users", () => {
    expect(toShell(users.exists("deploy"))).toBe("id -u -- deploy");
    expect(sh(users.ensure("brokeforge"))).toBe(`sh -c ${quote(ENSURE_USER)} sh brokeforge /home/brokeforge /bin/bash`);
    expect(sh(users.addToGroup("brokeforge", "www-data"))).toBe("usermod -a -G www-data -- brokeforge");
    expect(sh(users.chown("deploy:", ["/a", "/b"]))).toBe("chown -- deploy: /a /b");
  });

  it.each(["-o", "root;id", "Deploy", "x".repeat(33)])("refuses user %j", (user) => {
    expect(() => users.exists(user)).toThrow(/users: bad user/);
  });
});

describe("apt.policy", () => {
  it("asks apt-cache, and reads installed and candidate versions per package", () => {
    expect(toShell(apt.policy(["ufw", "cron"]))).toBe("apt-cache policy -- ufw cron");
    const out = [
      "ufw:",
      "  Installed: (none)",
      "  Candidate: 0.36.2-1",
      "  Version table:",
      "     0.36.2-1 500",
      "        500 http://deb.debian.org/debian bookworm/main amd64 Packages",
      "cron:",
      "  Installed: 3.0pl1-162",
      "  Candidate: 3.0pl1-162",
      "  Version table:",
      " *** 3.0pl1-162 500",
      "supervisor:",
      "  Installed: (none)",
      "  Candidate: (none)",
      "  Version table:",
      "",
    ].join("\n");
    expect(apt.parsePolicy(out)).toEqual({
      ufw: { installed: null, candidate: "0.36.2-1" },
      cron: { installed: "3.0pl1-162", candidate: "3.0pl1-162" },
      supervisor: { installed: null, candidate: null },
    });
    expect(apt.parsePolicy("")).toEqual({});
  });
});
