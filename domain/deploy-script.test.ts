import { describe, expect, it } from "vitest";
import { deployCommand } from "../catalogue/commands/releases";
import { DEPLOY_SCRIPT_VARIABLES } from "./deploy-script";

describe("DEPLOY_SCRIPT_VARIABLES", () => {
  it("names exactly the BROKEFORGE_* variables a deploy script line is run with", () => {
    const step = deployCommand("true", {
      domain: "example.com",
      release: "20261203-172859",
      releasePath: "/home/brokeforge/deployments/example.com/20261203-172859",
      commit: "0123456789abcdef0123456789abcdef01234567",
      branch: "main",
    });
    const set = step.argv.filter((a) => a.startsWith("BROKEFORGE_")).map((a) => a.slice(0, a.indexOf("=")));
    expect(set).toEqual(Object.keys(DEPLOY_SCRIPT_VARIABLES));
  });
});
