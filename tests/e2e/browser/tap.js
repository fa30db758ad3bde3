// tap.js: what the browser tests share: TAP lines with a running count,
// headless Chromium (playwright-core) in a fresh profile directory, and
// the end of the run (the plan, the exit status, a failed run as a failed
// line). Invariant: the browser and its profile are gone when run() ends.
"use strict";
const path = require("path");
const fs = require("fs");
const os = require("os");

// run(pwDir, launchOptions, body): body(browser, page, ok) is async; ok(cond,
// what, extra) prints one TAP line (extra, when failing, as "# got").
function run(pwDir, launchOptions, body) {
	const { chromium } = require(pwDir);
	let n = 0, failed = 0;
	const ok = (cond, what, extra) => {
		n++;
		if (cond) {
			console.log(`ok ${n} - ${what}`);
		} else {
			failed++;
			console.log(`not ok ${n} - ${what}`);
			if (extra !== undefined) console.log(`# got: ${JSON.stringify(extra)}`);
		}
	};
	(async () => {
		// a fresh profile directory: playwright passes it as --user-data-dir
		const profile = fs.mkdtempSync(path.join(os.tmpdir(), "kiln-chromium-"));
		const browser = await chromium.launchPersistentContext(profile, {
			executablePath: "/usr/bin/chromium",
			headless: true,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync"],
			...launchOptions,
		});
		try {
			const page = browser.pages()[0] || await browser.newPage();
			await body(browser, page, ok);
		} finally {
			await browser.close();
			fs.rmSync(profile, { recursive: true, force: true });
		}
		console.log(`1..${n}`);
		process.exit(failed ? 1 : 0);
	})().catch((e) => {
		console.log(`not ok ${n + 1} - browser run failed: ${String(e).split("\n")[0]}`);
		console.log(`1..${n + 1}`);
		process.exit(1);
	});
}

module.exports = { run };
