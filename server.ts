// Web process entry (npm start): validate env, serve, shut down cleanly on signals.
import { disconnectDb } from "./app/lib/db.server";
import { exitOnEnvError, webEnv } from "./app/lib/env.server";
import { startWebServer } from "./app/web-server";
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
