// kiln flame: the flame graph's interactive part (hover details, zoom,
// regex search, state kept in the URL). Embedded verbatim in a CDATA
// section after `var kiln_flame = {...}` (the options), so it must never
// contain the CDATA end marker. Every frame is a <g data-x data-w data-d>
// holding <title>, <rect> and <text>; data-x and data-w are in counts.
"use strict";

var kf = {
	frames: [],     // one record per frame, in document order
	zoomed: null,   // the record zoomed into, or null
	term: null,     // the active search term, or null
	ignorecase: false,
	details: null, matched: null, unzoombtn: null, searchbtn: null, icbtn: null
};

function kf_regex_escape(s) {
	return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Pixels per count unit at the initial (unzoomed) scale.
function kf_scale() {
	return (kiln_flame.width - 2 * kiln_flame.xpad) / kiln_flame.total;
}

function kf_label(rec, width) {
	var fits = Math.floor(width / (kiln_flame.fontsize * kiln_flame.fontwidth));
	if (fits < 3)
		return "";
	if (rec.name.length <= fits)
		return rec.name;
	return rec.name.substring(0, fits - 2) + "..";
}

function kf_place(rec, x, width) {
	rec.rect.setAttribute("x", x.toFixed(1));
	rec.rect.setAttribute("width", width.toFixed(1));
	rec.text.setAttribute("x", (x + 3).toFixed(2));
	rec.text.textContent = kf_label(rec, width);
}

function init(evt) {
	var doc = document;
	kf.details = doc.getElementById("details").firstChild;
	kf.matched = doc.getElementById("matched").firstChild;
	kf.unzoombtn = doc.getElementById("unzoom");
	kf.searchbtn = doc.getElementById("search");
	kf.icbtn = doc.getElementById("ignorecase");
	// A title reads "NAME (COUNT COUNTNAME, PCT%...)": the name is what
	// comes before that suffix.
	var suffix = new RegExp(" \\([-+0-9,.]+ " + kf_regex_escape(kiln_flame.countname) +
		", [\\s\\S]*\\)$");
	var group = doc.getElementById("frames");
	for (var el = group.firstElementChild; el; el = el.nextElementSibling) {
		var title = el.getElementsByTagName("title")[0].textContent;
		var rect = el.getElementsByTagName("rect")[0];
		var rec = {
			el: el,
			rect: rect,
			text: el.getElementsByTagName("text")[0],
			title: title,
			name: title.replace(suffix, ""),
			xs: el.getAttribute("data-x"),
			x: parseFloat(el.getAttribute("data-x")),
			w: parseFloat(el.getAttribute("data-w")),
			d: parseInt(el.getAttribute("data-d"), 10),
			fill: rect.getAttribute("fill")
		};
		el.kfIndex = kf.frames.length;
		kf.frames.push(rec);
	}
	group.addEventListener("mouseover", function (e) {
		var rec = kf_record_of(e.target);
		if (rec)
			kf.details.nodeValue = kf_describe(rec);
	});
	group.addEventListener("mouseout", function (e) {
		if (kf_record_of(e.target))
			kf.details.nodeValue = " ";
	});
	group.addEventListener("click", function (e) {
		var rec = kf_record_of(e.target);
		if (rec)
			zoom(rec);
	});
	kf.unzoombtn.addEventListener("click", function () { unzoom(); });
	kf.searchbtn.addEventListener("click", function () { search_prompt(); });
	kf.icbtn.addEventListener("click", function () { toggle_ignorecase(); });
	window.addEventListener("keydown", function (e) {
		if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) {
			e.preventDefault();
			search_prompt();
		} else if ((e.ctrlKey || e.metaKey) && e.keyCode === 73) {
			e.preventDefault();
			toggle_ignorecase();
		} else if (e.keyCode === 27) {
			reset_search();
		}
	});
	kf_restore();
}

function kf_record_of(node) {
	while (node && node.parentNode && node.parentNode.id !== "frames")
		node = node.parentNode;
	if (!node || !node.parentNode || node.kfIndex === undefined)
		return null;
	return kf.frames[node.kfIndex];
}

// The hover text: the title, plus the share of the zoomed frame.
function kf_describe(rec) {
	var t = rec.title;
	var z = kf.zoomed;
	if (z && rec.d >= z.d && z.w > 0)
		t = t.substring(0, t.length - 1) + "; " + (100 * rec.w / z.w).toFixed(2) +
			"% of zoomed frame)";
	return kiln_flame.nametype + " " + t;
}

// ---- zoom ----

function zoom(target) {
	var rec = typeof target === "number" ? kf.frames[target] : target;
	if (!rec)
		return;
	var xpad = kiln_flame.xpad, full = kiln_flame.width - 2 * xpad;
	var eps = kiln_flame.total * 1e-9;
	var scale = full / rec.w;
	kf.zoomed = rec;
	for (var i = 0; i < kf.frames.length; i++) {
		var r = kf.frames[i];
		var inside = r.x >= rec.x - eps && r.x + r.w <= rec.x + rec.w + eps;
		var above = r.x <= rec.x + eps && r.x + r.w >= rec.x + rec.w - eps;
		if (r.d >= rec.d && inside) {
			r.el.classList.remove("hide", "parent");
			kf_place(r, xpad + (r.x - rec.x) * scale, r.w * scale);
		} else if (r.d < rec.d && above) {
			r.el.classList.remove("hide");
			r.el.classList.add("parent");
			kf_place(r, xpad, full);
		} else {
			r.el.classList.add("hide");
			r.el.classList.remove("parent");
		}
	}
	if (rec.d === 0)
		kf.unzoombtn.classList.add("hide");
	else
		kf.unzoombtn.classList.remove("hide");
	var p = kf_params();
	if (rec.d === 0) {
		delete p.x;
		delete p.y;
	} else {
		p.x = rec.xs;
		p.y = String(rec.d);
	}
	kf_set_params(p);
}

