// Which operating systems BrokeForge provisions, judged from os-release as the connection test
// read it (Server.osId / osRelease). Browser-safe: the server overview's warning and the
// provisioning guard say the same thing.

export interface SupportedRelease {
  /** os-release ID. */
  id: string;
  /** VERSION_ID, exactly as os-release writes it. */
  release: string;
  codename: string;
  /** The distribution's name as people write it. */
  name: string;
  /** The PHP version the release's own archive ships (php<V>-fpm): what `php-fpm` depends on. */
  php: string;
}

// Ubuntu is detected the same way (os-release, apt) but only the Debian releases are proven on
// real servers by tests/debian.
export const SUPPORTED_OS: readonly SupportedRelease[] = [
  { id: "debian", release: "12", codename: "bookworm", name: "Debian", php: "8.2" },
  { id: "debian", release: "13", codename: "trixie", name: "Debian", php: "8.4" },
  { id: "ubuntu", release: "22.04", codename: "jammy", name: "Ubuntu", php: "8.1" },
  { id: "ubuntu", release: "24.04", codename: "noble", name: "Ubuntu", php: "8.3" },
];

/** The supported release this os-release ID / VERSION_ID is, if any. */
export function supportedRelease(os: { id: string; release: string } | null | undefined): SupportedRelease | undefined {
  return os ? SUPPORTED_OS.find((r) => r.id === os.id.trim().toLowerCase() && r.release === os.release.trim()) : undefined;
}

export type OsSupport = { supported: true; label: string } | { supported: false; message: string };

/** "Debian 12 and 13, Ubuntu 22.04 and 24.04". */
export const SUPPORTED_OS_TEXT = (() => {
  const byName = new Map<string, string[]>();
  for (const os of SUPPORTED_OS) byName.set(os.name, [...(byName.get(os.name) ?? []), os.release]);
  return [...byName].map(([name, releases]) => `${name} ${releases.join(" and ")}`).join(", ");
})();

export function osLabel(os: Pick<SupportedRelease, "name" | "release" | "codename">): string {
  return os.codename ? `${os.name} ${os.release} (${os.codename})` : `${os.name} ${os.release}`;
}

/**
 * Whether BrokeForge can provision this OS. `osName` (os-release NAME) only improves the words
 * of the message for a distribution BrokeForge does not know.
 */
export function supportedOs(facts: {
  osId: string | null | undefined;
  osRelease: string | null | undefined;
  osName?: string | null;
}): OsSupport {
  const id = facts.osId?.trim().toLowerCase() ?? "";
  const release = facts.osRelease?.trim() ?? "";
  if (!id) {
    return { supported: false, message: "BrokeForge has not read this server's operating system yet: test the connection." };
  }
  const match = SUPPORTED_OS.find((os) => os.id === id && os.release === release);
  if (match) return { supported: true, label: osLabel(match) };
  const known = SUPPORTED_OS.find((os) => os.id === id)?.name;
  const name = known ?? (facts.osName?.trim() || facts.osId!.trim());
  const found = release ? `${name} ${release}` : `${name} without a release number (a testing or rolling release)`;
  return { supported: false, message: `This server runs ${found}, which BrokeForge does not support. Supported: ${SUPPORTED_OS_TEXT}.` };
}
