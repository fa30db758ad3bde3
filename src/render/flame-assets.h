/* flame-assets: the flame graph's JavaScript and CSS, generated at build
 * time by scripts/embed from src/render/flame.js and flame.css.
 * Invariant: both are NUL-terminated and contain no "]]>", so they can be
 * written inside CDATA sections as they are. */
#ifndef KILN_RENDER_FLAME_ASSETS_H
#define KILN_RENDER_FLAME_ASSETS_H

extern const char flame_js[];
extern const char flame_css[];

#endif
