#!/usr/bin/env node
// The `lastgasp` command. Node ≥ 22.18 runs TypeScript directly (type stripping), so there is no build step.
import { main } from "../operator/main.ts";

process.exitCode = await main(process.argv.slice(2));
