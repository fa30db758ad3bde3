/* cmd-html: `kiln html DIR...`, (re)writes each results folder's index.html
 * from its summary.json and the files it names (render/htmlreport).
 * Invariant: a folder's old index.html is replaced only by a whole new one;
 * one bad folder fails the command but the others are still written. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "cli/cli.h"
#include "format/runsummary.h"
#include "render/htmlreport.h"

static const char usage_text[] =
	"usage: kiln html [OPTIONS] DIR...\n"
	"\n"
	"Writes DIR/index.html for each results folder DIR (as kiln run writes\n"
	"them): one self-contained page, readable offline and from file://, with\n"
	"the run's command, times and headline figures, kiln check's budget\n"
	"verdicts, the interactive CPU and off-CPU flamegraphs and top functions,\n"
	"the heap timeline, top allocation sites and leaks, memory over time, and\n"
	"links to the raw files. The page is made from DIR/summary.json and the\n"
	"files it names; a missing file leaves a note in its section. kiln run and\n"
	"kiln check write the page themselves; use this after editing or copying a\n"
	"folder, or to refresh a page written by an older kiln.\n"
	"\n"
	"Options:\n"
	"  -q, --quiet   print nothing on success\n"
	"  -h, --help    show this help\n"
	"\n"
	"Example:\n"
	"  kiln html results/server-20261122-063000 && xdg-open results/*/index.html\n"
	"\n"
	"Exit status: 0 success, 1 failure (no summary.json, unwritable folder), 2 usage.\n";

const struct command cmd_html;

static const struct option long_options[] = {
	{"quiet", no_argument, NULL, 'q'},
	{NULL, 0, NULL, 0},
};

static int run(int argc, char **argv)
{
	opterr = 0;
	optind = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, ":q", long_options, NULL)) != -1) {
		switch (ch) {
		case 'q': cli_quiet = true; break;
		default:
			return cli_usage_error(&cmd_html, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(&cmd_html, "expected a results folder");
	int rc = EXIT_OK;
	for (int i = optind; i < argc; i++) {
		const char *dir = argv[i];
		struct diag d = {0};
		struct stat st;
		if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
			rc = cli_error("html: %s: not a folder (give a results folder, as kiln run writes)", dir);
			continue;
		}
		int e = htmlreport_write_dir(dir, &d);
		if (e == -ENOENT && !d.msg[0])
			rc = cli_error("html: %s: not a results folder (no %s)", dir, RUNSUMMARY_FILE);
		else if (e)
			rc = cli_error("html: %s: %s", dir, d.msg[0] ? d.msg : kiln_strerror(e));
		else if (!cli_quiet)
			printf("wrote %s/%s\n", dir, HTMLREPORT_FILE);
	}
	if (fflush(stdout) || ferror(stdout))
		rc = cli_error("write error on standard output");
	return rc;
}

const struct command cmd_html = {"html", run, "write a results folder's index.html (the HTML report)", usage_text};
