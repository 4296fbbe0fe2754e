// Web process entry (npm start): validate env, serve, shut down cleanly on signals.
import { disconnectDb } from "./core/db";
import { exitOnEnvError, webEnv } from "./core/env";
import { startWebServer } from "./web/server";
import { closeTemporalClient } from "./temporal/client";

try {
  webEnv();
} catch (e) {
  exitOnEnvError(e);
}
const web = await startWebServer();
console.log(`[web] BrokeForge on ${webEnv().PUBLIC_URL}`);
// `npm run dev` supervises this process over IPC: tell it we serve (no channel in production).
process.send?.({ type: "ready" });

let stopping = false;
const stop = async () => {
  if (stopping) return; // SIGINT and SIGTERM can both arrive (a terminal's Ctrl-C and a supervisor)
  stopping = true;
  let code = 0;
  for (const [what, close] of [
    ["web server", () => web.close()],
    ["Temporal client", closeTemporalClient],
    ["database", disconnectDb],
  ] as const) {
    try {
      await close();
    } catch (err) {
      // Keep closing the rest, then exit non-zero so a supervisor sees it.
      console.error(`[web] closing the ${what} failed:`, err);
      code = 1;
    }
  }
  process.exit(code);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
