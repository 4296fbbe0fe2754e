// The walk-through's example (docs/adding-a-package.md): a package and a resource kind,
// defined with the kit alone. tests/integration/kit-walkthrough.test.ts registers them and
// runs them through the engine against a real sshd, and checks the doc shows this file.
import { z } from "zod";
import type { SupervisorProgram } from "../../generated/prisma/browser";
import { files } from "../../catalogue/commands";
import { definePackage, defineResource, milestone, requireCheck, step } from "../../catalogue/kit";

/** Where the example writes; a real package would use fixed paths like /etc/motd. */
export function helloPackage(root: string) {
  return definePackage({
    type: "hello",
    name: "hello",
    label: "Hello",
    description: "Writes a greeting file: the walk-through's example package.",
    aptPackages: [],
    requires: [],
    install: () => [
      milestone(
        "install_hello",
        "Installing hello",
        [
          files.mkdirs([root], { mode: "0755" }),
          files.write(`${root}/hello.conf`, "greeting=hello\n", { mode: "0644" }),
          // The inventory takes its version from this step's output, by name.
          { label: "Reading the hello version", argv: ["echo", "1.0.0"], output: "version" },
        ],
        { records: { type: "hello", name: "hello", versionFrom: "version" } },
      ),
    ],
    remove: () => [
      milestone("remove_hello", "Removing hello", [step("Deleting hello", "rm", "-rf", "--", root)], {
        removes: { type: "hello", name: "hello" },
      }),
    ],
  });
}

/**
 * A resource kind: one greeting file per row. A real kind has its own Prisma model; this
 * example borrows the supervisor programs' table (same lifecycle columns) so the test needs
 * no migration, and uses its `name` and `command` columns as the greeting's name and text.
 */
export function greetingKind(root: string) {
  const path = (row: { id: string }) => `${root}/greetings/${row.id}.txt`;
  return defineResource<SupervisorProgram>()({
    type: "greeting",
    table: "supervisorProgram",
    entity: "supervisor_program",
    api: "greetings",
    parent: "hello",
    label: { one: "greeting", many: "Greetings" },
    input: z.object({ name: z.string().trim().min(1, "Name is required"), text: z.string().min(1, "Say something") }),
    fields: [
      { key: "name", label: "NAME" },
      { key: "command", label: "TEXT", flag: "text" },
    ],
    create: (input) => ({ name: input.name, command: input.text, directory: root }),
    describe: (row) => `“${row.name}”`,
    actions: {
      install: {
        label: "Add",
        // The parent package ("hello") is required by the engine already; this checks the server.
        requires: () => [requireCheck(`${root} does not exist on the server`, ...files.requireDir(root))],
        plan: (row) => [
          milestone("write_greeting", "Writing the greeting", [
            files.mkdirs([`${root}/greetings`]),
            files.write(path(row), `${row.command}\n`, { mode: "0644" }),
          ]),
        ],
      },
      remove: { label: "Remove", plan: (row) => [milestone("remove_greeting", "Removing the greeting", [files.remove([path(row)])])] },
    },
  });
}
