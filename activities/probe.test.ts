// The connection test's probe: the command sent (exact text), and the facts read from what a
// server prints. The real command against a real shell and apt: tests/integration/server-facts.test.ts.
import { describe, expect, it } from "vitest";
import { aptPrefix, newerFirst, parseProbeOutput, probeCommand, variantsFromNames, VARIANT_LIST_MAX_BYTES } from "./probe";

const PHP = { type: "php", aptPattern: "^php(\\d+\\.\\d+)-fpm$" };

// What a Debian 13 VM prints (trimmed where nothing is read).
const DEBIAN_13 = `---brokeforge-os-release---
PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION="13 (trixie)"
VERSION_CODENAME=trixie
ID=debian
---brokeforge-kernel---
6.12.38+deb13-amd64
---brokeforge-arch---
x86_64
---brokeforge-cpus---
4
---brokeforge-meminfo---
MemTotal:        8139516 kB
SwapTotal:       1048572 kB
---brokeforge-disk---
Filesystem     1048576-blocks  Used Available Capacity Mounted on
/dev/vda1               40168  2570     35526       7% /
---brokeforge-virt---
kvm
---brokeforge-apt---
ufw:
  Installed: (none)
  Candidate: 0.36.2-9
  Version table:
     0.36.2-9 500
        500 http://deb.debian.org/debian trixie/main amd64 Packages
---brokeforge-variants-0---
php8.4-fpm
php8.4-fpm-dbgsym
php-fpm
php8.4-fpm
phpunit
`;

describe("parseProbeOutput", () => {
  it("reads os-release, hardware, disk, swap, virtualization and what apt offers", () => {
    expect(parseProbeOutput(DEBIAN_13, [PHP])).toEqual({
      osName: "Debian GNU/Linux",
      osVersion: "13 (trixie)",
      kernel: "6.12.38+deb13-amd64",
      osId: "debian",
      osRelease: "13",
      osCodename: "trixie",
      arch: "x86_64",
      cpuCount: 4,
      memoryMb: 7948, // 8139516 kB
      swapMb: 1023, // 1048572 kB
      diskTotalMb: 40168,
      diskFreeMb: 35526,
      virtualization: "kvm",
      packageOffers: { ufw: { installed: null, candidate: "0.36.2-9" } },
      variantOffers: { php: ["8.4"] },
    });
  });

  it("says “no swap” as 0 and bare metal as systemd-detect-virt does (“none”)", () => {
    const out = DEBIAN_13.replace("SwapTotal:       1048572 kB", "SwapTotal:             0 kB").replace(
      "---brokeforge-virt---\nkvm",
      "---brokeforge-virt---\nnone",
    );
    expect(parseProbeOutput(out, [])).toMatchObject({ swapMb: 0, virtualization: "none" });
  });

  it("leaves facts a server could not tell null (no systemd, no df, no os-release) instead of failing", () => {
    const bare = [
      "---brokeforge-os-release---",
      "---brokeforge-kernel---",
      "5.15.0",
      "---brokeforge-arch---",
      "aarch64",
      "---brokeforge-cpus---",
      "---brokeforge-meminfo---",
      "---brokeforge-disk---",
      "---brokeforge-virt---",
      "---brokeforge-apt---",
      "---brokeforge-variants-0---",
      "",
    ].join("\n");
    expect(parseProbeOutput(bare, [PHP])).toEqual({
      osName: null,
      osVersion: null,
      kernel: "5.15.0",
      osId: null,
      osRelease: null,
      osCodename: null,
      arch: "aarch64",
      cpuCount: null,
      memoryMb: null,
      swapMb: null,
      diskTotalMb: null,
      diskFreeMb: null,
      virtualization: null,
      packageOffers: {},
      variantOffers: { php: [] },
    });
  });

  it("reads the df row from its end, so a filesystem name with spaces does not shift the columns", () => {
    const out = DEBIAN_13.replace("/dev/vda1               40168  2570     35526       7% /", "my pool/root  40168  2570  35526  7% /");
    expect(parseProbeOutput(out, [])).toMatchObject({ diskTotalMb: 40168, diskFreeMb: 35526 });
  });

  it("gives each variant package its own section, by position", () => {
    const out = `${DEBIAN_13}---brokeforge-variants-1---\nllvm-16\nllvm-19\nllvm-16-dev\n`;
    const llvm = { type: "llvm", aptPattern: "^llvm-(\\d+)$" };
    expect(parseProbeOutput(out, [PHP, llvm]).variantOffers).toEqual({ php: ["8.4"], llvm: ["19", "16"] });
  });
});

