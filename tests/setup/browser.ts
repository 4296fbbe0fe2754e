// The one way tests and the bench start a browser: Debian's chromium (apt-installed by
// scripts/system-deps.sh), headless, with nothing of its own reaching the network.
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: tests run as root. The rest keep chromium from calling home or updating itself.
    args: [
      "--no-sandbox",
      "--disable-background-networking",
      "--disable-gpu",
      "--disable-component-update",
      "--no-first-run",
      "--disable-extensions",
    ],
  });
}
