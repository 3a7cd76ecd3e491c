// Runs the Khronos glTF validator on one .glb/.gltf file: prints the issue counts as JSON and
// exits 0 when there are no errors, 1 otherwise (2 when the validator itself is missing).
'use strict';
const fs = require('fs');
let validator;
try {
  validator = require('gltf-validator');
} catch (e) {
  console.error('gltf-validator is not installed (run npm ci in tests/node)');
  process.exit(2);
}
const path = process.argv[2];
const bytes = new Uint8Array(fs.readFileSync(path));
validator.validateBytes(bytes, { maxIssues: 100 }).then((report) => {
  const issues = report.issues;
  const messages = issues.messages.filter((m) => m.severity === 0).map((m) => m.code + ' ' + m.pointer + ': ' + m.message);
  console.log(JSON.stringify({ errors: issues.numErrors, warnings: issues.numWarnings, infos: issues.numInfos,
    generator: (report.info || {}).generator, triangles: (report.info || {}).totalTriangleCount, messages }));
  process.exit(issues.numErrors === 0 ? 0 : 1);
}, (err) => {
  console.error('validator failed: ' + err);
  process.exit(1);
});
