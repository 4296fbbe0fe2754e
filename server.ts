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

const stop = async () => {
  await web.close();
  await closeTemporalClient();
  await disconnectDb();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
