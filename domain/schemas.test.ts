// The input schemas of app/domain/{firewall,scheduler,supervisor}.ts: valid input, and the
// field-level messages a user sees for invalid input.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { firewallRuleInputSchema, isIPv6, sshRuleConflict } from "./firewall";
import { cronExpressionFor, parseCronExpression, scheduledTaskInputSchema } from "./scheduler";
import { fieldErrorsOf } from "./schemas";
import { supervisorProgramInputSchema } from "./supervisor";

function errors(schema: z.ZodType, input: unknown) {
  const r = schema.safeParse(input);
  if (r.success) throw new Error(`expected a failure, got ${JSON.stringify(r.data)}`);
  return fieldErrorsOf(r.error);
}

describe("firewallRuleInputSchema", () => {
  const base = { name: "Web", port: "443" };

  it("applies defaults and normalises", () => {
    expect(firewallRuleInputSchema.parse(base)).toEqual({ name: "Web", port: "443", protocol: "tcp", action: "allow", source: null });
    expect(firewallRuleInputSchema.parse({ ...base, port: 8080 }).port).toBe("8080");
    expect(firewallRuleInputSchema.parse({ ...base, port: " 8000-8100 ", protocol: "udp" }).port).toBe("8000:8100");
    expect(firewallRuleInputSchema.parse({ ...base, port: "0022" }).port).toBe("22");
    expect(firewallRuleInputSchema.parse({ ...base, source: "" }).source).toBeNull();
    expect(firewallRuleInputSchema.parse({ ...base, source: " 10.0.0.0/8 " }).source).toBe("10.0.0.0/8");
    expect(firewallRuleInputSchema.parse({ ...base, protocol: "any", action: "deny" })).toMatchObject({ protocol: "any", action: "deny" });
  });

  it.each([
    [{ port: "" }, { port: "Port is required" }],
    [{ port: "0" }, { port: "Ports must be between 1 and 65535" }],
    [{ port: "65536" }, { port: "Ports must be between 1 and 65535" }],
    [{ port: "80,443" }, { port: "Enter a port like 443 or a range like 8000:8100" }],
    [{ port: "22; reboot" }, { port: "Enter a port like 443 or a range like 8000:8100" }],
    [{ port: "http" }, { port: "Enter a port like 443 or a range like 8000:8100" }],
    [{ port: "100:100" }, { port: "The first port of a range must be lower than the last" }],
    [{ port: "200:100" }, { port: "The first port of a range must be lower than the last" }],
    [{ port: "1000:2000", protocol: "any" }, { protocol: "A port range needs TCP or UDP (ufw requires a protocol for ranges)" }],
    [{ protocol: "icmp" }, { protocol: "Choose TCP, UDP or any" }],
    [{ action: "reject" }, { action: "Choose allow or deny" }],
    [{ name: "" }, { name: "Name is required" }],
    [{ name: "x".repeat(65) }, { name: "Name must be at most 64 characters" }],
  ])("rejects %j", (over, expected) => {
    expect(errors(firewallRuleInputSchema, { ...base, ...over })).toEqual(expected);
  });

  const SOURCE_HELP = "Enter an IPv4 or IPv6 address or network, like 203.0.113.7 or 203.0.113.0/24";
  it.each([
    "203.0.113.7",
    "10.0.0.0/8",
    "192.168.1.1/32",
    "::1",
    "2001:db8::",
    "2001:DB8:0:0:0:0:0:1",
    "fe80::1:2:3:4:5:6",
    "::ffff:192.0.2.1",
    "2001:db8::/32",
    "::/128",
    "1:2:3:4:5:6:7::",
  ])("accepts source %s", (source) => expect(firewallRuleInputSchema.parse({ ...base, source }).source).toBe(source));
  it.each([
    ["256.1.1.1", SOURCE_HELP],
    ["1.2.3", SOURCE_HELP],
    ["01.2.3.4", SOURCE_HELP],
    ["1.2.3.4/33", "The network prefix must be at most /32"],
    ["2001:db8::/129", "The network prefix must be at most /128"],
    ["1.2.3.4/024", "The network prefix after / must be a number, like /24"],
    ["1.2.3.4/", "The network prefix after / must be a number, like /24"],
    ["0.0.0.0/0", "Leave Source empty to match any address"],
    ["::/0", "Leave Source empty to match any address"],
    ["1.2.3.4/8/8", SOURCE_HELP],
    ["1::2::3", SOURCE_HELP],
    ["1:2:3:4:5:6:7:8:9", SOURCE_HELP],
    ["1:2:3:4:5:6:7", SOURCE_HELP],
    ["fe80::1%eth0", SOURCE_HELP],
    ["::1.2.3.4.5", SOURCE_HELP],
    ["1.2.3.4::", SOURCE_HELP],
    ["example.com", SOURCE_HELP],
    ["any", SOURCE_HELP],
    ["-h", SOURCE_HELP],
    ["1.2.3.4 to any", SOURCE_HELP],
    ["$(reboot)", SOURCE_HELP],
  ])("rejects source %s", (source, message) => {
    expect(errors(firewallRuleInputSchema, { ...base, source })).toEqual({ source: message });
  });

  it("isIPv6 counts groups exactly", () => {
    expect(isIPv6("1:2:3:4:5:6:7:8")).toBe(true);
    expect(isIPv6("1:2:3:4:5:6:1.2.3.4")).toBe(true);
    expect(isIPv6("1:2:3:4:5:6:7:1.2.3.4")).toBe(false);
    expect(isIPv6("1:2:3:4:5:6:7::8")).toBe(false);
    expect(isIPv6(":1:2:3:4:5:6:7")).toBe(false);
    expect(isIPv6("12345::")).toBe(false);
  });

  it("sshRuleConflict flags only the SSH rule's exact tuple", () => {
    const r = { port: "22", protocol: "tcp" as const, action: "deny" as const, source: null };
    expect(sshRuleConflict(r, 22)).toMatch(/lock BrokeForge out/);
    expect(sshRuleConflict({ ...r, action: "allow" }, 22)).toMatch(/always open/);
    expect(sshRuleConflict(r, 2222)).toBeNull();
    expect(sshRuleConflict({ ...r, protocol: "udp" }, 22)).toBeNull();
    expect(sshRuleConflict({ ...r, protocol: "any" }, 22)).toBeNull();
    expect(sshRuleConflict({ ...r, source: "10.0.0.1" }, 22)).toBeNull();
    expect(sshRuleConflict({ ...r, source: "0.0.0.0/0" }, 22)).toMatch(/lock/); // ufw treats /0 as anywhere
    expect(sshRuleConflict({ ...r, port: "20:30" }, 22)).toBeNull(); // appended after the SSH rule
  });
});