describe("variantsFromNames", () => {
  it("lists each variant once, newest first, numbers compared as numbers", () => {
    const names = ["php8.2-fpm", "php8.10-fpm", "php8.4-fpm", "php7.4-fpm", "php8.2-fpm", "php8.2-cli", "php-fpm", "xphp8.9-fpm"].join(
      "\n",
    );
    expect(variantsFromNames(names, PHP.aptPattern)).toEqual(["8.10", "8.4", "8.2", "7.4"]);
  });

  it("leaves out the last line of a list cut at its limit: it may be half a name", () => {
    const filler = "a".repeat(VARIANT_LIST_MAX_BYTES - "llvm-16\nllvm-1".length - 1);
    const names = `${filler}\nllvm-16\nllvm-1`;
    expect(Buffer.byteLength(names)).toBe(VARIANT_LIST_MAX_BYTES);
    expect(variantsFromNames(names, "^llvm-(\\d+)$")).toEqual(["16"]);
  });

  it("offers nothing for a pattern that does not compile, rather than failing the connection test", () => {
    expect(variantsFromNames("php8.2-fpm", "^php(\\d+")).toEqual([]);
  });
});

describe("newerFirst", () => {
  it("orders release numbers part by part", () => {
    expect(["13", "8.2", "8.10", "22.04", "8.4", "24.04"].sort(newerFirst)).toEqual(["24.04", "22.04", "13", "8.10", "8.4", "8.2"]);
  });
});

describe("aptPrefix", () => {
  it.each([
    ["^php(\\d+\\.\\d+)-fpm$", "php"],
    ["^libpython(\\d+\\.\\d+)-stdlib$", "libpython"],
    ["^llvm-(\\d+)$", "llvm-"],
    ["^lib\\+\\+x(\\d+)$", "lib++x"],
    ["^phpx?(\\d+)$", "php"],
    ["^php\\.?(\\d+)$", "php"],
    ["php(\\d+)-fpm$", ""], // not anchored: a name may start with anything
    ["^php(\\d+)|^hhvm(\\d+)", ""], // alternatives: no common prefix to rely on
    ["^(\\w+)-fpm$", ""],
  ])("%s lists names starting with %j", (pattern, prefix) => {
    expect(aptPrefix(pattern)).toBe(prefix);
  });
});

describe("probeCommand", () => {
  it("is one command of marked sections, each tolerating a missing tool; variants listed by prefix and bounded", () => {
    expect(probeCommand(["ufw", "cron"], [PHP, { type: "any", aptPattern: "(\\d+)-x$" }])).toBe(
      [
        "echo ---brokeforge-os-release---; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null",
        "echo ---brokeforge-kernel---; uname -r",
        "echo ---brokeforge-arch---; uname -m",
        "echo ---brokeforge-cpus---; nproc 2>/dev/null",
        "echo ---brokeforge-meminfo---; grep -E '^(MemTotal|SwapTotal):' /proc/meminfo 2>/dev/null",
        "echo ---brokeforge-disk---; df -Pm / 2>/dev/null",
        "echo ---brokeforge-virt---; systemd-detect-virt 2>/dev/null",
        "echo ---brokeforge-apt---; apt-cache policy -- ufw cron 2>/dev/null",
        "echo ---brokeforge-variants-0---; apt-cache pkgnames php 2>/dev/null | head -c 65536",
        "echo ---brokeforge-variants-1---; apt-cache pkgnames 2>/dev/null | head -c 65536",
        "true",
      ].join("; "),
    );
  });

  it("asks apt nothing when the catalogue has no apt packages", () => {
    expect(probeCommand([], [])).toContain("echo ---brokeforge-apt---; true; true");
  });
});
