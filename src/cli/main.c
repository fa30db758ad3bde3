/* main: kiln's entry point and its one table of commands.
 * Invariant: every command is reached through commands[]; help, --help and
 * --version are answered here the same way for all of them. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct command *const commands[] = {
	&cmd_collapse,
	&cmd_flame,
	&cmd_diff,
	&cmd_record,
	&cmd_report,
	&cmd_heap,
	&cmd_mem,
	&cmd_run,
	&cmd_check,
	&cmd_html,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	return NULL;
}

static void print_overview(FILE *out)
{
	fputs("usage: kiln COMMAND [OPTIONS] [ARGS]\n\n"
	      "kiln is a Linux profiler and memory-instrumentation toolkit.\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("  help       show help for a command: kiln help COMMAND\n"
	      "\nOptions: --version, --help. Exit status: 0 success, 1 failure, 2 usage error.\n",
	      out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_overview(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("kiln %s\n", KILN_VERSION);
		return fflush(stdout) || ferror(stdout) ? EXIT_FAIL : EXIT_OK;
	}
	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		print_overview(stdout);
		return EXIT_OK;
	}
	if (!strcmp(name, "help")) {
		if (argc < 3) {
			print_overview(stdout);
			return EXIT_OK;
		}
		const struct command *c = find_command(argv[2]);
		if (!c) {
			fprintf(stderr, "kiln: no such command '%s'\n", argv[2]);
			return EXIT_USAGE;
		}
		fputs(c->usage, stdout);
		return EXIT_OK;
	}
	const struct command *c = find_command(name);
	if (!c) {
		fprintf(stderr, "kiln: '%s' is not a kiln command; see 'kiln help'\n", name);
		return EXIT_USAGE;
	}
	if (cli_wants_help(c, argc - 1, argv + 1))
		return EXIT_OK;
	return c->run(argc - 1, argv + 1);
}