describe("scheduledTaskInputSchema", () => {
  const base = { name: "Backup", command: "php artisan backup:run", frequency: "daily" };

  it("defaults the user; cronExpressionFor gives the expression to store", () => {
    expect(scheduledTaskInputSchema.parse(base)).toEqual({ ...base, user: "root" });
    expect(cronExpressionFor(scheduledTaskInputSchema.parse(base))).toBe("0 0 * * *");
    expect(cronExpressionFor(scheduledTaskInputSchema.parse({ ...base, frequency: "reboot", cron: "ignored" }))).toBe("@reboot");
    expect(cronExpressionFor(scheduledTaskInputSchema.parse({ ...base, frequency: "custom", cron: "*/5  * * * SUN" }))).toBe(
      "*/5 * * * sun",
    );
  });

  it("keeps its checks when merged into a router input, as the tRPC routers do", () => {
    const merged = z.object({ serverId: z.string() }).merge(scheduledTaskInputSchema);
    expect(fieldErrorsOf(merged.safeParse({ serverId: "s", ...base, frequency: "custom", cron: "99 * * * *" }).error!)).toEqual({
      cron: "Minute: 99 is out of range 0–59",
    });
    const fw = z.object({ serverId: z.string() }).merge(firewallRuleInputSchema);
    expect(fieldErrorsOf(fw.safeParse({ serverId: "s", name: "x", port: "1:2", protocol: "any" }).error!)).toEqual({
      protocol: "A port range needs TCP or UDP (ufw requires a protocol for ranges)",
    });
  });

  it("keeps hostile but single-line commands verbatim (trimmed)", () => {
    const command = `echo "it's" $(id) \`id\` ; rm -rf * -- -x %s ünï 😀`;
    expect(scheduledTaskInputSchema.parse({ ...base, command: `  ${command}\t` }).command).toBe(command);
    expect(scheduledTaskInputSchema.parse({ ...base, command: "x".repeat(1000) }).command).toHaveLength(1000);
  });

  it.each([
    [{ command: "" }, { command: "Command is required" }],
    [{ command: "   " }, { command: "Command is required" }],
    [{ command: "x".repeat(1001) }, { command: "Command must be at most 1000 characters" }],
    [{ command: "echo a\necho b" }, { command: "Command must be a single line" }],
    [{ command: "echo a\r" + "b" }, { command: "Command must be a single line" }],
    [{ command: "echo \0" + "a" }, { command: "Command must be a single line" }],
    [{ command: "echo \x1b[31m" }, { command: "Command contains control characters" }],
    [{ command: "echo \u2028x" }, { command: "Command contains control characters" }],
    [{ user: "Root" }, { user: "Use a login name like root or deploy" }],
    [{ user: "-rf" }, { user: "Use a login name like root or deploy" }],
    [{ user: "a b" }, { user: "Use a login name like root or deploy" }],
    [{ user: "x".repeat(33) }, { user: "User must be at most 32 characters" }],
    [{ frequency: "yearly" }, { frequency: "Choose how often the task runs" }],
    [{ frequency: "custom" }, { cron: "Enter a cron expression for a custom schedule" }],
    [{ frequency: "custom", cron: "  " }, { cron: "Enter a cron expression for a custom schedule" }],
    [{ name: "" }, { name: "Name is required" }],
  ])("rejects %j", (over, expected) => {
    expect(errors(scheduledTaskInputSchema, { ...base, ...over })).toEqual(expected);
  });
});

