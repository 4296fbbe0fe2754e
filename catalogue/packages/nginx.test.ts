import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import { ENSURE_LINK, nginx, nginxInstallPlan, nginxRemovePlan } from "./nginx";
import type { Plan } from "../kit";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import { WRITE_FILE_IF_CHANGED } from "../commands/files";
import { NGINX_CATCH_ALL, nginxConf } from "../templates/nginx-conf";

function rendered(plan: Plan) {
  return plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
}
const write = (path: string, content: string) => `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh ${path} ${quote(content)} 0644 '' ''`;

describe("nginx package", () => {
  it("installs, replaces Debian's default site by the catch-all, writes nginx.conf, tests before reloading", () => {
    const plan = nginxInstallPlan();
    expect(rendered(plan)).toEqual([
      { name: "nginx_install", label: "Installing nginx", steps: [SH_APT_UPDATE, ...shAptInstall("nginx")] },
      {
        name: "nginx_configure",
        label: "Configuring nginx",
        steps: [
          write("/etc/nginx/sites-available/000-brokeforge-default", NGINX_CATCH_ALL),
          `sh -c ${quote(ENSURE_LINK)} sh /etc/nginx/sites-available/000-brokeforge-default /etc/nginx/sites-enabled/000-brokeforge-default`,
          "rm -f -- /etc/nginx/sites-enabled/default",
          write("/etc/nginx/nginx.conf", nginxConf()),
          "nginx -t",
          "systemctl enable --now nginx",
          "systemctl reload nginx",
          "dpkg-query -W '-f=${Version}' nginx",
        ],
      },
    ]);
    expect(plan.at(-1)!.records).toEqual({
      type: "nginx",
      name: "nginx",
      versionFrom: "version",
      configuration: { clientMaxBodySize: "64m" },
    });
    const steps = rendered(plan)[1]!.steps;
    expect(steps.indexOf("nginx -t")).toBeLessThan(steps.indexOf("systemctl reload nginx"));
  });

  it("removal deletes the catch-all first, then purges nginx and its configuration", () => {
    const plan = nginxRemovePlan();
    expect(rendered(plan)).toEqual([
      {
        name: "nginx_remove",
        label: "Removing nginx",
        steps: [
          "rm -f -- /etc/nginx/sites-enabled/000-brokeforge-default /etc/nginx/sites-available/000-brokeforge-default",
          ...shAptPurge("nginx", "nginx-common"),
        ],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "nginx", name: "nginx" });
  });

  it("is registered and renders as scripts that read back to the same argv", () => {
    expect(nginx.type).toBe("nginx");
    expect(nginx.aptPackages).toEqual(["nginx"]);
    for (const m of [...nginxInstallPlan(), ...nginxRemovePlan()]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
