/* cmd-collapse: kiln collapse (being written). */
#include "cli/cli.h"

static int run(int argc, char **argv)
{
	(void)argc; (void)argv;
	return cli_error("collapse: in progress");
}

const struct command cmd_collapse = {"collapse", run, "perf script text to folded stacks", "usage: kiln collapse\n"};
