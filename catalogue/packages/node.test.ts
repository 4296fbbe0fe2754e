import { describe, expect, it } from "vitest";
import { toShell } from "../../activities/ssh/shell";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import type { Plan } from "../kit";
import { node, nodeInstallPlan, nodeRemovePlan } from "./node";

const rendered = (plan: Plan) => plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));

describe("node package", () => {
  it("is Debian's nodejs and npm", () => {
    expect(node.type).toBe("node");
    expect(node.label).toBe("Node.js");
    expect(node.aptPackages).toEqual(["nodejs", "npm"]);
  });

  it("installs both and records nodejs's version", () => {
    const plan = nodeInstallPlan();
    expect(rendered(plan)).toEqual([
      {
        name: "node_install",
        label: "Installing Node.js and npm",
        steps: [SH_APT_UPDATE, ...shAptInstall("nodejs", "npm"), "dpkg-query -W '-f=${Version}' nodejs"],
      },
    ]);
    expect(plan[0]!.records).toEqual({ type: "node", name: "nodejs", versionFrom: "version" });
  });

  it("purges both", () => {
    const plan = nodeRemovePlan();
    expect(rendered(plan)).toEqual([{ name: "node_remove", label: "Removing Node.js and npm", steps: shAptPurge("nodejs", "npm") }]);
    expect(plan[0]!.removes).toEqual({ type: "node", name: "nodejs" });
  });
});
