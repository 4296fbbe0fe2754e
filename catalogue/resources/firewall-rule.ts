// Firewall rules: each add and each removal is its own operation (seed Rule 4). The ufw
// command builders live with the firewall package (catalogue/packages/firewall.ts).
import type { FirewallRule } from "../../generated/prisma/browser";
import { firewallRuleInputSchema, sshRuleConflict } from "../../domain/firewall";
import { defineResource, FieldError } from "../kit";
import { firewallRuleAddPlan, firewallRuleRemovePlan } from "../packages/firewall";

export const firewallRule = defineResource<FirewallRule>()({
  type: "firewall_rule",
  table: "firewallRule",
  entity: "firewall_rule",
  api: "firewall",
  parent: "firewall",
  label: { one: "firewall rule", many: "Firewall rules" },
  input: firewallRuleInputSchema,
  fields: [
    { key: "name", label: "NAME" },
    { key: "port", label: "PORT" },
    { key: "protocol", label: "PROTOCOL" },
    { key: "action", label: "ACTION" },
    { key: "source", label: "FROM", flag: "from" },
  ],
  create: (rule, { server }) => {
    const conflict = sshRuleConflict(rule, server.sshPort);
    if (conflict) throw new FieldError("port", conflict);
    return { ...rule, source: rule.source || null };
  },
  // ufw identifies a rule by (protocol, source, destination, port): a second rule with the same
  // tuple would replace the first on the server while both showed active here.
  sameAs: ({ port, protocol, source }) => ({
    where: { port, protocol, source: source || null },
    field: "port",
    message: `A rule for ${port}${protocol === "any" ? "" : `/${protocol}`} from ${source || "anywhere"} exists already: ufw keeps one rule per port, protocol and source`,
  }),
  describe: (r) =>
    `“${r.name}” (${r.action} ${r.port}${r.protocol === "any" ? "" : `/${r.protocol}`}${r.source ? ` from ${r.source}` : ""})`,
  actions: {
    install: {
      label: "Add",
      plan: (rule, { server }) => firewallRuleAddPlan(rule, { sshPort: server.sshPort }),
    },
    remove: { label: "Remove", plan: (rule, { server }) => firewallRuleRemovePlan(rule, { sshPort: server.sshPort }) },
  },
});
