/* report-assets: the style sheet of kiln's HTML pages, generated at build
 * time by scripts/embed from src/render/report.css.
 * Invariant: NUL-terminated, with no "</style" in it, so it is written
 * inside the page's <style> element as it is. */
#ifndef KILN_RENDER_REPORT_ASSETS_H
#define KILN_RENDER_REPORT_ASSETS_H

extern const char report_css[];

#endif
