// Entry: config -> start app -> signal handlers. SIGTERM/SIGINT drain (sockets closed with 1012,
// databases closed) and exit 0.
import { ConfigError, loadConfig } from "./config.ts";
import { startApp } from "./app.ts";

export async function serveMain(overrides: Record<string, string> = {}): Promise<void> {
  let config;
  try {
    config = loadConfig({ ...process.env, ...overrides });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`hubbub: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const app = await startApp(config);
  process.stderr.write(`Hubbub listening on ${app.url}\n`);
  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`hubbub: ${signal} received, draining\n`);
    app.stop().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`hubbub: shutdown failed: ${e}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (import.meta.main) await serveMain();
