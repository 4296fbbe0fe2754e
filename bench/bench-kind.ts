// A harmless resource kind for measuring the engine against REAL servers (bench/targets.ts):
// the OpenSSH sshd target runs on this very host as root, so the bench must not send ufw,
// crontab or supervisor commands there. One "bench note" = one small file in a directory the
// bench chose (a temp dir on the host, /root/bf-bench in a Debian container), written by one
// single-milestone plan — the same shape as a firewall rule's install (one milestone, a few
// steps), built with the kit alone like docs/examples/hello.ts.
//
// The milestone stamps the server's clock (date +%s%N) into `<dir>/<row id>.times` as its first
// and its last step, so the handoff between two operations can be read on the server itself
// (the peer records exec times; sshd and a container do not). A row created with text "hold"
// first waits for `<dir>/hold` to disappear: the bench holds the first operation that way
// while it queues the rest (the peer's gate does the same there).
import { z } from "zod";
import type { SupervisorProgram } from "../generated/prisma/browser";
import { files } from "../catalogue/commands";
import { defineResource, milestone, step, type Step } from "../catalogue/kit";

const STAMP = 'mkdir -p -- "$1" && date +%s%N >> "$1/$2.times"';
const WAIT_FOR_RELEASE = 'while [ -e "$1/hold" ]; do sleep 0.01; done';

/**
 * Borrows the supervisor programs' table like the walk-through's example does (same lifecycle
 * columns, no migration): `name` is the note's name, `command` its text, `directory` where it goes.
 * No parent package and no remote precondition: exactly one activity (runMilestone) per operation.
 */
export const benchNoteKind = defineResource<SupervisorProgram>()({
  type: "bench_note",
  table: "supervisorProgram",
  entity: "supervisor_program",
  api: "benchNotes",
  parent: "",
  label: { one: "bench note", many: "Bench notes" },
  input: z.object({
    name: z.string().min(1),
    text: z.string().min(1),
    dir: z.string().regex(/^\/[A-Za-z0-9/._-]+$/),
  }),
  fields: [
    { key: "name", label: "NAME" },
    { key: "command", label: "TEXT", flag: "text" },
    { key: "directory", label: "DIR", flag: "dir" },
  ],
  create: (input) => ({ name: input.name, command: input.text, directory: input.dir }),
  describe: (row) => `“${row.name}”`,
  actions: {
    install: {
      label: "Write",
      plan: (row) => [
        milestone("write_note", "Writing the note", [
          ...(row.command === "hold" ? [step("Waiting for the bench", "sh", "-c", WAIT_FOR_RELEASE, "sh", row.directory)] : []),
          stamp(row),
          files.write(`${row.directory}/${row.id}.txt`, `${row.command}\n`, { mode: "0644" }),
          stamp(row),
        ]),
      ],
    },
    remove: {
      label: "Remove",
      plan: (row) => [milestone("remove_note", "Removing the note", [files.remove([`${row.directory}/${row.id}.txt`])])],
    },
  },
});

function stamp(row: { id: string; directory: string }): Step {
  return step("Stamping the clock", "sh", "-c", STAMP, "sh", row.directory, row.id);
}

/** The two stamps of a `<row id>.times` file, in epoch ms (the server's clock = this host's). */
export function parseTimes(text: string): { startedAt: number; endedAt: number } | null {
  const ns = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map(Number);
  if (ns.length !== 2 || ns.some((n) => !Number.isFinite(n))) return null;
  return { startedAt: ns[0]! / 1e6, endedAt: ns[1]! / 1e6 };
}
