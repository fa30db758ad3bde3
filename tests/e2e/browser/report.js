// report.js: opens a kiln HTML page (a results folder's index.html, or
// kiln diff's diff.html) in headless Chromium (playwright-core) from
// file:// and prints TAP lines: no script errors, no request leaves the
// page, the sections render, the embedded flamegraph is live (clicking a
// frame zooms it, inside its frame), and a screenshot is saved.
// Usage: node report.js PLAYWRIGHT_CORE_DIR PAGE SCREENSHOT EXPECT_JSON
// EXPECT_JSON: {"sections": [ids], "text": [strings shown], "frame": name
// of a flamegraph frame to click ("*": the widest under 60% of the graph),
// "verdicts": {"pass": n, "fail": n}}.
"use strict";
const path = require("path");
const fs = require("fs");

const [pwDir, pageFile, shotFile, expectJson] = process.argv.slice(2);
const expect = JSON.parse(expectJson);
const { run } = require("./tap");

run(pwDir, { viewport: { width: 1320, height: 900 } }, async (browser, page, ok) => {
	const errors = [], outside = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
	// every request the page (or a frame in it) makes: only the page
	// itself and its data: URIs may be asked for
	browser.on("request", (r) => {
		const u = r.url();
		if (!u.startsWith("data:") && u !== "file://" + path.resolve(pageFile))
			outside.push(u);
	});
	await page.goto("file://" + path.resolve(pageFile), { waitUntil: "load" });

	for (const id of expect.sections || []) {
		const box = await page.$eval("#" + id, (e) => {
			const r = e.getBoundingClientRect();
			return { w: r.width, h: r.height };
		}).catch(() => null);
		ok(box && box.w > 100 && box.h > 20, `section #${id} is rendered`, box);
	}
	const body = await page.evaluate(() => document.body.innerText);
	for (const t of expect.text || [])
		ok(body.includes(t), `the page shows "${t}"`);

	// every image (the charts) decoded
	const images = await page.$$eval("img", (imgs) => imgs.map((i) => [i.alt, i.complete && i.naturalWidth > 0]));
	ok(images.every((i) => i[1]), `${images.length} chart image(s) decoded`, images);

	if (expect.verdicts) {
		for (const [v, count] of Object.entries(expect.verdicts)) {
			const got = await page.$$eval(`#verdicts .verdict.${v}`, (e) => e.length).catch(() => -1);
			ok(got === count, `the verdict table shows ${count} ${v}`, got);
		}
		const fail = await page.$eval("#verdicts .verdict.fail", (e) => getComputedStyle(e).color).catch(() => "");
		const pass = await page.$eval("#verdicts .verdict.pass", (e) => getComputedStyle(e).color).catch(() => "");
		ok(fail && pass && fail !== pass, "pass and fail are told apart by colour", [pass, fail]);
	}

	if (expect.frame) {
		// the flamegraph lives in an iframe whose document is the SVG
		const handle = await page.waitForSelector("iframe.flame");
		const frame = await handle.contentFrame();
		await frame.waitForFunction(() => typeof kf !== "undefined" && kf.frames.length > 0, null, { timeout: 10000 });
		// mark the widest frame of that name (playwright's :has and
		// :text-matches selectors are too slow on big graphs)
		// "*": the widest frame under 60% of the graph, whatever its name
		const found = await frame.evaluate((name) => {
			let best = null;
			for (const r of kf.frames) {
				const fits = name === "*" ? r.d > 0 && r.w < 0.6 * kiln_flame.total : r.name === name;
				if (fits && (!best || r.w > best.w)) best = r;
			}
			if (best) best.el.id = "kiln-test-target";
			return best !== null;
		}, expect.frame);
		ok(found, `the flamegraph has a frame ${expect.frame}`);
		const rect = "#kiln-test-target > rect";
		const label = await frame.$eval("#kiln-test-target", (g) => kf.frames[g.kfIndex].name);
		const width = () => frame.$eval(rect, (r) => parseFloat(r.getAttribute("width")));
		const full = await frame.evaluate(() => kiln_flame.width - 2 * kiln_flame.xpad);
		const inner = await handle.evaluate((f) => f.clientWidth);
		const drawn = await frame.evaluate(() => document.documentElement.getBoundingClientRect().width);
		ok(inner > 600 && Math.abs(drawn - inner) < 2, "the flamegraph fills its frame's width", [drawn, inner]);
		const before = await width();
		await handle.scrollIntoViewIfNeeded();
		await frame.click(rect);
		const after = await width();
		ok(before < full - 1 && Math.abs(after - full) < 0.5,
			`clicking ${label} in the embedded flamegraph zooms it to the full width`, [before, after, full]);
		const unzoom = await frame.$eval("#unzoom", (e) => !e.classList.contains("hide"));
		ok(unzoom, "the flamegraph's Reset Zoom appears");
		await frame.hover(rect);
		const details = await frame.$eval("#details", (t) => t.textContent);
		ok(details.includes(label), "hovering shows the frame's details", details);
		const pct = await frame.evaluate((name) => search("^" + kf_regex_escape(name) + "$"), label);
		ok(pct > 0, "search works inside the embedded flamegraph", pct);
		await frame.evaluate(() => { reset_search(); unzoom(); });
	}

	await page.screenshot({ path: shotFile, fullPage: true });
	ok(fs.existsSync(shotFile) && fs.statSync(shotFile).size > 10000, "screenshot saved", shotFile);
	ok(errors.length === 0, "no script or console errors", errors);
	ok(outside.length === 0, "no request leaves the page", outside);
});
