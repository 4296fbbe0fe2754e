// BrokeForge ops CLI for internal tools: `npm run ops -- <command>` (see `help`).
// Talks to the API with an API token: BROKEFORGE_URL (default http://127.0.0.1:3000), BROKEFORGE_TOKEN.
import { createCtx, DEFAULT_URL, reportError, type Ctx } from "./ops/context";
import { deploy, deploymentsUsage, prune } from "./ops/deployments";
import { operations } from "./ops/operations";
import { resourceCommands, resourceUsage } from "./ops/resources";
import { servers } from "./ops/servers";
import { watch } from "./ops/watch";

const USAGE = `Usage: npm run ops -- <command> [options]

Commands:
  servers [--json]                       list servers: id, name, host, connection, current operation
${resourceUsage()}
                                         add queues the install and prints the new id and status;
                                         every value is checked by the server, per field
${deploymentsUsage}
  operations <serverId> [--limit n] [--json]
                                         a server's operations, newest first (default 20)
  watch [<serverId>] [--since <eventId>] live change events of one server (or all), one JSON line
                                         each, until Ctrl-C; --since replays the events after that id
  help                                   this message

Environment:
  BROKEFORGE_URL    the BrokeForge web app (default ${DEFAULT_URL})
  BROKEFORGE_TOKEN  an API token (Settings → API tokens), bf_…

Examples:
  npm run ops -- servers
  npm run ops -- packages add cm5x… --type firewall
  npm run ops -- firewall add cm5x… --name web --port 443 --from 203.0.113.0/24
  npm run ops -- scheduler add cm5x… --name backup --command "/usr/local/bin/backup" --frequency daily
  npm run ops -- watch cm5x… | jq -c 'select(.entity == "firewall_rule")'`;

const COMMANDS: Record<string, (args: string[], ctx: Ctx) => Promise<number>> = {
  servers,
  operations,
  watch,
  ...resourceCommands(),
  deploy,
  "deployments:prune": prune,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return 0;
  }
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(command ? `error: unknown command: ${command}\n` : "error: missing command\n");
    console.error(USAGE);
    return 2;
  }
  const ctx = createCtx();
  try {
    return await run(args, ctx);
  } catch (e) {
    return reportError(e, ctx.url);
  } finally {
    ctx.close();
  }
}

const code = await main(process.argv.slice(2));
// Exit once what was written has been flushed (open sockets must not keep a script alive).
process.stdout.write("", () => process.exit(code));