describe("parseCronExpression", () => {
  it.each([
    ["* * * * *", "* * * * *"],
    ["0 0 1 1 0", "0 0 1 1 0"],
    ["59 23 31 12 7", "59 23 31 12 7"],
    ["*/15 0-23/2 1,15 jan-mar,dec Mon-Fri", "*/15 0-23/2 1,15 jan-mar,dec mon-fri"],
    ["5 4 * * sun", "5 4 * * sun"],
    ["0\t12  * *  *", "0 12 * * *"],
    ["00 05 * * *", "00 05 * * *"],
  ])("accepts %j", (input, expression) => {
    expect(parseCronExpression(input)).toEqual({ ok: true, expression });
  });

  const FIVE = "A cron expression has 5 fields: minute hour day-of-month month day-of-week";
  it.each([
    ["", FIVE],
    ["* * * *", FIVE],
    ["* * * * * *", FIVE],
    ["* * * * * rm -rf /", FIVE],
    ["@daily", "Use the frequency presets instead of @-shortcuts"],
    ["60 * * * *", "Minute: 60 is out of range 0–59"],
    ["* 24 * * *", "Hour: 24 is out of range 0–23"],
    ["* * 0 * *", "Day of month: 0 is out of range 1–31"],
    ["* * 32 * *", "Day of month: 32 is out of range 1–31"],
    ["* * * 13 *", "Month: 13 is out of range 1–12"],
    ["* * * * 8", "Day of week: 8 is out of range 0–7"],
    ["* * * foo *", 'Month: "foo" is not a number 1–12 or a name like jan'],
    ["* * * * funday", 'Day of week: "funday" is not a number 0–7 or a name like sun'],
    ["jan * * * *", 'Minute: "jan" is not a number 0–59'],
    ["*/0 * * * *", "Minute: step /0 must be between 1 and 59"],
    ["*/60 * * * *", "Minute: step /60 must be between 1 and 59"],
    ["5/10 * * * *", 'Minute: "5/10": a step needs * or a range, like */10 or 5-59/10'],
    ["30-10 * * * *", "Minute: range 30-10 goes backwards"],
    ["1,,2 * * * *", 'Minute: "" is not valid (use *, */n, a number, a range a-b, a-b/n, or a comma list)'],
    ["? * * * *", 'Minute: "?" is not valid (use *, */n, a number, a range a-b, a-b/n, or a comma list)'],
    ["* * L * *", 'Day of month: "l" is not a number 1–31'],
    ["$(id) * * * *", 'Minute: "$(id)" is not valid (use *, */n, a number, a range a-b, a-b/n, or a comma list)'],
    ["* * * * *\n* * * * *", FIVE],
    ["1 2 3 4 5 ".repeat(30), "Cron expression is too long"],
  ])("rejects %j", (input, message) => {
    expect(parseCronExpression(input)).toEqual({ ok: false, message });
  });

  it("cronExpressionFor maps every preset", () => {
    expect(["every_minute", "hourly", "daily", "weekly", "monthly", "reboot"].map((frequency) => cronExpressionFor({ frequency }))).toEqual(
      ["* * * * *", "0 * * * *", "0 0 * * *", "0 0 * * 0", "0 0 1 * *", "@reboot"],
    );
    expect(cronExpressionFor({ frequency: "custom", cron: "1 2 3 4 5" })).toBe("1 2 3 4 5");
    expect(() => cronExpressionFor({ frequency: "custom", cron: null })).toThrow(/Invalid cron/);
  });
});

