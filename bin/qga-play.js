#!/usr/bin/env node
// Plain syntax and a dynamic import: an old Node must reach the version check below, not fail
// parsing the program first.
var required = 20;
var major = Number(String(process.versions.node).split('.')[0]);
if (!(major >= required)) {
  process.stderr.write(
    'qga-play: needs Node.js ' + required + ' or later; this is Node.js ' + process.versions.node + ' (' + process.execPath + ').\n' +
      'On Debian 12 (whose nodejs is 18): install Node.js 20 from NodeSource (https://github.com/nodesource/distributions)\n' +
      'or use a Node.js 20 binary from https://nodejs.org/en/download, then run qga-play with it.\n',
  );
  process.exitCode = 1;
} else {
  import('../dist/bundle/cli.js').then(
    function (cli) {
      return cli.main(process.argv.slice(2)).then(function (code) {
        process.exitCode = code;
      });
    },
    function (err) {
      process.stderr.write('qga-play: cannot load the program (' + err.message + '); was it built (npm run build)?\n');
      process.exitCode = 1;
    },
  );
}
