// The shared command library: small pure functions that return argv steps (read like Kamal's
// lib/kamal/commands/). Shell text is made only by activities/ssh/shell.ts.
export * as apt from "./apt";
export * as dpkg from "./dpkg";
export * as files from "./files";
export * as systemctl from "./systemctl";
export * as users from "./users";