function unzoom() {
	var s = kf_scale(), xpad = kiln_flame.xpad;
	kf.zoomed = null;
	for (var i = 0; i < kf.frames.length; i++) {
		var r = kf.frames[i];
		r.el.classList.remove("hide", "parent");
		kf_place(r, xpad + r.x * s, r.w * s);
	}
	kf.unzoombtn.classList.add("hide");
	var p = kf_params();
	delete p.x;
	delete p.y;
	kf_set_params(p);
}

// ---- search ----

function search_prompt() {
	if (kf.term !== null) {
		reset_search();
		return;
	}
	var term = prompt("Search for a regular expression" +
		(kf.ignorecase ? " (ignoring case)" : "") + ":", "");
	if (term !== null && term !== "")
		search(term);
}

function reset_search() {
	kf.term = null;
	for (var i = 0; i < kf.frames.length; i++)
		kf.frames[i].rect.setAttribute("fill", kf.frames[i].fill);
	kf.matched.nodeValue = " ";
	kf.searchbtn.classList.remove("show");
	kf.searchbtn.firstChild.nodeValue = "Search";
	var p = kf_params();
	delete p.s;
	kf_set_params(p);
}

// Highlights frames whose name matches term; returns the matched share of
// the total in percent (overlapping frames are counted once), or null for an
// invalid expression.
function search(term) {
	var re;
	try {
		re = new RegExp(term, kf.ignorecase ? "i" : "");
	} catch (e) {
		kf.matched.nodeValue = "Invalid regular expression";
		return null;
	}
	kf.term = term;
	var hits = [];
	for (var i = 0; i < kf.frames.length; i++) {
		var r = kf.frames[i];
		if (r.d > 0 && re.test(r.name)) {
			r.rect.setAttribute("fill", kiln_flame.searchcolor);
			hits.push(r);
		} else {
			r.rect.setAttribute("fill", r.fill);
		}
	}
	// Frames nest, so after sorting by start (outer first) a hit that
	// starts inside the previous counted one is part of it.
	hits.sort(function (a, b) { return a.x - b.x || a.d - b.d; });
	var sum = 0, end = -Infinity, eps = kiln_flame.total * 1e-9;
	for (var j = 0; j < hits.length; j++) {
		if (hits[j].x >= end - eps) {
			sum += hits[j].w;
			end = hits[j].x + hits[j].w;
		}
	}
	var pct = 100 * sum / kiln_flame.total;
	var shown = Math.abs(pct - 100) < 1e-9 ? "100" : pct.toFixed(1);
	kf.matched.nodeValue = "Matched: " + shown + "%";
	kf.searchbtn.classList.add("show");
	kf.searchbtn.firstChild.nodeValue = "Reset Search";
	var p = kf_params();
	p.s = term;
	kf_set_params(p);
	return pct;
}

function toggle_ignorecase() {
	kf.ignorecase = !kf.ignorecase;
	if (kf.ignorecase)
		kf.icbtn.classList.add("show");
	else
		kf.icbtn.classList.remove("show");
	var p = kf_params();
	if (kf.ignorecase)
		p.i = "1";
	else
		delete p.i;
	kf_set_params(p);
	if (kf.term !== null)
		search(kf.term);
}

// ---- state in the URL: ?x=START&y=DEPTH (zoom), s=REGEX, i=1 ----

function kf_parse(str, into) {
	if (!str)
		return;
	var parts = str.split("&");
	for (var i = 0; i < parts.length; i++) {
		if (!parts[i])
			continue;
		var eq = parts[i].indexOf("=");
		var k = eq < 0 ? parts[i] : parts[i].substring(0, eq);
		var v = eq < 0 ? "" : parts[i].substring(eq + 1);
		try {
			into[decodeURIComponent(k)] = decodeURIComponent(v.replace(/\+/g, " "));
		} catch (e) {
			// a malformed escape: ignore that parameter
		}
	}
}

function kf_params() {
	var p = {};
	kf_parse(window.location.search.substring(1), p);
	kf_parse(window.location.hash.substring(1), p);
	return p;
}

function kf_set_params(p) {
	var keys = Object.keys(p).sort(), parts = [];
	for (var i = 0; i < keys.length; i++)
		parts.push(encodeURIComponent(keys[i]) + "=" + encodeURIComponent(p[keys[i]]));
	var qs = parts.join("&");
	var base = window.location.href.split("#")[0].split("?")[0];
	try {
		history.replaceState(null, "", base + (qs ? "?" + qs : ""));
	} catch (e) {
		// some viewers refuse query changes: keep the state in the hash
		try {
			history.replaceState(null, "", base + window.location.search + (qs ? "#" + qs : ""));
		} catch (e2) {
			// no history API: the state is simply not kept
		}
	}
}

function kf_restore() {
	var p = kf_params();
	if (p.i === "1") {
		kf.ignorecase = true;
		kf.icbtn.classList.add("show");
	}
	if (p.x !== undefined && p.y !== undefined) {
		for (var i = 0; i < kf.frames.length; i++) {
			var r = kf.frames[i];
			if (r.xs === p.x && String(r.d) === p.y) {
				zoom(r);
				break;
			}
		}
	}
	if (p.s)
		search(p.s);
}
