// A real `batonflow demo serve` for the browser tests: a free loopback port, a fresh data
// directory (SQLite), development mode, the demo app's workflows stored, and the demo accounts read
// from `<data dir>/demo-credentials.json`.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");

export interface Account {
  role: string;
  email: string;
  password: string;
}

export interface Server {
  url: string;
  accounts: Account[];
  stop: () => Promise<void>;
  log: () => string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms: number, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`timed out waiting for ${what}; server output:\n${log()}`);
}

export async function startServer(extraEnv: NodeJS.ProcessEnv = {}): Promise<Server> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), "batonflow-e2e-"));
  const batonflow = path.join(ROOT, ".venv", "bin", "batonflow");
  let output = "";
  // The sales app's mail catcher listens on a port of its own, so servers never share one.
  const smtpPort = String(await freePort());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BATONFLOW_DATA_DIR: dataDir,
    BATONFLOW_DEV: "true",
    BATONFLOW_SALES_SMTP_PORT: smtpPort,
    ...extraEnv,
  };
  delete env.BATONFLOW_DATABASE_URL; // SQLite in the fresh data directory
  const child: ChildProcess = spawn(
    batonflow,
    ["demo", "serve", "--host", "127.0.0.1", "--port", String(port)],
    {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const log = () => output;
  const url = `http://127.0.0.1:${port}`;
  const credentials = path.join(dataDir, "demo-credentials.json");
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 5000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => existsSync(credentials) && (await fetch(`${url}/openapi.json`)).ok, "the server", 60_000, log);
  } catch (error) {
    await stop();
    throw error;
  }
  const accounts = (JSON.parse(readFileSync(credentials, "utf8")) as { users: Account[] }).users;
  return { url, accounts, stop, log };
}

/** The demo account of `role` the server printed; a clear error when it printed none. */
export function accountOf(server: Server, role: string): Account {
  const found = server.accounts.find((item) => item.role === role);
  if (!found) throw new Error(`no ${role} in the demo credentials: ${JSON.stringify(server.accounts)}`);
  return found;
}