describe("supervisorProgramInputSchema", () => {
  const base = { name: "Worker", command: "php artisan queue:work" };

  it("applies the defaults", () => {
    expect(supervisorProgramInputSchema.parse(base)).toEqual({
      ...base,
      directory: "/home/brokeforge",
      user: "root",
      numprocs: 1,
      autostart: true,
      autorestart: true,
    });
    expect(supervisorProgramInputSchema.parse({ ...base, numprocs: "4", autostart: false }).numprocs).toBe(4);
  });

  it("accepts % and ; # that are not configparser comments", () => {
    const command = `bash -c 'date +%s;echo "#1"'`;
    expect(supervisorProgramInputSchema.parse({ ...base, command }).command).toBe(command);
  });

  const COMMENT = "can't contain a space followed by ; or # (supervisor reads that as a comment)";
  it.each([
    [{ command: "" }, { command: "Command is required" }],
    [{ command: "a\nb" }, { command: "Command must be a single line" }],
    [{ command: "sleep 1 ; echo" }, { command: `Command ${COMMENT}` }],
    [{ command: "sleep 1\t# x" }, { command: `Command ${COMMENT}` }],
    [{ command: "sleep\u00a0#x" }, { command: `Command ${COMMENT}` }],
    [{ directory: "relative/dir" }, { directory: "Directory must be an absolute path, like /home/brokeforge/example.com" }],
    [{ directory: "" }, { directory: "Directory is required" }],
    [{ directory: "/srv\n[x]" }, { directory: "Directory must be a single line without control characters" }],
    [{ directory: "/srv/a ;b" }, { directory: `Directory ${COMMENT}` }],
    [{ user: "Bad User" }, { user: "Use a login name like root or deploy" }],
    [{ numprocs: 0 }, { numprocs: "Run between 1 and 20 processes" }],
    [{ numprocs: 21 }, { numprocs: "Run between 1 and 20 processes" }],
    [{ numprocs: 1.5 }, { numprocs: "Processes must be a whole number" }],
    [{ numprocs: "x" }, { numprocs: "Processes must be a number" }],
    [{ autostart: "yes" }, { autostart: "Autostart must be on or off" }],
    [{ autorestart: 1 }, { autorestart: "Autorestart must be on or off" }],
  ])("rejects %j", (over, expected) => {
    expect(errors(supervisorProgramInputSchema, { ...base, ...over })).toEqual(expected);
  });
});
