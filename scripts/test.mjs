#!/usr/bin/env node
// `npm test`: every check the project has, in the order that fails fastest.
// 1. system packages the tests run for real (installed through apt-get when root);
// 2. the contract: buf lint, buf breaking, generated code up to date;
// 3. types; 4. the web build the E2E tests serve; 5. Vitest; 6. Playwright in Chromium.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
process.chdir(root);
const bin = (name) => join(root, "node_modules", ".bin", name);

/** Debian packages the tests need, with the binary that proves each is installed. */
const SYSTEM_PACKAGES = [
  { pkg: "chromium", binary: "/usr/bin/chromium" },
  { pkg: "coturn", binary: "/usr/bin/turnserver" },
  { pkg: "nginx", binary: "/usr/sbin/nginx" },
  { pkg: "redis-server", binary: "/usr/bin/redis-server" },
];

function run(title, command, args, options = {}) {
  console.log(`\n▶ ${title}`);
  const result = spawnSync(command, args, { stdio: "inherit", ...options });
  if (result.status !== 0) {
    console.error(`✖ ${title} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function ensureSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter(({ binary }) => !existsSync(binary));
  if (missing.length === 0) return;
  const names = missing.map((m) => m.pkg);
  const canInstall = process.getuid?.() === 0 && spawnSync("sh", ["-c", "command -v apt-get"]).status === 0;
  if (!canInstall) {
    console.error(`Missing system packages: ${names.join(", ")}. Install them (e.g. sudo apt-get install -y ${names.join(" ")}) and run npm test again.`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get update", "apt-get", ["update", "-qq"], { env });
  run(`apt-get install ${names.join(" ")}`, "apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...names], { env });
}

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

function checkGeneratedCode() {
  const out = mkdtempSync(join(tmpdir(), "p2b-gen-"));
  try {
    run("buf generate (fresh copy)", bin("buf"), ["generate", "-o", out]);
    const committedDir = join(root, "packages/protocol/src/gen");
    const freshDir = join(out, "packages/protocol/src/gen");
    const committed = listFiles(committedDir).map((f) => relative(committedDir, f)).sort();
    const fresh = listFiles(freshDir).map((f) => relative(freshDir, f)).sort();
    const stale =
      committed.join("\n") !== fresh.join("\n") ||
      fresh.some((f) => readFileSync(join(freshDir, f), "utf8") !== readFileSync(join(committedDir, f), "utf8"));
    if (stale) {
      console.error("✖ packages/protocol/src/gen is stale: run `npm run generate` and commit the result.");
      process.exit(1);
    }
    console.log("✔ generated code is up to date");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function checkBreaking() {
  // Compare the contract with the previous commit (on main) or with main (on a branch).
  const git = (...args) => spawnSync("git", args, { encoding: "utf8" });
  if (git("rev-parse", "--git-dir").status !== 0) return console.log("(not a git checkout: buf breaking skipped)");
  const branch = git("rev-parse", "--abbrev-ref", "HEAD").stdout.trim();
  const against =
    branch !== "main" && git("rev-parse", "--verify", "main").status === 0 ? ".git#branch=main"
    : git("rev-parse", "--verify", "HEAD~1").status === 0 ? ".git#ref=HEAD~1"
    : undefined;
  if (!against) return console.log("(first commit: nothing to compare buf breaking against)");
  const previous = git("show", `${against.endsWith("main") ? "main" : "HEAD~1"}:buf.yaml`);
  if (previous.status !== 0) return console.log("(the compared commit has no contract yet)");
  run(`buf breaking --against ${against}`, bin("buf"), ["breaking", "--against", against]);
}

function countResults(file, pick) {
  if (!existsSync(file)) return { passed: 0, failed: 0 };
  return pick(JSON.parse(readFileSync(file, "utf8")));
}

ensureSystemPackages();
run("buf lint", bin("buf"), ["lint"]);
checkBreaking();
checkGeneratedCode();
run("typecheck (tsc --noEmit)", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]);
run("build the web app", "npm", ["run", "build", "--silent"]);

const reports = mkdtempSync(join(tmpdir(), "p2b-test-"));
const vitestJson = join(reports, "vitest.json");
const playwrightJson = join(reports, "playwright.json");
run("vitest (units, integration, interop)", bin("vitest"), [
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${vitestJson}`,
]);
run("playwright (E2E in Chromium)", bin("playwright"), ["test", "--reporter=list,json"], {
  env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: playwrightJson },
});

const unit = countResults(vitestJson, (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests }));
const e2e = countResults(playwrightJson, (r) => ({ passed: r.stats.expected, failed: r.stats.unexpected + r.stats.flaky }));
rmSync(reports, { recursive: true, force: true });
console.log(`\nvitest: ${unit.passed} passed, playwright: ${e2e.passed} passed`);
console.log(`${unit.passed + e2e.passed} passed, ${unit.failed + e2e.failed} failed`);
process.exit(unit.failed + e2e.failed === 0 ? 0 : 1);
