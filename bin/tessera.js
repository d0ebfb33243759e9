#!/usr/bin/env node
// The `tessera` command. The code lives in src/cli and is compiled to dist/ by `npm run build`.
import { main } from '../dist/cli/main.js';

main(process.argv).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(
      `tessera: ${err && err.code ? `${err.code}: ` : ''}${err && err.message ? err.message : err}\n`,
    );
    process.exitCode = 1;
  },
);
