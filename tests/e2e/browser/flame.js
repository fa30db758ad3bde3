// flame.js: drives a kiln flame SVG in headless Chromium (playwright-core)
// and prints TAP lines: hover details, click zoom (widths and URL), reset,
// regex search through the page's function and its UI, ignore-case, and
// state restored from the URL on load.
// Usage: node flame.js PLAYWRIGHT_CORE_DIR SVG_FILE (the t0310 input:
// main;a;x 3 / main;b 1 / main;a;y 2 / main 4).
"use strict";
const path = require("path");

const [pwDir, svgFile] = process.argv.slice(2);
const { run } = require("./tap");

run(pwDir, {}, async (browser, page, ok) => {
	const errors = [];
	page.on("pageerror", (e) => errors.push(String(e)));
	const url = "file://" + path.resolve(svgFile);
	await page.goto(url);
	await page.waitForFunction(() => typeof kf !== "undefined" && kf.frames.length > 0);

	const rectOf = (name) => `#frames > g:has(> title:text-matches("^${name} \\\\("))  > rect`;
	const width = (name) => page.$eval(rectOf(name), (r) => parseFloat(r.getAttribute("width")));
	const details = () => page.$eval("#details", (t) => t.textContent);
	const matched = () => page.$eval("#matched", (t) => t.textContent);
	const query = () => page.evaluate(() => window.location.search);

	// hover
	await page.hover(rectOf("a"));
	ok((await details()) === "Function: a (5 samples, 50.00%)", "hover shows name, count and share", await details());

	// click zooms
	const before = await width("a");
	await page.click(rectOf("a"));
	const after = await width("a");
	ok(Math.abs(before - 590) < 0.2 && Math.abs(after - 1180) < 0.2, "click zooms: a fills the width", [before, after]);
	ok(Math.abs((await width("x")) - 708) < 0.2, "zoom scales children (x: 3/5 of 1180)", await width("x"));
	const hiddenB = await page.$eval(rectOf("b"), (r) => r.parentNode.classList.contains("hide"));
	ok(hiddenB, "zoom hides frames outside the zoomed one");
	const q = await query();
	ok(/[?&]x=0(&|$)/.test(q) && /[?&]y=2(&|$)/.test(q), "zoom kept in the URL", q);
	ok(await page.$eval("#unzoom", (t) => !t.classList.contains("hide")), "Reset Zoom shown");
	await page.hover(rectOf("x"));
	const d = await details();
	ok(d.includes("x (3 samples, 30.00%") && d.includes("60.00% of zoomed frame"), "hover shows % of total and of the zoomed frame", d);

	// reset
	await page.click("#unzoom");
	ok(Math.abs((await width("a")) - 590) < 0.2 && Math.abs((await width("b")) - 118) < 0.2, "Reset Zoom restores widths");
	ok(!/[?&]x=/.test(await query()), "reset removes zoom from the URL", await query());

	// search through the page's function: x and y are 5 of 10
	const pct = await page.evaluate(() => search("^[xy]$"));
	ok(Math.abs(pct - 50) < 1e-9 && (await matched()) === "Matched: 50.0%", "search ^[xy]$ matches 50.0%", await matched());
	const fillX = await page.$eval(rectOf("x"), (r) => r.getAttribute("fill"));
	ok(fillX === "rgb(230,0,230)", "matches are highlighted", fillX);
	// nested matches count once: a (5) contains x (3)
	await page.evaluate(() => search("^(a|x)$"));
	ok((await matched()) === "Matched: 50.0%", "nested matches counted once", await matched());
	await page.evaluate(() => reset_search());

	// search through the UI (prompt dialog)
	page.once("dialog", (dlg) => dlg.accept("b"));
	await page.click("#search");
	await page.waitForFunction(() => document.getElementById("matched").textContent.startsWith("Matched"));
	ok((await matched()) === "Matched: 10.0%", "Search button prompt: b matches 10.0%", await matched());
	ok(/[?&]s=b(&|$)/.test(await query()), "search kept in the URL", await query());

	// ignore case
	await page.evaluate(() => search("^A$"));
	ok((await matched()) === "Matched: 0.0%", "case-sensitive by default", await matched());
	await page.click("#ignorecase");
	ok((await matched()) === "Matched: 50.0%", "ic toggle re-runs the search ignoring case", await matched());
	ok(/[?&]i=1(&|$)/.test(await query()), "ignore-case kept in the URL", await query());
	await page.click("#ignorecase");

	// state restored from the URL on load
	await page.goto(url + "?x=0&y=2&s=" + encodeURIComponent("^[xy]$"));
	await page.waitForFunction(() => typeof kf !== "undefined" && kf.frames.length > 0);
	ok(Math.abs((await width("a")) - 1180) < 0.2, "reload with ?x&y restores the zoom", await width("a"));
	ok((await matched()) === "Matched: 50.0%", "reload with ?s restores the search", await matched());
	await page.goto(url + "#x=0&y=2");
	await page.waitForFunction(() => typeof kf !== "undefined" && kf.frames.length > 0);
	ok(Math.abs((await width("a")) - 1180) < 0.2, "state in the hash is read too", await width("a"));

	ok(errors.length === 0, "no script errors", errors);
});
