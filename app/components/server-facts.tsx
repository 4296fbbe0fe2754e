// What the last connection test read about the server (activities/probe.ts), on the overview:
// OS, hardware, disk, swap, virtualization, and a warning when BrokeForge does not support the OS.
import { supportedOs } from "../../domain/os";

export interface ServerFactsView {
  osId: string | null;
  osRelease: string | null;
  osName: string | null;
  arch: string | null;
  cpuCount: number | null;
  memoryMb: number | null;
  diskTotalMb: number | null;
  diskFreeMb: number | null;
  swapMb: number | null;
  virtualization: string | null;
  kernel: string | null;
}

/** "512 MB", "7.8 GB": binary units, as free and df -h count them. */
export function formatMb(mb: number): string {
  if (mb < 1024) return `${mb} MB`;
  const gb = mb / 1024;
  return `${gb >= 100 ? Math.round(gb) : Number(gb.toFixed(1))} GB`;
}

// systemd-detect-virt's words, as a user knows them.
const VIRT_LABELS: Record<string, string> = {
  none: "None (bare metal)",
  kvm: "KVM",
  qemu: "QEMU",
  "systemd-nspawn": "systemd-nspawn container",
  docker: "Docker container",
  lxc: "LXC container",
  podman: "Podman container",
  vmware: "VMware",
  oracle: "VirtualBox",
  microsoft: "Hyper-V",
  xen: "Xen",
  amazon: "Amazon EC2",
  wsl: "WSL",
};

export function ServerFacts({ server }: { server: ServerFactsView }) {
  // Nothing read yet: the connection section already says "test the connection".
  if (!server.osId && server.cpuCount === null) return null;
  const os = supportedOs(server);
  const na = "—";
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="facts-heading">
      <h2 id="facts-heading" className="font-medium">
        Server
      </h2>
      {os.supported ? null : (
        <p className="mt-3 rounded bg-amber-50 px-3 py-2 text-sm text-amber-800" role="alert" data-testid="os-unsupported">
          {os.message}
        </p>
      )}
      <dl className="mt-4 grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]" data-testid="server-facts">
        <dt className="text-slate-500">Operating system</dt>
        <dd data-testid="fact-os">
          {os.supported ? os.label : [server.osName ?? server.osId, server.osRelease].filter(Boolean).join(" ") || na}
        </dd>
        <dt className="text-slate-500">Architecture</dt>
        <dd data-testid="fact-arch">{server.arch ?? na}</dd>
        <dt className="text-slate-500">CPUs</dt>
        <dd data-testid="fact-cpus">{server.cpuCount ?? na}</dd>
        <dt className="text-slate-500">Memory</dt>
        <dd data-testid="fact-memory">{server.memoryMb === null ? na : formatMb(server.memoryMb)}</dd>
        <dt className="text-slate-500">Disk (/)</dt>
        <dd data-testid="fact-disk">
          {server.diskTotalMb === null
            ? na
            : `${formatMb(server.diskTotalMb)}${server.diskFreeMb === null ? "" : `, ${formatMb(server.diskFreeMb)} free`}`}
        </dd>
        <dt className="text-slate-500">Swap</dt>
        <dd data-testid="fact-swap">{server.swapMb === null ? na : server.swapMb > 0 ? `Yes (${formatMb(server.swapMb)})` : "No"}</dd>
        <dt className="text-slate-500">Virtualization</dt>
        <dd data-testid="fact-virtualization">
          {server.virtualization === null ? na : (VIRT_LABELS[server.virtualization] ?? server.virtualization)}
        </dd>
      </dl>
    </section>
  );
}
