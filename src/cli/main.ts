#!/usr/bin/env node
/** The `isthmus` binary (also the entry point of `run --concurrency N` workers). */
import { CommanderError } from 'commander';
import { buildProgram } from './program.js';
import { processOutput } from './output.js';
import { isWorker, runWorker } from '../runtime/multi.js';

async function main(): Promise<void> {
  let exitCode = 0;
  const program = buildProgram(processOutput, (c) => (exitCode = c));
  try {
    await program.parseAsync(process.argv);
    process.exitCode = exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors -> 2.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else {
      process.stderr.write(`isthmus: ${(e as Error).message}\n`);
      process.exitCode = 2;
    }
  }
}

if (isWorker()) await runWorker();
else await main();
