// nspawn mode: the provisioned overlay booted with systemd-nspawn (the host's kernel, ~1 s) in
// its own network namespace (network.ts). A reboot inside makes nspawn exit with 133; as under
// systemd-nspawn@.service (RestartForceExitStatus=133), it is started again on the same tree.
import { closeSync, openSync } from "node:fs";
import { spawn } from "node:child_process";
import { startNetwork } from "./network";
import { setSshPort } from "./overlay";
import type { Run } from "./run-dir";
import type { Machine } from "./types";

export async function startNspawn(run: Run, opts: { hostLoopback: boolean }): Promise<Machine> {
  const { machine, rootDir, consolePath } = run;
  const netns = await startNetwork(run, opts);
  // SSH: the same port number outside and inside (overlay.ts says why).
  const sshPort = await netns.forward();
  setSshPort(rootDir, sshPort);

  let exit: string | null = null;
  const launch = () => {
    const consoleFd = openSync(consolePath, "a");
    // Flags and their values grouped a line each (kept out of the formatter's one-per-line layout).
    // prettier-ignore
    const argv = [
      '--pdeathsig', 'TERM', '--', 'systemd-nspawn',
      '--boot', '--keep-unit', '--register=no',
      '--capability=CAP_NET_ADMIN',
      `--network-namespace-path=/proc/${netns.holderPid}/ns/net`,
      '--resolv-conf=off', '--timezone=off', '--link-journal=no',
      `--machine=${machine}`,
      '--directory', rootDir,
    ];
    const nspawn = spawn("setpriv", argv, { stdio: ["ignore", consoleFd, consoleFd] });
    closeSync(consoleFd);
    run.track("nspawn", nspawn);
    nspawn.once("exit", (code, signal) => {
      if (code === 133 && !run.stopping()) {
        launch(); // the container asked for a reboot
        return;
      }
      exit = `systemd-nspawn exited (${signal ?? code})`;
    });
  };
  const startedAt = Date.now();
  launch();
  return { sshPort, forward: (guestPort) => netns.forward(guestPort), startedAt, exitReason: () => exit, netnsPid: netns.holderPid };
}
