/**
 * What the engine contract's case files share (engine_contract.ts,
 * domain_contract.ts): how a case is registered against a fresh engine.
 */
import type { Engine } from "./types.ts";

export type OpenEngine = () => Promise<{ engine: Engine; cleanup(): Promise<void> }>;
export type EngineCase = (title: string, fn: (engine: Engine) => Promise<void>) => void;
/** How a case is registered: Deno.test by default, or e.g. as steps of one test. */
export type Register = (name: string, fn: () => Promise<void>) => void;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Registers one Deno.test per case, named "<adapter>: <title>". */
export function engineCases(
  name: string,
  open: OpenEngine,
  register: Register = (n, fn) => Deno.test(n, fn),
): EngineCase {
  return (title, fn) =>
    register(`${name}: ${title}`, async () => {
      const { engine, cleanup } = await open();
      try {
        await fn(engine);
      } finally {
        await cleanup();
      }
    });
}
