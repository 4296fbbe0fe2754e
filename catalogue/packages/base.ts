// base: what every BrokeForge server gets first — package lists, the tools later packages and
// deploys use, UTC, swap, automatic security updates and fail2ban for SSH. Pure builders.
//
// Every milestone is safe to run twice and a re-run changes no file: config files are left
// alone when their content is right (files.writeIfChanged), the timezone link and the fstab
// line are only made when missing, and fail2ban is reloaded (same main PID), never restarted.
import { apt, dpkg, files } from "../commands";
import { definePackage, milestone, step, type Plan, type PlanContext } from "../kit";

export const BASE_TOOLS = ["curl", "git", "unzip", "ca-certificates", "gnupg", "acl", "tzdata"] as const;

/** Where the timezone data lives; the link is what glibc and systemd-timedated read. */
const UTC_ZONE = "/usr/share/zoneinfo/Etc/UTC";

// `timedatectl set-timezone` needs systemd-timedated over D-Bus, which a container (or a box
// without dbus) may not have: the link and /etc/timezone are what it writes anyway. The link
// is only replaced when it points elsewhere, so a re-run touches nothing.
export const SET_UTC = [
  `z=${UTC_ZONE}`,
  '[ -e "$z" ] || { echo "$z is missing: tzdata is not installed" >&2; exit 1; }',
  'if [ "$(readlink /etc/localtime)" = "$z" ]; then echo "The timezone is UTC already"; exit 0; fi',
  'ln -sfn -- "$z" /etc/localtime',
  'echo "Timezone set to UTC"',
].join("\n");

export const SWAP_FILE = "/swapfile";

// $1 swap file. A swap file when the server has no swap at all: RAM-sized, at least 1 GiB and
// at most 2 GiB (MemTotal from /proc/meminfo). Skipped, saying so, where the kernel does not
// let us: containers (systemd-detect-virt) share the host's memory and swapon is refused
// there — and if swapon is refused anywhere else, the file is deleted and the step says why.
// The file is made under a temporary name and renamed once mkswap succeeded, so an
// interrupted run never leaves a half-written /swapfile for the next run to trust. The fstab
// line is added once. The last line printed is the inventory's note.
export const ENSURE_SWAP = [
  'f=$1; tmp="$1.brokeforge-tmp"',
  "if command -v systemd-detect-virt >/dev/null 2>&1 && virt=$(systemd-detect-virt --container); then",
  '  echo "Skipped: this server is a container ($virt); the kernel does not allow swap in it"; exit 0',
  "fi",
  "active=$(swapon --show=NAME --noheadings)",
  'if [ -n "$active" ]; then',
  '  if printf \'%s\\n\' "$active" | grep -qxF -- "$f" && ! grep -qE "^[[:space:]]*$f[[:space:]]" /etc/fstab; then',
  "    printf '%s none swap sw 0 0\\n' \"$f\" >> /etc/fstab",
  "  fi",
  "  echo \"Swap exists already: $(printf '%s' \"$active\" | tr '\\n' ' ')\"; exit 0",
  "fi",
  'if [ ! -e "$f" ]; then',
  "  mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)",
  '  [ "$mb" -ge 1024 ] || mb=1024',
  '  [ "$mb" -le 2048 ] || mb=2048',
  '  rm -f -- "$tmp"',
  "  # fallocate is instant, but some filesystems cannot swap on its files: dd can.",
  '  fallocate -l "${mb}M" -- "$tmp" 2>/dev/null || dd if=/dev/zero of="$tmp" bs=1M count="$mb" status=none || exit 1',
  '  chmod 600 -- "$tmp" && mkswap -- "$tmp" >/dev/null && mv -f -- "$tmp" "$f" || { rm -f -- "$tmp"; exit 1; }',
  '  echo "Created $f (${mb} MiB)"',
  "fi",
  'if ! out=$(swapon -- "$f" 2>&1); then',
  "  case $out in",
  '    *"not permitted"*) rm -f -- "$f"; echo "Skipped: the kernel refuses swap here ($out)"; exit 0 ;;',
  "  esac",
  "  printf '%s\\n' \"$out\" >&2",
  '  echo "$f exists but is not usable as swap: delete it or make it a swap file" >&2; exit 1',
  "fi",
  'grep -qE "^[[:space:]]*$f[[:space:]]" /etc/fstab || printf \'%s none swap sw 0 0\\n\' "$f" >> /etc/fstab',
  'echo "Swap on $f: $(swapon --show=SIZE --noheadings -- "$f" | tr -d \' \')"',
].join("\n");

/** APT's periodic jobs (apt-daily timers) refresh the lists and run unattended-upgrade daily. */
export const AUTO_UPGRADES = `// Managed by BrokeForge: changes here are overwritten.
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
`;

// unattended-upgrades' own default also installs the distribution's point-release updates;
// BrokeForge's promise is security updates only, so the origins list is replaced (#clear) by
// the security archives (Debian's, and Ubuntu's by the same words).
export const SECURITY_ONLY = `// Managed by BrokeForge: changes here are overwritten.
// Only security updates are installed automatically.
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=\${distro_codename}-security,label=Debian-Security";
        "origin=Debian,codename=\${distro_codename},label=Debian-Security";
        "origin=Ubuntu,archive=\${distro_codename}-security,label=Ubuntu";
};
`;

