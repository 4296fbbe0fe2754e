import { describe, expect, it } from "vitest";
import { toShell } from "../../activities/ssh/shell";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import type { Plan } from "../kit";
import { composer, composerInstallPlan, composerRemovePlan } from "./composer";

const rendered = (plan: Plan) => plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));

describe("composer package", () => {
  it("is Debian's composer, after PHP", () => {
    expect(composer.type).toBe("composer");
    expect(composer.aptPackages).toEqual(["composer"]);
    expect(composer.requires).toEqual(["php"]);
  });

  it("installs and records composer's version", () => {
    const plan = composerInstallPlan();
    expect(rendered(plan)).toEqual([
      {
        name: "composer_install",
        label: "Installing Composer",
        steps: [SH_APT_UPDATE, ...shAptInstall("composer"), "dpkg-query -W '-f=${Version}' composer"],
      },
    ]);
    expect(plan[0]!.records).toEqual({ type: "composer", name: "composer", versionFrom: "version" });
  });

  it("purges composer", () => {
    const plan = composerRemovePlan();
    expect(rendered(plan)).toEqual([{ name: "composer_remove", label: "Removing Composer", steps: shAptPurge("composer") }]);
    expect(plan[0]!.removes).toEqual({ type: "composer", name: "composer" });
  });
});
