/**
 * Smoke-run of every LangGraph scenario once, printing JSON.
 *   npx tsx bench/langgraph/run-standalone.ts
 * (optionally `node --expose-gc --import tsx ...` so scenarios GC before timing)
 *
 * sendJoin runs first so its RSS baseline is not inflated by the other
 * scenarios (for a clean memory number, run it in a fresh process).
 * LangGraph prints a MaxListenersExceededWarning during sendJoin (1,000
 * parallel tasks each add an abort listener); it is harmless.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chain, chat, interruptResume, loop, sendJoin } from "./scenarios.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lg-bench-"));
const t0 = Date.now();
try {
  const sendJoinResult = await sendJoin({ sends: 1000, dir });
  const results = {
    chainUsPerNode: await chain({ nodes: 100, reps: 20 }),
    loopUsPerStep: {
      none: await loop({ steps: 1000, store: "none" }),
      memory: await loop({ steps: 1000, store: "memory" }),
      sqlite: await loop({ steps: 1000, store: "sqlite", dir }),
    },
    chat: await chat({ turns: 300, chars: 200, dir }),
    interruptResumeCyclesPerSec: await interruptResume({ threads: 300, dir }),
    sendJoin: sendJoinResult,
    wallSeconds: (Date.now() - t0) / 1000,
  };
  console.log(JSON.stringify(results, null, 2));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