export const AUTO_UPGRADES_PATH = "/etc/apt/apt.conf.d/20auto-upgrades";
export const SECURITY_ONLY_PATH = "/etc/apt/apt.conf.d/52brokeforge-security-only";
export const FAIL2BAN_JAIL_PATH = "/etc/fail2ban/jail.d/brokeforge.local";

/**
 * The sshd jail. backend=systemd: Debian 12+ has no /var/log/auth.log unless rsyslog is
 * installed, and fail2ban's file backend then refuses to start. nftables: the kernel's own
 * firewall on Debian 12+, independent of whether ufw (iptables) is installed yet.
 */
export function fail2banJail(sshPort: number): string {
  if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) throw new Error(`base: bad SSH port ${sshPort}`);
  return `# Managed by BrokeForge: changes here are overwritten.
[DEFAULT]
banaction = nftables-multiport
banaction_allports = nftables-allports

[sshd]
enabled = true
backend = systemd
port = ${sshPort}
maxretry = 5
findtime = 10m
bantime = 1h
`;
}

// Starts fail2ban, or has a running one re-read its jails (same process: a re-run restarts
// nothing). Debian's postinst has just started it, with a jail that fails on Debian 12 (no
// auth.log), so it may be starting, running or failed: wait for its socket before a reload,
// clear a failed state before a start, and end with the sshd jail's status (fails when the
// jail is not running).
export const FAIL2BAN_APPLY = [
  "ready() {",
  "  i=0",
  "  until fail2ban-client ping >/dev/null 2>&1; do",
  '    i=$((i + 1)); if [ "$i" -ge 30 ]; then echo "fail2ban did not start:" >&2; systemctl --no-pager -n 20 status fail2ban >&2; exit 1; fi',
  "    sleep 1",
  "  done",
  "}",
  "systemctl enable --quiet fail2ban || exit 1",
  "if systemctl is-active --quiet fail2ban; then",
  "  ready; fail2ban-client reload || exit 1",
  "else",
  "  systemctl reset-failed fail2ban 2>/dev/null; systemctl start fail2ban || exit 1",
  "fi",
  "ready",
  "fail2ban-client status sshd",
].join("\n");

export function baseInstallPlan(ctx: PlanContext): Plan {
  return [
    milestone("base_tools", "Installing base tools", [apt.update(), ...apt.install([...BASE_TOOLS])]),
    milestone("base_timezone", "Setting the timezone to UTC", [
      step("Linking /etc/localtime to UTC", "sh", "-c", SET_UTC, "sh"),
      files.writeIfChanged("/etc/timezone", "Etc/UTC\n", { mode: "0644" }),
    ]),
    milestone("base_swap", "Adding a swap file", [step("Adding a swap file when there is none", "sh", "-c", ENSURE_SWAP, "sh", SWAP_FILE)]),
    milestone("base_security_updates", "Turning on automatic security updates", [
      ...apt.install(["unattended-upgrades"]),
      files.writeIfChanged(AUTO_UPGRADES_PATH, AUTO_UPGRADES, { mode: "0644" }),
      files.writeIfChanged(SECURITY_ONLY_PATH, SECURITY_ONLY, { mode: "0644" }),
    ]),
    milestone(
      "base_fail2ban",
      "Protecting SSH with fail2ban",
      [
        // python3-systemd: the journal backend; nftables: the ban action's `nft`.
        ...apt.install(["fail2ban", "python3-systemd", "nftables"]),
        files.writeIfChanged(FAIL2BAN_JAIL_PATH, fail2banJail(ctx.server.sshPort), { mode: "0644" }),
        step("Starting fail2ban with the sshd jail", "sh", "-c", FAIL2BAN_APPLY, "sh"),
        dpkg.version("fail2ban"),
        { ...step("Reading the swap in use", "swapon", "--show=NAME,SIZE", "--noheadings"), output: "swap" },
      ],
      {
        records: {
          type: "base",
          name: "base",
          versionFrom: "version",
          configuration: { timezone: "Etc/UTC" },
          configurationFrom: { swap: "swap" },
        },
      },
    ),
  ];
}

/**
 * Removes what base added that runs on its own (fail2ban, automatic upgrades). The tools, the
 * timezone and the swap file stay: later packages and sites use them, and taking swap away
 * from a running server can get processes killed.
 */
export function baseRemovePlan(): Plan {
  return [
    milestone(
      "base_remove",
      "Removing fail2ban and automatic updates",
      [
        files.remove([FAIL2BAN_JAIL_PATH, AUTO_UPGRADES_PATH, SECURITY_ONLY_PATH], "Deleting BrokeForge's configuration"),
        ...apt.purge(["fail2ban", "unattended-upgrades"]),
      ],
      { removes: { type: "base", name: "base" } },
    ),
  ];
}

export const base = definePackage({
  type: "base",
  name: "base",
  label: "Base system",
  description: "Base tools, UTC, a swap file, automatic security updates and fail2ban for SSH.",
  aptPackages: [...BASE_TOOLS, "unattended-upgrades", "fail2ban"],
  requires: [],
  install: (ctx) => baseInstallPlan(ctx),
  remove: () => baseRemovePlan(),
});
